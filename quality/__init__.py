"""Data quality: pure rule functions (:mod:`quality.rules`), Great Expectations suites declared
in code (:mod:`quality.suites`) and the one module that imports GX (:mod:`quality.gx`).
``pipelines/checks.py`` wraps them as Dagster asset checks. See quality/README.md."""

from pathlib import Path


def docs_dir(home: Path | str, release: str | None) -> Path:
    """Where a run's GX Data Docs go: beside the release, never inside its folder (which must
    stay byte-identical across builds)."""
    return Path(home) / "quality" / (release or "uden-udgivelse") / "data_docs"
