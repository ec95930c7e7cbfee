"""Run the SQL models: staging (with the quarantine split), history, dimensions and facts.

The models live in named files under ``sql/`` (one model per file, grain stated at the top).
This module only decides the order and does the bookkeeping every staging model shares:
rows whose ``karantaene_aarsag`` is set go to ``karantaene`` with their reason and the landed
row as evidence, the rest to ``stg_laerepladsen__<table>``. Nothing is dropped silently: per
source table, read = loaded + quarantined (:func:`source_counts`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from transforms.catalog import CUBES
from transforms.extract import SOURCE_TABLES
from transforms.settings import duckdb_memory_limit, owner_only_files

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sql"
KOMMUNER_CSV = ROOT / "reference" / "kommuner.csv"

WAREHOUSE_MODELS = (
    "dim_uddannelse", "dim_kommune", "dim_virksomhed", "dim_afslagsaarsag", "dim_skole",
    "dim_elev", "fct_afslag", "fct_frafaldsvurdering", "fct_aftale_historik",
)


def sql_text(layer: str, name: str) -> str:
    return (SQL_DIR / layer / f"{name}.sql").read_text(encoding="utf-8")


def bound(sql: str, params: dict) -> tuple[str, dict]:
    """The statement without comment lines, and the parameters it names (DuckDB refuses
    parameters a statement does not use)."""
    body = _without_comment_lines(sql)
    return body, {k: v for k, v in params.items() if f"${k}" in body}


def _without_comment_lines(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def statements(sql: str) -> list[str]:
    """A model file of several statements, split where a line ends with ``;`` (comment lines
    first removed), so that each can be bound to the parameters it uses."""
    body = _without_comment_lines(sql)
    return [s.strip() for s in re.split(r";[ \t]*$", body, flags=re.M) if s.strip()]


_CREATES = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE\s+"
                      r"(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\s+", re.I)


def tables_read(sql: str) -> set[str]:
    """The tables a model file reads, from DuckDB's own parse of each statement (CTEs and the
    tables the file creates itself are not reads). The asset graph's dependencies are
    derived from this, so they cannot drift from the SQL."""
    created: set[str] = set()
    read: set[str] = set()
    for statement in statements(sql):
        if re.match(r"^\s*DROP\s", statement, re.I):
            continue
        m = _CREATES.match(statement)
        if m:
            statement = statement[m.end():]
        read |= _base_tables(statement) - created
        if m:
            created.add(m.group(1).lower())
    return read


def _base_tables(select: str) -> set[str]:
    import json

    tree = json.loads(duckdb.execute("SELECT json_serialize_sql(?)", [select]).fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(f"cannot parse {select[:80]!r}: {tree.get('error_message')}")
    tables, ctes = set(), set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("table_name"):
                tables.add(node["table_name"].lower())
            for entry in (node.get("cte_map") or {}).get("map", []):
                ctes.add(entry["key"].lower())
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(tree["statements"])
    return tables - ctes


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A warehouse connection with periods in Europe/Copenhagen (the contract's calendar)."""
    if not read_only and str(path) != ":memory:":
        owner_only_files()  # DuckDB's WAL and spill files too, from their first byte
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        new = not Path(path).exists()
    else:
        new = False
    con = duckdb.connect(str(path), read_only=read_only)
    if new:
        # The warehouse holds pseudonymised microdata: owner-only from the first byte.
        Path(path).chmod(0o600)
    con.execute("SET TimeZone = 'Europe/Copenhagen'")
    # Bounded memory: DuckDB spills to <warehouse>.tmp beyond this (transforms/settings.py).
    con.execute(f"SET memory_limit = '{duckdb_memory_limit()}'")
    con.execute("SET enable_progress_bar = false")  # logs stay readable in Dagster and CI
    return con


def load_reference(con: duckdb.DuckDBPyConnection) -> None:
    with KOMMUNER_CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    con.execute(
        "CREATE OR REPLACE TABLE ref_kommuner (kommunekode VARCHAR PRIMARY KEY, kommune VARCHAR, "
        "regionskode VARCHAR, region VARCHAR)"
    )
    con.executemany(
        "INSERT INTO ref_kommuner VALUES (?, ?, ?, ?)",
        [(r["kommunekode"], r["kommune"], r["regionskode"], r["region"]) for r in rows],
    )


def run_staging(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS karantaene (kilde_tabel VARCHAR, noegle VARCHAR, "
        "aarsag VARCHAR, raekke JSON)"
    )
    for table in SOURCE_TABLES:  # contract order: references before the rows that use them
        con.execute(sql_text("staging", f"stg_laerepladsen__{table}"))
        checked = f"stg_laerepladsen__{table}__kontrol"
        con.execute(
            f"CREATE OR REPLACE TABLE stg_laerepladsen__{table} AS "
            f"SELECT * EXCLUDE (karantaene_aarsag, _noegle) FROM {checked} "
            "WHERE karantaene_aarsag IS NULL"
        )
        con.execute("DELETE FROM karantaene WHERE kilde_tabel = ?", [table])
        con.execute(
            "INSERT INTO karantaene "
            f"SELECT ?, c._noegle, c.karantaene_aarsag, to_json(c) FROM {checked} AS c "
            "WHERE c.karantaene_aarsag IS NOT NULL ORDER BY c._noegle",
            [table],
        )


def run_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    load_reference(con)
    for model in WAREHOUSE_MODELS:
        con.execute(sql_text("warehouse", model))


def build_all(con: duckdb.DuckDBPyConnection) -> dict:
    """Staging, history and warehouse in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        run_staging(con)
        run_warehouse(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"agreement_versions": con.execute(
        "SELECT count(*) FROM fct_aftale_historik").fetchall()[0][0]}


def source_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Per source table: rows read (landed, for agreements every version landed, plus the rows
    the last landing quarantined in memory), loaded (staged) and quarantined by reason (in
    staging, ``karantaene``, or while landing, ``karantaene_indlaesning``)."""
    out: dict[str, dict] = {}
    landing = bool(con.execute("SELECT count(*) FROM duckdb_tables() "
                               "WHERE table_name = 'karantaene_indlaesning'").fetchall()[0][0])
    union = (" UNION ALL SELECT kilde_tabel, aarsag FROM karantaene_indlaesning"
             if landing else "")
    for table in SOURCE_TABLES:
        read = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0]
        loaded = con.execute(f"SELECT count(*) FROM stg_laerepladsen__{table}").fetchall()[0][0]
        reasons = dict(con.execute(
            f"SELECT aarsag, count(*) FROM (SELECT kilde_tabel, aarsag FROM karantaene{union}) "
            "WHERE kilde_tabel = ? GROUP BY aarsag ORDER BY aarsag", [table]).fetchall())
        read += sum(reasons.values()) - con.execute(
            "SELECT count(*) FROM karantaene WHERE kilde_tabel = ?", [table]).fetchall()[0][0]
        out[table] = {"read": read, "loaded": loaded, "quarantined": reasons}
    return out


