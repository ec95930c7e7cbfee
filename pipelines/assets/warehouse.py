"""Warehouse: staging with quarantine (sql/staging), history, dimensions and facts
(sql/warehouse)."""


import dagster as dg

from pipelines.resources import LpstatResource
from transforms.extract import SOURCE_TABLES
from transforms.warehouse import WAREHOUSE_MODELS

STG_SPECS = [
    dg.AssetSpec(f"stg_laerepladsen__{t}", deps=[f"raw_{t}"], group_name="warehouse",
                 kinds={"duckdb", "sql"}, owners=["team:lpstat"],
                 description=f"Typed and checked `{t}` rows; failing rows go to karantaene.")
    for t in SOURCE_TABLES
]
_MODEL_DEPS = {
    "dim_uddannelse": ["stg_laerepladsen__uddannelse"],
    "dim_kommune": [],
    "dim_virksomhed": ["stg_laerepladsen__virksomhed"],
    "dim_afslagsaarsag": ["stg_laerepladsen__afslagsbegrundelse"],
    "dim_skole": ["stg_laerepladsen__skole"],
    "dim_elev": ["stg_laerepladsen__elev"],
    "fct_afslag": ["stg_laerepladsen__afslag"],
    "fct_frafaldsvurdering": ["stg_laerepladsen__frafaldsvurdering"],
    "fct_aftale_historik": ["stg_laerepladsen__uddannelsesaftale"],
}
MODEL_SPECS = [
    dg.AssetSpec(m, deps=_MODEL_DEPS[m], group_name="warehouse", kinds={"duckdb", "sql"},
                 owners=["team:lpstat"], description=f"sql/warehouse/{m}.sql")
    for m in WAREHOUSE_MODELS
]
QUARANTINE_SPEC = dg.AssetSpec(
    "karantaene", deps=[f"raw_{t}" for t in SOURCE_TABLES], group_name="warehouse",
    kinds={"duckdb"}, owners=["team:lpstat"],
    description="Source rows that cannot be used, each with its reason.")


@dg.multi_asset(name="build_warehouse", specs=STG_SPECS + [QUARANTINE_SPEC] + MODEL_SPECS,
                description="Run the staging and warehouse SQL models in one transaction.")
def build_warehouse(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.warehouse import build_all, source_counts

    con = lpstat.warehouse()
    try:
        info = build_all(con)
        counts = source_counts(con)
        model_rows = {m: con.execute(f"SELECT count(*) FROM {m}").fetchall()[0][0]
                      for m in WAREHOUSE_MODELS}
    finally:
        con.close()
    for t, c in counts.items():
        yield dg.MaterializeResult(asset_key=f"stg_laerepladsen__{t}", metadata={
            "dagster/row_count": c["loaded"], "read": c["read"],
            "quarantined": sum(c["quarantined"].values())})
    yield dg.MaterializeResult(asset_key="karantaene", metadata={
        "dagster/row_count": sum(sum(c["quarantined"].values()) for c in counts.values()),
        "by_reason": dg.MetadataValue.json({t: c["quarantined"] for t, c in counts.items()})})
    for m, n in model_rows.items():
        meta = {"dagster/row_count": n}
        if m == "fct_aftale_historik":
            meta["versions"] = info["agreement_versions"]
        yield dg.MaterializeResult(asset_key=m, metadata=meta)
