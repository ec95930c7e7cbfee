"""The whole path through the Dagster asset graph, in-process, on a small demo store:
two releases, their files, reconciliation, primary suppression, no identifiers anywhere, and
byte-identical rebuilds."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.demo_store import small_store_at
from transforms.catalog import CUBES, MAX_SMALL
from transforms.settings import load_settings

RELEASES = ("2026-09", "2026-10")


def _build(home: Path, store: Path, releases=RELEASES) -> None:
    """The releases as ``lpstat run`` builds them, with the disclosure stand-ins
    (tests/standins.py: the real methods take minutes per release here and are tested in
    tests/integration/test_disclosure_real.py; LPSTAT_TEST_REAL_DISCLOSURE=1 runs them)."""
    from pipelines.cli import materialize
    from tests.standins import disclosure_methods

    settings = load_settings({"LPSTAT_HOME": str(home),
                              "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                              "LPSTAT_PSEUDONYM_KEY": "pipeline-test-key"})
    for i, release in enumerate(releases):
        assert materialize(settings, release, with_ingest=(i == 0),
                           resources={"disclosure": disclosure_methods()}), release


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    return small_store_at(tmp_path_factory.mktemp("store") / "laerepladsen.sqlite", seed=7)


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_store):
    home = tmp_path_factory.mktemp("home")
    _build(home, small_store)
    return home


def test_releases_and_latest(built):
    rel = built / "releases"
    assert sorted(p.name for p in rel.iterdir() if not p.name.startswith(".")) == \
        ["2026-09", "2026-10", "latest", "versions"]
    assert sorted(os.listdir(rel / "versions")) == ["2026-09.1", "2026-10.1"]
    assert os.readlink(rel / "2026-10") == "versions/2026-10.1"
    assert os.readlink(rel / "latest") == "2026-10"
    assert (rel / "latest").resolve() == (rel / "2026-10").resolve()
    for cube in CUBES.values():
        folder = rel / "2026-10" / cube.id
        names = {p.name for p in folder.iterdir()}
        assert {"cells.parquet", "tabeller.xlsx"} <= names
        assert {f"{v.name}.csv" for v in cube.views} <= names


def test_manifest_checksums_and_reconciliation(built, small_store):
    folder = built / "releases" / "2026-10"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["udgivelse"] == "2026-10"
    assert manifest["skaeringstidspunkt"] == "2026-11-01T00:00:00+01:00"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(manifest["filer"]) == files - {"manifest.json"}
    for name, digest in manifest["filer"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    src = sqlite3.connect(small_store)
    for table, counts in manifest["sources"].items():
        in_store = src.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert counts["read"] == in_store
        assert counts["read"] == counts["loaded"] + sum(counts["quarantined"].values()), table
    assert manifest["sources"]["afslag"]["quarantined"].get("sekundaer_lig_primaer", 0) > 0


def test_no_published_cell_rests_on_one_to_three_individuals(built):
    from transforms.warehouse import connect

    con = connect(built / "warehouse.duckdb", read_only=True)
    try:
        for u, cube in CUBES.items():
            true = con.execute(f"SELECT * FROM cube_{u.lower()} WHERE udgivelse = '2026-10' "
                               "ORDER BY _nr").df()
            pub = pq.read_table(built / "releases" / "2026-10" / cube.id / "cells.parquet").to_pandas()
            assert len(true) == len(pub)
            shown = pub[cube.value_column].notna().to_numpy()
            small = true["n_individer"].between(1, MAX_SMALL).to_numpy()
            assert not (shown & small).any(), u
            assert not (shown & (true[cube.value_column] == 0).to_numpy()).any(), u
            assert (pub.loc[shown, cube.value_column].to_numpy()
                    == true.loc[shown, cube.value_column].to_numpy()).all()
            assert small.any() and shown.any()
    finally:
        con.close()


def test_audit_passed(built):
    """audit.json and the manifest publish the verdict that disclosure control stored in the
    warehouse (release_audit) and gated the release on, with the audits of every cube. Here
    the audits are the stand-ins; test_disclosure_real.py compares audit.json with the real
    audit's."""
    from transforms.disclosure.verdict import Verdict
    from transforms.warehouse import connect

    folder = built / "releases" / "2026-10"
    audit = json.loads((folder / "audit.json").read_text())
    con = connect(built / "warehouse.duckdb", read_only=True)
    try:
        stored = json.loads(con.execute("SELECT audit FROM release_audit WHERE udgivelse = ?",
                                        ["2026-10"]).fetchall()[0][0])
    finally:
        con.close()
    assert json.dumps(audit, sort_keys=True) == json.dumps(stored, sort_keys=True)
    assert set(audit["cubes"]) == set(CUBES)
    verdict = Verdict.of(audit)
    assert verdict == Verdict.over(stored["cubes"].values()) and verdict.passed
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["revisionskontrol"] == {"verdict": stored["verdict"]}


