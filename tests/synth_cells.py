"""Cell frames built from unit records: test and bench support, not part of lpstat.

The marts build the real cell frames in SQL; this is a small pandas twin so tests can state a
table by its records ("5 students, all dropped out") and get every grouping of the chosen
views with its margins, empty combinations included, in the frame format of
``transforms/disclosure/README.md``.

Records carry the finest captions: ``tid_maaned`` (``2024M03``), ``kommune`` (with a
``region`` column, or ``regions`` mapping kommune → region), the other attribute columns, an
``individ`` id, and for stock cubes ``statusdato`` (the status date of the snapshot the record
belongs to; a period's cell uses the latest snapshot inside the period) and, for FRAFAFBRUD,
``afbrudt`` (bool).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from transforms.catalog import ATTRIBUTES, HIERARCHIES, Cube, canonical, carried_attributes

TIME_COLS = ["tid_maaned", "tid_kvartal", "tid_aar"]


def month_end(month: str) -> dt.date:
    y, m = int(month[:4]), int(month[5:7])
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _time_table(months: list[str]) -> pd.DataFrame:
    t = pd.DataFrame({"tid_maaned": sorted(set(months))})
    t["tid_aar"] = t["tid_maaned"].str[:4]
    quarter = (t["tid_maaned"].str[5:7].astype(int) - 1) // 3 + 1
    t["tid_kvartal"] = t["tid_aar"] + "K" + quarter.astype(str)
    return t


def cells_from_records(
    records: pd.DataFrame,
    cube: Cube,
    views: list[str] | None = None,
    members: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Every cell of every grouping of ``views`` (default: all), from unit records."""
    members = dict(members or {})
    rec = records.copy()
    stock = cube.kind == "stock"
    rec = rec.merge(_time_table(list(rec["tid_maaned"])), on="tid_maaned", how="left")
    times = _time_table(members.get("tid_maaned", list(rec["tid_maaned"])))
    if "kommune" in rec.columns and "region" not in rec.columns:
        raise ValueError("records with kommune need a region column")
    geo = None
    if "kommune" in rec.columns:
        geo = rec[["kommune", "region"]].drop_duplicates()
        if "kommune" in members:
            geo = pd.DataFrame({"kommune": members["kommune"]}).merge(
                pd.concat([geo, pd.DataFrame(members.get("_geo", []),
                                             columns=["kommune", "region"])])
                .drop_duplicates("kommune"),
                on="kommune",
                how="left",
            )
    wanted = set(views) if views else {v.id for v in cube.views}
    keys = [k for k, vs in cube.groupings.items() if wanted & set(vs)]
    value = cube.value_column
    has_outcome = "afbrudt" in rec.columns and cube.underemne == "FRAFAFBRUD"
    out = []
    for key in keys:
        attrs = key.split("|") if key else []
        cols = [ATTRIBUTES[a].column for a in carried_attributes(key) if canonical(a) == a]
        # combinations: per hierarchy its distinct level tuples, others their members
        parts = []
        tid_level = next((a for a in attrs if ATTRIBUTES[a].hierarchy == "Tid"), None)
        geo_level = next((a for a in attrs if ATTRIBUTES[a].hierarchy == "Arbejdssted"), None)
        if tid_level:
            lv = HIERARCHIES["Tid"]
            tc = [ATTRIBUTES[a].column for a in lv[lv.index(tid_level):]]
            parts.append(times[tc].drop_duplicates())
        if geo_level:
            lv = HIERARCHIES["Arbejdssted"]
            gc = [ATTRIBUTES[a].column for a in lv[lv.index(geo_level):]]
            parts.append(geo[gc].drop_duplicates())
        for a in attrs:
            if ATTRIBUTES[a].hierarchy:
                continue
            c = ATTRIBUTES[a].column
            ms = members.get(c, sorted(rec[c].dropna().unique()))
            parts.append(pd.DataFrame({c: ms}))
        combos = pd.DataFrame(index=[0])
        for p in parts:
            combos = combos.merge(p.reset_index(drop=True), how="cross")
        sub = rec
        if stock:
            # a period's status: its latest snapshot
            tcol = ATTRIBUTES[tid_level].column
            last = rec.groupby(tcol)["statusdato"].max().rename("_last")
            sub = rec.merge(last, left_on=tcol, right_index=True)
            sub = sub[sub["statusdato"] == sub["_last"]]
            period_dates = times[[tcol]].drop_duplicates().merge(
                last, left_on=tcol, right_index=True, how="left"
            )
            combos = combos.merge(period_dates, on=tcol, how="left")
            combos = combos.rename(columns={"_last": "statusdato"})
            combos = combos[combos["statusdato"].notna()]
        agg = {"_n": ("individ", "size"), "_ind": ("individ", "nunique")}
        if has_outcome:
            agg["_afb"] = ("afbrudt", "sum")
        if cols:
            g = sub.groupby(cols, dropna=False).agg(**agg).reset_index()
            cells = combos.merge(g, on=cols, how="left")
        else:
            cells = combos.copy()
            cells["_n"] = len(sub)
            cells["_ind"] = sub["individ"].nunique()
            if has_outcome:
                cells["_afb"] = int(sub["afbrudt"].sum())
        cells = cells.drop(columns=[c for c in cells.columns if c == "index"], errors="ignore")
        cells = cells.fillna({"_n": 0, "_ind": 0, "_afb": 0})
        frame = pd.DataFrame({"gruppering": key}, index=cells.index)
        frame["statusdato"] = cells["statusdato"].to_numpy() if stock else None
        for c in cube.columns:
            frame[c] = cells[c].to_numpy() if c in cells.columns else None
        if stock:
            frame[value] = cells["_ind"].astype(np.int64).to_numpy()
        else:
            frame[value] = cells["_n"].astype(np.int64).to_numpy()
        for m in cube.measures:
            if m.kind == "count" and m.column != value and not m.outcome:
                frame[m.column] = cells["_ind"].astype(np.int64).to_numpy()
        if has_outcome:
            frame["antal_afbrudt"] = cells["_afb"].astype(np.int64).to_numpy()
        frame["n_individer"] = cells["_ind"].astype(np.int64).to_numpy()
        out.append(frame)
    res = pd.concat(out, ignore_index=True)
    # alias captions (Institutionsnummer of a Skole): from the records, else numbered
    for a in cube.attributes:
        alias_of = ATTRIBUTES[a].alias_of
        if not alias_of:
            continue
        col, main = ATTRIBUTES[a].column, ATTRIBUTES[alias_of].column
        if main not in rec.columns:
            continue
        if col in rec.columns:
            mapping = dict(zip(rec[main], rec[col]))
        else:
            ms = sorted(rec[main].dropna().unique())
            mapping = {m: f"{100001 + i:06d}" for i, m in enumerate(ms)}
        res[col] = res[main].map(mapping)
    for c in cube.columns:
        res[c] = res[c].astype(object).where(res[c].notna(), None)
    return res


def random_records(
    cube: Cube,
    n: int,
    seed: int,
    dims: dict[str, list[str]],
    regions: dict[str, str] | None = None,
    skew: float = 1.0,
) -> pd.DataFrame:
    """Random unit records: each column in ``dims`` drawn with Zipf-like weights."""
    rng = np.random.default_rng(seed)
    rec = {}
    for c, ms in dims.items():
        w = 1.0 / np.arange(1, len(ms) + 1) ** skew
        w = rng.permutation(w)
        rec[c] = np.asarray(ms, dtype=object)[rng.choice(len(ms), size=n, p=w / w.sum())]
    df = pd.DataFrame(rec)
    df["individ"] = np.arange(n)
    if regions is not None:
        df["region"] = df["kommune"].map(regions)
    if cube.kind == "stock":
        df["statusdato"] = df["tid_maaned"].map(month_end)
    return df
