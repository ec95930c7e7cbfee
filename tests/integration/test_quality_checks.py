"""The quality checks in the asset graph, on real DuckDB files and the small demo store.

For every ERROR check a build breaks exactly what it guards (by editing the SQLite store, or
the warehouse tables between steps through the transform the step calls) and the release is
not written; for every WARN check the warning carries its evidence and the release is written.
The release-level checks (after writing) are shown to catch a tampered folder. The GX suites
are also run directly on broken copies of one warehouse, without Dagster.

Disclosure control is a primary-only stand-in with a passing audit, handed to the build as
the Dagster resource ``disclosure`` (tests/standins.py): these tests are about the checks
around it, and tests/integration/test_disclosure_real.py runs the real suppressor and audit.
Set LPSTAT_TEST_REAL_DISCLOSURE=1 to use the real ones here too.
"""

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.demo_store import small_store_at
from tests.standins import disclosure_methods, primary_only
from transforms.disclosure.protect import Methods

RELEASE = "2026-10"
KEY = "quality-test-key"
STG = "stg_laerepladsen__"
ROOT = Path(__file__).resolve().parents[2]


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return small_store_at(tmp_path_factory.mktemp("store") / "laerepladsen.sqlite", seed=11)


@pytest.fixture(scope="module")
def built(tmp_path_factory, store):
    """The one full build: a store whose release month lost most of its refusals and which
    holds one refusal stamped years ahead (quarantined as such while landing), landed once
    before the build (so the build's own load finds nothing new). Every ERROR check passes;
    the warnings fire."""
    from transforms.land import land_source
    from transforms.warehouse import connect

    tmp = tmp_path_factory.mktemp("built")
    copy = tmp / "store.sqlite"
    shutil.copy(store, copy)
    con = sqlite3.connect(copy)
    con.execute("DELETE FROM afslag WHERE substr(registreret, 1, 7) = ? AND afslag_id % 5 <> 0",
                [RELEASE])
    con.execute("UPDATE afslag SET registreret = '2031-01-01T10:00:00+01:00' "
                "WHERE afslag_id = (SELECT max(afslag_id) FROM afslag)")
    con.commit()
    con.close()
    home = tmp / "home"
    wh = connect(home / "warehouse.duckdb")
    try:
        land_source(f"sqlite:///{copy}", KEY, wh, "an-earlier-run")
    finally:
        wh.close()
    result = _run(home, copy)
    return {"home": home, "store": copy, "result": result}


def _home_with_warehouse(tmp_path: Path, built: dict) -> Path:
    """A fresh home holding a copy of the built warehouse (landed, modelled, with cubes)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(built["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    return home


def _store_copy(tmp_path: Path, store: Path) -> Path:
    copy = tmp_path / "store.sqlite"
    shutil.copy(store, copy)
    return copy


def _run(home: Path, store: Path, *, with_ingest: bool = True, checks_of: str | None = None,
         only: tuple[str, ...] = (), disclosure: Methods | None = None):
    """The build pipelines.cli.materialize runs (same assets and checks), returning Dagster's
    result so the tests can read the check evaluations. ``checks_of``: run only the checks of
    that asset (for the release month, as the UI does when re-running checks); ``only``: these
    assets and their checks, on what the warehouse already holds. ``disclosure``: the
    suppressor and audits (default: the stand-ins, tests/standins.py)."""
    import dagster as dg

    from pipelines.definitions import ALL_ASSETS, ALL_CHECKS
    from pipelines.resources import LpstatResource

    resources = {"lpstat": LpstatResource(home=str(home), source_url=f"sqlite:///{store}",
                                          pseudonym_key=KEY),
                 "disclosure": disclosure or disclosure_methods()}
    kwargs = {"partition_key": RELEASE}
    selection = None
    if checks_of:
        selection = dg.AssetSelection.checks_for_assets(checks_of)
        kwargs = {"tags": {"dagster/partition": RELEASE}}
    elif only:
        selection = dg.AssetSelection.assets(*only)
    elif not with_ingest:
        selection = dg.AssetSelection.groups("cubes", "disclosure", "release")
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize([*ALL_ASSETS, *ALL_CHECKS], selection=selection,
                              resources=resources, instance=instance, raise_on_error=False,
                              **kwargs)


def _evaluations(result) -> dict:
    return {(e.asset_key.to_user_string(), e.check_name): e
            for e in result.get_asset_check_evaluations()}


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _assert_blocked(result, home: Path, asset: str, check: str):
    import dagster as dg

    ev = _evaluations(result).get((asset, check))
    assert ev is not None, f"{asset}:{check} did not run"
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: v.value for k, v in ev.metadata.items()}
    assert meta["offending"] > 0 and meta["summary"]
    assert 1 <= len(meta["examples"]) <= 10, meta["examples"]
    assert not result.success
    assert "udgivelse" not in _materialized(result)
    assert not (home / "releases" / RELEASE).exists()
    assert not (home / "releases" / "latest").exists()
    return meta


def _after(monkeypatch, target: str, sql: str | list[str], con_arg: int):
    """Run the step's transform, then break the warehouse tables it wrote (between steps)."""
    import importlib

    module_name, name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        out = original(*args, **kwargs)
        con = args[con_arg]
        for statement in [sql] if isinstance(sql, str) else sql:
            con.execute(statement)
        return out

    monkeypatch.setattr(module, name, wrapped)


