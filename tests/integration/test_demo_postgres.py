"""The PostgreSQL copy of the demo store must hold exactly the SQLite rows, typed as the
contract says (BIGINT, DATE, TIMESTAMPTZ): extraction tests against PostgreSQL are only
meaningful if both stores are the same data."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from datetime import datetime

import pytest

from demo.generate import STORE_TABLES, generate
from demo.postgres import generate_postgres, load_sqlite_into_postgres

psycopg = pytest.importorskip("psycopg")

PG_URL = os.environ.get("LPSTAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> str:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer ({exc}); "
                    "start it or set LPSTAT_TEST_POSTGRES_URL")
    return PG_URL


@pytest.fixture()
def schema(pg_url):
    name = f"lpstat_demo_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            psycopg.sql.Identifier(name)))


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-pg") / "store.sqlite"
    return path, generate(path, "small", seed=7)


def epoch(ts: str | None) -> int | None:
    return None if ts is None else int(datetime.fromisoformat(ts).timestamp())


# Columns compared per table: ids, text, dates as ISO text, instants as epoch seconds.
CHECKED = {
    "elev": ("elev_id", ["cpr", "fornavn", "efternavn", "adresse", "mobil"], [], []),
    "uddannelsesaftale": ("aftale_id", ["institutionsnummer", "ophoert_aarsag"],
                          ["startdato", "ophoert_dato"], ["oprettet", "aendret"]),
    "frafaldsvurdering": ("vurdering_id", ["risiko", "medarbejder"], [], ["registreret"]),
    "afslag": ("afslag_id", ["ansoeger", "primaer_begrundelse", "sekundaer_begrundelse"], [],
               ["registreret"]),
}


def sqlite_digest(path, table: str) -> str:
    key, texts, dates, instants = CHECKED[table]
    conn = sqlite3.connect(path)
    rows = conn.execute(
        f"SELECT {', '.join([key, *texts, *dates, *instants])} FROM {table} ORDER BY {key}")
    h = hashlib.sha256()
    width = 1 + len(texts) + len(dates)
    for row in rows:
        h.update(repr((*row[:width], *(epoch(v) for v in row[width:]))).encode())
    conn.close()
    return h.hexdigest()


def postgres_digest(pg_url: str, schema: str, table: str) -> str:
    key, texts, dates, instants = CHECKED[table]
    sql = psycopg.sql
    columns = [sql.Identifier(c) for c in [key, *texts]]
    columns += [sql.SQL("{}::text").format(sql.Identifier(c)) for c in dates]
    columns += [sql.SQL("extract(epoch FROM {})::bigint").format(sql.Identifier(c))
                for c in instants]
    query = sql.SQL("SELECT {} FROM {}.{} ORDER BY {}").format(
        sql.SQL(", ").join(columns), sql.Identifier(schema), sql.Identifier(table),
        sql.Identifier(key))
    h = hashlib.sha256()
    with psycopg.connect(pg_url) as conn:
        for row in conn.execute(query):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def postgres_counts(pg_url: str, schema: str) -> dict[str, int]:
    sql = psycopg.sql
    with psycopg.connect(pg_url) as conn:
        return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(t))).fetchone()[0] for t, _ in STORE_TABLES}


def test_loaded_store_matches_sqlite(pg_url, schema, small_store):
    path, counts = small_store
    progress: list[tuple[str, int, int]] = []
    loaded = load_sqlite_into_postgres(path, pg_url, schema, progress=lambda *a: progress.append(a))
    assert loaded == counts
    assert postgres_counts(pg_url, schema) == counts
    assert {t: d for t, d, n in progress if d == n} == {t: n for t, n in counts.items()}
    for table in CHECKED:
        assert postgres_digest(pg_url, schema, table) == sqlite_digest(path, table), table


def test_columns_have_the_contract_types(pg_url, schema, small_store):
    load_sqlite_into_postgres(small_store[0], pg_url, schema)
    with psycopg.connect(pg_url) as conn:
        types = dict(conn.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s", (schema,)).fetchall())
        keys = conn.execute(
            "SELECT count(*) FROM information_schema.table_constraints "
            "WHERE table_schema = %s AND constraint_type = 'PRIMARY KEY'", (schema,)).fetchone()[0]
    assert types["virksomhed.virksomhed_id"] == "bigint"
    assert types["uddannelsesaftale.startdato"] == "date"
    assert types["uddannelsesaftale.oprettet"] == "timestamp with time zone"
    assert types["afslag.registreret"] == "timestamp with time zone"
    assert types["afslagsbegrundelse.gyldig_til"] == "date"
    assert types["elev.cpr"] == "text"
    assert len(types) == sum(len(c) for _, c in STORE_TABLES)
    assert keys == len(STORE_TABLES)


def test_loading_again_replaces_the_tables(pg_url, schema, small_store):
    load_sqlite_into_postgres(small_store[0], pg_url, schema)
    with psycopg.connect(pg_url) as conn:   # something of ours in the schema survives
        conn.execute(psycopg.sql.SQL("CREATE TABLE {}.noter (x int)").format(
            psycopg.sql.Identifier(schema)))
    other = generate_postgres(pg_url, scale="small", seed=8, schema=schema)
    assert postgres_counts(pg_url, schema) == other
    assert other != small_store[1]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'noter'", (schema,)).fetchone()[0] == 1


def test_a_bad_schema_name_is_refused_before_touching_the_database(pg_url, small_store):
    with pytest.raises(ValueError, match="identifier"):
        load_sqlite_into_postgres(small_store[0], pg_url, "Bad-Name")
