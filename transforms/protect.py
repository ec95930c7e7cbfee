"""Disclosure control and publication of one release, over the warehouse's cube tables.

Kept out of the Dagster layer so that the command line, the assets and the tests share one
path: cube_<x> (true cells) → suppression → published cells (pub_<x>) → independent audit
(release_audit) → release folder.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd

from transforms.catalog import CUBES
from transforms.cubes import cutoff_for
from transforms.publication import published_cells
from transforms.warehouse import read_partition, store_partition


def protect_release(con: duckdb.DuckDBPyConnection, release: str) -> dict:
    from transforms.disclosure.audit import audit, shutdown_workers
    from transforms.disclosure.guarded import guarded_pattern

    result = {"udgivelse": release, "cubes": {}}
    try:
        for u, cube in CUBES.items():
            cells = read_partition(con, f"cube_{u.lower()}", release)
            pattern, method, verdict = guarded_pattern(cells, cube, audit)
            published = published_cells(cells, pattern, cube)
            store_partition(con, f"pub_{u.lower()}", release, published)
            result["cubes"][u] = {**verdict, "undertrykkelse": method}
    finally:
        shutdown_workers()  # the audit's worker processes serve every cube, then go
    result["verdict"] = ("bestået" if all(c["verdict"] == "bestået"
                                          for c in result["cubes"].values()) else "ikke bestået")
    con.execute("CREATE TABLE IF NOT EXISTS release_audit (udgivelse VARCHAR PRIMARY KEY, "
                "audit JSON)")
    con.execute("INSERT OR REPLACE INTO release_audit VALUES (?, ?)",
                [release, json.dumps(result, ensure_ascii=False)])
    return result


def _code_version() -> str:
    try:
        return version("lpstat")
    except PackageNotFoundError:
        return "0+unknown"


def watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """The newest source instant seen per incremental table (deterministic for a store)."""
    out = {}
    for table, col in (("afslag", "registreret"), ("frafaldsvurdering", "registreret"),
                       ("uddannelsesaftale", "aendret")):
        v = con.execute(f"SELECT max({col}) FROM stg_laerepladsen__{table}").fetchall()[0][0]
        out[table] = v.isoformat() if v is not None else None
    return out


def writers() -> SimpleNamespace:
    from transforms.publish import dcat, report, tables

    return SimpleNamespace(write_view_csv=tables.write_view_csv, write_xlsx=tables.write_xlsx,
                           write_report=report.write_report, write_dcat=dcat.write_dcat)


def publish_release(con: duckdb.DuckDBPyConnection, releases_dir: Path, release: str,
                    extra: dict) -> Path:
    from transforms.publish.release import CubeRelease, previous_release, write_release
    from transforms.warehouse import source_counts

    rows = con.execute("SELECT audit FROM release_audit WHERE udgivelse = ?", [release]).fetchall()
    row = rows[0] if rows else None
    if row is None:
        raise LookupError(f"Release {release} has not been through disclosure control.")
    audit = json.loads(row[0])
    if audit["verdict"] != "bestået":
        raise RuntimeError(f"The disclosure audit of {release} failed; nothing is published.")
    cubes = [CubeRelease(c, read_partition(con, f"pub_{u.lower()}", release))
             for u, c in CUBES.items()]
    manifest_extra = {
        "kildevandmaerker": watermarks(con),
        "kodeversion": _code_version(),
        **extra,
        "revisionskontrol": {"verdict": audit["verdict"]},
        "sources": source_counts(con),
    }
    folder = write_release(releases_dir, release, cutoff_for(release), cubes, manifest_extra,
                           audit, writers(), previous_release(releases_dir, release))
    from transforms.analyse import build_analysis_db  # analysts' SQL views over every release

    build_analysis_db(releases_dir.parent)
    return folder
