"""Land the operational store in the warehouse as raw_* tables, pseudonymised in flight.

The stream is source → ADBC Arrow batches → :mod:`transforms.pseudonymise` → DuckDB, batch by
batch, so no direct identifier is ever written (and the ones the warehouse does not need are
never even read). Reading and pseudonymising each run in a thread of their own
(:class:`_Feed`), with at most ``READ_AHEAD_BATCHES`` batches waiting between one stage and the
next, so the three overlap (the driver, the Arrow kernels and DuckDB release the GIL); with
DuckDB's own memory bounded while landing (``LANDING_MEMORY_LIMIT``), memory does not grow
with the size of the tables.

Loading is incremental where the source allows it:

- append-only tables (``afslag``, ``frafaldsvurdering``) are read from their watermark on
  ``registreret`` minus a look-back window, so rows committed late with an older timestamp
  are not lost; rows already landed (same id, same content) are skipped, so a rerun loads
  nothing twice, and a landed id read again with other content is quarantined
  (``genbrugt_noegle``), never skipped in silence;
- the mutable ``uddannelsesaftale`` is read the same way on ``aendret``; every new version
  (id, aendret) is kept, so the history can rebuild any past release as of its cut-off;
- reference tables are small and read in full.

Rows whose timestamp cannot be read are always re-read (and skipped once landed): they must
reach quarantine, never be lost. One run is one DuckDB transaction over one source snapshot;
a failure rolls it back, the watermarks stay, and the run is retried from the same place with
backoff. That is why a connection killed mid-extract loses and duplicates nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from transforms.extract import (
    ID_COLUMNS, SOURCE_TABLES, TABLE_KEYS, SourceConnection, SourceError, SourceUnavailable,
    iter_batches,
)
from transforms.pseudonymise import Pseudonymiser, pseudonymise_batch, source_columns
from transforms.settings import duckdb_memory_limit, size_bytes
from transforms.validate import Validator, store_code_lists

log = logging.getLogger(__name__)

#: table → timestamp column the watermark follows
INCREMENTAL: dict[str, str] = {
    "afslag": "registreret",
    "frafaldsvurdering": "registreret",
    "uddannelsesaftale": "aendret",
}
#: rows that failed validation in memory (transforms.validate) or have no or a shared key:
#: never landed, offending values redacted, read again by the next run
QUARANTINE_DDL = ("CREATE TABLE IF NOT EXISTS karantaene_indlaesning (kilde_tabel VARCHAR, "
                  "noegle VARCHAR, aarsag VARCHAR, raekke JSON, tidspunkt TIMESTAMPTZ, "
                  "koersel VARCHAR)")
#: how far behind its watermark each incremental read starts (late commits)
DEFAULT_LOOKBACK = timedelta(days=3)
#: batches that may wait between reading and pseudonymising, and again before the warehouse
READ_AHEAD_BATCHES = 3
#: DuckDB's memory limit while landing (a lower one of the caller's is kept). DuckDB keeps
#: the blocks it has written cached up to its limit, by default most of the machine's memory,
#: so without a bound a load grows with the tables; this leaves room for its write buffers
#: (a few row groups) and a rerun's anti-join, and DuckDB spills beyond it.
LANDING_MEMORY_LIMIT = "512MB"
#: DuckDB's threads while landing. One writer fills whole row groups and compresses each
#: once; parallel writers leave partial ones that the next checkpoint (at the latest when the
#: step closes the warehouse) decompresses and writes again: more CPU, a larger file, and a
#: memory peak that grows with the tables. The other core reads and pseudonymises meanwhile.
LANDING_THREADS = 1
#: The order tables are read and landed in (each lands on its own; the order only shapes the
#: pipeline): the two that need the most pseudonymising first, so that it overlaps with
#: reading the others, and what is left for the end is cheap.
_FIRST = ("elev", "afslag", "uddannelsesaftale", "frafaldsvurdering")
LANDING_ORDER = _FIRST + tuple(t for t in SOURCE_TABLES if t not in _FIRST)


def _raw_schema(table: str, source: pa.Schema, ps: Pseudonymiser, untyped: bool) -> pa.Schema:
    schema = pseudonymise_batch(table, pa.RecordBatch.from_pylist([], schema=source), ps).schema
    if untyped:
        # SQLite declares no types the driver can trust (an empty table reads as int64):
        # land every source text as text; staging types it, with quarantine for what fails.
        schema = pa.schema([f if f.name in ID_COLUMNS or pa.types.is_date32(f.type)
                            else pa.field(f.name, pa.string()) for f in schema])
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                      for f in schema])


class _Feed:
    """The planned tables, read one after the other from the source snapshot and pseudonymised,
    a bounded number of batches ahead of the warehouse.

    Two threads: one reads (the driver releases the GIL while the server sends), one
    pseudonymises; the warehouse consumes on the calling side. Only raw_* forms reach it; a
    failure in either thread is handed on and raised there. ``on_batch(table,
    rows_read_so_far)`` is called in the reading thread after each batch is read.
    """

    def __init__(self, src: SourceConnection, plan: list[tuple[str, str, tuple]],
                 ps: Pseudonymiser, on_batch: Callable[[str, int], None] | None,
                 validator: Validator):
        self.validator = validator
        self._stop = threading.Event()
        self.error: BaseException | None = None
        source: queue.Queue = queue.Queue(maxsize=READ_AHEAD_BATCHES)
        self._raw: queue.Queue = queue.Queue(maxsize=READ_AHEAD_BATCHES)
        self._queues = (source, self._raw)
        self._threads = [
            threading.Thread(target=self._pump, args=(self._read(src, plan, on_batch), source),
                             name="lpstat-read", daemon=True),
            threading.Thread(target=self._pump, name="lpstat-pseudonymise", daemon=True,
                             args=(self._pseudonymise(source, ps, src.kind == "sqlite"),
                                   self._raw)),
        ]

    def __enter__(self) -> "_Feed":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            while t.is_alive():  # free a thread blocked on a full queue
                for q in self._queues:
                    with contextlib.suppress(queue.Empty):
                        q.get_nowait()
                t.join(0.02)

    def _put(self, out: queue.Queue, message: tuple) -> bool:
        while not self._stop.is_set():
            try:
                out.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self, messages: Iterator[tuple], out: queue.Queue) -> None:
        try:
            for message in messages:
                if not self._put(out, message):
                    return
        except BaseException as exc:  # handed to the consuming side, raised there
            if self.error is None:
                self.error = exc
            self._put(out, ("error", None, exc))

    def _messages(self, q: queue.Queue) -> Iterator[tuple]:
        while True:
            try:
                message = q.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():  # the other side has gone: nothing more will come
                    return
                continue
            if message[0] == "error":
                raise message[2]
            if message[0] == "done":
                return
            yield message

    @staticmethod
    def _read(src, plan, on_batch) -> Iterator[tuple]:
        for table, where, params in plan:
            reader = src.read(table, where, params, source_columns(table, SOURCE_TABLES[table]))
            yield "schema", table, reader.schema
            read = 0
            for batch in iter_batches(reader):
                read += batch.num_rows
                if on_batch is not None:
                    on_batch(table, read)
                yield "batch", table, batch
            yield "end", table, read
        yield "done", None, None

    def _pseudonymise(self, source: queue.Queue, ps: Pseudonymiser, untyped: bool
                      ) -> Iterator[tuple]:
        schema = None
        for kind, table, item in self._messages(source):
            if kind == "schema":
                schema = _raw_schema(table, item, ps, untyped)
                item = schema
            elif kind == "batch":
                item = pseudonymise_batch(table, item, ps)  # the source form is let go here
                if item.schema != schema:
                    item = pa.RecordBatch.from_arrays(
                        [c if c.type == f.type else c.cast(f.type)
                         for c, f in zip(item.columns, schema)], schema=schema)
                # in memory, before the warehouse sees it: a failing row never lands
                item = self.validator.check(table, item)
            yield kind, table, item

    def _get(self, table: str, *kinds: str) -> tuple[str, object]:
        kind, got, item = next(self._messages(self._raw))
        if got != table or kind not in kinds:
            raise RuntimeError(f"extract feed out of step: expected {'/'.join(kinds)} of "
                               f"{table!r}, got {kind} of {got!r}")
        return kind, item

    def table(self, table: str, counter: dict) -> pa.RecordBatchReader:
        """The next planned table's raw_* batches as one stream; ``counter['read']`` holds the
        source rows once the stream is exhausted."""
        _, schema = self._get(table, "schema")

        def batches() -> Iterator[pa.RecordBatch]:
            while True:
                kind, item = self._get(table, "batch", "end")
                if kind == "end":
                    counter["read"], counter["done"] = item, True
                    return
                yield item

        return pa.RecordBatchReader.from_batches(schema, batches())


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


#: quarantined rows re-read by their key; beyond this many, the watermark waits for them.
#: The keys travel as one text parameter (:func:`_key_filter`), so the bound is memory, not
#: the drivers' limit on bound parameters. It was 5,000 with one parameter per key: at 100x
#: national scale 23,000-32,000 rows per table fail validation (unknown codes), so the
#: watermarks stayed at the first of them (2019-2022), every run read each table again from
#: there (landing 76-81 s against 33.5 s) and the release check watermarks_current failed.
MAX_REREAD_KEYS = 1_000_000


def _key_filter(src: SourceConnection, table: str, keys: list[int]) -> tuple[str, tuple]:
    """The rows of ``table`` with one of ``keys`` (integers), as a filter with a single bound
    parameter (a JSON array in SQLite, an array literal in PostgreSQL). Both are a subquery,
    which the stores look up by hash (PostgreSQL: a hashed SubPlan) or by an index (SQLite)
    for each row: ``key = ANY(array)`` searched the array row by row, and 25,000 keys over
    8.3 million refusals at 100x did not finish in ten minutes (3.9 s as a subquery)."""
    key = TABLE_KEYS[table]  # a column name from the fixed contract list
    if src.kind == "sqlite":
        return (f"{key} IN (SELECT value FROM json_each(?))",
                (json.dumps([int(k) for k in keys]),))
    return (f"{key} IN (SELECT unnest(CAST(? AS BIGINT[])))",
            ("{" + ",".join(str(int(k)) for k in keys) + "}",))


def _plan(con, src, lookback) -> list[tuple[str, str, tuple]]:
    """Per table, the filter of this run's read (from the watermarks before the run), and the
    keys of the rows the last run quarantined while landing: they are read again."""
    plan = []
    for table in LANDING_ORDER:
        if table in INCREMENTAL:
            wm = _watermark(con, table)
            since = (wm - lookback) if wm is not None else None
            where, params = _read_filter(src, table, since)
            keys = _pending_keys(con, table) if where else []
            if keys:
                by_key, key_params = _key_filter(src, table, keys)
                where = f"({where}) OR {by_key}"
                params = (*params, *key_params)
            plan.append((table, where, params))
        else:
            plan.append((table, "", ()))
    return plan


def _pending_keys(con, table: str) -> list[int]:
    """The (integer) keys of the rows of ``table`` the last landing quarantined."""
    rows = con.execute("SELECT DISTINCT TRY_CAST(noegle AS BIGINT) AS k FROM "
                       "karantaene_indlaesning WHERE kilde_tabel = ? AND k IS NOT NULL "
                       "ORDER BY k", [table]).fetchall()
    return [r[0] for r in rows] if len(rows) <= MAX_REREAD_KEYS else []


def _land_table(con, feed: _Feed, table, run_id, cap: datetime) -> dict[str, int]:
    # The SQL below names tables and columns only from the fixed contract lists
    # (SOURCE_TABLES, TABLE_KEYS, INCREMENTAL); every value is a bound parameter.
    if table not in SOURCE_TABLES:
        raise ValueError(f"not a source table of the contract: {table!r}")
    counter = {"read": 0}
    incremental = table in INCREMENTAL
    con.register("_landing", feed.table(table, counter))
    try:
        if not incremental:
            con.execute(f"CREATE OR REPLACE TABLE raw_{table} AS "
                        "SELECT *, CAST(? AS VARCHAR) AS _koersel FROM _landing", [run_id])
            new = counter["read"]
        else:
            con.execute(f"CREATE TABLE IF NOT EXISTS raw_{table} AS "
                        "SELECT *, CAST(? AS VARCHAR) AS _koersel FROM _landing WHERE false",
                        [run_id])
            before = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0]
            if before == 0:  # a first load: nothing to skip, rows land in source (key) order
                con.execute(f"INSERT INTO raw_{table} SELECT l.*, CAST(? AS VARCHAR) "
                            "FROM _landing l", [run_id])
            else:
                _land_against_landed(con, table, run_id)
            _quarantine_keys(con, table, run_id)
            new = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0] - before
        if not counter.get("done"):  # every batch read must have been offered to the warehouse
            raise RuntimeError(f"raw_{table}: the warehouse stopped before the end of the stream")
    finally:
        con.unregister("_landing")
    _store_quarantine(con, table, feed.validator.quarantined.get(table), run_id)
    if incremental:
        _move_watermark(con, table, cap, run_id)
    quarantined = con.execute("SELECT count(*) FROM karantaene_indlaesning WHERE kilde_tabel = ?",
                              [table]).fetchall()[0][0]
    return {"read": counter["read"], "new": new, "quarantined": quarantined}


def _identity(table: str) -> tuple[str, ...]:
    """What identifies a row of an incremental table: its key; for agreements (mutable, every
    version kept) its key and ``aendret``."""
    return (TABLE_KEYS[table], "aendret") if table == "uddannelsesaftale" else (TABLE_KEYS[table],)


def _land_against_landed(con, table: str, run_id: str) -> None:
    """A run after the first: this run's rows (re-read by the look-back, or new) against what
    landed before. A row equal to a landed one is already there (skipped; a second equal copy
    is a ``dublet_noegle``); a row with a landed row's identity but other content is a
    ``genbrugt_noegle`` (the contract's rows are immutable: the landed one stays, the other is
    quarantined, read again next run and counted, never dropped in silence); the rest land."""
    ident = _identity(table)
    key = ident[0]
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND column_name <> '_koersel' ORDER BY ordinal_position", [f"raw_{table}"]).fetchall()]
    same_id = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM l."{c}"' if c != key
                           else f'r."{c}" = l."{c}"' for c in ident)
    equal = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM l."{c}"' for c in cols)
    parts = ", ".join(f'l."{c}"' for c in ident)
    picked = ", ".join(f'l."{c}" AS p{i}' for i, c in enumerate(ident))
    by = ", ".join(f"p{i}" for i in range(len(ident)))
    con.execute("CREATE OR REPLACE TEMP TABLE _landing_rows AS "
                "SELECT *, row_number() OVER () AS _rn FROM _landing")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _landing_class AS SELECT _rn, CASE "
            "WHEN NOT landed THEN 'ny' WHEN NOT same THEN 'genbrugt_noegle' "
            f"WHEN row_number() OVER (PARTITION BY {by}, same ORDER BY _rn) = 1 THEN 'landet' "
            f"ELSE 'dublet_noegle' END AS klasse FROM (SELECT l._rn, {picked}, "
            f"EXISTS (SELECT 1 FROM raw_{table} r WHERE {same_id}) AS landed, "
            f"EXISTS (SELECT 1 FROM raw_{table} r WHERE {same_id} AND {equal}) AS same "
            "FROM _landing_rows l)")
        con.execute(f"INSERT INTO raw_{table} SELECT l.* EXCLUDE (_rn), CAST(? AS VARCHAR) "
                    "FROM _landing_rows l JOIN _landing_class c USING (_rn) "
                    f"WHERE c.klasse = 'ny' ORDER BY {parts}, l._rn", [run_id])
        col = INCREMENTAL[table]
        for reason in ("genbrugt_noegle", "dublet_noegle"):
            con.execute(
                f'INSERT INTO karantaene_indlaesning SELECT ?, CAST(r."{key}" AS VARCHAR), ?, '
                f'to_json(r), TRY_CAST(r."{col}" AS TIMESTAMPTZ), ? FROM (SELECT l.* EXCLUDE '
                "(_rn) FROM _landing_rows l JOIN _landing_class c USING (_rn) "
                "WHERE c.klasse = ? ORDER BY l._rn) AS r", [table, reason, run_id, reason])
    finally:
        con.execute("DROP TABLE IF EXISTS _landing_class")
        con.execute("DROP TABLE IF EXISTS _landing_rows")


def _quarantine_keys(con, table: str, run_id: str) -> None:
    """Rows of this run without a key, or sharing their identity (:func:`_identity`) with
    another row of this run (SQLite allows both): moved from raw_* to the landing quarantine,
    so neither blocks the release and both are read again next run."""
    ident = _identity(table)
    key, col = ident[0], INCREMENTAL[table]
    cols = ", ".join(ident)
    bad = (f"_koersel = ? AND ({key} IS NULL OR rowid IN (SELECT rowid FROM (SELECT rowid, "
           f"count(*) OVER (PARTITION BY {cols}) AS n FROM raw_{table} WHERE _koersel = ?) "
           "WHERE n > 1))")
    con.execute(
        "INSERT INTO karantaene_indlaesning "
        f"SELECT ?, CAST(r.{key} AS VARCHAR), CASE WHEN r.{key} IS NULL THEN 'manglende_noegle' "
        "ELSE 'dublet_noegle' END, to_json(r), "
        f"TRY_CAST(r.{col} AS TIMESTAMPTZ), ? FROM (SELECT * EXCLUDE (_koersel) "
        f"FROM raw_{table} WHERE {bad}) AS r ORDER BY 2, 4",
        [table, run_id, run_id, run_id])
    con.execute(f"DELETE FROM raw_{table} WHERE {bad}", [run_id, run_id])


def _store_quarantine(con, table: str, q, run_id: str) -> None:
    """This run's rows of ``table`` that failed in memory (:mod:`transforms.validate`),
    offending values redacted, in place of the last run's (they are all read again)."""
    con.execute("DELETE FROM karantaene_indlaesning WHERE kilde_tabel = ? AND koersel <> ?",
                [table, run_id])
    if q:  # in one statement from Arrow (executemany takes a second per few hundred rows)
        rows = pa.table({"noegle": pa.array(q.keys, pa.string()),
                         "aarsag": pa.array(q.reasons, pa.string()),
                         "raekke": pa.array(q.rows, pa.string()),
                         "tidspunkt": pa.array(q.instants, pa.timestamp("us", tz="UTC"))})
        con.register("_karantaene", rows)
        try:
            con.execute("INSERT INTO karantaene_indlaesning SELECT ?, noegle, aarsag, "
                        "CAST(raekke AS JSON), tidspunkt, ? FROM _karantaene", [table, run_id])
        finally:
            con.unregister("_karantaene")


