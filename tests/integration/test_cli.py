"""The command line as scripts and people meet it: ``.venv/bin/lpstat`` in a subprocess, with
LPSTAT_HOME in a temporary folder. Help on every command, `lpstat sql` and `lpstat releases`
over the demo build of test_analyse.py, and the messages and exit codes of common mistakes
(0 ok, 1 failed run, 2 usage/settings, 3 nothing to show)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.integration.test_analyse import RELEASES, analysis_home, doc_examples

ROOT = Path(__file__).resolve().parents[2]
LPSTAT = ROOT / ".venv" / "bin" / "lpstat"
if not LPSTAT.exists():  # an installed lpstat elsewhere (e.g. another virtualenv)
    LPSTAT = Path(shutil.which("lpstat") or Path(sys.executable).parent / "lpstat")

OK, FAILED, USAGE, EMPTY = 0, 1, 2, 3


def lpstat(*args: str, home: Path, env: dict | None = None, stdin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LPSTAT_")}
    base.update({"LPSTAT_HOME": str(home), "COLUMNS": "200"}, **(env or {}))
    return subprocess.run([str(LPSTAT), *args], capture_output=True, text=True, env=base,
                          input=stdin, timeout=timeout, cwd=home.parent)


def no_traceback(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stderr, p.stderr
    assert "Traceback" not in p.stdout


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return analysis_home(tmp_path_factory)


# --- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, "demo", "run", "serve", "sql", "releases"])
def test_help_with_examples_and_exit_codes(command, tmp_path):
    p = lpstat(*([command] if command else []), "--help", home=tmp_path)
    assert p.returncode == OK, p.stderr
    assert "examples:" in p.stdout
    assert "exit codes:" in p.stdout
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in p.stdout
    if command is None:
        assert "LPSTAT_PSEUDONYM_KEY" in p.stdout
        for c in ("demo", "run", "serve", "sql", "releases"):
            assert f"lpstat {c}" in p.stdout


def test_no_command_is_a_usage_error(tmp_path):
    p = lpstat(home=tmp_path)
    assert p.returncode == USAGE
    assert "COMMAND" in p.stderr


# --- lpstat sql -----------------------------------------------------------------------------------


def test_sql_table_csv_json_parquet(home, tmp_path):
    q = ("SELECT udgivelse, revisionsverdikt, seneste FROM releases ORDER BY udgivelse")
    p = lpstat("sql", q, home=home)
    assert p.returncode == OK, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["udgivelse", "revisionsverdikt", "seneste"]
    assert [ln.split()[0] for ln in lines[2:]] == list(RELEASES)

    p = lpstat("sql", q, "--csv", home=home)
    assert p.returncode == OK
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [r["udgivelse"] for r in rows] == list(RELEASES)
    assert [r["seneste"] for r in rows] == ["False", "True"]

    p = lpstat("sql", q, "--json", home=home)
    assert json.loads(p.stdout) == [
        {"udgivelse": RELEASES[0], "revisionsverdikt": "bestået", "seneste": False},
        {"udgivelse": RELEASES[1], "revisionsverdikt": "bestået", "seneste": True}]

    out = tmp_path / "r.parquet"
    p = lpstat("sql", "SELECT * FROM afslaars WHERE vaerdi IS NULL", "--parquet", str(out),
               home=home)
    assert p.returncode == OK, p.stderr
    t = pq.read_table(out)
    assert t.num_rows > 0 and t.column("vaerdi").null_count == t.num_rows
    assert set(t.column("status").to_pylist()) == {"diskretioneret"}

    out = tmp_path / "r.json"
    p = lpstat("sql", q, "--json", str(out), home=home)
    assert p.returncode == OK and p.stdout == ""
    assert len(json.loads(out.read_text("utf-8"))) == 2


def test_sql_nulls_and_maps_in_json_and_csv(home):
    q = ("SELECT udgivelse, filer, CAST(NULL AS INTEGER) AS ingen FROM releases "
         "WHERE seneste")
    rows = json.loads(lpstat("sql", q, "--json", home=home).stdout)
    assert rows[0]["ingen"] is None
    assert isinstance(rows[0]["filer"], dict)
    assert "manifest.json" not in rows[0]["filer"]
    assert len(rows[0]["filer"]["EUD_AFSL_AFSLAARS/cells.parquet"]) == 64
    rows = list(csv.DictReader(io.StringIO(lpstat("sql", q, "--csv", home=home).stdout)))
    assert rows[0]["ingen"] == ""
    assert json.loads(rows[0]["filer"])["EUD_AFSL_AFSLAARS/cells.parquet"]


def test_sql_reads_the_query_from_stdin_and_runs_a_docs_example(home):
    sql = doc_examples()["releases-overview"]
    p = lpstat("sql", "-", "--json", home=home, stdin=sql)
    assert p.returncode == OK, p.stderr
    rows = json.loads(p.stdout)
    assert [r["udgivelse"] for r in rows] == list(RELEASES)
    assert all(r["celler"] > r["diskretionerede"] > 0 for r in rows)


def test_sql_table_is_capped_and_says_so(home):
    p = lpstat("sql", "SELECT * FROM afslaars", "--max-rows", "5", home=home)
    assert p.returncode == OK
    assert len(p.stdout.splitlines()) == 2 + 5
    assert "more rows not shown" in p.stderr and "--csv" in p.stderr


def test_every_row_reaches_a_pipe_before_the_quick_exit(home):
    """The console script leaves with os._exit after main (pipelines.cli.entry): all that
    was written is flushed first, through a pipe too, and the exit code is main's. Python's
    own buffering on (PYTHONUNBUFFERED, set in some shells and CI, would hide a lost buffer:
    without the flush this lost the last 437 lines)."""
    buffered = {"PYTHONUNBUFFERED": ""}
    p = lpstat("sql", "SELECT range AS i FROM range(200000)", "--csv", home=home, env=buffered)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 200001 and lines[0] == "i" and lines[-1] == "199999"
    empty = lpstat("sql", "SELECT 1 WHERE false", home=home, env=buffered)
    assert empty.returncode == 3 and "no rows" in empty.stderr


def test_sql_empty_result_exits_3(home):
    p = lpstat("sql", "SELECT * FROM releases WHERE udgivelse = '1999-01'", "--json", home=home)
    assert p.returncode == EMPTY
    assert json.loads(p.stdout) == []
    assert "no rows" in p.stderr


@pytest.mark.parametrize(("sql", "message"), [
    ("SELEC * FROM releases", "does not parse"),
    ("SELECT * FROM afslag", "SHOW TABLES"),
    ("SELECT no_such_column FROM releases", "DESCRIBE"),
    ("SELECT 1; SELECT 2", "exactly one query"),
    ("COPY (SELECT * FROM releases) TO 'out.csv'", "only queries run here"),
    ("SET enable_external_access = true", "only queries run here"),
    ("INSTALL httpfs", "only queries run here"),
    ("", "give a query"),
])
def test_sql_mistakes_say_what_to_do(home, sql, message):
    p = lpstat("sql", sql, home=home)
    assert p.returncode == USAGE, (p.returncode, p.stderr)
    assert message in p.stderr
    assert p.stderr.startswith("lpstat: ")
    no_traceback(p)


def test_sql_cannot_reach_the_warehouse(home):
    wh = (home / "warehouse.duckdb").as_posix()
    around = f"{(home / 'releases').as_posix()}/../warehouse.duckdb"
    for sql in (f"ATTACH '{wh}' AS w", f"SELECT * FROM read_blob('{wh}')",
                f"SELECT * FROM '{wh}'", f"SELECT * FROM read_parquet('{around}')"):
        p = lpstat("sql", sql, home=home)
        assert p.returncode == USAGE, (sql, p.stdout)
        assert p.stdout == ""
        no_traceback(p)


def test_sql_needs_no_store_or_key(home):
    env = {"LPSTAT_SOURCE_URL": "postgresql://nobody@127.0.0.1:9/none"}  # and no key
    p = lpstat("sql", "SELECT count(*) AS n FROM releases", "--json", home=home, env=env)
    assert p.returncode == OK, p.stderr
    assert json.loads(p.stdout) == [{"n": 2}]


def test_sql_builds_a_missing_analysis_db(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home / "releases", copy / "releases", symlinks=True)
    assert not (copy / "analyse.duckdb").exists()
    p = lpstat("sql", "SELECT count(*) AS n FROM release_cubes", "--json", home=copy)
    assert p.returncode == OK, p.stderr
    assert json.loads(p.stdout) == [{"n": 6}]
    assert (copy / "analyse.duckdb").exists()


# --- lpstat releases ------------------------------------------------------------------------------


def test_releases_lists_cutoff_audit_and_row_counts(home):
    p = lpstat("releases", "--json", home=home)
    assert p.returncode == OK, p.stderr
    rows = json.loads(p.stdout)
    assert [r["udgivelse"] for r in rows] == list(RELEASES)
    shares_of: dict[str, list[str]] = {}
    for r in rows:
        manifest = json.loads((home / "releases" / r["udgivelse"] / "manifest.json").read_text())
        assert r["skaeringstidspunkt"] == manifest["skaeringstidspunkt"]
        assert r["revisionsverdikt"] == "bestået"
        for cube in ("AFSLAARS", "FRAFVURD", "FRAFAFBRUD"):
            folder = {"AFSLAARS": "EUD_AFSL_AFSLAARS", "FRAFVURD": "EUD_FRAF_FRAFVURD",
                      "FRAFAFBRUD": "EUD_FRAF_FRAFAFBRUD"}[cube]
            t = pq.read_table(home / "releases" / r["udgivelse"] / folder / "cells.parquet")
            n = t.num_rows
            assert r[f"celler_{cube.lower()}"] == n
            # the share of cells withheld (any measure), from the published cells
            withheld = t.column("status").to_pylist().count("diskretioneret")
            share = r[f"diskr_andel_{cube.lower()}"]
            assert (share is None) if n == 0 else share == pytest.approx(withheld / n), cube
            shares_of.setdefault(r["udgivelse"], []).append(
                "–" if n == 0 else f"{100 * withheld / n:.1f} %")
        assert r["informationstab"] is None  # audits from before the block
    assert [r["seneste"] for r in rows] == [False, True]
    table = lpstat("releases", home=home)
    assert table.returncode == OK
    assert RELEASES[0] in table.stdout and "bestået" in table.stdout
    assert "informationstab" not in table.stdout.splitlines()[0]  # the block: --json only
    shares = table.stdout[table.stdout.index("withheld cells, share"):].splitlines()
    assert shares[1].split() == ["udgivelse", "AFSLAARS", "FRAFVURD", "FRAFAFBRUD"]
    assert [ln.split() for ln in shares[3:]] == [
        [r, *" ".join(shares_of[r]).split()] for r in RELEASES]


def test_one_release_and_its_files(home):
    p = lpstat("releases", RELEASES[-1], home=home)
    assert p.returncode == OK, p.stderr
    assert f"release {RELEASES[-1]}: cut-off" in p.stdout and "latest" in p.stdout
    p = lpstat("releases", RELEASES[-1], "--files", "--csv", home=home)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    manifest = json.loads((home / "releases" / RELEASES[-1] / "manifest.json").read_text())
    assert {r["fil"]: r["sha256"] for r in rows} == manifest["filer"]


def test_unknown_release_exits_3_and_lists_the_published_ones(home):
    p = lpstat("releases", "2030-01", home=home)
    assert p.returncode == EMPTY
    assert "no release 2030-01" in p.stderr
    assert ", ".join(RELEASES) in p.stderr
    assert "lpstat run --release 2030-01" in p.stderr
    no_traceback(p)


def test_malformed_release_is_a_usage_error(home):
    for args in (("releases", "2026-13"), ("run", "--release", "October")):
        p = lpstat(*args, home=home)
        assert p.returncode == USAGE
        assert "YYYY-MM" in p.stderr
        no_traceback(p)


def test_no_releases_yet(tmp_path):
    for args in (("releases",), ("sql", "SELECT 1")):
        p = lpstat(*args, home=tmp_path / "empty")
        assert p.returncode == EMPTY
        assert "no releases under" in p.stderr and "lpstat demo" in p.stderr
        no_traceback(p)


# --- settings and the store -----------------------------------------------------------------------


def test_missing_pseudonym_key_is_a_settings_error(tmp_path):
    env = {"LPSTAT_SOURCE_URL": "postgresql://etl@db.example:5432/portal"}
    for args in (("run", "--release", "2026-10"), ("demo", "--scale", "small")):
        p = lpstat(*args, home=tmp_path, env=env)
        assert p.returncode == USAGE, p.stderr
        assert "LPSTAT_PSEUDONYM_KEY is not set" in p.stderr
        no_traceback(p)
    assert not (tmp_path / "releases").exists()


def test_bad_source_url_is_a_settings_error(tmp_path):
    p = lpstat("run", "--release", "2026-10", home=tmp_path,
               env={"LPSTAT_SOURCE_URL": "mysql://x", "LPSTAT_PSEUDONYM_KEY": "k"})
    assert p.returncode == USAGE
    assert "sqlite:///" in p.stderr and "postgresql://" in p.stderr


def test_unreachable_store_fails_the_run_and_says_what_to_do(tmp_path):
    env = {"LPSTAT_SOURCE_URL": "postgresql://lpstat@127.0.0.1:9/laerepladsen",
           "LPSTAT_PSEUDONYM_KEY": "k"}
    p = lpstat("demo", home=tmp_path, env=env)
    assert p.returncode == FAILED
    assert "Cannot connect to the store" in p.stderr
    assert "Check LPSTAT_SOURCE_URL" in p.stderr
    no_traceback(p)
    assert not (tmp_path / "releases").exists()


def test_missing_sqlite_store_fails_at_once_and_says_what_to_do(tmp_path):
    env = {"LPSTAT_SOURCE_URL": f"sqlite:///{tmp_path}/no-such-store.sqlite",
           "LPSTAT_PSEUDONYM_KEY": "k"}
    p = lpstat("run", "--release", "2026-10", home=tmp_path, env=env, timeout=60)
    assert p.returncode == FAILED
    assert "no-such-store.sqlite does not exist" in p.stderr
    assert "LPSTAT_SOURCE_URL" in p.stderr and "lpstat demo" in p.stderr
    assert "Nothing was published" in p.stderr
    no_traceback(p)
    assert not (tmp_path / "releases").exists()


def test_progress_bars_render_on_a_terminal(capsys):
    """The bars themselves (stderr is no terminal under pytest, so they are forced on)."""
    import sys as _sys

    from pipelines.cli import _TableProgress
    from pipelines.runs import Console

    with _TableProgress(enabled=True) as bar:
        bar.update("afslag", 500, 1000)
        bar.update("afslag", 1000, 1000)
        bar.update("skole", 0, 0)
    console = Console(_sys.stdout, _sys.stderr, live=True, verbose=False)
    console.doing("release 2026-10: cube_afslaars")
    console.line("  cube_afslaars   1.0 s  37,560 cells")  # printed above the live line
    console.doing(None)
    captured = capsys.readouterr()
    assert "afslag" in captured.err and "cube_afslaars" in captured.err
    # the event log reaches the console only with --verbose
    for verbose in (False, True):
        Console(_sys.stdout, _sys.stderr, live=False, verbose=verbose).event_line("STEP_START x")
        assert ("STEP_START x" in capsys.readouterr().err) is verbose


def test_damaged_release_file_is_reported_not_a_traceback(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home / "releases", copy / "releases", symlinks=True)
    (copy / "releases" / RELEASES[0] / "EUD_AFSL_AFSLAARS" / "cells.parquet").write_bytes(b"x")
    p = lpstat("sql", "SELECT 1", home=copy)
    assert p.returncode == FAILED
    assert "cannot build" in p.stderr and "analyse.duckdb" in p.stderr
    no_traceback(p)


def test_a_release_newer_than_the_analysis_db_is_picked_up(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home / "releases", copy / "releases", symlinks=True)
    assert lpstat("releases", home=copy).returncode == OK  # builds analyse.duckdb
    new = copy / "releases" / "2026-11"
    shutil.copytree(copy / "releases" / RELEASES[-1], new)
    manifest = json.loads((new / "manifest.json").read_text("utf-8"))
    (new / "manifest.json").write_text(json.dumps({**manifest, "udgivelse": "2026-11"}))
    p = lpstat("releases", "--json", home=copy)
    assert p.returncode == OK, p.stderr
    assert [r["udgivelse"] for r in json.loads(p.stdout)] == [*RELEASES, "2026-11"]


def test_an_analysis_db_with_older_views_is_rebuilt(home, tmp_path):
    """An analyse.duckdb built by an lpstat before the informationstab view (and the
    releases view's column) is rebuilt, not queried for what it lacks."""
    import duckdb

    copy = tmp_path / "home"
    shutil.copytree(home / "releases", copy / "releases", symlinks=True)
    assert lpstat("releases", home=copy).returncode == OK  # builds analyse.duckdb
    con = duckdb.connect(str(copy / "analyse.duckdb"))
    try:
        con.execute("DROP VIEW informationstab")
        con.execute("COMMENT ON VIEW releases IS NULL")
    finally:
        con.close()
    p = lpstat("releases", home=copy)
    assert p.returncode == OK, p.stderr
    assert "withheld cells, share" in p.stdout
    p = lpstat("sql", "SELECT count(*) AS n FROM informationstab", "--json", home=copy)
    assert p.returncode == OK, p.stderr
    assert json.loads(p.stdout) == [{"n": 0}]


def test_a_moved_home_keeps_sql_and_releases_working(home, tmp_path):
    """Issue 19: analyse.duckdb refers to the releases relative to LPSTAT_HOME, so copying or
    moving the home (analyse.duckdb with it) needs no rebuild."""
    first = tmp_path / "first"
    shutil.copytree(home / "releases", first / "releases", symlinks=True)
    assert lpstat("releases", home=first).returncode == OK  # builds analyse.duckdb there
    moved = tmp_path / "moved"
    first.rename(moved)
    built = (moved / "analyse.duckdb").stat().st_mtime_ns
    p = lpstat("releases", "--json", home=moved)
    assert p.returncode == OK, p.stderr
    assert [r["udgivelse"] for r in json.loads(p.stdout)] == list(RELEASES)
    p = lpstat("sql", "SELECT count(*) AS n FROM afslaars_celler", "--json", home=moved)
    assert p.returncode == OK, p.stderr
    assert json.loads(p.stdout)[0]["n"] > 0
    assert (moved / "analyse.duckdb").stat().st_mtime_ns == built  # not rebuilt
    assert str(first).encode() not in (moved / "analyse.duckdb").read_bytes()


def _next_month() -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Europe/Copenhagen"))
    return f"{now.year + (now.month == 12):04d}-{now.month % 12 + 1:02d}"


@pytest.mark.parametrize("month", ["current", "next", "2099-03"])
def test_a_month_not_over_yet_is_a_usage_error(month, tmp_path):
    """Issue 19: was "unexpected error: DagsterUnknownPartitionError ... please report it"."""
    from transforms.calendar import Release

    month = {"current": str(Release.parse(_next_month()).previous()),
             "next": _next_month()}.get(month, month)
    p = lpstat("run", "--release", month, home=tmp_path, timeout=30)
    assert p.returncode == USAGE, p.stderr
    assert "is not over yet" in p.stderr and "unexpected" not in p.stderr
    no_traceback(p)


@pytest.mark.parametrize("case", ["unreachable", "memory", "home_under_file", "store_is_folder"])
def test_configuration_errors_are_one_clear_line_and_quick(case, tmp_path):
    """Issue 19: an unreachable store took 89 s and 357 lines; a bad memory limit or home
    was retried for a minute; a folder as the store said "failed to allocate memory"; and a
    password in the URL was printed."""
    import time

    (tmp_path / "a-file").write_text("x")
    env = {"LPSTAT_PSEUDONYM_KEY": "k",
           "LPSTAT_SOURCE_URL": "postgresql://lpstat@127.0.0.1:9/db?password=sekret123"}
    home = tmp_path / "home"
    expected = {"unreachable": (FAILED, "Cannot connect to the store"),
                "memory": (USAGE, "LPSTAT_DUCKDB_MEMORY_LIMIT"),
                "home_under_file": (USAGE, "is a file"),
                "store_is_folder": (FAILED, "is a folder")}[case]
    if case == "memory":
        env["LPSTAT_DUCKDB_MEMORY_LIMIT"] = "lots"
    elif case == "home_under_file":
        env["LPSTAT_HOME"] = str(tmp_path / "a-file" / "home")
    elif case == "store_is_folder":
        env["LPSTAT_SOURCE_URL"] = f"sqlite:///{tmp_path}"
    start = time.monotonic()
    p = lpstat("run", "--release", "2026-10", home=home, env=env, timeout=60)
    assert time.monotonic() - start < 20
    assert p.returncode == expected[0], p.stderr
    assert expected[1] in p.stderr
    assert "sekret123" not in p.stderr + p.stdout
    assert len(p.stderr.strip().splitlines()) <= 3, p.stderr
    no_traceback(p)
