"""The truth behind each published version, for the series audit and the series-aware
suppressor (publication contract, section 3.7). Neither discloses anything: truth stays in
the warehouse (``serie_sandhed``), owner-only like the rest of it.

Identity over the series is decided on the truth: a number whose true value is unchanged is
one unknown in every release. So every build records the truth it published from, keyed by
the cube and a fingerprint of the published cells (what anyone can read back from
``cells.parquet``), and the series audit finds each published version's truth by that
fingerprint:

- flow cubes: month-level counts ``(unit = month, G = non-time grouping, X = captions, v)``
  for every non-time grouping of the cube's groupings (non-zero ones; absent means 0);
- stock cubes: the cell values per status date ``(unit = status date, G, X, v[, o])``.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pandas as pd

from transforms.catalog import ATTRIBUTES, Cube, sql_ident

SEP = "\x1f"


def _nontime_groupings(cube: Cube) -> list[tuple[str, ...]]:
    out = set()
    for g in cube.groupings:
        attrs = tuple(g.split("|")) if g else ()
        out.add(tuple(a for a in attrs if ATTRIBUTES[a].hierarchy != "Tid"))
    return sorted(out)


def flow_truth(base: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """Month-level counts of every non-time grouping, from the cube's base rows (one row per
    counted unit, with ``tid_maaned`` and the attribute columns). Groupings whose columns
    the base does not carry (a test's base with only some views) are left out. The
    monthly run computes the same in the warehouse (:func:`warehouse_flow_truth`)."""
    parts = []
    for G in _nontime_groupings(cube):
        cols = [ATTRIBUTES[a].column for a in G]
        if any(c not in base.columns for c in cols):
            continue
        if len(base):
            agg = base.groupby(["tid_maaned"] + cols, dropna=False).size().reset_index(name="v")
        else:
            agg = pd.DataFrame(columns=["tid_maaned"] + cols + ["v"])
        parts.append(_truth_part(G, cols, agg))
    return _truth_frame(parts)


def warehouse_flow_truth(con, cube: Cube, release: str) -> pd.DataFrame:
    """:func:`flow_truth` of the release's base rows, counted in the warehouse: the base rows
    (one per refusal, 8 million at 100 times the national data) never come to pandas, only
    the month-level counts of each grouping do. The base held as pandas text columns took
    the monthly run's disclosure step to 10.4 GB at 100x. The same frame, row for row:
    groups in the order ``groupby`` sorts them (text by code point, missing last)."""
    sql, used = _base_sql(cube, release)  # the project's own query; values bound as parameters
    columns = [d[0] for d in con.execute(f"SELECT * FROM ({sql}) LIMIT 0", used).description]
    groupings = [(G, [ATTRIBUTES[a].column for a in G]) for G in _nontime_groupings(cube)]
    groupings = [(G, cols) for G, cols in groupings if all(c in columns for c in cols)]
    keep = sorted({"tid_maaned", *(c for _, cols in groupings for c in cols)})
    con.execute("CREATE OR REPLACE TEMP TABLE _sandhed_grundlag AS SELECT "
                + ", ".join(_ident(c) for c in keep) + f" FROM ({sql})", used)
    try:
        parts = []
        for G, cols in groupings:
            keys = ", ".join(_ident(c) for c in ["tid_maaned"] + cols)
            order = ", ".join(f"{_ident(c)} ASC NULLS LAST" for c in ["tid_maaned"] + cols)
            agg = con.execute(f"SELECT {keys}, count(*) AS v FROM _sandhed_grundlag "
                              f"GROUP BY {keys} ORDER BY {order}").df()
            agg["v"] = agg["v"].astype("int64")
            parts.append(_truth_part(G, cols, agg))
    finally:
        con.execute("DROP TABLE IF EXISTS _sandhed_grundlag")
    return _truth_frame(parts)


def _ident(column: str) -> str:
    """A column of the catalogue (or ``tid_maaned``) as a quoted SQL identifier; any other
    name is refused, so the SQL composed here holds no name from elsewhere."""
    if column != "tid_maaned" and column not in _CATALOGUE_COLUMNS:
        raise ValueError(f"not a column of the catalogue: {column!r}")
    return sql_ident(column)


_CATALOGUE_COLUMNS = frozenset(a.column for a in ATTRIBUTES.values())


def _truth_part(G: tuple[str, ...], cols: list[str], agg: pd.DataFrame) -> pd.DataFrame:
    x = (_joined_text(agg, cols) if cols and len(agg)
         else pd.Series([""] * len(agg), dtype=object))
    return pd.DataFrame({"unit": agg["tid_maaned"].astype(str).to_numpy(),
                         "G": "|".join(G), "X": x.to_numpy(),
                         "v": agg["v"].astype("int64").to_numpy()})


def _truth_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["unit", "G", "X", "v"])


def _joined_text(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Per row the columns' text (``astype(str)``) joined by ``SEP``: what
    ``frame[cols].astype(str).agg(SEP.join, axis=1)`` gives, column by column instead of row
    by row (that took 4.3 s of a national AFSLAARS release's 13 s re-run)."""
    x = frame[cols[0]].astype(str).astype(object)
    for c in cols[1:]:
        x = x + SEP + frame[c].astype(str).astype(object)
    return x


def stock_truth(cells: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """Cell values per status date (one row per distinct unknown) from the true cells."""
    from transforms.disclosure.audit_series import frame_keys

    keys = frame_keys(cells, cube)
    out = pd.DataFrame({"unit": keys["unit"], "G": keys["G"], "X": keys["X"],
                        "v": cells[cube.value_column].astype("int64").to_numpy()})
    for m in cube.measures:
        if m.kind == "count" and m.outcome and m.additive and m.column != cube.value_column:
            out["o"] = cells[m.column].astype("int64").to_numpy()
    return out.drop_duplicates(["unit", "G", "X"]).reset_index(drop=True)


def fingerprint(published: pd.DataFrame, cube: Cube) -> str:
    """sha256 of a published cell frame's keys and count values, in a form that reads the
    same from the warehouse's frame and from ``cells.parquet``."""
    h = hashlib.sha256()
    cols = ["gruppering"] + (["statusdato"] if cube.kind == "stock" else []) + cube.columns
    counts = [m.column for m in cube.measures if m.kind == "count"]
    for c in cols:
        if c not in published.columns:
            h.update(b"\x1d")
            continue
        # vectorised (a generator over the values took 15 % of a release's disclosure step
        # at 30 releases of history): missing → "", dates by their first 10 characters
        h.update("\x1e".join(_texts(published[c], 10 if c == "statusdato" else None)).encode())
        h.update(b"\x1d")
    for c in counts:
        x = pd.to_numeric(published[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        h.update(np.where(np.isnan(x), -1, x).astype("int64").tobytes())
    return h.hexdigest()


def _texts(col: pd.Series, width: int | None = None) -> list[str]:
    """A column's values as text (``str(v)``, its first ``width`` characters), missing → "".
    String columns go through Arrow (reading pandas' Arrow-backed strings value by value
    was most of the cost)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if width is None and (pd.api.types.is_string_dtype(col.dtype)
                          and not pd.api.types.is_object_dtype(col.dtype)):
        arr = pa.array(col, from_pandas=True)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            return pc.fill_null(arr, "").to_pylist()
    obj = pd.Series(col.to_numpy(dtype=object), dtype=object)
    text = obj.astype(str)
    if width is not None:
        text = text.str[:width]
    return text.where(obj.notna().to_numpy(), "").tolist()


def _to_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


def record_truth(con, cube: Cube, release: str, published: pd.DataFrame,
                 truth: pd.DataFrame) -> None:
    """Keep the truth a published frame was built from (replacing an earlier record of the
    same cube, release and published cells)."""
    con.execute("CREATE TABLE IF NOT EXISTS serie_sandhed (terning VARCHAR, udgivelse VARCHAR, "
                "fingeraftryk VARCHAR, sandhed BLOB, PRIMARY KEY (terning, fingeraftryk))")
    con.execute("INSERT OR REPLACE INTO serie_sandhed VALUES (?, ?, ?, ?)",
                [cube.underemne, release, fingerprint(published, cube), _to_bytes(truth)])


def recorded_truth(con, cube: Cube, fp: str) -> pd.DataFrame | None:
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                         "'serie_sandhed'").fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute("SELECT sandhed FROM serie_sandhed WHERE terning = ? AND "
                       "fingeraftryk = ?", [cube.underemne, fp]).fetchall()
    return pd.read_parquet(io.BytesIO(rows[0][0])) if rows else None


# --- the published history ------------------------------------------------------------------


def base_rows(con, cube: Cube, release: str) -> pd.DataFrame:
    """A flow cube's base rows at a release's cut-off, from the warehouse as it is now (all of
    them in pandas: for tests and checks of :func:`warehouse_flow_truth`)."""
    sql, used = _base_sql(cube, release)
    return con.execute(sql, used).df()


def _base_sql(cube: Cube, release: str) -> tuple[str, dict]:
    """The cube's base query (``sql/marts/cube_<x>.sql``) and its parameters at a release."""
    from transforms.cubes import release_params
    from transforms.warehouse import bound, sql_text

    return bound(sql_text("marts", f"cube_{cube.underemne.lower()}"), release_params(release))


def candidate_truth(con, cube: Cube, release: str, cells: pd.DataFrame) -> pd.DataFrame:
    if cube.kind == "flow":
        return warehouse_flow_truth(con, cube, release)
    return stock_truth(cells, cube)


def read_published(folder, cube: Cube) -> pd.DataFrame:
    """A version's published cells as the release holds them (counts NaN where withheld)."""
    import pyarrow.parquet as pq

    t = pq.read_table(folder / cube.id / "cells.parquet")
    df = t.to_pandas()
    obj = [c for c in df.columns if df[c].dtype == object]
    df[obj] = df[obj].where(df[obj].notna(), None)
    return df


def history(con, releases_dir, cube: Cube, log=None) -> tuple[list, list[str]]:
    """Every published version of the cube on disk, oldest first, with its truth
    (:class:`audit_series.SeriesVersion`), and the labels of versions whose truth could not
    be found (left out of the series, and said so in the audit)."""
    from transforms.disclosure.audit_series import SeriesVersion
    from transforms.publish.layout import published_versions
    from transforms.warehouse import read_partition

    out, missing = [], []
    seen: dict[str, int] = {}
    for month, n, folder in published_versions(releases_dir):
        seen[month] = seen.get(month, 0) + 1
        label = month if seen[month] == 1 else f"{month}.{n}"
        frame = read_published(folder, cube)
        truth = recorded_truth(con, cube, fingerprint(frame, cube))
        if truth is None:  # built before truths were kept: rebuild it from the warehouse
            try:
                if cube.kind == "flow":
                    truth = warehouse_flow_truth(con, cube, month)
                else:
                    truth = stock_truth(read_partition(con, f"cube_{cube.underemne.lower()}",
                                                       month), cube)
            except LookupError:
                truth = None
            if truth is not None and not _agrees(frame, truth, cube):
                truth = None
            if truth is None:
                missing.append(label)
                continue
            record_truth(con, cube, month, frame, truth)
        out.append(SeriesVersion(label, month, frame, truth))
    return out, missing


def _agrees(frame: pd.DataFrame, truth: pd.DataFrame, cube: Cube) -> bool:
    """Whether a rebuilt truth gives every published value of a version (the warehouse has not
    changed under it since it was published). Month cells and stock cells are checked."""
    from transforms.disclosure.audit_series import frame_keys

    keys = frame_keys(frame, cube)
    val = pd.to_numeric(frame[cube.value_column], errors="coerce").to_numpy(dtype=float,
                                                                              na_value=np.nan)
    if cube.kind == "flow":
        sel = (keys["tid"] == "[Tid].[Måned]").to_numpy() & ~np.isnan(val)
        unit = keys["tcap"].to_numpy()[sel]
    else:
        sel = ~np.isnan(val)
        unit = keys["unit"].to_numpy()[sel]
    t = {(u, g, x): v for u, g, x, v in zip(truth["unit"], truth["G"], truth["X"], truth["v"])}
    return all(t.get((u, g, x), 0) == v for u, g, x, v in
               zip(unit, keys["G"].to_numpy()[sel], keys["X"].to_numpy()[sel], val[sel]))
