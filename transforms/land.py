"""Land the operational store in the warehouse as raw_* tables, pseudonymised in flight.

The stream is source → ADBC Arrow batches → :mod:`transforms.pseudonymise` → DuckDB, batch by
batch, so memory stays bounded by the batch size and no direct identifier is ever written.

Loading is incremental where the source allows it:

- append-only tables (``afslag``, ``frafaldsvurdering``) are read from their watermark on
  ``registreret`` minus a look-back window, so rows committed late with an older timestamp
  are not lost; rows already landed (same id) are skipped, so a rerun loads nothing twice;
- the mutable ``uddannelsesaftale`` is read the same way on ``aendret``; every new version
  (id, aendret) is kept, so the history can rebuild any past release as of its cut-off;
- reference tables are small and read in full.

Rows whose timestamp cannot be read are always re-read (and skipped once landed): they must
reach quarantine, never be lost. One run is one DuckDB transaction over one source snapshot;
a failure rolls it back, the watermarks stay, and the run is retried from the same place with
backoff. That is why a connection killed mid-extract loses and duplicates nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from transforms.extract import (
    ID_COLUMNS, SOURCE_TABLES, TABLE_KEYS, SourceConnection, SourceError, SourceUnavailable,
    iter_batches,
)
from transforms.pseudonymise import Pseudonymiser, pseudonymise_batch

log = logging.getLogger(__name__)

#: table → timestamp column the watermark follows
INCREMENTAL: dict[str, str] = {
    "afslag": "registreret",
    "frafaldsvurdering": "registreret",
    "uddannelsesaftale": "aendret",
}
#: how far behind its watermark each incremental read starts (late commits)
DEFAULT_LOOKBACK = timedelta(days=3)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _pseudonymised(table: str, reader: pa.RecordBatchReader, ps: Pseudonymiser,
                   counter: dict, untyped: bool,
                   on_batch: Callable[[str, int], None] | None
                   ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
    schema = pseudonymise_batch(table, empty, ps).schema
    if untyped:
        # SQLite declares no types the driver can trust (an empty table reads as int64):
        # land every source text as text; staging types it, with quarantine for what fails.
        schema = pa.schema([f if f.name in ID_COLUMNS or pa.types.is_date32(f.type)
                            else pa.field(f.name, pa.string()) for f in schema])
    schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                        for f in schema])

    def gen():
        for batch in iter_batches(reader):
            counter["read"] += batch.num_rows
            out = pseudonymise_batch(table, batch, ps)
            if out.schema != schema:
                out = pa.RecordBatch.from_arrays(
                    [c if c.type == f.type else c.cast(f.type) for c, f in zip(out.columns, schema)],
                    schema=schema)
            yield out
            if on_batch is not None:
                on_batch(table, counter["read"])

    return schema, gen()


def _watermark(con: duckdb.DuckDBPyConnection, table: str) -> datetime | None:
    rows = con.execute("SELECT vandmaerke FROM ingest_vandmaerke WHERE tabel = ?", [table]).fetchall()
    return rows[0][0] if rows else None


def _read_filter(src: SourceConnection, table: str, since: datetime | None) -> tuple[str, tuple]:
    if since is None:
        return "", ()
    col = INCREMENTAL[table]  # a column name from the fixed contract list
    if src.kind == "sqlite":
        # Text timestamps with offsets compare as instants through julianday(); unreadable
        # ones (NULL) are read every time so that they reach quarantine.
        return (f"julianday({col}) >= julianday(?) OR julianday({col}) IS NULL",
                (since.astimezone(timezone.utc).isoformat(),))
    return f"{col} >= ?", (since,)


def _land_table(con, src, table, ps, run_id, lookback, on_batch) -> dict[str, int]:
    counter = {"read": 0}
    incremental = table in INCREMENTAL
    wm = _watermark(con, table) if incremental else None
    since = (wm - lookback) if wm is not None else None
    where, params = _read_filter(src, table, since) if incremental else ("", ())
    reader = src.read(table, where, params)
    schema, batches = _pseudonymised(table, reader, ps, counter, src.kind == "sqlite", on_batch)
    con.register("_landing", pa.RecordBatchReader.from_batches(schema, batches))
    try:
        if not incremental:
            con.execute(f"CREATE OR REPLACE TABLE raw_{table} AS "
                        "SELECT *, CAST(? AS VARCHAR) AS _koersel FROM _landing", [run_id])
            new = counter["read"]
        else:
            con.execute(f"CREATE TABLE IF NOT EXISTS raw_{table} AS "
                        "SELECT *, CAST(? AS VARCHAR) AS _koersel FROM _landing WHERE false",
                        [run_id])
            key = TABLE_KEYS[table]
            before = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0]
            if table == "uddannelsesaftale":
                # A new version is a new (id, aendret): keep every version seen.
                same = (f"r.{key} = l.{key} AND r.aendret IS NOT DISTINCT FROM l.aendret")
            else:
                same = f"r.{key} = l.{key}"  # append-only and immutable: the id is enough
            con.execute(f"INSERT INTO raw_{table} SELECT l.*, CAST(? AS VARCHAR) FROM _landing l "
                        f"WHERE NOT EXISTS (SELECT 1 FROM raw_{table} r WHERE {same})",
                        [run_id])
            new = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0] - before
            col = INCREMENTAL[table]
            top = con.execute(f"SELECT max(TRY_CAST({col} AS TIMESTAMPTZ)) FROM raw_{table}"
                              ).fetchall()[0][0]
            if top is not None:
                con.execute("INSERT OR REPLACE INTO ingest_vandmaerke VALUES (?, ?, ?)",
                            [table, top, run_id])
    finally:
        con.unregister("_landing")
    return {"read": counter["read"], "new": new}


def land_source(source_url: str, pseudonym_key: str, con: duckdb.DuckDBPyConnection,
                run_id: str, lookback: timedelta = DEFAULT_LOOKBACK, retries: int = 3,
                backoff_seconds: float = 1.0,
                on_batch: Callable[[str, int], None] | None = None) -> dict[str, dict[str, int]]:
    """Land every source table (incrementally where possible). Returns per table the rows
    read from the source in this run and the rows that were new.

    Transient failures (a dropped connection, a server restart) are retried ``retries``
    times with exponential backoff; a store that breaks the contract fails at once.
    """
    ps = Pseudonymiser(pseudonym_key)
    con.execute("CREATE TABLE IF NOT EXISTS ingest_vandmaerke (tabel VARCHAR PRIMARY KEY, "
                "vandmaerke TIMESTAMPTZ, koersel VARCHAR)")
    attempt = 0
    while True:
        attempt += 1
        try:
            return _land_once(source_url, ps, con, run_id, lookback, on_batch)
        except SourceError as exc:
            if not isinstance(exc, SourceUnavailable) or attempt > retries:
                raise
            wait = backoff_seconds * 2 ** (attempt - 1)
            log.warning("store unavailable (attempt %d); retrying in %.1f s", attempt, wait)
            time.sleep(wait)
        except Exception as exc:
            if attempt > retries:
                raise SourceError(
                    f"Extraction failed {attempt} times; last error: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. "
                    "Nothing was landed from the failed attempts. Check that the store "
                    "answers, then run again.") from exc
            wait = backoff_seconds * 2 ** (attempt - 1)
            log.warning("extract attempt %d failed (%s); retrying in %.1f s", attempt,
                        type(exc).__name__, wait)
            time.sleep(wait)


def _land_once(source_url, ps, con, run_id, lookback, on_batch) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    with SourceConnection(source_url) as src:
        for table in SOURCE_TABLES:
            src.check_columns(table)
        con.execute("BEGIN TRANSACTION")
        try:
            for table in SOURCE_TABLES:
                stats[table] = _land_table(con, src, table, ps, run_id, lookback, on_batch)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return stats
