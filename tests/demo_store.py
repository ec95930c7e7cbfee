"""Small demo stores for the integration tests, and the settings the operations tests
(tests/integration/test_operations.py, test_runs.py) read them with: a non-demo pseudonym
key."""

from __future__ import annotations

from pathlib import Path

from transforms.settings import load_settings

KEY = "operations-test-key"


def small_store_at(path: Path, seed: int = 5) -> Path:
    """The small demo store (``seed``; the operations tests use 5) written to ``path``."""
    from demo.generate import generate

    generate(path, scale="small", seed=seed)
    return path


def settings_for(home: Path, store: Path):
    """lpstat's settings for ``home`` over the SQLite ``store``, with the test key."""
    return load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                          "LPSTAT_PSEUDONYM_KEY": KEY})
