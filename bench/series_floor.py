"""What the series rule alone forces AFSLAARS to withhold (issue 18's floor under contract 3.7).

    .venv/bin/python -m bench.series_floor --home H [--release 2026-10]

Reads a home's warehouse (true cells ``cube_afslaars`` and published cells ``pub_afslaars``
of the release and of the release before it; nothing is published by this script) and prints
a lower bound on the value the release must withhold as secondary cells, next to what it did
withhold.

The bound. A cell whose period is exactly the release month ``M`` (the month cell; the
quarter or year cell where ``M`` opens it) is an *increment*; a cell at the same place (same
non-time attributes) over a running period through ``M`` that started before it (the year
or quarter to date, the total over time) is a *running cell*. The previous release published
the running cell through ``M-1``; if this release published it through ``M`` as well, the
difference of the two would be the increment, exactly. So wherever an increment is primary
(1-3 individuals: it must be withheld and not be narrowed down), every running cell at its
place whose previous version was published must be withheld too, whatever else the pattern
does (counted only where the two versions' true values differ by the increment exactly, so
that no late registration at the place blurs the difference). Their summed value, as a share of the cube's non-empty value, is the floor printed
(``--release`` alone, with no earlier release in the home, has no floor: nothing is public
yet). It is a lower bound only: the primary increments' partners, the running cells' partners
in their own tables and the increments that are not cells of any view add more.

The disclosure step forces the same cells from its first round
(``transforms/disclosure/guarded.py``, ``SeriesSearch._beside_increments``). This script
computes them again on its own, from the warehouse's tables and the calendar, rather than
calling that method: it is the check that no forced cell was published (it exits 1 if one
was), and a check that shares the code it checks proves nothing.

Measured on the national demo (seed 1, release 2026-10 on a home that holds 2026-09):
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from transforms.calendar import Release  # noqa: E402
from transforms.catalog import MAX_SMALL  # noqa: E402

PLACE = ["uddannelse", "region", "kommune", "sektor", "primaer_aarsag", "sekundaer_aarsag"]
TIME = {"[Tid].[År]": "tid_aar", "[Tid].[Kvartal]": "tid_kvartal", "[Tid].[Måned]": "tid_maaned"}


#: the only tables read: the true cells and the published ones (identifiers from this list only)
TABLES = ("cube_afslaars", "pub_afslaars")


def _frame(con, table: str, release: Release) -> pd.DataFrame:
    if table not in TABLES:
        raise ValueError(f"not a table this script reads: {table!r}")
    df = con.execute(f"SELECT * FROM {table} WHERE udgivelse = ?", [str(release)]).df()
    parts = df["gruppering"].str.split("|")
    df["tid"] = parts.map(lambda ps: next((p for p in ps if p in TIME), None))
    df["attrs"] = parts.map(lambda ps: "|".join(p for p in ps if p not in TIME))
    df["place"] = df["attrs"] + "#" + df[PLACE].astype(object).fillna("").astype(str).agg(
        "|".join, axis=1)
    df["caption"] = [row[TIME[t]] if isinstance(t, str) else "" for t, row in
                     zip(df["tid"], df[list(TIME.values())].to_dict("records"))]
    return df


def floor(con, release: Release) -> dict:
    """The floor and the release's actual secondary value (see the module docstring)."""
    true = _frame(con, "cube_afslaars", release)
    # withheld: the count is (a row's status is 'diskretioneret' also where only its share is)
    pub = con.execute("SELECT _nr, antal_afslag IS NULL AS withheld FROM pub_afslaars "
                      "WHERE udgivelse = ?", [str(release)]).df()
    true = true.merge(pub, on="_nr", how="left", validate="one_to_one")
    value = true["antal_afslag"].to_numpy(np.int64)
    n = true["n_individer"].to_numpy(np.int64)
    nonempty = value > 0
    primary = nonempty & (n >= 1) & (n <= MAX_SMALL)
    withheld = true["withheld"].to_numpy(bool)
    secondary = withheld & nonempty & ~primary
    total = int(value[nonempty].sum())

    m = release
    opens_quarter, opens_year = (m.month - 1) % 3 == 0, m.month == 1
    tid, cap = true["tid"].to_numpy(object), true["caption"].to_numpy(object)
    increment = (tid == "[Tid].[Måned]") & (cap == m.caption)
    if opens_quarter:
        increment |= (tid == "[Tid].[Kvartal]") & (cap == m.quarter_caption)
    if opens_year:
        increment |= (tid == "[Tid].[År]") & (cap == m.year_caption)
    running = np.array([not isinstance(t, str) for t in tid], dtype=bool)  # totals over time
    if not opens_quarter:
        running |= (tid == "[Tid].[Kvartal]") & (cap == m.quarter_caption)
    if not opens_year:
        running |= (tid == "[Tid].[År]") & (cap == m.year_caption)

    prev = _frame(con, "pub_afslaars", m.previous())
    shown = prev["antal_afslag"].notna()
    published_before = set(zip(prev["gruppering"][shown], prev["place"][shown],
                               prev["caption"][shown]))
    places = set(true["place"][increment & primary])
    keys = list(zip(true["gruppering"], true["place"], cap))
    at_primary = true["place"].isin(places).to_numpy()
    was_published = np.array([k in published_before for k in keys], dtype=bool)
    # the difference to the previous version is the increment exactly (no late registration
    # changed an earlier period at the place): checked on the truth of both releases
    before = _frame(con, "cube_afslaars", m.previous())
    then = dict(zip(zip(before["gruppering"], before["place"], before["caption"]),
                    before["antal_afslag"]))
    inc_value = dict(zip(true["place"][increment], true["antal_afslag"][increment]))
    exact = np.array([k in then and int(v) - int(then[k]) == int(inc_value.get(k[1], -1))
                      for k, v in zip(keys, value)], dtype=bool)
    forced = running & nonempty & ~primary & at_primary & was_published & exact
    big = value[forced]
    return {
        "release": str(m), "previous": str(m.previous()), "previous_published": len(prev),
        "non_empty_value": total,
        "primary_increments": int((increment & primary).sum()),
        "forced_cells": int(forced.sum()),
        "forced_value": int(big.sum()),
        "forced_share": round(float(big.sum()) / total, 6) if total else 0.0,
        "forced_100": int((big >= 100).sum()), "forced_1000": int((big >= 1000).sum()),
        "forced_not_withheld": int((forced & ~withheld).sum()),
        "secondary_cells": int(secondary.sum()),
        "secondary_value": int(value[secondary].sum()),
        "secondary_share": round(float(value[secondary].sum()) / total, 6) if total else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True, help="an LPSTAT_HOME with two releases")
    ap.add_argument("--release", help="YYYY-MM (default: the newest in the warehouse)")
    args = ap.parse_args(argv)
    con = duckdb.connect(str(args.home / "warehouse.duckdb"), read_only=True)
    try:
        months = [r[0] for r in con.execute(
            "SELECT DISTINCT udgivelse FROM pub_afslaars ORDER BY 1").fetchall()]
        release = Release.parse(args.release or months[-1])
        if str(release.previous()) not in months:
            print(f"{release}: the home has no release {release.previous()}, so nothing is "
                  "public before it and the series rule forces nothing", file=sys.stderr)
            return 1
        r = floor(con, release)
    finally:
        con.close()
    print(f"AFSLAARS {r['release']} after {r['previous']} (non-empty value "
          f"{r['non_empty_value']:,}):")
    print(f"  floor (series rule, primary increments only): {r['forced_cells']:,} running "
          f"cells at the places of {r['primary_increments']:,} primary increments, value "
          f"{r['forced_value']:,} = {100 * r['forced_share']:.2f} % "
          f"({r['forced_100']} of 100 or more, {r['forced_1000']} of 1,000 or more)")
    print(f"  withheld as secondary: {r['secondary_cells']:,} cells, value "
          f"{r['secondary_value']:,} = {100 * r['secondary_share']:.2f} %")
    if r["forced_not_withheld"]:
        print(f"  NOTE: {r['forced_not_withheld']} forced cells are published "
              "(a published running cell next to its previous version reveals a primary "
              "increment)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