# --- ERROR checks on landed rows and the warehouse: a build that stops before the cubes ------

def _land_employee_names(monkeypatch, store):
    from transforms.pseudonymise import RAW_COLUMNS

    monkeypatch.setitem(RAW_COLUMNS, "afslag", (*RAW_COLUMNS["afslag"], "registreret_af"))


def _uppercase_pseudonyms(monkeypatch, store):
    import pyarrow.compute as pc

    from transforms.pseudonymise import Pseudonymiser

    original = Pseudonymiser.array
    monkeypatch.setattr(Pseudonymiser, "array",
                        lambda self, d, values: pc.utf8_upper(original(self, d, values)))


def _duplicate_education_code(monkeypatch, store):
    con = sqlite3.connect(store)  # 'SSH ' is another key in the store; staging trims it
    con.execute("INSERT INTO uddannelse VALUES ('SSH ', 'Social- og sundhedshjælper (kopi)')")
    con.commit()
    con.close()


def _warehouse_sql(sql):
    def breaker(monkeypatch, store):
        _after(monkeypatch, "transforms.warehouse.build_all", sql, 0)
    return breaker


WAREHOUSE_BREAKS = [
    ("raw_afslag", "no_direct_identifiers", _land_employee_names),
    ("raw_elev", "pseudonym_form", _uppercase_pseudonyms),
    ("dim_uddannelse", "keys_unique_not_null", _duplicate_education_code),
    (f"{STG}frafaldsvurdering", "codes_in_domain", _warehouse_sql(
        f"UPDATE {STG}frafaldsvurdering SET risiko = 'UKENDT' "
        f"WHERE vurdering_id = (SELECT min(vurdering_id) FROM {STG}frafaldsvurdering)")),
    (f"{STG}afslag", "timestamps_in_legal_period", _warehouse_sql(
        f"UPDATE {STG}afslag SET registreret = TIMESTAMPTZ '2021-04-14 21:30:00+00' "
        f"WHERE afslag_id = (SELECT min(afslag_id) FROM {STG}afslag)")),
    ("karantaene", "quarantine_reasons_known", _warehouse_sql(
        "UPDATE karantaene SET aarsag = 'ny_aarsag' "
        "WHERE noegle = (SELECT min(noegle) FROM karantaene WHERE kilde_tabel = 'afslag')")),
    ("karantaene", "quarantine_reconciles", _warehouse_sql(
        "DELETE FROM karantaene WHERE kilde_tabel = 'afslag' "
        "AND noegle = (SELECT min(noegle) FROM karantaene WHERE kilde_tabel = 'afslag')")),
    ("fct_afslag", "facts_join_dimensions", _warehouse_sql(
        "DELETE FROM dim_virksomhed "
        "WHERE virksomhed_id = (SELECT min(virksomhed_id) FROM fct_afslag)")),
    ("fct_aftale_historik", "agreement_history_no_overlap", _warehouse_sql(
        "INSERT INTO fct_aftale_historik "
        "SELECT * REPLACE (gyldig_fra - INTERVAL 1 DAY AS gyldig_fra) FROM fct_aftale_historik "
        "WHERE aftale_id = (SELECT min(aftale_id) FROM fct_aftale_historik)")),
]


