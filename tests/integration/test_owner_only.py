"""Issue 19, item 4: every file and folder lpstat creates under LPSTAT_HOME is owner-only from
its first byte, DuckDB's WAL and spill files included.

``lpstat run`` runs in a subprocess started with the permissive umask 022, as from a login
shell; meanwhile the test lists the home every few milliseconds and records the mode of every
file and folder the moment it sees it (the WAL exists only while landing and building).

The release is an early month, 2021-09: the run lands the whole store as any first run does,
but its cubes and their disclosure control (real, no stand-in) cover only the months up to
its cut-off, so a late month costs minutes more for the same files, folders and WAL (every cube's folder is written, the stock cubes' empty).
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.demo_store import small_store_at

LPSTAT = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "lpstat"
RELEASE = "2021-09"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    return small_store_at(tmp_path_factory.mktemp("store") / "store.sqlite", seed=7)


def _modes(home: Path, seen: dict[str, int]) -> None:
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            p = os.path.join(root, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:  # gone meanwhile
                continue
            if not stat.S_ISLNK(st.st_mode):
                seen.setdefault(os.path.relpath(p, home), stat.S_IMODE(st.st_mode))


def test_nothing_under_the_home_is_readable_by_others_during_a_run(small_store, tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LPSTAT_")}
    env.update(LPSTAT_HOME=str(home), LPSTAT_SOURCE_URL=f"sqlite:///{small_store}",
               LPSTAT_PSEUDONYM_KEY="k")
    proc = subprocess.Popen([str(LPSTAT), "run", "--release", RELEASE], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: os.umask(0o022))
    seen: dict[str, int] = {}
    while proc.poll() is None:
        if home.exists():
            seen.setdefault(".", stat.S_IMODE(home.stat().st_mode))
            _modes(home, seen)
        time.sleep(0.005)
    err = proc.stderr.read().decode()
    assert proc.returncode == 0, err[-2000:]
    _modes(home, seen)
    assert "warehouse.duckdb.wal" in seen  # the listing did catch the run at work
    assert "analyse.duckdb" in seen and any(p.endswith("cells.parquet") for p in seen)
    assert (home / "releases" / RELEASE / "manifest.json").exists()
    open_to_others = {p: oct(m) for p, m in seen.items() if m & 0o077}
    assert not open_to_others
