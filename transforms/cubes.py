"""Compute every cell of every view of a cube for one release, set-based in DuckDB.

The semantics of each cube live in its base model ``sql/marts/cube_<underemne>.sql``: for
AFSLAARS one row per refusal with its applicant, for the stock cubes one row per status date
and attribute combination with its student count (``elevbestand.sql``). This module turns a base into cells the same way
for every cube, driven by the catalogue: one ``GROUPING SETS`` aggregation over all published
groupings (per time level for stock cubes, whose time is not additive), then a left join onto
the cross product of the members of each grouping, so that empty combinations are cells too
(disclosure control needs them, see transforms/disclosure/README.md). Identifiers in the
generated SQL come only from the catalogue; values are bound as parameters.
"""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import pandas as pd

from transforms.calendar import FIRST_RELEASE, Release
from transforms.catalog import (
    ATTRIBUTES, FIXED_MEMBERS, HIERARCHIES, INGEN_SEKUNDAER, Cube, carried_attributes,
)
from transforms.warehouse import bound, sql_text, statements

#: How each cube's measures aggregate its base rows (identifiers and fixed SQL only).
MEASURE_SQL: dict[str, dict[str, str]] = {
    "AFSLAARS": {
        "antal_afslag": "count(*)",
        "antal_ansoegere": "count(DISTINCT individ)",
        "n_individer": "count(DISTINCT individ)",
    },
    # The stock base is already counted per (status date, attribute combination), and each
    # student is in exactly one of its rows per status date (sql/marts/elevbestand.sql), so
    # summing the counts gives distinct students.
    "FRAFVURD": {
        "antal_elever": "CAST(sum(antal) AS BIGINT)",
        "n_individer": "CAST(sum(antal) AS BIGINT)",
    },
    "FRAFAFBRUD": {
        "antal_elever": "CAST(sum(antal) AS BIGINT)",
        "antal_afbrudt": "CAST(sum(antal_afbrudt) AS BIGINT)",
        "n_individer": "CAST(sum(antal) AS BIGINT)",
    },
}

TIME_LEVEL = {"[Tid].[Måned]": "M", "[Tid].[Kvartal]": "K", "[Tid].[År]": "Å"}


def cutoff_for(release: str) -> datetime:
    """The release's cut-off (:attr:`transforms.calendar.Release.cutoff`); kept for the
    landing tests, which name it."""
    return Release.parse(release).cutoff


def release_params(release: str | Release) -> dict:
    """The parameters every cube model binds: the release's cut-off instant (registrations
    before it count) and its first day."""
    r = Release.parse(release)
    return {"cutoff": r.cutoff, "udgivelse": r.first_day}


#: The stock model: tables built once per release by :func:`build_stock` and read by the stock
#: cubes (the warehouse holds one release's stock at a time; ``partitioner`` says which).
STOCK_TABLES = ("status_perioder", "elevbestand")

#: Member tables drawn from the warehouse's dimensions (the other attributes have fixed
#: members, transforms.catalog.FIXED_MEMBERS): column -> SQL, and its bound parameters.
MEMBER_SQL: dict[str, tuple[str, list]] = {
    "uddannelse": ("SELECT uddannelse, sortering AS _s_uddannelse FROM dim_uddannelse", []),
    "kommune": ("SELECT k.kommune, k.region, k.sortering AS _s_kommune, r._s_region "
                "FROM dim_kommune k JOIN m_region r USING (region)", []),
    "skole": ("SELECT skole, institutionsnummer, sortering AS _s_skole FROM dim_skole", []),
    "primaer_aarsag": ("SELECT aarsag AS primaer_aarsag, sortering AS _s_primaer_aarsag "
                       "FROM dim_afslagsaarsag", []),
    "sekundaer_aarsag": ("SELECT aarsag AS sekundaer_aarsag, sortering AS _s_sekundaer_aarsag "
                         "FROM dim_afslagsaarsag UNION ALL SELECT ?, 1000000",
                         [INGEN_SEKUNDAER]),
}