@pytest.mark.slow
@pytest.mark.parametrize("asset,check,breaker", WAREHOUSE_BREAKS,
                         ids=[c for _, c, _ in WAREHOUSE_BREAKS])
def test_error_check_on_landed_rows_or_warehouse_stops_the_release(
        tmp_path, store, monkeypatch, asset, check, breaker):
    store = _store_copy(tmp_path, store)
    breaker(monkeypatch, store)
    home = tmp_path / "home"
    result = _run(home, store)
    meta = _assert_blocked(result, home, asset, check)
    assert not _materialized(result) & {"cube_afslaars", "cube_frafvurd", "cube_frafafbrud"}
    if check in ("no_direct_identifiers", "pseudonym_form"):  # blocked before the warehouse
        assert "dim_uddannelse" not in _materialized(result)
    else:  # the warnings ran beside it, and a first load always moves the watermark
        assert _evaluations(result)[("raw_afslag", "watermark_advanced")].passed
    # GX-backed checks link the run's Data Docs, written beside the releases, not in them
    if "data_docs" in meta:
        assert meta["data_docs"].startswith("file://")
        assert (home / "quality" / RELEASE / "data_docs" / "index.html").exists()


@pytest.mark.slow
def test_cli_materialize_runs_the_checks_and_says_which_blocked(tmp_path, store, monkeypatch,
                                                                  capfd):
    from pipelines.cli import materialize
    from transforms.settings import load_settings

    store = _store_copy(tmp_path, store)
    _land_employee_names(monkeypatch, store)
    home = tmp_path / "home"
    settings = load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                              "LPSTAT_PSEUDONYM_KEY": KEY})
    assert materialize(settings, RELEASE, with_ingest=True, progress=False,
                       resources={"disclosure": disclosure_methods()}) is False
    err = capfd.readouterr().err
    assert "landed_rows_quality" in err and "no_direct_identifiers" in err
    assert "registreret_af" in err  # the evidence, from the check's log line
    assert not (home / "releases" / RELEASE).exists()


# --- ERROR checks on the cubes and the protected cells: a build from a modelled warehouse ----

def _break_cells(monkeypatch, underemne: str, edit):
    import transforms.cubes as cubes

    original = cubes.build_cells

    def wrapped(con, cube, release):
        cells = original(con, cube, release)
        return edit(cells) if cube.underemne == underemne else cells

    monkeypatch.setattr(cubes, "build_cells", wrapped)


def _one_more_refusal(cells):
    finest = cells["gruppering"].str.count(r"\|").max()
    depth = cells["gruppering"].str.count(r"\|")
    i = cells.index[(depth == finest) & (cells["antal_afslag"] > 5)][0]
    cells.loc[i, "antal_afslag"] += 1
    return cells


def _year_counted_in_november(cells):
    """A status-period bug: the year's stock taken on 30 November instead of 31 December
    (consistent within the year level, so only the stock rule sees it)."""
    year_level = cells["gruppering"].str.contains(r"\[Tid\]\.\[År\]", regex=True)
    dec = pd.to_datetime(cells["statusdato"]).dt.strftime("%m-%d") == "12-31"
    rows = year_level & dec & (pd.to_datetime(cells["statusdato"]).dt.year == 2024)
    assert rows.any()
    cells.loc[rows, "statusdato"] = pd.Timestamp("2024-11-30").date()
    return cells


