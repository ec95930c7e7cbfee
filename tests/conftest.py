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