def prepare_release(con: duckdb.DuckDBPyConnection, release: str) -> None:
    """Everything the cubes of one release read: the stock model and every member table
    (the Dagster assets build the stock once, as its own asset, and each cube only the member
    tables it needs)."""
    build_stock(con, release)
    member_tables(con, release)


def build_stock(con: duckdb.DuckDBPyConnection, release: str) -> dict[str, int]:
    """The stock model of ``release``: ``status_perioder`` (sql/marts/status_perioder.sql) and
    ``elevbestand`` (sql/marts/elevbestand.sql) as warehouse tables, in one transaction; the
    rows of each."""
    from transforms.warehouse import record_partition

    params = release_params(release)
    con.execute("BEGIN TRANSACTION")
    try:
        sql, used = bound(sql_text("marts", "status_perioder"), params)
        con.execute("CREATE OR REPLACE TABLE status_perioder AS " + sql, used)
        for statement in statements(sql_text("marts", "elevbestand")):
            con.execute(*bound(statement, params))
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in STOCK_TABLES}
        for t in STOCK_TABLES:
            record_partition(con, t, release, rows[t], only=True)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return rows


def use_stock(con: duckdb.DuckDBPyConnection, release: str) -> None:
    """Check that the warehouse's stock model is ``release``'s (a stock cube of another
    release would be silently wrong)."""
    from transforms.warehouse import partition_written

    if not all(partition_written(con, t, release) for t in STOCK_TABLES):
        raise LookupError(f"the warehouse holds no stock model for release {release}: build "
                          f"the asset elevbestand for {release} first (Dagster UI: materialize "
                          "it with the cubes, or lpstat run --release " + release + ").")


def members_needed(cube: Cube) -> set[str]:
    """The member tables (by column) that the cells of ``cube`` join."""
    cols = {ATTRIBUTES[a].column for g in cube.groupings for a in (g.split("|") if g else [])}
    if "kommune" in cols:
        cols.add("region")
    return cols


def member_tables(con: duckdb.DuckDBPyConnection, release: str,
                  cube: Cube | None = None) -> None:
    """One temp table per canonical attribute (of ``cube``, or of every cube): captions,
    carried coarser captions, sort keys."""
    def fixed(col: str, key: str) -> None:
        df = pd.DataFrame({col: FIXED_MEMBERS[key], f"_s_{col}": range(len(FIXED_MEMBERS[key]))})
        con.register("_fixed", df)
        con.execute(f"CREATE OR REPLACE TEMP TABLE m_{col} AS SELECT * FROM _fixed")
        con.unregister("_fixed")

    for key, col in (("[Arbejdssted].[Region]", "region"), ("[Arbejdssted].[Sektor]", "sektor"),
                     ("[Elev].[Køn]", "koen"), ("[Elev].[Aldersgruppe]", "aldersgruppe"),
                     ("[Frafaldsrisiko].[Frafaldsrisiko]", "frafaldsrisiko"),
                     ("[Vurdering].[Alder af vurdering]", "alder_af_vurdering")):
        fixed(col, key)
    needed = members_needed(cube) if cube is not None else set(MEMBER_SQL)
    for col, (sql, params) in MEMBER_SQL.items():
        if col in needed:
            con.execute(f"CREATE OR REPLACE TEMP TABLE m_{col} AS {sql}", params)
    # Flow time members: every month from the first release to the release month.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE m_tid_flow AS "
        "SELECT strftime(m, '%Y') AS tid_aar, strftime(m, '%Y') || 'K' || CAST(quarter(m) AS VARCHAR) "
        "AS tid_kvartal, strftime(m, '%YM%m') AS tid_maaned "
        "FROM range(CAST(? AS DATE), CAST(? AS DATE) + INTERVAL 1 MONTH, INTERVAL 1 MONTH) t(m)",
        [FIRST_RELEASE.first_day, Release.parse(release).first_day])


