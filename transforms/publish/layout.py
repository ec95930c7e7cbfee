"""Where a release lives on disk, and which releases are complete (no pandas: light to import).

The layout (publication contract, section 4 and 3.7)::

    releases/<YYYY-MM>                 the month's current version: a symlink to
                                       versions/<YYYY-MM>.<n> (in a home written before
                                       versions existed, a real folder: version 0)
    releases/versions/<YYYY-MM>.<n>/   every version ever published (n = 1, 2, ...), never
                                       rewritten; a re-run that changes a published month adds
                                       a version and moves the month's symlink to it
    releases/latest                    points at the newest complete release

A folder is complete when it holds ``manifest.json`` (the writer writes it last, then
renames the folder into place). Names that start with ``.`` are temporary (``.tmp-*``,
``.old-*``, ``.latest-*``); the next write removes those of a crashed writer
(``transforms.publish.release.remove_stale``).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from transforms.calendar import PATTERN, is_release

MANIFEST = "manifest.json"
#: the release's disclosure audit (contract section 4)
AUDIT = "audit.json"
VERSIONS = "versions"
LATEST = "latest"
_VERSION = re.compile(rf"({PATTERN})\.(\d+)")


def parse_version(name: str) -> tuple[str, int] | None:
    """``"2026-10.2"`` (a folder under ``versions/``) → ``("2026-10", 2)``; None for any
    other name."""
    m = _VERSION.fullmatch(name)
    return (m.group(1), int(m.group(2))) if m else None


def is_complete(folder: Path) -> bool:
    return folder.is_dir() and (folder / MANIFEST).is_file()


def complete_releases(releases_dir: Path) -> list[str]:
    """Release months whose current version is complete, oldest first."""
    if not releases_dir.is_dir():
        return []
    return sorted(p.name for p in releases_dir.iterdir()
                  if is_release(p.name) and is_complete(p))


def release_path(releases_dir: Path, month: str) -> Path | None:
    """The folder of the month's current version (symlinks resolved), or None."""
    p = releases_dir / month
    return p.resolve() if is_release(month) and is_complete(p) else None


def latest(releases_dir: Path) -> str | None:
    done = complete_releases(releases_dir)
    return done[-1] if done else None


def published_versions(releases_dir: Path) -> list[tuple[str, int, Path]]:
    """Every complete version ever published: (month, version, folder), oldest first.

    Replaced versions stay public (what was published once stays public), so the series
    audit reads all of them. A month's real folder from before versions existed is version 0.
    """
    out: dict[Path, tuple[str, int, Path]] = {}
    if not releases_dir.is_dir():
        return []
    vdir = releases_dir / VERSIONS
    if vdir.is_dir():
        for p in vdir.iterdir():
            version = parse_version(p.name)
            if version and not p.is_symlink() and is_complete(p):
                out[p.resolve()] = (*version, p.resolve())
    for p in releases_dir.iterdir():
        if is_release(p.name) and not p.is_symlink() and is_complete(p):
            out.setdefault(p.resolve(), (p.name, 0, p.resolve()))
    return sorted(out.values(), key=lambda t: (t[0], t[1]))


def version_numbers(releases_dir: Path) -> list[tuple[str, int]]:
    """(month, n) of every entry under ``versions/``, complete or not (the writer numbers a
    new version past all of them)."""
    vdir = releases_dir / VERSIONS
    if not vdir.is_dir():
        return []
    return sorted(v for v in map(parse_version, os.listdir(vdir)) if v)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
