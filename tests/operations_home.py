"""What the operations tests (tests/integration/test_operations.py, test_runs.py) build on:
the small demo store (seed 5) read with a non-demo pseudonym key, and its settings."""

from __future__ import annotations

from pathlib import Path

from transforms.settings import load_settings

KEY = "operations-test-key"


def small_store_at(path: Path) -> Path:
    """The small demo store (seed 5) written to ``path``."""
    from demo.generate import generate

    generate(path, scale="small", seed=5)
    return path


def settings_for(home: Path, store: Path):
    """lpstat's settings for ``home`` over the SQLite ``store``, with the test key."""
    return load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                          "LPSTAT_PSEUDONYM_KEY": KEY})