def _members_sql(cube: Cube, grouping: list[str], level: str | None,
                 base_filter: str) -> tuple[str, list[str], dict[str, str]]:
    """FROM-clause joining the member tables of a grouping, its sort columns, and where each
    carried column comes from."""
    parts, sorts, refs = [], [], {}
    for a in grouping:
        col = ATTRIBUTES[a].column
        h = ATTRIBUTES[a].hierarchy
        if h == "Tid":
            carried = [ATTRIBUTES[x].column for x in HIERARCHIES["Tid"][HIERARCHIES["Tid"].index(a):]]
            if cube.kind == "flow":
                parts.append(f"(SELECT DISTINCT {', '.join(carried)} FROM m_tid_flow) AS t")
            else:
                parts.append(f"(SELECT statusdato, tid_aar, tid_kvartal, tid_maaned FROM status_perioder "
                             f"WHERE niveau = '{level}' {base_filter}) AS t")
                refs["statusdato"] = "t.statusdato"
            refs.update({c: f"t.{c}" for c in carried})
            sorts.append(f"t.{col}")
        elif a == "[Arbejdssted].[Kommune]":
            parts.append("m_kommune")
            refs.update({"kommune": "m_kommune.kommune", "region": "m_kommune.region"})
            sorts += ["m_kommune._s_region", "m_kommune._s_kommune"]
        elif a == "[Skole].[Skole]":
            parts.append("m_skole")
            refs.update({"skole": "m_skole.skole", "institutionsnummer": "m_skole.institutionsnummer"})
            sorts.append("m_skole._s_skole")
        else:
            parts.append(f"m_{col}")
            refs[col] = f"m_{col}.{col}"
            sorts.append(f"m_{col}._s_{col}")
    return (" CROSS JOIN ".join(parts) if parts else "(SELECT 1) AS _one"), sorts, refs


def build_cells(con: duckdb.DuckDBPyConnection, cube: Cube, release: str) -> pd.DataFrame:
    """Every cell of every view of ``cube`` for ``release``: see transforms/disclosure/README.md.

    Requires the release's member tables on this connection (:func:`member_tables`) and, for
    a stock cube, the release's stock model in the warehouse (:func:`build_stock`).
    """
    params = release_params(release)
    base_sql, used = bound(sql_text("marts", f"cube_{cube.underemne.lower()}"), params)
    con.execute(f"CREATE OR REPLACE TEMP TABLE base_{cube.underemne.lower()} AS " + base_sql, used)
    base = f"base_{cube.underemne.lower()}"
    measures = MEASURE_SQL[cube.underemne]
    count_cols = list(measures)
    attr_cols = cube.columns
    coded = _encode(con, base, [c for c in attr_cols + ["individ"] if c in _columns(con, base)])
    con.execute(f"DROP TABLE {base}")
    groupings = list(cube.groupings)
    frames = []
    for level in [None] if cube.kind == "flow" else ["M", "K", "Å"]:
        gs = [g for g in groupings if level is None or _time_level(g) == level]
        if gs:
            frames += _level_cells(con, cube, base, coded, level, gs, params)
    return _in_catalogue_order(pd.concat(frames, ignore_index=True), cube, count_cols)


