"""Operations (issue 8): the monthly run, backfills, retries, failure notices, the instance.

Everything runs in-process through the real asset graph on a small demo store, with real
DuckDB files and (for the instance) the real PostgreSQL.

Speed: disclosure control is replaced by a *primary-only stand-in* in this module
(``fast_disclosure``): cells of 1-3 individuals and empty cells are withheld, nothing
secondary, and the audit is stubbed to pass (or, in one test, to fail). These tests are
about orchestration; the real suppressor and audit have their own tests
(tests/unit/test_suppress.py, test_audit.py, tests/integration/test_pipeline.py) and take
minutes per month on the small store. The quality checks of pipelines/checks.py are left out
of the backfill runs here for the same reason (tests/integration/test_checks*.py cover them).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tests.demo_store import KEY, small_store_at
from tests.demo_store import settings_for as _settings
from tests.standins import passing_series_audit
from transforms.catalog import MAX_SMALL
from transforms.disclosure.protect import Methods

ROOT = Path(__file__).resolve().parents[2]
CPH = ZoneInfo("Europe/Copenhagen")
PARTITIONED = ("cubes", "disclosure", "release")


# --- fixtures ------------------------------------------------------------------------------


def primary_only_suppress(cells: pd.DataFrame, cube, stats=None) -> pd.DataFrame:
    """Stand-in for transforms.disclosure.suppress.suppress: primary suppression only."""
    n = cells[cube.individuals_column].to_numpy()
    v = cells[cube.value_column].to_numpy()
    und = ((n >= 1) & (n <= MAX_SMALL)) | (v == 0)
    und_o = und.copy()
    if "antal_afbrudt" in cells.columns:
        a = cells["antal_afbrudt"].to_numpy()
        rest = v - a
        und_o = und | ((a >= 1) & (a <= MAX_SMALL)) | ((rest >= 0) & (rest <= MAX_SMALL))
    aarsag = np.where(v == 0, "tom", np.where(und, "primær",
                                              np.where(und_o, "primær_udfald", None)))
    return pd.DataFrame({"undertrykt": und, "undertrykt_udfald": und_o, "aarsag": aarsag},
                        index=cells.index)


class StubAudit:
    """Stand-in for transforms.disclosure.audit.audit; ``verdict`` decides the outcome."""

    def __init__(self):
        self.verdict = "bestået"

    def __call__(self, published: pd.DataFrame, cube, **kwargs) -> dict:
        withheld = int(published[[m.column for m in cube.measures]].isna().any(axis=1).sum())
        failed = 0 if self.verdict == "bestået" else 1
        return {"cube": cube.underemne, "verdict": self.verdict, "withheld": withheld,
                "checked": withheld, "failed": failed, "consistency_errors": [], "cells": [],
                "hundrede_procent": [], "metode": "test stand-in (primary only, no audit)"}


STUB_AUDIT = StubAudit()
#: what the builds here hand the Dagster resource ``disclosure``: primary suppression, the
#: stub audit, a passing series audit (the checked search is the real one)
DISCLOSURE = Methods(suppress=primary_only_suppress, audit=STUB_AUDIT,
                     audit_series=passing_series_audit)


@pytest.fixture(scope="module")
def stub_audit():
    with pytest.MonkeyPatch.context() as mp:
        # the quality checks are tested elsewhere and cost ~20 s a month here
        mp.setattr("pipelines.backfill._definitions", _assets_only)
        yield STUB_AUDIT


def _assets_only():
    from pipelines.definitions import ALL_ASSETS

    return list(ALL_ASSETS)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    return small_store_at(tmp_path_factory.mktemp("store") / "laerepladsen.sqlite")


def _resources(settings) -> dict:
    from pipelines.resources import LpstatResource

    return {"lpstat": LpstatResource(home=str(settings.home), source_url=settings.source_url,
                                     pseudonym_key=settings.pseudonym_key),
            "disclosure": DISCLOSURE}


class Webhook:
    """A local HTTP endpoint that records the JSON posted to it."""

    def __init__(self, status: int = 200):
        self.received: list[dict] = []
        received, code = self.received, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body.decode("utf-8")))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch):
    hook = Webhook()
    monkeypatch.setenv("LPSTAT_WEBHOOK_URL", hook.url)
    yield hook
    hook.close()


def _messages(error) -> list[str]:
    """The messages of a serialised error and its causes."""
    out = []
    while error is not None:
        out.append(error.message)
        error = error.cause
    return out


def _tree_digest(releases: Path) -> dict[str, str]:
    """Every file under releases/ (through real folders) with its sha256, and the latest link."""
    out = {}
    for p in sorted(releases.rglob("*")):
        if p.is_symlink():
            out[p.relative_to(releases).as_posix()] = "-> " + os.readlink(p)
        elif p.is_file():
            out[p.relative_to(releases).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, small_store, stub_audit):
    """A home where `lpstat run --from 2026-09 --to 2026-10` has run (via run_range): the
    partitioned release materialised in-process for two months, after one landing."""
    from pipelines.backfill import run_range

    home = tmp_path_factory.mktemp("home")
    out, err = io.StringIO(), io.StringIO()
    ok = run_range(_settings(home, small_store), "2026-09", "2026-10", out=out, err=err,
                   resources={"disclosure": DISCLOSURE})
    return {"home": home, "ok": ok, "out": out.getvalue(), "err": err.getvalue()}


# --- the schedule --------------------------------------------------------------------------


@pytest.mark.parametrize(("tick", "partition"), [
    (datetime(2026, 12, 15, 6, 0, tzinfo=CPH), "2026-11"),
    (datetime(2027, 1, 15, 6, 0, tzinfo=CPH), "2026-12"),   # across the year end
    (datetime(2026, 4, 15, 6, 0, tzinfo=CPH), "2026-03"),   # summer time (CEST)
    (datetime(2021, 5, 15, 6, 0, tzinfo=CPH), "2021-04"),   # the first release month
])
def test_schedule_requests_the_previous_month(tick, partition):
    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("monthly_release_schedule")
    assert schedule.cron_schedule == "0 6 15 * *"
    assert schedule.execution_timezone == "Europe/Copenhagen"
    assert schedule.job_name == "monthly_release"
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert [r.partition_key for r in requests] == [partition]


def test_schedule_ticks_on_the_15th_at_six_copenhagen_time():
    from dagster._utils.schedules import cron_string_iterator

    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("monthly_release_schedule")
    start = datetime(2026, 3, 1, tzinfo=CPH).timestamp()
    ticks = cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone)
    got = [next(ticks) for _ in range(3)]
    assert [t.strftime("%Y-%m-%d %H:%M %Z") for t in got] == [
        "2026-03-15 06:00 CET", "2026-04-15 06:00 CEST", "2026-05-15 06:00 CEST"]


# --- wiring --------------------------------------------------------------------------------


def test_graph_reads_well_and_source_steps_retry():
    from pipelines.assets.ingest import extract_source
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.setdefault(node.group_name, []).append(key.to_user_string())
        assert node.description and len(node.description) > 20, key
        assert node.owners == ["team:lpstat"], key
        assert node.kinds, key
    assert set(groups) == {"ingest", "warehouse", "cubes", "disclosure", "release"}
    policy = extract_source.node_def.retry_policy
    assert policy.max_retries >= 3 and policy.delay >= 1
    assert policy.backoff == dg.Backoff.EXPONENTIAL
    sensor = defs.get_sensor_def("release_failure_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_backfill_refuses_bad_ranges_with_a_reason(tmp_path, small_store):
    from pipelines.backfill import run_range

    settings = _settings(tmp_path / "home", small_store)
    for first, last, says in [("2026-10", "2026-09", "after --to"),
                              ("2021-01", "2021-05", "first release month is 2021-04"),
                              ("2026-9", "2026-10", "not a release month"),
                              ("2026-10", "2099-01", "newest month that can be built")]:
        err = io.StringIO()
        assert run_range(settings, first, last, out=io.StringIO(), err=err) is False
        assert says in err.getvalue(), (first, last, err.getvalue())
    assert not (tmp_path / "home").exists()  # nothing was touched


# --- backfill, monthly builds, failures ----------------------------------------------------


def _materialized(instance, run_id: str) -> dict[str, dict]:
    """asset key -> metadata of what a run materialised."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.asset_key.to_user_string():
            r.event_log_entry.asset_materialization.metadata for r in records}


