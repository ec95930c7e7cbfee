"""Ingest: the operational store, pseudonymised in flight, landed as raw_* tables."""


import dagster as dg

from pipelines.resources import LpstatResource
from transforms.extract import SOURCE_TABLES

RAW_SPECS = [
    dg.AssetSpec(
        f"raw_{t}",
        group_name="ingest",
        kinds={"duckdb"},
        owners=["team:lpstat"],
        description=f"Landed rows of the store's `{t}` table, pseudonymised before landing "
        "(no CPR numbers, names, addresses, phone numbers or free text).",
    )
    for t in SOURCE_TABLES
]


@dg.multi_asset(
    name="extract_source",
    specs=RAW_SPECS,
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    description="Extract every source table through ADBC in one read-only snapshot.",
)
def extract_source(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.land import land_source

    s = lpstat.settings()
    con = lpstat.warehouse()
    try:
        stats = land_source(s.source_url, s.pseudonym_key, con, context.run_id)
    finally:
        con.close()
    for table, st in stats.items():
        yield dg.MaterializeResult(
            asset_key=f"raw_{table}", metadata={"dagster/row_count": st["read"]})