def _level_cells(con, cube: Cube, base: str, coded, level: str | None, gs: list[str],
                 params: dict) -> list[pd.DataFrame]:
    """The cells of the groupings ``gs`` (of one time level of a stock cube, or all groupings
    of a flow cube): one GROUPING SETS aggregate, then per grouping every combination of its
    members (empty ones with 0) joined to it."""
    measures = MEASURE_SQL[cube.underemne]
    attr_cols = cube.columns
    sets = []
    for g in gs:
        carried = [ATTRIBUTES[a].column for a in carried_attributes(g)]
        if level is not None:
            carried = ["statusdato"] + carried
        sets.append("(" + ", ".join(carried) + ")")
    in_sets = {ATTRIBUTES[a].column for g in gs for a in carried_attributes(g)}
    grouping_cols = (["statusdato"] if level else []) + [c for c in attr_cols if c in in_sets]
    gid_expr = "GROUPING(" + ", ".join(grouping_cols) + ")"
    if level is None:
        source = base + "_k"
    else:
        # Stock cells of this time level: the base rows of its status dates, with the
        # period captions of that level.
        source = (f"(SELECT {_non_time_cols(con, base + '_k')}, p.statusdato, p.tid_aar, "
                  f"p.tid_kvartal, p.tid_maaned FROM {base}_k b JOIN status_perioder p "
                  f"ON p.statusdato = b.statusdato AND p.niveau = '{level}')")
    set_cols = [["statusdato"] * (level is not None)
                + [ATTRIBUTES[a].column for a in carried_attributes(g)] for g in gs]
    if not _distinct_sets(con, source, coded, grouping_cols, set_cols, measures):
        agg_sql = (f"CREATE OR REPLACE TEMP TABLE _agg_k AS SELECT {', '.join(grouping_cols)}, "
                   f"{gid_expr} AS _gid, "
                   + ", ".join(f"{expr} AS {name}" for name, expr in measures.items())
                   + f" FROM {source} GROUP BY GROUPING SETS ({', '.join(sets)})")
        con.execute(agg_sql)
    _decode(con, "_agg_k", "_agg", coded)
    n_agg = con.execute("SELECT count(*) FROM _agg").fetchall()[0][0]
    matched = 0
    frames = []
    for g in gs:
        df = _grouping_cells(con, cube, g, level, grouping_cols, params)
        matched += int(df.pop("_fundet").sum())
        df["_g"] = list(cube.groupings).index(g)
        frames.append(df)
    if matched != n_agg:
        raise AssertionError(
            f"{cube.underemne}: {n_agg - matched} aggregated cells have captions that are not "
            "members of their attribute (a dimension member list is incomplete)")
    return frames


#: The measures :func:`_distinct_sets` computes: the rows, and the distinct individuals.
_COUNT, _DISTINCT = "count(*)", "count(DISTINCT individ)"


#: what _distinct_sets composes into SQL: a lower-case identifier, and a source that is one
#: (a temporary table) or the caller's own subquery over its temporary tables
_SQL_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_SQL_SOURCE = re.compile(r"[a-z_][a-z0-9_]*|\(SELECT [^;]*\)")


#: Individuals with at most this many rows in a cube base are counted by comparing their rows
#: pairwise (at most 120 pairs each); the others set by set (see :func:`_distinct_sets`).
PAIRWISE_MAX_ROWS = 16


