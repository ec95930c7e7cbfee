"""Put a synthetic operational store into PostgreSQL, the way the portal's real store runs.

The integration tests and the extraction benchmarks must read from a real PostgreSQL with the
contract's column types (BIGINT, DATE, TIMESTAMPTZ), not from SQLite's loose text. The demo
store is generated as SQLite (one code path, deterministic) and copied over with COPY, which
is PostgreSQL's fast path: it streams in batches, so memory stays flat at any scale.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from demo.generate import DEFAULT_END, STORE_TABLES, generate, store_schema_sql

__all__ = ["generate_postgres", "load_sqlite_into_postgres"]

_BATCH_ROWS = 20_000

Progress = Callable[[str, int, int], None]


def load_sqlite_into_postgres(
    sqlite_path: Path | str,
    pg_url: str,
    schema: str = "laerepladsen",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Replace the store's tables in ``schema`` with the rows of a SQLite store.

    Everything happens in one transaction: readers see the old tables or the new ones, never a
    half-loaded store. Only the contract's tables are dropped; anything else in the schema is
    left alone. Returns the rows copied per table.
    """
    sqlite_path = Path(sqlite_path)
    if not sqlite_path.is_file():
        raise FileNotFoundError(f"no SQLite store at {sqlite_path}")
    ddl = store_schema_sql("postgresql", schema)   # also validates the schema name
    counts: dict[str, int] = {}
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        totals = {t: src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for t, _ in STORE_TABLES}
        with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
            for table, _ in reversed(STORE_TABLES):
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)))
            cur.execute(ddl)
            for table, columns in STORE_TABLES:
                names = [c for c, _ in columns]
                copy_sql = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                    sql.Identifier(schema), sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, names)))
                select = f'SELECT {", ".join(names)} FROM "{table}" ORDER BY rowid'
                rows = src.execute(select)
                done = 0
                with cur.copy(copy_sql) as copy:
                    while batch := rows.fetchmany(_BATCH_ROWS):
                        for row in batch:
                            copy.write_row(row)
                        done += len(batch)
                        if progress is not None:
                            progress(table, done, totals[table])
                counts[table] = done
            for table, _ in STORE_TABLES:
                cur.execute(sql.SQL("ANALYZE {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)))
    finally:
        src.close()
    return counts


def generate_postgres(
    pg_url: str,
    scale: str | int = "national",
    seed: int = 1,
    end: date = DEFAULT_END,
    schema: str = "laerepladsen",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Generate a store (same rows as ``generate`` with the same arguments) into PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="lpstat-demo-") as tmp:
        path = Path(tmp) / "store.sqlite"
        generate(path, scale=scale, seed=seed, end=end, progress=progress)
        return load_sqlite_into_postgres(path, pg_url, schema=schema, progress=progress)
