"""Shared fixtures. PostgreSQL tests use the real server on 127.0.0.1:5432 (or
LPSTAT_TEST_POSTGRES_URL) and are skipped, saying why, where it does not answer."""

from __future__ import annotations

import os
import uuid

import pytest

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


@pytest.fixture(scope="module", autouse=True)
def disclosure_stand_in_module(request):
    """For modules that set ``DISCLOSURE_STAND_IN = True`` (they build whole demo releases
    through Dagster): the primary pattern and a passing audit stand in for the real suppression and audit, which take minutes per
    release there and are tested on their own (tests/unit/test_suppress.py, test_audit.py,
    tests/integration/test_disclosure_real.py). LPSTAT_TEST_REAL_DISCLOSURE=1 runs the real
    ones. Autouse, so it is in place before the module's own build fixtures."""
    if not getattr(request.module, "DISCLOSURE_STAND_IN", False):
        yield
        return
    from tests.standins import stand_in

    with pytest.MonkeyPatch.context() as mp:
        stand_in(mp)
        yield