def _distinct_sets(con: duckdb.DuckDBPyConnection, source: str, coded: list[str],
                   grouping_cols: list[str], set_cols: list[list[str]],
                   measures: dict[str, str]) -> bool:
    """Write ``_agg_k`` as ``GROUP BY GROUPING SETS`` would (the same rows, columns and
    types) for a cube that counts distinct individuals, without a distinct hash table per
    grouping set over all rows; False (nothing written) where this does not apply, and the
    caller aggregates as usual.

    Why: DuckDB plans a DISTINCT aggregate over grouping sets as one distinct hash table of
    (keys, individual) per set, all alive at once: at 10x national scale AFSLAARS's 44 sets
    held 29 million entries (1.3 GB), and at 100x they outgrow the memory limit and spill,
    which made the step grow faster than the data; one aggregate per set instead costs as much
    CPU (44 aggregates over all rows).

    How: the row's coded attributes are packed into one BIGINT ``k`` (each code in its own
    bit field; codes start at 1, so a field of 0 is a rolled-up column); a set's key is ``k``
    with the fields of the other columns masked off. An individual counts in a cell of a set
    by exactly one of their rows there, the one with the smallest ``k``: a row is counted in a
    set unless an earlier row (smaller ``k``) of the same individual agrees with it on every
    column of the set. For most individuals (at most PAIRWISE_MAX_ROWS rows) the rows are
    compared pairwise: which fields two rows agree on is a small pattern, a table gives the
    sets each pattern covers, and one aggregate gives each row the sets it is repeated in;
    the sets are then summed over the (``k``, repeated-in) classes of rows, which are few.
    The few individuals with many rows (at 100x scale some applicants have 400 refusals,
    where pairs grow quadratically) are aggregated set by set, on their rows only.
    """
    if not (_DISTINCT in measures.values() and set(measures.values()) <= {_COUNT, _DISTINCT}
            and "individ" in coded and set(grouping_cols) <= set(coded)):
        return False
    # The SQL below is composed: its identifiers are the catalogue's column names and the
    # caller's temporary table names, checked here, and its only values are integers this
    # function computes (bit offsets and masks); nothing from the data is spliced in.
    if not all(_SQL_NAME.fullmatch(x) for x in [*coded, *grouping_cols]) \
            or not _SQL_SOURCE.fullmatch(source):
        return False
    if len(set_cols) > 62 or len(grouping_cols) > 12:
        return False  # a set per bit of a BIGINT; a pattern table of 2^columns rows
    if not con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]:
        return False  # no rows: the grand total's empty cell is GROUPING SETS' business
    width = {c: int(con.execute(f"SELECT max(_k) FROM _d_{c}").fetchall()[0][0]).bit_length()
             for c in grouping_cols}
    offset, bits = {}, 0
    for c in reversed(grouping_cols):
        offset[c], bits = bits, bits + width[c]
    if bits > 63:
        return False
    field = {c: ((1 << width[c]) - 1) << offset[c] for c in grouping_cols}
    masks = [sum(field[c] for c in cols) for cols in set_cols]
    packed = " | ".join(f"(CAST({c} AS BIGINT) << {offset[c]})" for c in grouping_cols) or "0"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _r AS SELECT {packed} AS k, individ, "
                f"count(*) AS c FROM {source} GROUP BY ALL")
    con.execute("CREATE OR REPLACE TEMP TABLE _mange AS SELECT individ FROM _r GROUP BY individ "
                f"HAVING count(*) > {PAIRWISE_MAX_ROWS}")
    con.execute("CREATE OR REPLACE TEMP TABLE _p AS SELECT * FROM _r ANTI JOIN _mange USING (individ)")
    # Bit f of a pattern: the two rows agree on grouping_cols[f]; each pattern's sets.
    covers = []
    for pattern in range(1 << len(grouping_cols)):
        agree = {c for f, c in enumerate(grouping_cols) if pattern >> f & 1}
        covers.append((pattern, sum(1 << i for i, cols in enumerate(set_cols)
                                    if set(cols) <= agree)))
    agreement = " | ".join(f"(CAST((x & {field[c]}) = 0 AS BIGINT) << {f})"
                           for f, c in enumerate(grouping_cols)) or "0"
    con.execute("CREATE OR REPLACE TEMP TABLE _moenstre AS SELECT * FROM (VALUES "
                + ", ".join(f"({p}, CAST({m} AS BIGINT))" for p, m in covers)
                + ") AS t(moenster, saet)")
    # Per row: the sets in which an earlier row of the same individual already counts them.
    con.execute("CREATE OR REPLACE TEMP TABLE _gentaget AS "
                "SELECT individ, k, bit_or(m.saet) AS gentaget FROM ("
                "  SELECT b.individ, b.k, xor(a.k, b.k) AS x FROM _p a "
                "  JOIN _p b ON a.individ = b.individ AND a.k < b.k) AS par "
                f"JOIN _moenstre m ON m.moenster = ({agreement}) GROUP BY individ, k")
    con.execute("CREATE OR REPLACE TEMP TABLE _klasser AS "
                "SELECT p.k, coalesce(g.gentaget, 0) AS gentaget, sum(p.c) AS n, count(*) AS f "
                "FROM _p p LEFT JOIN _gentaget g ON g.individ = p.individ AND g.k = p.k "
                "GROUP BY ALL")
    values = ", ".join(f"({i}, CAST({m} AS BIGINT))" for i, m in enumerate(masks))
    con.execute("CREATE OR REPLACE TEMP TABLE _agg_d AS "
                "SELECT s._set, q.k & s.maske AS k, sum(q.n) AS n, "
                "coalesce(sum(q.f) FILTER (WHERE (q.gentaget >> s._set) & 1 = 0), 0) AS d "
                f"FROM _klasser q CROSS JOIN (VALUES {values}) AS s(_set, maske) GROUP BY ALL")
    con.execute("CREATE OR REPLACE TEMP TABLE _m AS SELECT * FROM _r SEMI JOIN _mange USING (individ)")
    for i, mask in enumerate(masks):
        con.execute(f"INSERT INTO _agg_d SELECT {i}, k, sum(c), count(*) FROM ("
                    f"SELECT k & {mask} AS k, individ, sum(c) AS c FROM _m GROUP BY ALL) GROUP BY k")
    con.execute("CREATE OR REPLACE TEMP TABLE _agg_s AS SELECT _set, k, CAST(sum(n) AS BIGINT) AS n, "
                "CAST(sum(d) AS BIGINT) AS d FROM _agg_d GROUP BY _set, k")
    for t in ("_r", "_mange", "_p", "_m", "_moenstre", "_gentaget", "_klasser", "_agg_d"):
        con.execute(f"DROP TABLE {t}")
    gids = ", ".join(f"({i}, {_gid_of(grouping_cols, set(cols))})"
                     for i, cols in enumerate(set_cols))
    select = [f"CAST(nullif((s.k >> {offset[c]}) & {(1 << width[c]) - 1}, 0) AS INTEGER) AS {c}"
              for c in grouping_cols]
    select.append("CAST(g._gid AS BIGINT) AS _gid")
    select += [f"s.{'n' if expr == _COUNT else 'd'} AS {name}" for name, expr in measures.items()]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _agg_k AS SELECT {', '.join(select)} FROM _agg_s s "
                f"JOIN (VALUES {gids}) AS g(_set, _gid) ON g._set = s._set")
    con.execute("DROP TABLE _agg_s")
    return True


