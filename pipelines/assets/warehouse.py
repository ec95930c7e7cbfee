"""Warehouse: staging with quarantine (sql/staging), history, dimensions and facts
(sql/warehouse)."""


import dagster as dg

from pipelines.assets.lineage import sql_deps
from pipelines.resources import LpstatResource
from transforms.extract import SOURCE_TABLES
from transforms.warehouse import SQL_DIR, WAREHOUSE_MODELS


def _header(layer: str, name: str) -> str:
    """The model's leading comment (its grain; quarantine rules), shown in the UI."""
    path = SQL_DIR / layer / f"{name}.sql"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines)


def _column_schema(con, table: str) -> dg.TableSchema:
    known = {*WAREHOUSE_MODELS, *(f"stg_laerepladsen__{t}" for t in SOURCE_TABLES)}
    if table not in known:  # the only names that reach the SQL text
        raise ValueError(f"{table!r} is not a staging or warehouse model")
    rows = con.execute(f"DESCRIBE {table}").fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=r[0], type=str(r[1])) for r in rows])

STG_SPECS = [
    dg.AssetSpec(f"stg_laerepladsen__{t}", deps=sql_deps("staging", f"stg_laerepladsen__{t}"),
                 group_name="warehouse",
                 kinds={"duckdb", "sql"}, owners=["team:lpstat"],
                 description=f"Typed and checked `{t}` rows; failing rows go to karantaene. "
                 f"sql/staging/stg_laerepladsen__{t}.sql. "
                 f"{_header('staging', f'stg_laerepladsen__{t}')}")
    for t in SOURCE_TABLES
]
MODEL_SPECS = [
    dg.AssetSpec(m, deps=sql_deps("warehouse", m), group_name="warehouse", kinds={"duckdb", "sql"},
                 owners=["team:lpstat"],
                 description=f"sql/warehouse/{m}.sql. {_header('warehouse', m)}")
    for m in WAREHOUSE_MODELS
]
QUARANTINE_SPEC = dg.AssetSpec(
    "karantaene", deps=[f"raw_{t}" for t in SOURCE_TABLES], group_name="warehouse",
    kinds={"duckdb"}, owners=["team:lpstat"],
    description="Source rows that cannot be used, each with its source table, key and reason "
    "(pseudonymised like the raw rows). Nothing is dropped silently: per table, rows read = "
    "rows loaded + rows quarantined (the release manifest's `sources`).")


@dg.multi_asset(name="build_warehouse", specs=STG_SPECS + [QUARANTINE_SPEC] + MODEL_SPECS,
                description="Run the staging and warehouse SQL models in one transaction: "
                "a failure leaves the previous warehouse as it was.")
def build_warehouse(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.warehouse import build_all, source_counts

    con = lpstat.warehouse()
    try:
        info = build_all(con)
        counts = source_counts(con)
        model_rows = {m: con.execute(f"SELECT count(*) FROM {m}").fetchall()[0][0]
                      for m in WAREHOUSE_MODELS}
        schemas = {m: _column_schema(con, m) for m in WAREHOUSE_MODELS}
        schemas.update({f"stg_laerepladsen__{t}": _column_schema(con, f"stg_laerepladsen__{t}")
                        for t in SOURCE_TABLES})
    finally:
        con.close()
    for t, c in counts.items():
        yield dg.MaterializeResult(asset_key=f"stg_laerepladsen__{t}", metadata={
            "dagster/row_count": c["loaded"], "read": c["read"],
            "quarantined": sum(c["quarantined"].values()),
            "quarantined_by_reason": dg.MetadataValue.json(c["quarantined"]),
            "dagster/column_schema": schemas[f"stg_laerepladsen__{t}"]})
    yield dg.MaterializeResult(asset_key="karantaene", metadata={
        "dagster/row_count": sum(sum(c["quarantined"].values()) for c in counts.values()),
        "by_reason": dg.MetadataValue.json({t: c["quarantined"] for t, c in counts.items()})})
    for m, n in model_rows.items():
        meta = {"dagster/row_count": n, "dagster/column_schema": schemas[m]}
        if m == "fct_aftale_historik":
            meta["versions"] = info["agreement_versions"]
        yield dg.MaterializeResult(asset_key=m, metadata=meta)
