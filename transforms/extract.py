"""Read the operational store through ADBC as Arrow record batches, read-only.

ADBC hands us Arrow batches straight from the driver (libpq's binary COPY-like protocol for
PostgreSQL, the SQLite C API for SQLite), so no row ever becomes a Python object on the way:
that is what keeps extraction close to the source's own COPY speed and memory bounded.

Only the columns of ``shared/contracts/operational_store.sql`` are read, by name (the landing
asks for just those it keeps or derives from). A source whose columns differ from the contract
stops the run with a message naming table and columns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa

#: The source contract: table → columns, in contract order (operational_store.sql).
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "uddannelse": ("uddannelse_kode", "navn"),
    "afslagsbegrundelse": ("begrundelse_kode", "tekst", "gyldig_fra", "gyldig_til"),
    "skole": ("institutionsnummer", "navn", "kommunekode"),
    "virksomhed": ("virksomhed_id", "cvr", "p_nummer", "navn", "sektor", "kommunekode"),
    "elev": ("elev_id", "cpr", "fornavn", "efternavn", "adresse", "mobil"),
    "uddannelsesaftale": (
        "aftale_id", "elev_id", "virksomhed_id", "institutionsnummer", "uddannelse_kode",
        "startdato", "slutdato", "ophoert_dato", "ophoert_aarsag", "oprettet", "aendret",
    ),
    "frafaldsvurdering": ("vurdering_id", "aftale_id", "risiko", "registreret", "medarbejder"),
    "afslag": (
        "afslag_id", "virksomhed_id", "uddannelse_kode", "ansoeger", "primaer_begrundelse",
        "sekundaer_begrundelse", "registreret", "registreret_af",
    ),
}

#: Each table's key, used for ordering (deterministic landing) and quarantine evidence.
TABLE_KEYS: dict[str, str] = {
    "uddannelse": "uddannelse_kode",
    "afslagsbegrundelse": "begrundelse_kode",
    "skole": "institutionsnummer",
    "virksomhed": "virksomhed_id",
    "elev": "elev_id",
    "uddannelsesaftale": "aftale_id",
    "frafaldsvurdering": "vurdering_id",
    "afslag": "afslag_id",
}

#: Integer key columns; everything else is read as the source types it.
ID_COLUMNS = frozenset({"virksomhed_id", "elev_id", "aftale_id", "vurdering_id", "afslag_id"})

PG_SCHEMA = "laerepladsen"
SQLITE_BATCH_ROWS = 1_000_000
#: Size of the Arrow batches the PostgreSQL driver hands over. Small enough that reading,
#: pseudonymising and loading overlap even for the national tables (a few MB each), large
#: enough that the per-batch cost stays negligible.
PG_BATCH_BYTES = 4 * 2**20


class SourceError(Exception):
    """The store cannot be read as the contract says; the message says what is wrong."""


class SourceUnavailable(SourceError):
    """The store did not answer; worth retrying."""


class SourceConnection:
    """One read-only, consistent snapshot of the store for the duration of a run."""

    def __init__(self, url: str):
        self.url = url
        self.kind = "postgresql" if url.startswith("postgresql://") else "sqlite"
        self._conn = None
        self._cursors: list = []

    def __enter__(self) -> "SourceConnection":
        try:
            if self.kind == "sqlite":
                import adbc_driver_sqlite.dbapi as sqlite_dbapi

                path = Path(urlparse(self.url).path)
                if not path.exists():
                    raise SourceError(f"The SQLite store {path} does not exist.")
                if not path.is_file():
                    raise SourceError(f"The SQLite store {path} is a folder, not a SQLite "
                                      "file: point LPSTAT_SOURCE_URL at the store's file.")
                # mode=ro: we never write to the portal's store.
                self._conn = sqlite_dbapi.connect(f"file://{path.resolve()}?mode=ro")
            else:
                import adbc_driver_postgresql.dbapi as pg_dbapi

                self._conn = pg_dbapi.connect(_with_connect_timeout(self.url))
                with self._conn.cursor() as cur:
                    # One snapshot for every table of the run, and no writes possible.
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except SourceError:
            raise
        except Exception as exc:  # driver errors carry the useful text (never the password)
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            password = _password(self.url)
            if password:
                text = text.replace(password, "***")
            raise SourceUnavailable(
                f"Cannot connect to the store {_redact(self.url)}: {text}") from None
        return self

    def __exit__(self, *exc) -> None:
        for cur in self._cursors:
            with contextlib.suppress(Exception):
                cur.close()
        self._cursors.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.rollback()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _qualified(self, table: str) -> str:
        if table not in SOURCE_TABLES:  # identifiers only from the fixed contract list
            raise SourceError(f"Unknown source table {table!r}")
        return f"{PG_SCHEMA}.{table}" if self.kind == "postgresql" else table

    def check_columns(self, table: str) -> None:
        """Stop with a clear message when the table's columns differ from the contract."""
        with self._conn.cursor() as cur:
            try:
                cur.execute(f"SELECT * FROM {self._qualified(table)} WHERE 1 = 0")
                schema = cur.fetch_arrow_table().schema
            except Exception as exc:
                raise SourceError(
                    f"Source table {table!r} cannot be read: {exc}".splitlines()[0]
                ) from exc
        found = [n.lower() for n in schema.names]
        expected = SOURCE_TABLES[table]
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("unexpected " + ", ".join(extra))
            raise SourceError(
                f"Source table {table!r} does not match the contract "
                f"(operational_store.sql): {'; '.join(parts)}."
            )

    def read(self, table: str, where: str = "", params: tuple = (),
             columns: tuple[str, ...] | None = None) -> pa.RecordBatchReader:
        """Stream a table's contract columns (or the given subset of them) in key order as
        Arrow batches.

        ``where`` is a fixed SQL fragment chosen by the caller from its own constants (never
        user input); values are bound through ``params``.
        """
        qualified = self._qualified(table)
        names = SOURCE_TABLES[table] if columns is None else columns
        unknown = [c for c in names if c not in SOURCE_TABLES[table]]
        if unknown:  # identifiers only from the fixed contract list
            raise SourceError(f"Unknown columns of {table!r}: {', '.join(unknown)}")
        if self.kind == "sqlite":
            # SQLite has no column types, and the ADBC driver infers each column's type from
            # the first batch: read text as text, and infer over large batches.
            cols = ", ".join(c if c in ID_COLUMNS else f"CAST({c} AS TEXT) AS {c}" for c in names)
        else:
            cols = ", ".join(names)
        sql = f"SELECT {cols} FROM {qualified}"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {TABLE_KEYS[table]}"
        if self.kind == "postgresql":
            sql = _pg_placeholders(sql)
        cur = self._conn.cursor()
        if self.kind == "sqlite":
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(SQLITE_BATCH_ROWS)})
        else:
            cur.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(PG_BATCH_BYTES)})
        cur.execute(sql, params or None)
        self._cursors.append(cur)  # the stream lives as long as its cursor
        return cur.fetch_record_batch()


    def codes(self, table: str, column: str) -> set[str]:
        """The distinct values of a (small) reference column, as text, in this snapshot."""
        reader = self.read(table, columns=(column,))
        return {v for v in reader.read_all().column(0).cast(pa.string()).to_pylist()
                if v is not None}

    def now(self):
        """The store's own clock (for PostgreSQL the start of this snapshot's transaction;
        SQLite, embedded, has the clock of this machine), as an aware instant."""
        from datetime import datetime, timezone

        sql = ("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')" if self.kind == "sqlite"
               else "SELECT now()")
        with self._conn.cursor() as cur:
            cur.execute(sql)
            value = cur.fetchone()[0]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def latest_registration_day(url: str):
    """The Europe/Copenhagen day of the newest refusal in the store (None if none): it tells
    which release months are complete."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    with SourceConnection(url) as src:
        with src._conn.cursor() as cur:
            cur.execute(f"SELECT max(registreret) FROM {src._qualified('afslag')}")
            value = cur.fetchone()[0]
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return value.astimezone(ZoneInfo("Europe/Copenhagen")).date()
    return value if isinstance(value, date) else None


def _pg_placeholders(sql: str) -> str:
    out, n = [], 0
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


def _redact(url: str) -> str:
    from transforms.settings import redact_url

    return redact_url(url)


#: seconds libpq waits for the server before giving up (unless the URL sets connect_timeout)
CONNECT_TIMEOUT_SECONDS = 5


def _password(url: str) -> str | None:
    from urllib.parse import parse_qsl, urlsplit

    p = urlsplit(url)
    query = dict((k.lower(), v) for k, v in parse_qsl(p.query))
    return p.password or query.get("password") or None


def _with_connect_timeout(url: str) -> str:
    if "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={CONNECT_TIMEOUT_SECONDS}"


def iter_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