def _move_watermark(con, table: str, cap: datetime, run_id: str) -> None:
    """The newest landed timestamp, but never past ``cap`` (the run's cut-off, or the store's
    clock if earlier), nor past a quarantined row that cannot be read again by its key (none,
    or too many to list), so that it is read again."""
    col = INCREMENTAL[table]
    top = con.execute(f"SELECT max(t) FROM (SELECT TRY_CAST({col} AS TIMESTAMPTZ) AS t "
                      f"FROM raw_{table}) WHERE t <= ?", [cap]).fetchall()[0][0]
    by_key = "" if _pending_keys(con, table) else " OR true"
    hold = con.execute("SELECT min(tidspunkt) FROM karantaene_indlaesning WHERE kilde_tabel = ? "
                       f"AND (TRY_CAST(noegle AS BIGINT) IS NULL{by_key})",
                       [table]).fetchall()[0][0]
    marks = [m for m in (top, hold) if m is not None]
    if marks:
        con.execute("INSERT OR REPLACE INTO ingest_vandmaerke VALUES (?, ?, ?)",
                    [table, min(marks), run_id])
    else:  # nothing to keep: an old watermark beyond the cap would hide rows, so drop it
        con.execute("DELETE FROM ingest_vandmaerke WHERE tabel = ? AND vandmaerke > ?",
                    [table, cap])