#: Tables partitioned by release (cube cells, published cells): the only names the partition
#: helpers put into SQL text; values are always bound as parameters.
PARTITION_TABLES = frozenset(f"{kind}_{u.lower()}" for kind in ("cube", "pub") for u in CUBES)


def _partition_table(table: str) -> str:
    if table not in PARTITION_TABLES:
        raise ValueError(f"{table!r} is not a partitioned table ({sorted(PARTITION_TABLES)})")
    return table


def read_partition(con: duckdb.DuckDBPyConnection, table: str, release: str,
                   limit: int | None = None):
    """One release's rows of a partitioned table, in the stored (publication) order, without
    the bookkeeping columns; text nulls as None, ``statusdato`` as dates. A partition never
    written raises LookupError; one written empty gives an empty frame."""
    import pandas as pd

    sql = f"SELECT * FROM {_partition_table(table)} WHERE udgivelse = ? ORDER BY _nr"
    params: list = [release]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    df = con.execute(sql, params).df().drop(columns=["udgivelse", "_nr"])
    if df.empty and not partition_written(con, table, release):
        raise LookupError(f"{table} has no cells for release {release}: build the cubes first.")
    obj = [c for c in df.columns if df[c].dtype == object]
    df[obj] = df[obj].where(df[obj].notna(), None)
    if "statusdato" in df.columns:
        df["statusdato"] = pd.to_datetime(df["statusdato"]).dt.date
    return df


def store_partition(con: duckdb.DuckDBPyConnection, table: str, release: str, frame) -> None:
    """Idempotent partition write: delete the release's rows and insert them again, in one
    transaction. ``table`` comes from the catalogue, never from input; ``_nr`` keeps the
    frame's (publication) order for readers. ``partitioner`` records that the partition was
    written and how many rows it has, so that an empty partition (a cube with no period yet,
    e.g. FRAFAFBRUD before mid-2022) is told apart from one never built."""
    table = _partition_table(table)
    frame = frame.assign(_nr=range(len(frame)))
    con.register("_partition", frame)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS "
                    f"SELECT CAST(NULL AS VARCHAR) AS udgivelse, {_typed_columns(con)} "
                    "FROM _partition WHERE false")
        con.execute(f"DELETE FROM {table} WHERE udgivelse = ?", [release])
        con.execute(f"INSERT INTO {table} SELECT ? AS udgivelse, * FROM _partition", [release])
        record_partition(con, table, release, len(frame))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_partition")


def record_partition(con: duckdb.DuckDBPyConnection, table: str, release: str, rows: int,
                     only: bool = False) -> None:
    """Note in ``partitioner`` that ``table`` holds ``release``'s partition (``rows`` rows);
    ``only``: and no other release's (a table that holds one release at a time)."""
    con.execute("CREATE TABLE IF NOT EXISTS partitioner (tabel VARCHAR, udgivelse VARCHAR, "
                "raekker BIGINT, PRIMARY KEY (tabel, udgivelse))")
    if only:
        con.execute("DELETE FROM partitioner WHERE tabel = ?", [table])
    con.execute("INSERT OR REPLACE INTO partitioner VALUES (?, ?, ?)", [table, release, rows])


def _typed_columns(con: duckdb.DuckDBPyConnection) -> str:
    """The select list that creates a partition table from ``_partition``: as the frame's
    types, except where an empty frame leaves DuckDB nothing to infer from (a pandas object
    column with no rows is type NULL): the status date is a DATE and the rest text. Without
    this, the first release of a backfill (2021-04, when the stock cubes are still empty)
    created columns of type NULL that no later release could be inserted into."""
    cols = []
    for name, dtype, *_ in con.execute("DESCRIBE SELECT * FROM _partition").fetchall():
        if dtype.strip('"') == "NULL":
            cols.append(f'CAST("{name}" AS {"DATE" if name == "statusdato" else "VARCHAR"}) AS "{name}"')
        else:
            cols.append(f'"{name}"')
    return ", ".join(cols)


def partition_written(con: duckdb.DuckDBPyConnection, table: str, release: str) -> bool:
    """Whether store_partition wrote this release's partition of ``table`` (maybe empty)."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'partitioner'").fetchall()[0][0]
    return bool(exists) and bool(con.execute(
        "SELECT count(*) FROM partitioner WHERE tabel = ? AND udgivelse = ?",
        [table, release]).fetchall()[0][0])