@pytest.mark.slow
@pytest.mark.parametrize("asset,check,underemne,edit", [
    ("cube_afslaars", "margins_add_up", "AFSLAARS", _one_more_refusal),
    ("cube_frafvurd", "stock_consistent", "FRAFVURD", _year_counted_in_november),
], ids=["margins_add_up", "stock_consistent"])
def test_error_check_on_a_cube_stops_the_release(tmp_path, built, store, monkeypatch, asset,
                                                 check, underemne, edit):
    home = _home_with_warehouse(tmp_path, built)
    _break_cells(monkeypatch, underemne, edit)
    # the broken cube and everything after it; the other cubes are in the warehouse already
    result = _run(home, store, only=(asset, "beskyttede_celler", "udgivelse"))
    meta = _assert_blocked(result, home, asset, check)
    assert "beskyttede_celler" not in _materialized(result)
    assert any(underemne != "AFSLAARS" or "sum to" in e for e in meta["examples"])
    others = {k: e.passed for k, e in _evaluations(result).items() if k != (asset, check)}
    assert all(others.values()), others  # the break is seen by its own rule only


def _publish_one_small_cell(cells, cube, stats=None):
    pattern = primary_only(cells, cube)
    if cube.underemne == "AFSLAARS":
        small = cells.index[(cells["n_individer"] >= 1) & (cells["n_individer"] <= 3)]
        pattern.loc[small[0], ["undertrykt", "undertrykt_udfald"]] = False
    return pattern


def _shares_in_percent(monkeypatch):
    import transforms.disclosure.protect as protect

    original = protect.published_cells

    def wrapped(cells, pattern, cube):
        out = original(cells, pattern, cube)
        for m in cube.measures:
            if m.kind == "share":
                out[m.column] = out[m.column] * 100
        return out

    monkeypatch.setattr(protect, "published_cells", wrapped)


@pytest.mark.slow
@pytest.mark.parametrize("check", ["no_small_cells_published", "shares_in_range"])
def test_error_check_on_the_protected_cells_stops_the_release(tmp_path, built, store,
                                                               monkeypatch, check):
    home = _home_with_warehouse(tmp_path, built)
    disclosure = disclosure_methods()
    if check == "no_small_cells_published":
        disclosure = dataclasses.replace(
            disclosure, suppress=_publish_one_small_cell,
            suppress_checked=lambda cells, cube, check, **kw: (
                (p := _publish_one_small_cell(cells, cube)), check(p)[1]))
    else:
        _shares_in_percent(monkeypatch)
    result = _run(home, store, only=("beskyttede_celler", "udgivelse"),  # cubes already built
                  disclosure=disclosure)
    assert "beskyttede_celler" in _materialized(result)  # the audit passed; the check did not
    meta = _assert_blocked(result, home, "beskyttede_celler", check)
    if check == "no_small_cells_published":
        assert meta["offending"] == 1 and "small" in meta["examples"][0]
    else:
        assert meta["data_docs"].startswith("file://")


# --- WARN checks: the release is written, the warning carries its evidence --------------------

def _assert_warned(result, home, asset, check):
    import dagster as dg

    ev = _evaluations(result)[(asset, check)]
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    assert result.success
    assert "udgivelse" in _materialized(result)
    assert (home / "releases" / RELEASE / "manifest.json").exists()
    assert os.readlink(home / "releases" / "latest") == RELEASE
    return {k: v.value for k, v in ev.metadata.items()}


@pytest.mark.slow
def test_volume_change_beyond_the_band_warns_and_the_release_is_written(built):
    meta = _assert_warned(built["result"], built["home"], f"{STG}afslag", "volume_within_band")
    d = meta["details"]
    assert d["month"] == RELEASE and d["previous_month"] == "2026-09"
    assert d["rows"] < d["previous_rows"] * 0.5 and d["change"] < -0.5
    assert meta["threshold"] == "0.5"
    assert any(RELEASE in e for e in meta["examples"])