def _gid_of(grouping_cols: list[str], grouped: set[str]) -> int:
    """DuckDB's GROUPING() bitmask of a set grouped by ``grouped`` (MSB first, 1 = not
    grouped)."""
    bits = 0
    for col in grouping_cols:
        bits = (bits << 1) | (col not in grouped)
    return bits


def _grouping_cells(con, cube: Cube, g: str, level: str | None, grouping_cols: list[str],
                    params: dict) -> pd.DataFrame:
    """One grouping's cells: its members' combinations LEFT JOIN the aggregate ``_agg``."""
    glist = g.split("|") if g else []
    gid = _gid(grouping_cols, set(carried_attributes(g)), level is not None)
    time_filter = ""
    if cube.underemne == "FRAFAFBRUD":
        # the time members the mart keeps (sql/marts/cube_frafafbrud.sql): status dates whose
        # six-month window has closed by the cut-off. Were the two to disagree, build_cells
        # stops on aggregated cells without members (or publishes empty ones, the other way).
        time_filter = ("AND CAST(statusdato + INTERVAL 6 MONTH AS DATE) <= "
                       "last_day(CAST($udgivelse AS DATE))")
    from_sql, sorts, refs = _members_sql(cube, glist, level, time_filter)
    select_cols = []
    join_on = [f"a._gid = {gid}"]
    for col in (["statusdato"] if level else []) + cube.columns:
        if col in refs:
            select_cols.append(f"{refs[col]} AS {col}")
            join_on.append(f"a.{col} = {refs[col]}")
        else:
            select_cols.append(f"CAST(NULL AS VARCHAR) AS {col}")
    if level is None:
        select_cols.insert(0, "CAST(NULL AS DATE) AS statusdato")
    sql = (f"SELECT ? AS gruppering, {', '.join(select_cols)}, "
           + ", ".join(f"coalesce(a.{c}, 0) AS {c}" for c in MEASURE_SQL[cube.underemne])
           + ", (a._gid IS NOT NULL) AS _fundet"
           + f" FROM {from_sql} LEFT JOIN _agg a ON {' AND '.join(join_on)}"
           + (f" ORDER BY {', '.join(sorts)}" if sorts else ""))
    bind = [g]
    if "$udgivelse" in sql:
        sql = sql.replace("$udgivelse", "?")
        bind.append(params["udgivelse"])
    return con.execute(sql, bind).df()


