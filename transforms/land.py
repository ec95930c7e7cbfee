"""Land the operational store in the warehouse as raw_* tables, pseudonymised in flight.

The stream is source → ADBC Arrow batches → :mod:`transforms.pseudonymise` → DuckDB, batch by
batch, so memory stays bounded by the batch size and no direct identifier is ever written.
All tables are replaced inside one DuckDB transaction: a failed extract leaves the previous
landing intact.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa

from transforms.extract import ID_COLUMNS, SOURCE_TABLES, SourceConnection, iter_batches
from transforms.pseudonymise import Pseudonymiser, pseudonymise_batch


def _pseudonymised(table: str, reader: pa.RecordBatchReader, ps: Pseudonymiser,
                   counter: dict, untyped: bool) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
    schema = pseudonymise_batch(table, empty, ps).schema
    if untyped:
        # SQLite declares no types the driver can trust (an empty table reads as int64):
        # land every source text as text; staging types it, with quarantine for what fails.
        schema = pa.schema([f if f.name in ID_COLUMNS or pa.types.is_date32(f.type)
                            else pa.field(f.name, pa.string()) for f in schema])

    def gen():
        for batch in iter_batches(reader):
            counter["read"] += batch.num_rows
            out = pseudonymise_batch(table, batch, ps)
            if out.schema != schema:
                # SQLite's driver types a column by what it sees; keep one schema per table.
                out = pa.RecordBatch.from_arrays(
                    [_conform(c, f.type) for c, f in zip(out.columns, schema)], schema=schema)
            yield out

    return schema, gen()


def _conform(arr: pa.Array, typ: pa.DataType) -> pa.Array:
    return arr if arr.type == typ else arr.cast(typ)


def land_source(source_url: str, pseudonym_key: str, con: duckdb.DuckDBPyConnection,
                run_id: str) -> dict[str, dict[str, int]]:
    """Replace every raw_<table> with a fresh pseudonymised extract. Returns rows read."""
    ps = Pseudonymiser(pseudonym_key)
    stats: dict[str, dict[str, int]] = {}
    with SourceConnection(source_url) as src:
        for table in SOURCE_TABLES:
            src.check_columns(table)
        con.execute("BEGIN TRANSACTION")
        try:
            for table in SOURCE_TABLES:
                counter = {"read": 0}
                reader = src.read(table)
                schema, batches = _pseudonymised(table, reader, ps, counter,
                                                 untyped=src.kind == "sqlite")
                stream = pa.RecordBatchReader.from_batches(_widen(schema), _widen_all(batches))
                con.register("_landing", stream)
                con.execute(
                    f"CREATE OR REPLACE TABLE raw_{table} AS "
                    "SELECT *, CAST(? AS VARCHAR) AS _koersel FROM _landing",
                    [run_id],
                )
                con.unregister("_landing")
                stats[table] = counter
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return stats


def _widen(schema: pa.Schema) -> pa.Schema:
    """All-null columns (an empty table, an unused optional column) become strings."""
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                      for f in schema])


def _widen_all(batches):
    for b in batches:
        if any(pa.types.is_null(t) for t in b.schema.types):
            b = pa.RecordBatch.from_arrays(
                [c.cast(pa.string()) if pa.types.is_null(c.type) else c for c in b.columns],
                schema=_widen(b.schema))
        yield b
