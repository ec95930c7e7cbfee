"""The release layout: current versions, replaced versions, temporary folders."""

import os
from pathlib import Path

import pytest

from transforms.publish import layout


def _release(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    return folder


def test_versions_and_legacy_folders(tmp_path):
    rel = tmp_path / "releases"
    _release(rel / "2026-08")                       # a legacy real folder: version 0
    v1 = _release(rel / "versions" / "2026-09.1")
    v2 = _release(rel / "versions" / "2026-09.2")
    (rel / "2026-09").symlink_to(Path("versions") / "2026-09.2")
    (rel / "versions" / "2026-10.1").mkdir()        # incomplete: no manifest
    _release(rel / ".tmp-2026-10-123")              # temporary
    (rel / "latest").symlink_to("2026-09")

    assert layout.complete_releases(rel) == ["2026-08", "2026-09"]
    assert layout.latest(rel) == "2026-09"
    assert layout.release_path(rel, "2026-09") == v2.resolve()
    assert layout.release_path(rel, "2026-10") is None
    got = [(m, n, p.name) for m, n, p in layout.published_versions(rel)]
    assert got == [("2026-08", 0, "2026-08"), ("2026-09", 1, v1.name), ("2026-09", 2, v2.name)]


def test_empty_home(tmp_path):
    assert layout.complete_releases(tmp_path / "nope") == []
    assert layout.published_versions(tmp_path / "nope") == []
    assert layout.latest(tmp_path) is None


def _built(rel: Path, name: str, audit: dict, data: bytes = b"x;1\n") -> Path:
    """A release folder as write_release leaves it: files and a manifest of their sha256."""
    import json

    tmp = rel / name
    (tmp / "EUD_X").mkdir(parents=True)
    (tmp / "EUD_X" / "cells.csv").write_bytes(data)
    (tmp / "audit.json").write_text(json.dumps(audit, sort_keys=True))
    files = {p.relative_to(tmp).as_posix(): layout.sha256_file(p)
             for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / "manifest.json").write_text(json.dumps({"udgivelse": "2026-10", "filer": files}))
    return tmp


def test_a_rebuild_that_differs_only_in_the_series_block_adds_no_version(tmp_path):
    """A re-run's series audit also covers the version it would replace, so the ``serie``
    blocks of its audit.json differ from the first run's, and so may the values' inner
    bounds (they depend on the points its search found): no version is added. Any other
    difference (a data file, a verdict, the release's own counts) adds one."""
    from transforms.publish.release import publish_folder

    rel = tmp_path / "releases"
    rel.mkdir()
    own = {"verdict": "bestået", "withheld": 3}

    def audit(versions, withheld=3, lo=4, exact=True, ok=True):
        cell = {"gruppering": "[G]", "statusdato": None, "members": {"g": "a"},
                "measure": "antal", "lo": lo, "hi": 9, "lo_bound": 2, "hi_bound": 9,
                "exact": exact, "ok": ok}
        return {"udgivelse": "2026-10", "verdict": "bestået", "cubes": {"X": {
            **own, "withheld": withheld, "exact": int(exact), "cells": [cell],
            "serie": {"verdict": "bestået", "versions": versions}}}}

    publish_folder(rel, "2026-10", _built(rel, ".tmp-1", audit(["2026-10 (denne)"])))
    assert layout.version_numbers(rel) == [("2026-10", 1)]
    again = _built(rel, ".tmp-2", audit(["2026-10", "2026-10 (denne)"]))
    publish_folder(rel, "2026-10", again)
    assert layout.version_numbers(rel) == [("2026-10", 1)]  # kept, nothing added
    assert not again.exists()
    assert (rel / "2026-10" / "audit.json").read_text() == \
        (rel / "versions" / "2026-10.1" / "audit.json").read_text()
    assert "(denne)" in (rel / "2026-10" / "audit.json").read_text()
    # other inner bounds of the same values (the search found other points): the same
    publish_folder(rel, "2026-10", _built(rel, ".tmp-b", audit(["2026-10"], lo=3, exact=False)))
    assert layout.version_numbers(rel) == [("2026-10", 1)]
    # another verdict of a value: a new version
    publish_folder(rel, "2026-10", _built(rel, ".tmp-v", audit(["2026-10"], ok=False)))
    assert layout.version_numbers(rel) == [("2026-10", 1), ("2026-10", 2)]
    publish_folder(rel, "2026-10", _built(rel, ".tmp-3", audit(["2026-10"], withheld=4)))
    assert layout.version_numbers(rel)[-1] == ("2026-10", 3)
    publish_folder(rel, "2026-10", _built(rel, ".tmp-4", audit(["2026-10"], withheld=4),
                                          data=b"x;2\n"))
    assert layout.version_numbers(rel)[-1] == ("2026-10", 4)
    assert os.readlink(rel / "2026-10") == "versions/2026-10.4"


def test_a_forked_write_is_waited_for_and_its_failure_raised(tmp_path):
    """write_release writes the workbooks in a forked process (ForkedCall): wait() returns
    once the file is there, a failure in the child is raised with its traceback, a child
    that dies without a word is raised with its exit code, cancel() stops one."""
    import os
    import signal
    import time

    from transforms.forked import ForkedCall

    def write(path, text):
        time.sleep(0.2)
        path.write_text(text)

    target = tmp_path / "book.txt"
    call = ForkedCall(write, target, "indhold")
    call.wait()
    assert target.read_text() == "indhold"

    def fails():
        raise ValueError("kan ikke skrive")

    with pytest.raises(RuntimeError, match="ValueError: kan ikke skrive"):
        ForkedCall(fails).wait()

    def dies():
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(RuntimeError, match="exit code -9"):
        ForkedCall(dies).wait()

    slow = ForkedCall(write, tmp_path / "late.txt", "for sent")
    slow.cancel()
    time.sleep(0.4)
    assert not (tmp_path / "late.txt").exists()