def test_backfill_builds_every_month_in_order_and_lands_once(backfilled):
    from pipelines.instance import open_instance

    home, out = backfilled["home"], backfilled["out"]
    assert backfilled["ok"], backfilled["err"]
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0].startswith("Backfill 2026-09 .. 2026-10: 2 release month(s)")
    assert lines[1].startswith("2026-09  built in") and "store landed" in lines[1]
    assert "audit bestået" in lines[1] and "23 files" in lines[1]
    assert lines[2].startswith("2026-10  built in") and "store landed" not in lines[2]
    assert lines[-1] == "Done: 2 release(s) built; latest -> 2026-10"
    rel = home / "releases"
    assert (rel / "latest").resolve() == (rel / "2026-10").resolve()
    for month in ("2026-09", "2026-10"):
        manifest = json.loads((rel / month / "manifest.json").read_text())
        assert manifest["udgivelse"] == month
    revisions = (rel / "2026-10" / "revisions.csv").read_text(encoding="utf-8-sig")
    assert len(revisions.splitlines()) > 1  # 2026-10 was built on top of 2026-09
    # the runs are in the instance under LPSTAT_HOME, tagged, in order, landing only once
    with open_instance(home) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(
            tags={"lpstat/backfill": "2026-09..2026-10"}))[::-1]  # oldest first
        assert [r.tags["dagster/partition"] for r in runs] == ["2026-09", "2026-10"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        first, second = (_materialized(instance, r.run_id) for r in runs)
        # the one landing serves both months: its watermarks are capped at the newer month's
        # cut-off, so the newer month's watermarks_current check sees no lag
        assert runs[0].tags["lpstat/land_through"] == "2026-10"
        assert "lpstat/land_through" not in runs[1].tags
    import duckdb

    from quality import rules
    from transforms.calendar import Release
    from transforms.land import INCREMENTAL

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        for month in ("2026-09", "2026-10"):
            res = rules.watermarks_current(con, INCREMENTAL, Release.parse(month).cutoff)
            assert res.passed, (month, res)
    finally:
        con.close()
    assert {"raw_afslag", "fct_afslag", "cube_afslaars", "udgivelse"} <= set(first)
    assert set(second) == {"status_perioder", "elevbestand", "cube_afslaars", "cube_frafvurd",
                           "cube_frafafbrud", "beskyttede_celler", "udgivelse"}
    # what the UI shows about the release
    folder = rel / "2026-10"
    assert second["cube_afslaars"]["dagster/row_count"].value > 1000
    assert "| (total) |" in second["cube_afslaars"]["cells_per_grouping"].value
    assert second["beskyttede_celler"]["verdict"].value == "bestået"
    assert "EUD_AFSL_AFSLAARS" in second["beskyttede_celler"]["preview"].value
    release = second["udgivelse"]
    assert release["verdict"].value == "bestået"
    assert release["latest"].value == "2026-10"
    assert release["cutoff"].value == "2026-11-01T00:00:00+01:00"
    assert release["report"].value == (folder / "rapport.html").as_uri()
    assert release["revisions"].value == len(revisions.splitlines()) - 1
    assert set(release["files"].value) == {p.relative_to(folder).as_posix()
                                           for p in folder.rglob("*") if p.is_file()}
    assert first["raw_afslag"]["new_rows"].value + \
        first["raw_afslag"]["quarantined_while_landing"].value == \
        first["raw_afslag"]["dagster/row_count"].value


def test_crash_while_writing_leaves_every_release_untouched(backfilled, monkeypatch,
                                                            tmp_path):
    """Rebuilding 2026-10 crashes half-way through writing its files (cells.parquet and the
    CSVs of the first cube are written, then the disk is full): the published 2026-10, the
    other releases and `latest` are byte for byte as before, with no leftovers. The
    workbooks are written by a forked process beside the other files (release.ForkedCall),
    so the crash waits there until the others are on disk and says which through a file."""
    import time

    from pipelines.definitions import ALL_ASSETS
    from transforms.publish import tables

    rel = backfilled["home"] / "releases"
    before = _tree_digest(rel)
    seen = tmp_path / "written.txt"

    def crash(path, *args, **kwargs):
        folder = Path(path).parent
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                (folder / "cells.parquet").exists() and any(folder.glob("*.csv"))):
            time.sleep(0.05)
        seen.write_text("\n".join(p.name for p in folder.iterdir()))
        raise OSError("No space left on device (simulated while writing tabeller.xlsx)")

    monkeypatch.setattr(tables, "write_xlsx", crash)
    settings = _settings(backfilled["home"], Path("/not-read.sqlite"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets("udgivelse"),
                                partition_key="2026-10", resources=_resources(settings),
                                instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "udgivelse"
    messages = _messages(failure.step_failure_data.error)
    assert any("No space left on device" in m for m in messages), messages
    written = seen.read_text().split("\n")
    assert "cells.parquet" in written and any(n.endswith(".csv") for n in written)
    assert _tree_digest(rel) == before
    assert not [p.name for p in rel.iterdir() if p.name.startswith(".")]


def test_failed_backfill_says_what_failed_and_what_to_do(backfilled, webhook):
    from pipelines.backfill import run_range

    home = backfilled["home"]
    rel = home / "releases"
    before = _tree_digest(rel)
    out, err = io.StringIO(), io.StringIO()
    gone = home / "moved-away.sqlite"
    settings = _settings(home, gone)
    assert run_range(settings, "2026-09", "2026-10", out=out, err=err,
                     resources={"disclosure": DISCLOSURE}) is False
    text = out.getvalue()
    assert "2026-09  FAILED in step extract_source" in text
    assert f"{gone.name} does not exist" in text
    assert "not built: 2026-10" in text
    assert "nothing was published for 2026-09" in err.getvalue()
    assert "'latest' still points at 2026-10" in err.getvalue()
    assert "resume with: lpstat run --from 2026-09 --to 2026-10" in err.getvalue()
    assert _tree_digest(rel) == before
    [payload] = webhook.received  # the same notice the sensor sends for scheduled runs
    assert payload["event"] == "lpstat.release_failed" and payload["release"] == "2026-09"
    assert payload["blocked_by"] is None
    assert payload["failed_steps"][0]["step"] == "extract_source"
    assert "earlier releases and 'latest' are unchanged" in payload["what_to_do"]


def test_blocked_release_fails_the_run_and_the_sensor_notifies(backfilled, stub_audit, webhook):
    """The audit rejects the pattern: the run fails at beskyttede_celler, nothing is
    published, and release_failure_sensor posts a 'blocked' notice to the webhook."""
    from pipelines.definitions import ALL_ASSETS
    from pipelines.sensors import release_failure_sensor

    rel = backfilled["home"] / "releases"
    before = _tree_digest(rel)
    settings = _settings(backfilled["home"], Path("/not-read.sqlite"))
    stub_audit.verdict = "ikke bestået"
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                ALL_ASSETS, selection=dg.AssetSelection.assets("beskyttede_celler", "udgivelse"),
                partition_key="2026-09", resources=_resources(settings), instance=instance,
                raise_on_error=False)
            assert not result.success
            context = dg.build_run_status_sensor_context(
                sensor_name="release_failure_sensor", dagster_event=result.get_run_failure_event(),
                dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure()
            release_failure_sensor(context)
    finally:
        stub_audit.verdict = "bestået"
    assert _tree_digest(rel) == before
    [payload] = webhook.received
    assert payload["event"] == "lpstat.release_blocked" and payload["blocked_by"] == "audit"
    assert payload["release"] == "2026-09"
    assert payload["run_id"] == result.run_id and payload["run_path"] == f"/runs/{result.run_id}"
    assert payload["failed_steps"][0]["step"] == "beskyttede_celler"
    assert "disclosure audit" in payload["failed_steps"][0]["message"]
    assert "Do not publish by hand" in payload["what_to_do"]
    assert payload["text"].startswith("lpstat: release 2026-09 BLOCKED in step beskyttede_celler")


def test_a_failing_blocking_quality_check_counts_as_blocked():
    from pipelines.sensors import classify_failure, failure_payload

    @dg.asset(name="cube_x")
    def cube_x():
        return 1

    @dg.asset_check(asset=cube_x, blocking=True)
    def margins_add_up():
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)

    @dg.asset(deps=[cube_x])
    def downstream():
        return 2

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([cube_x, downstream, margins_add_up], instance=instance,
                                raise_on_error=False)
    status, reason, steps = classify_failure(result.get_step_failure_events())
    assert (status, reason) == ("blocked", "quality_check")
    assert "blocking asset check failed" in steps[0]["message"]
    assert "margins_add_up" in steps[0]["message"]
    payload = failure_payload("2026-10", status, steps, reason=reason)
    assert payload["blocked_by"] == "quality_check"
    assert "Checks tab" in payload["what_to_do"]


def test_webhook_trouble_never_raises():
    import time

    from pipelines.sensors import failure_payload, notify_failure, post_json

    payload = failure_payload("2026-10", "failed", [{"step": "extract_source", "message": "x"}])
    bad = Webhook(status=500)
    try:
        assert post_json(bad.url, payload) is False
        assert bad.received == [payload]
    finally:
        bad.close()
    started = time.monotonic()
    assert post_json(bad.url, payload, timeout=2) is False        # nobody listens any more
    assert post_json("ftp://example.invalid/x", payload) is False  # not http(s)
    assert notify_failure(payload, url=None) is False              # unset: only the log
    assert time.monotonic() - started < 5


# --- retries -------------------------------------------------------------------------------


def test_transient_source_failure_is_retried_by_dagster(tmp_path, small_store, monkeypatch):
    """The store is down for the first attempt (after transforms.land's own retries gave
    up): the step's RetryPolicy runs it again, and the run succeeds with one retry."""
    from pipelines.assets.ingest import extract_source
    from transforms import land
    from transforms.extract import SourceUnavailable

    real = land.land_source
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise SourceUnavailable("Cannot connect to the store (simulated outage)")
        return real(*args, **kwargs)

    monkeypatch.setattr(land, "land_source", flaky)
    settings = _settings(tmp_path / "home", small_store)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([extract_source], resources=_resources(settings),
                                instance=instance)
    assert result.success and len(calls) == 2
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "extract_source"]
    assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_RESTARTED") == 1
    assert kinds[-1] == "STEP_SUCCESS"
    retry = next(e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY")
    assert any("simulated outage" in m for m in _messages(retry.event_specific_data.error))
    # the failed attempt left nothing behind: every row landed exactly once
    from transforms.warehouse import connect

    con = connect(settings.warehouse_path, read_only=True)
    try:
        landed = con.execute("SELECT count(*), count(DISTINCT afslag_id) FROM raw_afslag"
                             ).fetchall()[0]
        # rows with a bad code are validated in memory and quarantined, not landed
        held = con.execute("SELECT count(*) FROM karantaene_indlaesning "
                           "WHERE kilde_tabel = 'afslag'").fetchall()[0][0]
    finally:
        con.close()
    in_store = sqlite3.connect(small_store).execute("SELECT count(*) FROM afslag").fetchone()[0]
    assert landed == (in_store - held, in_store - held) and held < 100


def test_land_source_retries_an_unavailable_store_with_backoff(tmp_path, small_store,
                                                              monkeypatch, caplog):
    from transforms.extract import SourceConnection, SourceUnavailable
    from transforms.land import land_source
    from transforms.warehouse import connect

    real_enter = SourceConnection.__enter__
    attempts = []

    def enter(self):
        attempts.append(1)
        if len(attempts) <= 2:
            raise SourceUnavailable("Cannot connect to the store (simulated restart)")
        return real_enter(self)

    monkeypatch.setattr(SourceConnection, "__enter__", enter)
    con = connect(tmp_path / "wh.duckdb")
    try:
        with caplog.at_level("WARNING", logger="transforms.land"):
            stats = land_source(f"sqlite:///{small_store}", KEY, con, "run-1",
                                backoff_seconds=0.01)
    finally:
        con.close()
    assert len(attempts) == 3
    assert stats["afslag"]["read"] > 0
    assert [r.getMessage() for r in caplog.records] == [
        "store unavailable (attempt 1); retrying in 0.0 s",
        "store unavailable (attempt 2); retrying in 0.0 s"]


# --- the Dagster instance ------------------------------------------------------------------


@dg.asset
def tiny_asset() -> int:
    return 1


def test_instance_defaults_to_sqlite_under_lpstat_home(tmp_path, monkeypatch):
    from pipelines.instance import ensure_instance, open_instance

    monkeypatch.delenv("LPSTAT_DAGSTER_PG_URL", raising=False)
    dagster_home = ensure_instance(tmp_path / "home")
    assert dagster_home == (tmp_path / "home" / "dagster").resolve()
    text = (dagster_home / "dagster.yaml").read_text()
    assert "sqlite:" in text and str(dagster_home / "storage") in text
    assert "max_concurrent_runs: 1" in text and "postgres" not in text
    mtime = (dagster_home / "dagster.yaml").stat().st_mtime_ns
    assert ensure_instance(tmp_path / "home") == dagster_home  # idempotent, not rewritten
    assert (dagster_home / "dagster.yaml").stat().st_mtime_ns == mtime
    with open_instance(tmp_path / "home") as instance:
        result = dg.materialize([tiny_asset], instance=instance)
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert (dagster_home / "storage" / "history" / "runs.db").exists()
    # the command the docs give for DAGSTER_HOME
    proc = subprocess.run([sys.executable, "-m", "pipelines.instance", str(tmp_path / "h2")],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == str((tmp_path / "h2" / "dagster").resolve())


def test_instance_follows_the_environment_and_guards_the_url(tmp_path, monkeypatch):
    from pipelines.instance import ensure_instance

    monkeypatch.setenv("LPSTAT_DAGSTER_PG_URL", "postgresql://dagster:s3cret@db:5432/dagster")
    path = ensure_instance(tmp_path) / "dagster.yaml"
    text = path.read_text()
    # psycopg2 named: SQLAlchemy 2.1 would take a bare postgresql:// as psycopg 3
    assert 'postgres_url: "postgresql+psycopg2://dagster:s3cret@db:5432/dagster"' in text
    assert "sqlite" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the URL carries a password
    monkeypatch.delenv("LPSTAT_DAGSTER_PG_URL")
    assert "sqlite:" in (ensure_instance(tmp_path) / "dagster.yaml").read_text()


@pytest.mark.postgres
def test_instance_on_postgres_records_runs_there(tmp_path, pg_database, monkeypatch):
    import psycopg

    from pipelines.instance import ensure_instance, open_instance

    monkeypatch.delenv("LPSTAT_DAGSTER_PG_URL", raising=False)
    dagster_home = ensure_instance(tmp_path / "home", postgres_url=pg_database)
    path = dagster_home / "dagster.yaml"
    assert "postgres_url" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the URL may carry a password
    with open_instance(tmp_path / "home", postgres_url=pg_database) as instance:
        result = dg.materialize([tiny_asset], instance=instance)
    assert result.success
    with psycopg.connect(pg_database) as con:
        runs = con.execute("SELECT run_id, status FROM runs").fetchall()
        events = con.execute("SELECT count(*) FROM event_logs WHERE run_id = %s",
                             [result.run_id]).fetchone()[0]
        mats = con.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND "
                           "dagster_event_type = 'ASSET_MATERIALIZATION'",
                           [result.run_id]).fetchone()[0]
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert runs == [(result.run_id, "SUCCESS")]
    assert events > 5 and mats == 1
    assert {"runs", "event_logs", "jobs", "job_ticks"} <= tables  # run, event, schedule storage
    assert not (dagster_home / "storage" / "history" / "runs.db").exists()


def test_the_sensor_leaves_a_backfills_failures_to_the_backfill(webhook):
    """A backfill from the command line posts its own notice; the sensor does not repeat it."""
    from pipelines.sensors import NOTIFIED_BY_TAG, release_failure_sensor

    @dg.asset
    def failing() -> None:
        raise RuntimeError("boom")

    with dg.DagsterInstance.ephemeral() as instance:
        for tags, notices in (({NOTIFIED_BY_TAG: "lpstat backfill"}, 0), ({}, 1)):
            result = dg.materialize([failing], instance=instance, tags=tags,
                                    raise_on_error=False)
            context = dg.build_run_status_sensor_context(
                sensor_name="release_failure_sensor", dagster_event=result.get_run_failure_event(),
                dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure()
            release_failure_sensor(context)
            assert len(webhook.received) == notices