def land_source(source_url: str, pseudonym_key: str, con: duckdb.DuckDBPyConnection,
                run_id: str, lookback: timedelta = DEFAULT_LOOKBACK, retries: int = 3,
                backoff_seconds: float = 1.0,
                on_batch: Callable[[str, int], None] | None = None,
                cutoff: datetime | None = None) -> dict[str, dict[str, int]]:
    """Land every source table (incrementally where possible). Returns per table the rows
    read from the source in this run, the rows that were new and the rows quarantined while
    landing (not landed; read again next run).

    Every row is validated in memory first (:mod:`transforms.validate`); one that fails is
    kept in ``karantaene_indlaesning`` (offending values redacted) instead of landing. The
    watermarks never move past ``cutoff`` (the release's cut-off instant), nor past the
    store's own clock, nor past a quarantined row.

    Transient failures (a dropped connection, a server restart) are retried ``retries``
    times with exponential backoff; a store that breaks the contract fails at once.
    """
    ps = Pseudonymiser(pseudonym_key)
    con.execute("CREATE TABLE IF NOT EXISTS ingest_vandmaerke (tabel VARCHAR PRIMARY KEY, "
                "vandmaerke TIMESTAMPTZ, koersel VARCHAR)")
    con.execute(QUARANTINE_DDL)
    with _landing_settings(con):
        return _land_retrying(source_url, ps, con, run_id, lookback, retries, backoff_seconds,
                              on_batch, cutoff)