def _identifiers(store: Path) -> set[str]:
    con = sqlite3.connect(store)
    found: set[str] = set()
    for sql in ("SELECT cpr FROM elev", "SELECT fornavn || ' ' || efternavn FROM elev",
                "SELECT adresse FROM elev", "SELECT mobil FROM elev",
                "SELECT ansoeger FROM afslag", "SELECT registreret_af FROM afslag",
                "SELECT medarbejder FROM frafaldsvurdering"):
        found |= {r[0].strip() for r in con.execute(sql) if r[0] and len(r[0].strip()) >= 8}
    return found


def test_no_direct_identifier_reaches_the_warehouse_releases_or_logs(tmp_path, small_store,
                                                                     capfd):
    secrets = _identifiers(small_store)
    assert len(secrets) > 1000
    home = tmp_path / "home"
    _build(home, small_store, releases=("2026-10",))
    logs = capfd.readouterr()
    log_text = logs.out + logs.err
    from transforms.warehouse import connect

    con = connect(home / "warehouse.duckdb", read_only=True)
    text_columns = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type IN ('VARCHAR', 'JSON')").fetchall()
    assert text_columns
    # Every distinct text value in the warehouse, searched as one haystack (a substring
    # search per secret is fast; a join of every value with every secret is not).
    values = []
    for table, column in text_columns:
        values += [r[0] for r in con.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}"').fetchall() if r[0]]
    warehouse_text = "\n".join(values)
    assert len(values) > 1000
    finder = _finder(secrets)
    assert _found(finder, warehouse_text) == []
    con.close()
    run_logs = list((home / "logs").glob("*.log"))  # the Dagster event log of the run
    assert run_logs and "STEP_SUCCESS" in run_logs[0].read_text(encoding="utf-8")
    texts = [log_text, *(p.read_text(encoding="utf-8") for p in run_logs)]
    for p in (home / "releases" / "2026-10").rglob("*"):
        if p.suffix in (".csv", ".json", ".rdf", ".html"):
            texts.append(p.read_text(encoding="utf-8-sig"))
        elif p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                texts += [z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")]
        elif p.suffix == ".parquet":
            texts.append(pd.read_parquet(p).to_csv())
    blob = "\n".join(texts)
    assert _found(finder, blob) == []
    # the finder itself finds what is there
    planted = sorted(secrets)[:3]
    assert set(planted) <= set(_found(finder, "x" + "|".join(planted) + "y"))


def _finder(secrets: set[str]):
    """One Aho-Corasick automaton over every identifier: a single pass over a text finds
    all of them (a substring search per identifier over a large text took minutes)."""
    import ahocorasick

    a = ahocorasick.Automaton()
    for s in secrets:
        a.add_word(s, s)
    a.make_automaton()
    return a


def _found(finder, text: str) -> list[str]:
    return sorted({s for _, s in finder.iter(text)})


def test_rebuilds_are_byte_identical(tmp_path, small_store, built):
    other = tmp_path / "again"
    _build(other, small_store)
    a, b = built / "releases" / "2026-10", other / "releases" / "2026-10"
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_definitions_load_and_schedule_requests_previous_month():
    import datetime as dt

    import dagster as dg

    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_afslag", "stg_laerepladsen__afslag", "karantaene", "fct_afslag",
            "cube_afslaars", "cube_frafvurd", "cube_frafafbrud", "beskyttede_celler",
            "udgivelse"} <= keys
    schedule = defs.get_schedule_def("monthly_release_schedule")
    assert schedule.execution_timezone == "Europe/Copenhagen"
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 12, 15, 6, 0,
                                                 tzinfo=dt.timezone(dt.timedelta(hours=1))))
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in requests] == ["2026-11"]


def test_dagster_definitions_validate_passes():
    """`dagster definitions validate -w workspace.yaml`, as an operator would run it."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All code locations passed validation" in out.stdout + out.stderr
