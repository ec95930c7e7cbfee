"""Command-line runs in the persistent Dagster instance (issue 20; pipelines/runs.py).

After ``lpstat run`` the instance under LPSTAT_HOME (SQLite) or at LPSTAT_DAGSTER_PG_URL (the
PostgreSQL on this machine) holds the runs of ``monthly_release``, the materializations per
release partition with their metadata, and the check results; the console gets a line per
step and a summary, the whole event log goes to a file. Runs take turns on the warehouse:
a second command started while one holds it stops, names the other run and writes nothing.

Disclosure control is the primary-only stand-in (tests/conftest.py), also in the child
processes of the concurrency test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.demo_store import KEY, small_store_at
from tests.demo_store import settings_for as _settings

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ("2026-09", "2026-10")


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    return small_store_at(tmp_path_factory.mktemp("store") / "laerepladsen.sqlite")

#: a child process that runs the real command line with the disclosure stand-in (a command
#: line cannot be handed the methods: tests/standins.py), through the console script's own
#: entry (main, then the quick exit: the summary must reach the pipe all the same)
CHILD = """
import sys
import pytest
from tests.standins import stand_in
stand_in(pytest.MonkeyPatch())
from pipelines.cli import entry
entry()
"""


def _env(home: Path, store: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LPSTAT_")}
    env.update({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                "LPSTAT_PSEUDONYM_KEY": KEY, "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": ""})  # buffered, as a console script's output to a pipe
    return env


def _child(args: list[str], home: Path, store: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT, text=True,
                            env=_env(home, store), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("storage", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_command_line_runs_are_recorded_in_the_instance(storage, tmp_path, small_store,
                                                        request, monkeypatch, capfd):
    from pipelines.cli import materialize
    from pipelines.instance import PG_URL_ENV, open_instance
    from tests.standins import disclosure_methods

    if storage == "postgres":
        monkeypatch.setenv(PG_URL_ENV, request.getfixturevalue("pg_database"))
    else:
        monkeypatch.delenv(PG_URL_ENV, raising=False)
    home = tmp_path / "home"
    settings = _settings(home, small_store)
    for i, release in enumerate(RELEASES):
        assert materialize(settings, release, with_ingest=(i == 0), progress=False,
                           resources={"disclosure": disclosure_methods()}), release
    out = capfd.readouterr().out
    assert "Building release 2026-09" in out and "cube_afslaars" in out
    assert "DEBUG" not in out and "HiGHS" not in out  # Dagster's log is in the file

    with open_instance(home) as instance:
        runs = sorted(instance.get_runs(), key=lambda r: r.tags["dagster/partition"])
        assert [(r.job_name, r.tags["dagster/partition"], r.status) for r in runs] == [
            ("monthly_release", m, dg.DagsterRunStatus.SUCCESS) for m in RELEASES]
        assert all(r.tags["lpstat/command"].startswith("lpstat run") for r in runs)
        assert runs[0].tags["lpstat/home"] == str(home.resolve())
        # every partitioned asset has both partitions; the landing is not partitioned
        for asset in ("elevbestand", "cube_afslaars", "cube_frafvurd", "cube_frafafbrud",
                      "beskyttede_celler", "udgivelse"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(RELEASES)
        latest = instance.get_latest_materialization_event(dg.AssetKey("udgivelse"))
        meta = latest.asset_materialization.metadata
        assert meta["verdict"].value == "bestået" and meta["latest"].value == "2026-10"
        assert latest.asset_materialization.partition == "2026-10"
        assert instance.get_latest_materialization_event(dg.AssetKey("raw_afslag")) is not None
        # the check history: both releases' audit checks, and the landing's checks once
        for check, asset, n in (("audit_passed", "udgivelse", 2),
                                ("margins_add_up", "cube_afslaars", 2),
                                ("no_direct_identifiers", "raw_afslag", 1)):
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(asset), check), limit=10)
            statuses = [h.status.value for h in history]
            assert statuses.count("SUCCEEDED") == n and "FAILED" not in statuses, (check,
                                                                                   statuses)
        # the pseudonym key is never stored in the instance (the resource reads it from the
        # environment of the run, not from configuration kept with the job's snapshot)
        from dagster._serdes import serialize_value

        snap = instance.get_job_snapshot(runs[0].job_snapshot_id)
        assert KEY not in serialize_value(snap) and KEY not in str(runs[0].run_config)
    logs = list((home / "logs").glob("*.log"))
    assert len(logs) == 2
    text = "".join(p.read_text(encoding="utf-8") for p in logs)
    assert "STEP_SUCCESS" in text and "ASSET_CHECK_EVALUATION" in text
    assert KEY not in text


def test_a_command_refuses_while_another_holds_the_warehouse(tmp_path, small_store):
    """The lock file names its holder; the second command writes nothing, not even a run."""
    from pipelines.instance import open_instance
    from pipelines.runs import warehouse_lock

    home = tmp_path / "home"
    holder = {"run_id": "0badc0de-run", "command": "lpstat run --release 2026-10",
              "started": "2026-11-15 05:00:00 UTC"}
    with warehouse_lock(home, holder):
        p = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--release",
                            "2026-10"], cwd=ROOT, env=_env(home, small_store),
                           capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    assert "run 0badc0de-run" in p.stderr and "lpstat run --release 2026-10" in p.stderr
    assert "--wait" in p.stderr and "Nothing was started" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (home / "releases").exists() and not (home / "warehouse.duckdb").exists()
    with open_instance(home) as instance:
        assert instance.get_runs() == []


def test_a_command_refuses_while_the_instance_shows_a_run_in_progress(tmp_path, small_store):
    """A run launched by the schedule or the UI is in progress: the command names it; a
    command-line run left 'started' by a process that died is marked failed instead."""
    from pipelines.instance import open_instance
    from pipelines.runs import Session, WarehouseBusy

    home = tmp_path / "home"
    with open_instance(home) as instance:
        scheduled = instance.add_run(dg.DagsterRun(
            job_name="monthly_release", run_id="5c4ed01e-aaaa-bbbb-cccc-000000000001",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2026-10", "dagster/schedule_name": "monthly"}))
        dead = instance.add_run(dg.DagsterRun(
            job_name="monthly_release", run_id="dead0000-aaaa-bbbb-cccc-000000000002",
            status=dg.DagsterRunStatus.STARTED,
            tags={"lpstat/command": "lpstat demo", "lpstat/home": str(home.resolve()),
                  "lpstat/pid": "999999", "dagster/partition": "2026-09"}))
        settings = _settings(home, small_store)
        with pytest.raises(WarehouseBusy, match=f"run {scheduled.run_id} of monthly_release "
                           r"\(release 2026-10, started\)"):
            with Session(settings, "lpstat run --release 2026-10", instance=instance,
                         live=False):
                pass
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        instance.report_run_failed(instance.get_run_by_id(scheduled.run_id))
        with Session(settings, "lpstat run --release 2026-10", instance=instance,
                     live=False) as session:
            assert session.log_path.parent == home.resolve() / "logs"


def test_two_commands_started_together_give_one_release_and_a_clear_message(tmp_path,
                                                                               small_store):
    home = tmp_path / "home"
    procs = [_child(["run", "--release", "2026-10"], home, small_store) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 1], results
    winner = next(r for r in results if r[0] == 0)
    loser = next(r for r in results if r[0] == 1)
    assert "Release 2026-10 published" in winner[1]
    assert "is in use by run " in loser[2] and "Nothing was started" in loser[2], loser[2]
    assert "Traceback" not in loser[2]
    from pipelines.instance import open_instance

    with open_instance(home) as instance:
        runs = instance.get_runs()
        assert [(r.tags["dagster/partition"], r.status) for r in runs] == [
            ("2026-10", dg.DagsterRunStatus.SUCCESS)]
        assert runs[0].run_id in loser[2]
    assert sorted(p.name for p in (home / "releases").iterdir()
                  if not p.name.startswith(".")) == ["2026-10", "latest", "versions"]
    assert [p.name for p in (home / "releases" / "versions").iterdir()] == ["2026-10.1"]


def test_wait_queues_behind_the_holder(tmp_path, small_store):
    from pipelines.runs import warehouse_lock

    home = tmp_path / "home"
    with warehouse_lock(home, {"run_id": "first-run"}):
        p = _child(["run", "--release", "2026-10", "--wait"], home, small_store)
        time.sleep(8)
        assert p.poll() is None  # still waiting
    code = p.wait(timeout=600)
    out, err = p.communicate()
    assert code == 0, err
    assert "waiting for run first-run" in out
    assert (home / "releases" / "2026-10" / "manifest.json").exists()


def test_demo_on_an_existing_store_builds_its_two_latest_releases_and_says_where(tmp_path,
                                                                                small_store):
    """`lpstat demo` to its end: a store that is not the demo default is used as it is (no
    store generated), the two latest complete months are built oldest first on one landing,
    every quality check passes for both (the landing serves the newer month too, so its
    watermarks do not lag that month's cut-off), and the summary names files that exist.
    (Its summary once joined a path and a Release: exit 1 after both were published.)"""
    from pipelines.instance import open_instance
    from transforms.calendar import Release
    from transforms.extract import latest_registration_day

    latest = Release.newest_complete(latest_registration_day(f"sqlite:///{small_store}"))
    months = [str(latest.previous()), str(latest)]
    home = tmp_path / "home"
    p = _child(["demo"], home, small_store)
    code = p.wait(timeout=600)
    out, err = p.communicate()
    assert code == 0, err
    assert "unexpected error" not in err and "Traceback" not in err
    assert "Generating the demo store" not in out
    assert out.index(f"Building release {months[0]}") < out.index(f"Building release {months[1]}")
    assert f"Release {months[1]} published" in out
    assert "FAILED" not in out and "warning" not in out, out
    report = next(line.split()[1] for line in out.splitlines()
                  if line.strip().startswith("report:"))
    assert Path(report) == home / "releases" / months[1] / "rapport.html"
    assert Path(report).is_file()
    assert "lpstat serve" in out and len(out.splitlines()) <= 30, out
    with open_instance(home) as instance:
        runs = instance.get_runs()
        assert sorted((r.tags["dagster/partition"], r.tags["lpstat/command"], r.status)
                      for r in runs) == [(m, "lpstat demo", dg.DagsterRunStatus.SUCCESS)
                                         for m in months]
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("udgivelse"), "watermarks_current"), limit=10)
        statuses = [h.status.value for h in history]
        assert statuses.count("SUCCEEDED") == 2 and "FAILED" not in statuses, statuses


def test_the_console_names_the_checks_that_warned_or_failed():
    from pipelines.runs import checks_summary

    checks = [("udgivelse", "audit_passed", True, "ERROR"),
              ("udgivelse", "watermarks_current", False, "ERROR"),
              ("raw_afslag", "watermark_advanced", False, "WARN"),
              ("raw_frafaldsvurdering", "watermark_advanced", False, "WARN"),
              ("cube_afslaars", "margins_add_up", True, "ERROR")]
    assert checks_summary(checks) == ("2 passed, 2 warnings (watermark_advanced x2), "
                                      "1 FAILED (watermarks_current)")
    assert checks_summary(checks[:1]) == "1 passed"


def test_the_console_counts_only_rows_not_landed_before_as_new():
    """The reference tables are read and replaced in full on every run: their rows are
    counted apart, so a re-run with nothing new says 0 new (it said '75,701 rows, 71,541
    new' on the national demo)."""
    from pipelines.runs import landing_summary

    tables = [{"dagster/row_count": 69014, "new_rows": 69014, "incremental": False},
              {"dagster/row_count": 2500, "new_rows": 2500, "incremental": False},
              {"dagster/row_count": 3100, "new_rows": 0, "incremental": True},
              {"dagster/row_count": 1087, "new_rows": 12, "incremental": True}]
    assert landing_summary(tables) == "75,701 rows read, 12 new, 71,514 reference rows replaced"
    assert landing_summary(tables[2:]) == "4,187 rows read, 12 new"


def test_lpstats_own_log_lines_go_to_the_log_file_during_a_run():
    """The disclosure search's rounds and other INFO lines of lpstat's own loggers reach the
    command's log file while a run is in progress, never the console; afterwards the loggers
    are as they were."""
    import logging

    from pipelines.runs import _library_log_to

    lines: list[str] = []
    lg = logging.getLogger("transforms.disclosure.suppress")
    top = logging.getLogger("transforms")
    level, handlers = top.level, list(top.handlers)
    with _library_log_to(lines.append):
        lg.info("AFSLAARS: checked round %d: %s", 0, "open")
        lg.debug("not at INFO")
    lg.info("after the run")
    assert len(lines) == 1 and lines[0].endswith(
        "INFO transforms.disclosure.suppress AFSLAARS: checked round 0: open")
    assert top.level == level and top.handlers == handlers