def _in_catalogue_order(cells: pd.DataFrame, cube: Cube, count_cols: list[str]) -> pd.DataFrame:
    """Cells in the catalogue's grouping order (stock cubes by status date within it), with
    the published column types."""
    attr_cols = cube.columns
    cells["_ord"] = range(len(cells))
    sort_keys = ["_g"] + (["statusdato"] if cube.kind == "stock" else []) + ["_ord"]
    cells = cells.sort_values(sort_keys, kind="stable").drop(columns=["_g", "_ord"])
    cells = cells.reset_index(drop=True)
    cols = ["gruppering", "statusdato"] + attr_cols + count_cols
    cells = cells[cols]
    for c in count_cols:
        cells[c] = cells[c].astype("int64")
    if cube.kind == "flow":
        cells = cells.drop(columns=["statusdato"])
    else:
        cells["statusdato"] = pd.to_datetime(cells["statusdato"]).dt.date
    cells = cells.astype({c: "object" for c in attr_cols})
    cells[attr_cols] = cells[attr_cols].where(cells[attr_cols].notna(), None)
    return cells


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of one of this module's TEMP tables, in order (the name is bound, not spliced)."""
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' "
        "AND table_name = ? ORDER BY column_index", [table]).fetchall()]


def _encode(con: duckdb.DuckDBPyConnection, base: str, cols: list[str]) -> list[str]:
    """Write ``<base>_k``: ``base`` with each of ``cols`` replaced by a dense integer code
    (dictionary ``_d_<col>``), and return the coded columns.

    Why: the GROUPING SETS aggregation hashes every key of every row once per grouping set,
    and for a DISTINCT measure it also keeps a hash table of (keys, individual) per set. On
    caption strings and 32-character pseudonyms that costs about twice the CPU time of the same
    aggregation on integers (measured at 10x national scale), while coding and decoding cost
    little. A NULL is coded like any other value.
    """
    for c in cols:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _d_{c} AS SELECT v AS {c}, "
                    f"CAST(row_number() OVER (ORDER BY v) AS INTEGER) AS _k "
                    f"FROM (SELECT DISTINCT {c} AS v FROM {base})")
    select = ", ".join(f"_d_{c}._k AS {c}" if c in cols else f"b.{c}"
                       for c in _columns(con, base))
    joins = " ".join(f"JOIN _d_{c} ON _d_{c}.{c} IS NOT DISTINCT FROM b.{c}" for c in cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {base}_k AS SELECT {select} FROM {base} b {joins}")
    return cols


def _decode(con: duckdb.DuckDBPyConnection, source: str, target: str, coded: list[str]) -> None:
    """``target``: ``source`` with the coded columns turned back into their values (a column
    that a grouping set rolled up stays NULL)."""
    cols = _columns(con, source)
    select = ", ".join(f"_d_{c}.{c} AS {c}" if c in coded else f"a.{c}" for c in cols)
    joins = " ".join(f"LEFT JOIN _d_{c} ON _d_{c}._k = a.{c}" for c in cols if c in coded)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {select} FROM {source} a {joins}")


def _non_time_cols(con: duckdb.DuckDBPyConnection, base: str) -> str:
    return ", ".join(f"b.{c}" for c in _columns(con, base) if c not in ("statusdato", "tid_aar", "tid_kvartal", "tid_maaned"))


def _attr_of(col: str) -> str | None:
    for k, a in ATTRIBUTES.items():
        if a.column == col:
            return k
    return None


def _time_level(g: str) -> str | None:
    for a in g.split("|") if g else []:
        if a in TIME_LEVEL:
            return TIME_LEVEL[a]
    return None


def _gid(grouping_cols: list[str], carried: set[str], stock: bool) -> int:
    """DuckDB's GROUPING() bitmask: bit set (MSB first) for columns *not* grouped."""
    bits = 0
    for col in grouping_cols:
        grouped = col == "statusdato" and stock or (_attr_of(col) in carried)
        bits = (bits << 1) | (0 if grouped else 1)
    return bits
