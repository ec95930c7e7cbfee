"""Issue 19, item 3: a release once published never disappears, whatever instant a writer dies.

A subprocess runs the real ``write_release`` over real files and SIGKILLs itself at the n-th
``os.rename`` / ``os.replace`` (n = 1, 2, ... until a run gets through): the exact instants
between the writer's renames. After every kill the month's release and ``latest`` must name
complete folders, as ``transforms.publish.layout`` and the API's release store see them; the
next write removes what the killed writer left, and every version stays on record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from serving.releases import ReleaseStore
from tests.integration.release_fixture import write_release_home
from transforms.publish import layout

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "2026-10"

#: writes the release from the fixture cells with small stand-in format writers, and kills
#: itself (SIGKILL, no cleanup of any kind) at the KILL_AT-th rename/replace
_WRITER = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime, timezone
    from pathlib import Path
    import pyarrow.parquet as pq
    from transforms.catalog import CUBES
    from transforms.publish import release as r

    cells_home, home, tag, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    calls = [0]
    def killing(real):
        def f(*a, **k):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a, **k)
        return f
    os.rename, os.replace = killing(os.rename), killing(os.replace)

    class W:
        def write_view_csv(self, path, cube, view, cells): path.write_text(view.name + tag)
        def write_xlsx(self, path, cube, cells, release, cutoff): path.write_bytes(b"x")
        def write_report(self, path, release, cutoff, cubes, previous, informationstab):
            path.write_text(tag)
        def write_dcat(self, path, release, cutoff, files, first): path.write_text("dcat")

    cubes = [r.CubeRelease(c, pq.read_table(cells_home / "releases" / "2026-10" / c.id
                                            / "cells.parquet").to_pandas())
             for c in CUBES.values()]
    r.write_release(home / "releases", "2026-10", datetime(2026, 11, 1, tzinfo=timezone.utc),
                    cubes, {"tag": tag}, {"verdict": "bestået"}, W(), None)
    print("calls", calls[0])
""")


def _write(cells_home: Path, home: Path, tag: str, kill_at: int = 0) -> bool:
    """Run the writer; True if it got through, False if it was killed."""
    p = subprocess.run([sys.executable, "-c", _WRITER, str(cells_home), str(home), tag,
                        str(kill_at)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if p.returncode == -9:
        return False
    assert p.returncode == 0, p.stderr
    return True


def _check_published(home: Path, tags: set[str]) -> str:
    """The month and latest name complete releases (layout, API); returns the month's tag."""
    rel = home / "releases"
    assert RELEASE in layout.complete_releases(rel), sorted(os.listdir(rel))
    assert layout.latest(rel) == RELEASE
    assert (rel / "latest" / "manifest.json").is_file(), os.readlink(rel / "latest")
    store = ReleaseStore(home, check_interval=0)
    assert RELEASE in store.months() and store.latest() == RELEASE
    manifest = json.loads((rel / RELEASE / "manifest.json").read_text("utf-8"))
    for name, digest in manifest["filer"].items():
        assert layout.sha256_file(rel / RELEASE / name) == digest, name
    assert manifest.get("tag", "legacy") in tags
    return manifest.get("tag", "legacy")


def _kill_at_each_instant(cells_home: Path, home: Path, tag: str, tags: set[str]) -> int:
    """Write ``tag``, killed at the 1st, 2nd, ... rename until a write gets through; after
    every kill what is published is whole. Returns the number of the last (unkilled) try."""
    kill_at = 0
    while True:
        kill_at += 1
        done = _write(cells_home, home, tag, kill_at)
        _check_published(home, tags)
        if done:
            return kill_at
        assert kill_at < 20


@pytest.fixture(scope="module")
def cells_home(tmp_path_factory) -> Path:
    return write_release_home(tmp_path_factory.mktemp("cells"))


def _legacy_home(cells_home: Path, home: Path) -> Path:
    """A home from before versions existed: a real folder per month, ``latest`` -> month."""
    return write_release_home(home)


def test_a_kill_at_every_rename_never_hides_the_release(cells_home, tmp_path):
    # 1. replacing a legacy real folder, killed at each rename in turn
    home = _legacy_home(cells_home, tmp_path / "home")
    kill_at = _kill_at_each_instant(cells_home, home, "a", {"legacy", "a"})
    assert kill_at > 2  # the writer renames several times; each instant was tried
    rel = home / "releases"
    assert (rel / RELEASE).is_symlink()
    assert _check_published(home, {"a"}) == "a"
    # the replaced legacy folder stays on record as version 0; leftovers are gone
    versions = [(m, n) for m, n, _ in layout.published_versions(rel) if m == RELEASE]
    assert versions == [(RELEASE, 0), (RELEASE, 1)]
    assert not [p for p in os.listdir(rel) if p.startswith(".")]

    # 2. a re-run that changes the month: killed at each instant, the old version shows
    _kill_at_each_instant(cells_home, home, "b", {"a", "b"})
    assert _check_published(home, {"b"}) == "b"
    versions = [(m, n) for m, n, _ in layout.published_versions(rel) if m == RELEASE]
    assert versions == [(RELEASE, 0), (RELEASE, 1), (RELEASE, 2)]
    for _, _, folder in layout.published_versions(rel):  # every version matches its manifest
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        for name, digest in manifest.get("filer", {}).items():
            assert layout.sha256_file(folder / name) == digest
    assert not [p for p in os.listdir(rel) if p.startswith(".")]

    # 3. a re-run with byte-identical output adds no version
    assert _write(cells_home, home, "b")
    assert [n for m, n, _ in layout.published_versions(rel) if m == RELEASE] == [0, 1, 2]


def test_leftovers_of_the_old_writer_are_recovered(cells_home, tmp_path):
    """The state the old writer left when killed between its two renames: the month gone,
    the published data in ``.old-…`` and the new in ``.tmp-…``. The next write keeps the old
    one on record, and publishes."""
    home = _legacy_home(cells_home, tmp_path / "home")
    rel = home / "releases"
    os.rename(rel / RELEASE, rel / f".old-{RELEASE}-999999999")
    (rel / f".tmp-{RELEASE}-999999999").mkdir()
    assert _write(cells_home, home, "a")
    assert _check_published(home, {"a"}) == "a"
    assert [n for m, n, _ in layout.published_versions(rel) if m == RELEASE] == [0, 1]
    assert not [p for p in os.listdir(rel) if p.startswith(".")]