@pytest.mark.slow
def test_registration_in_the_future_is_quarantined_as_such_and_the_release_is_written(built):
    """Issue 19: a row stamped years ahead is not landed (it would move the watermark past
    every later row): it is quarantined as such, in the manifest, and read again next run."""
    assert _evaluations(built["result"])[(f"{STG}afslag", "timestamps_not_in_future")].passed
    manifest = json.loads((built["home"] / "releases" / RELEASE / "manifest.json").read_text())
    afslag = manifest["sources"]["afslag"]
    assert afslag["quarantined"]["fremtidigt_tidspunkt"] == 1
    assert afslag["read"] == afslag["loaded"] + sum(afslag["quarantined"].values())


@pytest.mark.slow
def test_watermark_that_did_not_advance_warns_and_the_release_is_written(built):
    meta = _assert_warned(built["result"], built["home"], "raw_afslag", "watermark_advanced")
    assert meta["details"]["rows_landed_in_latest_load"] == 0
    # never past the release's cut-off (the row stamped 2031 does not move it)
    from datetime import datetime

    mark, before = (datetime.fromisoformat(meta["details"][k])
                    for k in ("watermark", "previous_watermark"))
    assert mark <= datetime.fromisoformat("2026-11-01T00:00:00+01:00") and mark <= before


@pytest.mark.slow
def test_a_lagging_watermark_is_an_error_on_the_release(built, tmp_path):
    """Issue 19: on the release's page (asset udgivelse), not a line in the log."""
    import duckdb
    import dagster as dg

    evs = _evaluations(built["result"])
    assert evs[("udgivelse", "watermarks_current")].passed
    home = tmp_path / "home"
    shutil.copytree(built["home"], home, symlinks=True)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("UPDATE ingest_vandmaerke SET vandmaerke = TIMESTAMPTZ '2026-09-20 10:00:00+02' "
                "WHERE tabel = 'afslag'")
    con.close()
    result = _run(home, built["store"], checks_of="udgivelse")
    ev = _evaluations(result)[("udgivelse", "watermarks_current")]
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
    assert ev.metadata["examples"].value[0].startswith("afslag: watermark 2026-09-20")


@pytest.mark.slow
def test_only_the_planted_problems_are_reported_and_docs_sit_beside_the_release(built):
    home, result = built["home"], built["result"]
    failed = sorted(k for k, e in _evaluations(result).items() if not e.passed)
    assert failed == [("raw_afslag", "watermark_advanced"),
                      ("raw_frafaldsvurdering", "watermark_advanced"),
                      ("raw_uddannelsesaftale", "watermark_advanced"),
                      (f"{STG}afslag", "volume_within_band")]
    from pipelines.checks import ALL_CHECKS

    assert len(_evaluations(result)) == sum(len(c.check_specs) for c in ALL_CHECKS)
    folder = home / "releases" / RELEASE
    docs = home / "quality" / RELEASE / "data_docs" / "index.html"
    assert docs.exists() and folder not in docs.parents
    text = docs.read_text(encoding="utf-8")
    assert "landed.raw_elev" in text and "warehouse.dim_elev" in text and "published.pub_" in text
    ev = _evaluations(result)[("udgivelse", "manifest_checksums")]
    assert ev.passed and ev.metadata["data_docs"].value == docs.resolve().as_uri()
    assert ev.metadata["checked"].value == len([p for p in folder.rglob("*") if p.is_file()]) - 1


# --- ERROR checks on the written release (not blocking: nothing is downstream) -----------------

