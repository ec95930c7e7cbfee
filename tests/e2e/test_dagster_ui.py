"""The Dagster UI over the project: a real `dagster-webserver` on the project's
workspace.yaml, with DAGSTER_HOME in a temporary LPSTAT_HOME (pipelines/instance.py) where
two releases were first built from the command line (as `lpstat demo` builds them).

1. the webserver's GraphQL API lists every asset in its layer group, the partitioned
   release assets, the schedule and the failure sensor (no browser needed);
2. it shows the two command-line runs, the release partitions materialized and the audit
   check results (issue 20: every run in the one instance);
3. headless Chromium loads the asset graph page and the rendered page shows the groups and
   the assets, and the Runs page lists both runs (skipped with a reason when no Chromium is
   installed).

Disclosure control is the primary-only stand-in while the releases are built (tests/conftest.py).

The server is stopped (its whole process group) at the end of the module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"ingest", "warehouse", "cubes", "disclosure", "release"}
PARTITIONED = {"status_perioder", "elevbestand", "cube_afslaars", "cube_frafvurd",
               "cube_frafafbrud", "beskyttede_celler", "udgivelse"}
CHROMIUM = next((p for p in (os.environ.get("LPSTAT_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome"))
                 if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=2400,3000"]  # tall enough that the graphs draw every node
START_TIMEOUT = 150
RELEASES = ("2026-09", "2026-10")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str) -> dict:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body["errors"]
    return body["data"]


LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    from pipelines.instance import ensure_instance

    from demo.generate import generate
    from pipelines.cli import materialize
    from tests.standins import disclosure_methods
    from transforms.settings import load_settings

    tmp = tmp_path_factory.mktemp("dagster-ui")
    home = tmp / "lpstat-home"
    env = dict(os.environ)
    env.pop("LPSTAT_DAGSTER_PG_URL", None)
    store = tmp / "laerepladsen.sqlite"
    generate(store, scale="small", seed=4)
    settings = load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                              "LPSTAT_PSEUDONYM_KEY": "ui-test-key"})
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LPSTAT_DAGSTER_PG_URL", raising=False)
        for i, release in enumerate(RELEASES):
            assert materialize(settings, release, with_ingest=(i == 0), progress=False,
                               resources={"disclosure": disclosure_methods()})
    env.update({"DAGSTER_HOME": str(ensure_instance(home)), "LPSTAT_HOME": str(home),
                "PYTHONPATH": str(ROOT)})
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        loaded = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("dagster-webserver exited:\n"
                            + (tmp / "webserver.log").read_text(errors="replace")[-3000:])
            try:
                entries = graphql(base, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    loaded = entries
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(1)
        if loaded is None:
            pytest.fail(f"dagster-webserver did not load the workspace in {START_TIMEOUT} s:\n"
                        + (tmp / "webserver.log").read_text(errors="replace")[-3000:])
        for entry in loaded:
            assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_graphql_lists_groups_assets_schedule_and_sensor(webserver):
    from pipelines.definitions import defs

    data = graphql(webserver, """
      { assetNodes { assetKey { path } groupName isPartitioned description owners {
          ... on TeamAssetOwner { team } } kinds } }""")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    expected = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert set(nodes) == expected
    assert {n["groupName"] for n in nodes.values()} == GROUPS
    assert {k for k, n in nodes.items() if n["isPartitioned"]} == PARTITIONED
    assert all(n["description"] and n["kinds"] for n in nodes.values())
    assert all(n["owners"] == [{"team": "lpstat"}] for n in nodes.values())
    assert nodes["raw_afslag"]["groupName"] == "ingest"
    assert nodes["fct_afslag"]["groupName"] == "warehouse"
    assert nodes["udgivelse"]["groupName"] == "release"

    repos = graphql(webserver, """
      { workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
          ... on RepositoryLocation { repositories {
            schedules { name cronSchedule executionTimezone pipelineName }
            sensors { name sensorType } } } } } } } }""")
    [entry] = repos["workspaceOrError"]["locationEntries"]
    [repo] = entry["locationOrLoadError"]["repositories"]
    assert repo["schedules"] == [{"name": "monthly_release_schedule", "cronSchedule": "0 6 15 * *",
                                  "executionTimezone": "Europe/Copenhagen",
                                  "pipelineName": "monthly_release"}]
    assert {"name": "release_failure_sensor", "sensorType": "RUN_STATUS"} in repo["sensors"]


def _dump_dom(url: str, tmp_path: Path) -> str:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=30000",
           "--dump-dom", url]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode("utf-8", errors="replace")


def _shown_names(dom: str) -> tuple[str, list[str]]:
    """The page's visible text, and the labels on it (asset names; long names are drawn
    shortened with an ellipsis in the middle, with the full name in a title attribute)."""
    titles = re.findall(r'title="([^"]+)"', dom)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.DOTALL)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    return text, titles + text.split()


def _drawn(asset: str, labels: list[str]) -> bool:
    for label in labels:
        if label == asset:
            return True
        if "…" in label:
            head, _, tail = label.partition("…")
            if head and asset.startswith(head) and asset.endswith(tail):
                return True
    return False


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                    "'chromium'; or set LPSTAT_CHROMIUM)")
def test_asset_graph_pages_show_groups_and_assets(webserver, tmp_path):
    from pipelines.definitions import defs

    [location] = [e["name"] for e in graphql(webserver, LOCATION_STATUS)["workspaceOrError"]
                  ["locationEntries"]]
    # the global lineage: one box per layer
    text, _ = _shown_names(_dump_dom(f"{webserver}/asset-groups", tmp_path))
    assert "Global asset lineage" in text, text[:2000]
    assert [g for g in sorted(GROUPS) if f"{g} {g}" not in text] == [], text[:2000]
    # group graphs that between them draw every asset (a group's graph also draws its
    # neighbours)
    expected = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    labels: list[str] = []
    for group in ("ingest", "warehouse", "cubes", "disclosure"):
        dom = _dump_dom(f"{webserver}/locations/{location}/asset-groups/{group}", tmp_path)
        text, names = _shown_names(dom)
        assert f"{group} Asset Group in {location}" in text, text[:2000]
        labels += names
    assert [a for a in expected if not _drawn(a, labels)] == []
    # partitioned release assets show their partitions; kinds are drawn as tags
    assert re.search(r"beskyttede_celler .{0,200}\d+ partitions DuckDB Python", text), text[:3000]


RUNS = """
{ runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }
"""


def _runs(base: str) -> list[dict]:
    runs = graphql(base, RUNS)["runsOrError"]["results"]
    for r in runs:
        r["tags"] = {t["key"]: t["value"] for t in r["tags"]}
    return sorted(runs, key=lambda r: r["tags"].get("dagster/partition", ""))


def test_graphql_shows_the_command_line_runs_partitions_and_checks(webserver):
    runs = _runs(webserver)
    assert [(r["jobName"], r["status"], r["tags"]["dagster/partition"]) for r in runs] == [
        ("monthly_release", "SUCCESS", m) for m in RELEASES]
    assert all(r["tags"]["lpstat/command"].startswith("lpstat run") for r in runs)
    data = graphql(webserver, """
      { assetNodeOrError(assetKey: {path: ["udgivelse"]}) { ... on AssetNode {
          partitionStats { numMaterialized numPartitions }
          assetMaterializations { partition runId }
          assetChecksOrError { ... on AssetChecks { checks { name
              executionForLatestMaterialization { status runId } } } } } } }""")
    node = data["assetNodeOrError"]
    assert node["partitionStats"]["numMaterialized"] == 2
    assert sorted(m["partition"] for m in node["assetMaterializations"]) == list(RELEASES)
    checks = {c["name"]: c["executionForLatestMaterialization"]
              for c in node["assetChecksOrError"]["checks"]}
    assert checks["audit_passed"]["status"] == "SUCCEEDED"
    assert checks["audit_passed"]["runId"] == runs[-1]["runId"]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package "
                    "'chromium'; or set LPSTAT_CHROMIUM)")
def test_runs_page_lists_the_command_line_runs(webserver, tmp_path):
    runs = _runs(webserver)
    text, _ = _shown_names(_dump_dom(f"{webserver}/runs", tmp_path))
    assert "monthly_release" in text, text[:2000]
    for run in runs:
        assert run["runId"][:8] in text, (run["runId"], text[:3000])
    for release in RELEASES:
        assert release in text, text[:3000]
