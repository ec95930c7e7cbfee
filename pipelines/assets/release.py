"""Disclosure control and the release folder, per release month."""


import json

import dagster as dg

from pipelines.partitions import release_partitions
from pipelines.resources import LpstatResource
from transforms.catalog import CUBES, MAX_SMALL, PROTECTION_UPPER, PROTECTION_WIDTH


@dg.asset(
    name="beskyttede_celler",
    group_name="disclosure",
    partitions_def=release_partitions,
    deps=[f"cube_{u.lower()}" for u in CUBES],
    kinds={"duckdb", "python"},
    owners=["team:lpstat"],
    description="Primary and secondary suppression over all views of each cube, then the "
    "independent audit (transforms/disclosure). A failing audit stops the release.",
)
def beskyttede_celler(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.protect import protect_release

    release = context.partition_key
    con = lpstat.warehouse()
    try:
        audit = protect_release(con, release)
    finally:
        con.close()
    meta = {"verdict": audit["verdict"],
            "withheld": sum(c["withheld"] for c in audit["cubes"].values())}
    if audit["verdict"] != "bestået":
        raise dg.Failure(
            description=f"The disclosure audit of release {release} failed: "
            f"{json.dumps({u: c['failed'] for u, c in audit['cubes'].items()})} withheld cells "
            "can be narrowed down. Nothing was published. See the audit in the warehouse "
            "table release_audit.", metadata=meta)
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="udgivelse",
    group_name="release",
    partitions_def=release_partitions,
    deps=["beskyttede_celler"],
    kinds={"parquet", "csv", "excel"},
    owners=["team:lpstat"],
    description="releases/<YYYY-MM>/: parquet, CSV, xlsx, skema, DCAT, manifest, audit, "
    "revisions and the ministry report, written atomically; `latest` moves last.",
)
def udgivelse(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.protect import publish_release

    release = context.partition_key
    s = lpstat.settings()
    con = lpstat.warehouse()
    try:
        folder = publish_release(con, s.releases_dir, release, {
            "diskretion": {"primær_max_individer": MAX_SMALL,
                           "interval_mindst_op_til": PROTECTION_UPPER,
                           "interval_mindst_bredde": PROTECTION_WIDTH},
        })
    finally:
        con.close()
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "report": dg.MetadataValue.url(f"file://{folder / 'rapport.html'}"),
        "files": dg.MetadataValue.json(files),
    })
