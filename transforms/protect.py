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
import numpy as np
import pandas as pd

from transforms.calendar import Release
from transforms.catalog import CUBES
from transforms.publication import published_cells
from transforms.warehouse import read_partition, store_partition


def _series_check(history: list, cube, release: str, truth: pd.DataFrame, cache=None):
    """The series audit of a candidate frame together with every published version."""
    from transforms.disclosure.audit_series import PASSED, SeriesVersion, audit_series

    def check(published: pd.DataFrame):
        cand = SeriesVersion(f"{release} (denne)", release, published, truth)
        res = audit_series(history + [cand], cube, cache=cache)
        res["rows"] = cand.rows
        failing = []
        for ver in history:
            for key, outcome in (("count_ok", False), ("outcome_ok", True)):
                idx = np.flatnonzero(~ver.rows.get(key, np.ones(len(ver.frame), bool)))
                if len(idx):
                    failing.append((ver.frame, idx, outcome))
        return res["verdict"] == PASSED, res, failing

    return check


def protect_release(con: duckdb.DuckDBPyConnection, release: str,
                    releases_dir: Path | None = None) -> dict:
    """Suppression and audit of every cube of a release. With ``releases_dir``, over the
    published series (contract 3.7): the pattern follows the previous publication where the
    truth is unchanged, and passes only when the series audit of this release together with
    every version under ``releases_dir`` passes."""
    from transforms.disclosure.audit import audit, shutdown_workers
    from transforms.disclosure.guarded import SeriesSearch, guarded_pattern, series_pattern
    from transforms.infoloss import information_loss, public_information_loss
    from transforms.series import candidate_truth, history, read_published, record_truth

    result = {"udgivelse": release, "cubes": {}}
    try:
        for u, cube in CUBES.items():
            cells = read_partition(con, f"cube_{u.lower()}", release)
            hist, missing = (history(con, releases_dir, cube) if releases_dir is not None
                             else ([], []))
            if releases_dir is None:
                pattern, method, verdict = guarded_pattern(cells, cube, audit)
                series = None
            else:
                truth = candidate_truth(con, cube, release, cells)
                prev = _previous_frame(releases_dir, release, cube, read_published)
                cache = load_component_cache(con, cube)
                search = SeriesSearch(cells, cube,
                                      _series_check(hist, cube, release, truth, cache),
                                      previous=prev)
                pattern, method, verdict, series = series_pattern(cells, cube, audit, search)
                save_component_cache(con, cube, cache)
                c = series.get("components", {})
                series["komponenter"] = {"genbrugt": c.get("components_reused", 0),
                                         "loest": c.get("components_solved", 0),
                                         "stoerste_loeste": c.get("largest_solved", 0)}
            published = published_cells(cells, pattern, cube)
            store_partition(con, f"pub_{u.lower()}", release, published)
            loss = information_loss(cells, pattern["undertrykt"].to_numpy(bool)
                                    if len(pattern) else np.zeros(0, bool), cube)
            record_information_loss(con, release, cube, loss)
            entry = {**verdict, "undertrykkelse": method,
                     "informationstab": public_information_loss(loss)}
            if series is not None:
                entry["serie"] = {k: series[k] for k in (
                    "verdict", "versions", "unknowns", "relations", "checked", "failed",
                    "per_version", "cells", "consistency_errors", "metode", "komponenter")}
                entry["serie"]["uden_sandhed"] = missing
                if series["verdict"] != "bestået":
                    entry["verdict"] = "ikke bestået"
                record_truth(con, cube, release, published, truth)
            result["cubes"][u] = entry
    finally:
        shutdown_workers()  # the audit's worker processes serve every cube, then go
    result["verdict"] = ("bestået" if all(c["verdict"] == "bestået"
                                          for c in result["cubes"].values()) else "ikke bestået")
    con.execute("CREATE TABLE IF NOT EXISTS release_audit (udgivelse VARCHAR PRIMARY KEY, "
                "audit JSON)")
    con.execute("INSERT OR REPLACE INTO release_audit VALUES (?, ?)",
                [release, json.dumps(result, ensure_ascii=False)])
    return result


def record_information_loss(con: duckdb.DuckDBPyConnection, release: str, cube,
                            loss: dict) -> None:
    """The exact information-loss figures (per cube and view) into the warehouse table
    ``informationstab``: they say things about withheld cells' true values, so they are
    not published (``transforms/infoloss.py``)."""
    con.execute("CREATE TABLE IF NOT EXISTS informationstab (udgivelse VARCHAR, terning "
                "VARCHAR, tal JSON, PRIMARY KEY (udgivelse, terning))")
    con.execute("INSERT OR REPLACE INTO informationstab VALUES (?, ?, ?)",
                [release, cube.underemne, json.dumps(loss, ensure_ascii=False)])


def recorded_information_loss(con: duckdb.DuckDBPyConnection, release: str) -> dict:
    """Per cube the exact figures :func:`record_information_loss` kept for a release."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                         "'informationstab'").fetchall()[0][0]
    if not exists:
        return {}
    return {u: json.loads(t) for u, t in con.execute(
        "SELECT terning, tal FROM informationstab WHERE udgivelse = ?", [release]).fetchall()}


_KEEP_TARGETS = 2000


def load_component_cache(con: duckdb.DuckDBPyConnection, cube):
    """The series audit's solved components of this cube (warehouse ``serie_komponenter``)."""
    from transforms.disclosure.audit import ComponentCache

    con.execute("CREATE TABLE IF NOT EXISTS serie_komponenter (terning VARCHAR, digest "
                "VARCHAR, resultater JSON, PRIMARY KEY (terning, digest))")
    rows = con.execute("SELECT digest, resultater FROM serie_komponenter WHERE terning = ?",
                       [cube.underemne]).fetchall()
    return ComponentCache(None, {d: json.loads(r) for d, r in rows})


def save_component_cache(con: duckdb.DuckDBPyConnection, cube, cache) -> None:
    """Keep the components the release's final series audit met (those the next release's
    audit can meet again); the rest go. Components with more than ``_KEEP_TARGETS`` targets
    are kept in memory for the release's own rounds but not stored: on the national series
    the only such one is AFSLAARS's chain of running totals, which every release changes,
    and writing its results cost 5 % of a release's disclosure step."""
    keep = [(cube.underemne, d, json.dumps(cache.entries[d])) for d in sorted(cache.used)
            if len(cache.entries[d]) <= _KEEP_TARGETS]
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM serie_komponenter WHERE terning = ?", [cube.underemne])
        if keep:
            con.executemany("INSERT INTO serie_komponenter VALUES (?, ?, ?)", keep)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _previous_frame(releases_dir: Path, release: str, cube, read_published):
    """The publication a release's pattern follows: the month's own current version on a
    re-run, else the latest earlier release."""
    from transforms.publish.layout import complete_releases, release_path

    done = complete_releases(releases_dir)
    pick = release if release in done else max((r for r in done if r < release), default=None)
    if pick is None:
        return None
    return read_published(release_path(releases_dir, pick), cube)


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
    cutoff = Release.parse(release).cutoff
    folder = write_release(releases_dir, release, cutoff, cubes, manifest_extra,
                           audit, writers(), previous_release(releases_dir, release))
    from transforms.analyse import build_analysis_db  # analysts' SQL views over every release

    build_analysis_db(releases_dir.parent)
    return folder