def _land_retrying(source_url, ps, con, run_id, lookback, retries, backoff_seconds, on_batch,
                   cutoff) -> dict[str, dict[str, int]]:
    attempt = 0
    while True:
        attempt += 1
        try:
            return _land_once(source_url, ps, con, run_id, lookback, on_batch, cutoff)
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


@contextlib.contextmanager
def _landing_settings(con: duckdb.DuckDBPyConnection):
    """LANDING_MEMORY_LIMIT (the configured limit where that is lower) and LANDING_THREADS for
    the duration; then the configured limit (:func:`transforms.settings.duckdb_memory_limit`,
    which every warehouse connection has from ``connect``) and the caller's threads again."""
    configured = duckdb_memory_limit()
    lower = size_bytes(configured) <= size_bytes(LANDING_MEMORY_LIMIT)
    (threads,) = con.execute("SELECT current_setting('threads')").fetchall()[0]
    con.execute("SET memory_limit = ?", [configured if lower else LANDING_MEMORY_LIMIT])
    con.execute("SET threads = ?", [LANDING_THREADS])
    try:
        yield
    finally:
        con.execute("SET threads = ?", [threads])
        con.execute("SET memory_limit = ?", [configured])


def _land_once(source_url, ps, con, run_id, lookback, on_batch, cutoff
               ) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    with SourceConnection(source_url) as src:
        for table in SOURCE_TABLES:
            src.check_columns(table)
        now = src.now()
        cap = min(now, cutoff) if cutoff is not None else now
        validator = Validator({(t, c): src.codes(t, c) for t, c in store_code_lists()}, now,
                              TABLE_KEYS, INCREMENTAL)
        con.execute("BEGIN TRANSACTION")
        try:
            with _Feed(src, _plan(con, src, lookback), ps, on_batch, validator) as feed:
                try:
                    for table in LANDING_ORDER:
                        stats[table] = _land_table(con, feed, table, run_id, cap)
                except Exception:
                    if feed.error is not None:  # the source's own error, not DuckDB's echo
                        raise feed.error from None
                    raise
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return {table: stats[table] for table in SOURCE_TABLES}