@pytest.mark.slow
def test_release_checks_catch_a_tampered_release(built):
    import dagster as dg

    home = built["home"]
    folder = home / "releases" / RELEASE
    csv = next(folder.glob("EUD_AFSL_AFSLAARS/*.csv"))
    original_csv, original_audit = csv.read_bytes(), (folder / "audit.json").read_bytes()
    try:
        csv.write_bytes(original_csv + b"1;2;3\r\n")
        audit = json.loads(original_audit)
        audit["verdict"] = "ikke bestået"
        (folder / "audit.json").write_text(json.dumps(audit), encoding="utf-8")
        result = _run(home, built["store"], checks_of="udgivelse")
        evs = _evaluations(result)
        manifest = evs[("udgivelse", "manifest_checksums")]
        verdict = evs[("udgivelse", "audit_passed")]
        for ev in (manifest, verdict):
            assert not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR
        examples = manifest.metadata["examples"].value
        assert f"checksum differs: {csv.relative_to(folder).as_posix()}" in examples
        assert "checksum differs: audit.json" in examples
        assert any("audit.json verdict" in e for e in verdict.metadata["examples"].value)
        assert result.success  # not blocking: reported, and the run itself does not fail
    finally:
        csv.write_bytes(original_csv)
        (folder / "audit.json").write_bytes(original_audit)


def test_release_level_checks_are_not_blocking_and_upstream_errors_are():
    from pipelines.checks import ALL_CHECKS
    from quality.rules import RULES

    specs = [s for c in ALL_CHECKS for s in c.check_specs]
    assert len({(s.asset_key, s.name) for s in specs}) == len(specs)
    for s in specs:
        rule = RULES[s.name]
        on_release = s.asset_key.to_user_string() == "udgivelse"
        assert s.blocking == (rule.severity == "ERROR" and not on_release), s
        assert s.description and rule.severity in s.description


# --- the GX suites themselves, on a broken copy of the built warehouse (no Dagster) ---------

def _suites(layer: str):
    from quality import suites

    return {"landed": suites.landed_suites, "warehouse": suites.warehouse_suites,
            "published": lambda: suites.published_suites(RELEASE)}[layer]()


GX_BREAKS = [
    ("landed", "raw_virksomhed", "no_direct_identifiers",
     "ALTER TABLE raw_virksomhed ADD COLUMN cvr VARCHAR", "landed column not allowed: cvr"),
    ("landed", "raw_afslag", "pseudonym_form",
     "UPDATE raw_afslag SET ansoeger_pseudonym = left(ansoeger_pseudonym, 31) WHERE afslag_id = "
     "(SELECT min(afslag_id) FROM raw_afslag WHERE ansoeger_pseudonym IS NOT NULL)", "afslag_id="),
    ("warehouse", "dim_virksomhed", "codes_in_domain",
     "UPDATE dim_virksomhed SET sektor = 'Frivillig' WHERE virksomhed_id = "
     "(SELECT min(virksomhed_id) FROM dim_virksomhed)", "sektor=Frivillig"),
    ("warehouse", f"{STG}frafaldsvurdering", "timestamps_in_legal_period",
     f"UPDATE {STG}frafaldsvurdering SET registreret = TIMESTAMPTZ '2021-12-31 23:30:00+01' "
     f"WHERE vurdering_id = (SELECT min(vurdering_id) FROM {STG}frafaldsvurdering)",
     "vurdering_id="),
    ("warehouse", "fct_aftale_historik", "keys_unique_not_null",
     "INSERT INTO fct_aftale_historik SELECT * FROM fct_aftale_historik LIMIT 1", "aftale_id="),
    ("warehouse", "karantaene", "quarantine_reasons_known",
     "UPDATE karantaene SET aarsag = NULL WHERE noegle = (SELECT min(noegle) FROM karantaene)",
     "aarsag=None"),
    ("published", "pub_frafvurd", "shares_in_range",
     "UPDATE pub_frafvurd SET andel_elever = 1.5 WHERE _nr = "
     "(SELECT min(_nr) FROM pub_frafvurd WHERE andel_elever IS NOT NULL)", "andel_elever=1.5"),
]


