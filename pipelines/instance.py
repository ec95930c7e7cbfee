"""The Dagster instance: where runs, events, schedule ticks and sensor cursors are stored.

By default everything lives in SQLite files under ``<LPSTAT_HOME>/dagster`` (that folder is
``DAGSTER_HOME``). With ``LPSTAT_DAGSTER_PG_URL`` set
(``postgresql://user:password@host:5432/db``), run, event-log and schedule storage go to that
PostgreSQL database instead (needs the ``dagster-postgres`` package; the URL is written for
its psycopg2 driver); the instance's tables are created on first use.

``ensure_instance`` writes ``dagster.yaml`` and returns the folder to use as DAGSTER_HOME::

    export DAGSTER_HOME=$(.venv/bin/python -m pipelines.instance)
    .venv/bin/dagster dev -w workspace.yaml

The file also fixes what every lpstat instance needs, whatever the storage:

- ``run_queue.max_concurrent_runs: 1``: the warehouse is one DuckDB file that takes one
  writer at a time, so queued runs (a backfill launched from the UI, a schedule tick during
  a manual run) run one after another, in the order they were queued;
- ``run_retries``: a run whose worker died (machine restart, out of memory) is started once
  more; a step that fails is retried by its own RetryPolicy instead (extract_source);
- telemetry off: nothing about the runs leaves the machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from transforms.settings import DAGSTER_PG_URL_ENV as PG_URL_ENV
from transforms.settings import dagster_pg_url, home_dir

_COMMON = """\
run_queue:
  # One DuckDB warehouse, one writer: queued runs go one at a time, oldest first.
  max_concurrent_runs: 1
run_retries:
  # A run whose worker died is started once more; failing steps use their RetryPolicy.
  enabled: true
  max_retries: 1
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
nux:
  enabled: false
"""


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    import json

    return json.dumps(value)


def sqlalchemy_url(url: str) -> str:
    """The URL with the driver dagster-postgres is written for (psycopg2): SQLAlchemy 2.1
    reads a bare ``postgresql://`` as psycopg 3, which dagster-postgres' SQL does not suit."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare):]
    return url


def instance_yaml(dagster_home: Path, postgres_url: str | None = None) -> str:
    """The text of dagster.yaml for an instance in ``dagster_home``."""
    head = ("# Written by lpstat (pipelines/instance.py); rewritten whenever it differs.\n"
            "# Edit the settings (LPSTAT_HOME, LPSTAT_DAGSTER_PG_URL) instead of this file.\n")
    artifacts = (
        "local_artifact_storage:\n"
        "  module: dagster._core.storage.root\n"
        "  class: LocalArtifactStorage\n"
        "  config:\n"
        f"    base_dir: {_yaml_str(str(dagster_home))}\n")
    if postgres_url:
        storage = ("storage:\n  postgres:\n"
                   f"    postgres_url: {_yaml_str(sqlalchemy_url(postgres_url))}\n")
    else:
        storage = ("storage:\n  sqlite:\n"
                   f"    base_dir: {_yaml_str(str(dagster_home / 'storage'))}\n")
    return head + storage + artifacts + _COMMON


def ensure_instance(home: str | os.PathLike, postgres_url: str | None = None) -> Path:
    """Write ``<home>/dagster/dagster.yaml`` (if it differs) and return that folder, the
    DAGSTER_HOME to use.

    PostgreSQL storage at ``postgres_url`` or, when that is not given, at
    ``LPSTAT_DAGSTER_PG_URL`` if set; SQLite under the folder otherwise. The URL (it may
    carry a password) is written into the file, which only its owner can read, like the
    warehouse beside it; call this again after changing the setting (every lpstat command
    that uses the instance does).
    """
    dagster_home = (Path(home) / "dagster").resolve()
    if postgres_url is None:
        postgres_url = dagster_pg_url()
    if postgres_url:
        _require_dagster_postgres()
    text = instance_yaml(dagster_home, postgres_url)
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        tmp = dagster_home / f".dagster.yaml.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    return dagster_home


def open_instance(home: str | os.PathLike, postgres_url: str | None = None):
    """The persistent Dagster instance for ``home`` (see :func:`ensure_instance`)."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(ensure_instance(home, postgres_url)))


def _require_dagster_postgres() -> None:
    try:
        import dagster_postgres  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            f"PostgreSQL storage for Dagster ({PG_URL_ENV}) needs the package "
            "dagster-postgres: run `.venv/bin/pip install -e .` (it is a dependency of "
            f"lpstat), or unset {PG_URL_ENV} to keep the SQLite storage.") from exc


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.instance [HOME]``: write dagster.yaml, print DAGSTER_HOME."""
    argv = sys.argv[1:] if argv is None else argv
    home = argv[0] if argv else home_dir()
    try:
        print(ensure_instance(home))
    except RuntimeError as exc:
        print(f"lpstat: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
