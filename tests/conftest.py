"""Shared fixtures. PostgreSQL tests use the real server on 127.0.0.1:5432 (or
LPSTAT_TEST_POSTGRES_URL) and are skipped, saying why, where it does not answer.

`make test` runs the suite on every core with pytest-xdist, a module per worker
(``--dist loadfile``: module fixtures are built once). The modules that take longest are
collected first, so that no worker starts one of them at the end while the others idle;
``--no-loadscope-reorder`` keeps that order (xdist would otherwise hand out the modules with
the most tests first, and the one-test bench harness, 150-230 s, last)."""

from __future__ import annotations

import os
import uuid

import pytest

#: the slowest modules, slowest first (`pytest --durations`, session 9: the bench harness
#: 210 s, the instance runs 40-60 s per test, the pipeline and series modules' fixtures 40-65 s)
SLOW_FIRST = ("test_bench_smoke.py", "test_runs.py", "test_pipeline.py",
              "test_series_disclosure.py", "test_dagster_ui.py", "test_postgres_pipeline.py",
              "test_operations.py", "test_disclosure_real.py", "test_quality_checks.py")


def pytest_collection_modifyitems(config, items):
    """Slowest modules first; otherwise the collection order (a stable sort)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


PG_URL = os.environ.get("LPSTAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as con:
            con.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means: no server to test against here
        return f"PostgreSQL at {PG_URL} does not answer ({str(exc).splitlines()[0]})"


@pytest.fixture(scope="session")
def pg_url() -> str:
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def pg_database(pg_url):
    """A fresh, empty database on the test server; dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"lpstat_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = pg_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