@pytest.mark.slow
def test_gx_suites_catch_what_they_guard_and_close_their_connections(built, tmp_path):
    import duckdb

    from quality.gx import validate

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", path)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'Europe/Copenhagen'")
    for _, _, _, sql, _ in GX_BREAKS:
        con.execute(sql)
    con.close()
    docs = tmp_path / "docs"
    failed = {}
    for layer in ("landed", "warehouse", "published"):
        out = validate(path, _suites(layer), run_key="broken", docs_dir=docs)
        for r in out.results:
            if not r.passed:
                failed.setdefault((r.subject, r.rule), []).extend(map(str, r.examples))
        duckdb.connect(str(path)).close()  # every read-only GX connection is closed again
    assert set(failed) == {(t, r) for _, t, r, _, _ in GX_BREAKS}
    for _, table, rule, _, evidence in GX_BREAKS:
        found = failed[(table, rule)]
        assert any(evidence in e for e in found), (table, rule, found)
    assert (docs / "index.html").exists()  # failures build the Data Docs


@pytest.mark.slow
def test_the_gx_worker_gives_the_same_results_and_this_process_takes_over_when_it_is_gone(
        built, tmp_path):
    """``lpstat run`` validates through a worker process that imported Great Expectations
    while the run started (quality.gx.Worker): the same results as in this process, its
    Data Docs owner-only where asked, its read-only connections closed before it answers;
    an error raised there is raised here; once the worker is gone this process validates."""
    import duckdb

    from quality import gx

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built["home"] / "warehouse.duckdb", path)
    con = duckdb.connect(str(path))
    con.execute(GX_BREAKS[2][3])  # one broken code in dim_virksomhed
    con.close()
    suites = _suites("warehouse")

    def seen(out):
        return [(r.rule, r.subject, r.passed, r.count, r.examples) for r in out.results]

    local = gx.validate(path, suites, run_key="local")
    assert not all(r.passed for r in local.results)
    old = os.umask(0o077)
    try:
        worker = gx.start_worker()
    finally:
        os.umask(old)
    try:
        docs = tmp_path / "docs"
        via = gx.validate(path, suites, run_key="worker", docs_dir=docs, build_docs=True)
        assert seen(via) == seen(local)
        assert worker._proc.is_alive() and gx._WORKER.get("worker") is worker
        assert (docs / "index.html").stat().st_mode & 0o077 == 0
        duckdb.connect(str(path)).close()  # writable again: the worker closed its connections
        # beside the worker's validation, this process reads the warehouse too
        with gx.validating(path, suites, run_key="worker") as outcome:
            con = duckdb.connect(str(path), read_only=True)
            rows = con.execute("SELECT count(*) FROM dim_virksomhed").fetchone()[0]
            con.close()
            assert seen(outcome()) == seen(local) and rows > 0
        with pytest.raises(Exception, match="nowhere.duckdb"):
            gx.validate(tmp_path / "nowhere.duckdb", suites, run_key="worker")
        assert worker._proc.is_alive()
        worker._proc.kill()
        worker._proc.join()
        again = gx.validate(path, suites, run_key="after")
        assert seen(again) == seen(local) and "worker" not in gx._WORKER
        with gx.validating(path, suites, run_key="after") as outcome:  # here, before the block
            assert seen(outcome()) == seen(local)
        # a worker told to stop leaves by itself (os._exit after its last answer), not killed
        last = gx.start_worker()
        assert seen(gx.validate(path, suites, run_key="last")) == seen(local)
        gx.stop_worker()
        assert last._proc.exitcode == 0 and "worker" not in gx._WORKER
    finally:
        gx.stop_worker()
    # ... and leaves nothing behind: in a process of its own (as lpstat run), no warning
    # from multiprocessing's resource tracker about a semaphore the worker left (tqdm's
    # lock for GX's progress bars; the quick exit skipped its release until it ran the
    # atexit handlers)
    script = ("import sys\nfrom pathlib import Path\nfrom quality import gx, suites\n"
              "if __name__ == '__main__':\n"
              "    gx.start_worker()\n"
              "    gx.validate(Path(sys.argv[1]), suites.warehouse_suites(), run_key='x')\n"
              "    gx.stop_worker()\n")
    p = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, text=True,
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "leaked" not in p.stderr and "resource_tracker" not in p.stderr, p.stderr
