"""The release layout: current versions, replaced versions, temporary folders."""

from pathlib import Path

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
