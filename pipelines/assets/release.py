"""Disclosure control and the release folder, per release month."""


import json

import dagster as dg

from pipelines.partitions import release_partitions
from pipelines.resources import LpstatResource
from transforms.catalog import CUBES, MAX_SMALL, PROTECTION_UPPER, PROTECTION_WIDTH
from transforms.disclosure.protect import Methods
from transforms.warehouse import read_partition


@dg.asset(
    name="beskyttede_celler",
    group_name="disclosure",
    partitions_def=release_partitions,
    deps=[f"cube_{u.lower()}" for u in CUBES],
    kinds={"duckdb", "python"},
    owners=["team:lpstat"],
    description="Primary and secondary suppression over all views of each cube, then the "
    "independent audit (transforms/disclosure): every withheld cell's feasible interval must "
    f"reach {PROTECTION_UPPER} and be at least {PROTECTION_WIDTH} wide (or be [0, 0]), in this "
    "release and together with every release published before it (the series audit). "
    "A failing audit blocks the release: nothing is published and the run fails.",
)
def beskyttede_celler(context: dg.AssetExecutionContext, lpstat: LpstatResource,
                      disclosure: dg.ResourceParam[Methods]):
    """``disclosure``: the suppressor and audits to run (the resource of that name:
    the real ones; tests hand in stand-ins)."""
    from transforms.disclosure.protect import protect_release
    from transforms.disclosure.verdict import Verdict

    release = context.partition_key
    con = lpstat.warehouse()
    try:
        audit = protect_release(con, release, releases_dir=lpstat.settings().releases_dir,
                                methods=disclosure)
        passed = Verdict.of(audit).passed
        preview = _preview(con, release) if passed else None
    finally:
        con.close()
    meta = {"verdict": audit["verdict"],
            "withheld": sum(c["withheld"] for c in audit["cubes"].values()),
            "failed": sum(c.get("failed", 0) for c in audit["cubes"].values()),
            "audit_by_cube": dg.MetadataValue.md(_audit_table(audit))}
    if not passed:
        raise dg.Failure(
            description=f"The disclosure audit of release {release} failed: "
            f"{json.dumps({u: c['failed'] for u, c in audit['cubes'].items()})} withheld cells "
            "can be narrowed down. Nothing was published; earlier releases and 'latest' are "
            "unchanged. Do not publish by hand: the failing cells are in the warehouse table "
            "release_audit; report it as a suppression bug (docs/runbook.md).", metadata=meta)
    if preview:
        meta["preview"] = dg.MetadataValue.md(preview)
    return dg.MaterializeResult(metadata=meta)


def _audit_table(audit: dict) -> str:
    rows = ["| cube | verdict | suppression | withheld cells | values checked | failed |",
            "|---|---|---|---:|---:|---:|"]
    for u, c in audit["cubes"].items():
        rows.append(f"| {u} | {c['verdict']} | {c.get('undertrykkelse', '')} | "
                    f"{c.get('withheld', 0):,} | {c.get('checked', 0):,} | "
                    f"{c.get('failed', 0):,} |")
    return "\n".join(rows)


def _preview(con, release: str, rows: int = 8) -> str:
    """The first published cells of each cube (margins first), as they will be released."""
    parts = []
    for u, cube in CUBES.items():
        df = read_partition(con, f"pub_{u.lower()}", release, limit=rows)
        cols = [c for c in ["gruppering", *cube.columns, *(m.column for m in cube.measures),
                            "status"] if c in df.columns and df[c].notna().any()]
        parts.append(f"**{cube.id}**\n\n| " + " | ".join(cols) + " |\n|"
                     + "---|" * len(cols) + "\n" + "\n".join(
                         "| " + " | ".join("" if _na(v) else str(v).replace("|", " × ")
                                           for v in r) + " |"
                         for r in df[cols].itertuples(index=False)))
    return "\n\n".join(parts)


def _na(v) -> bool:
    import pandas as pd

    return v is None or (not isinstance(v, (list, tuple)) and bool(pd.isna(v)))


@dg.asset(
    name="udgivelse",
    group_name="release",
    partitions_def=release_partitions,
    deps=["beskyttede_celler"],
    kinds={"parquet", "csv", "excel"},
    owners=["team:lpstat"],
    description="releases/<YYYY-MM>/: parquet, CSV, xlsx, skema, DCAT, manifest, audit, "
    "revisions and the ministry report (rapport.html), written atomically in a temporary "
    "folder and renamed into place; `latest` moves last and only forward. A failed build "
    "leaves every earlier release and `latest` untouched.",
)
def udgivelse(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.publish.release import publish_release

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
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    files = [p.relative_to(folder).as_posix() for p in paths]
    audit = json.loads((folder / "audit.json").read_text(encoding="utf-8"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    revisions = (folder / "revisions.csv").read_text(encoding="utf-8-sig").count("\n") - 1
    from transforms.publish.layout import latest
    return dg.MaterializeResult(metadata={
        "folder": dg.MetadataValue.path(str(folder)),
        "report": dg.MetadataValue.url(folder.joinpath("rapport.html").as_uri()),
        "report_path": dg.MetadataValue.path(str(folder / "rapport.html")),
        "verdict": audit["verdict"],
        "withheld": sum(c.get("withheld", 0) for c in audit["cubes"].values()),
        "cutoff": manifest["skaeringstidspunkt"],
        "revisions": max(revisions, 0),
        "latest": latest(s.releases_dir) or "",
        "files": dg.MetadataValue.json(files),
        "file_sizes": dg.MetadataValue.md("| file | bytes |\n|---|---:|\n" + "\n".join(
            f"| {f} | {p.stat().st_size:,} |" for f, p in zip(files, paths))),
        "api": f"POST /Api/v1/statistik with \"udgivelse\": \"{release}\" (lpstat serve)",
    })
