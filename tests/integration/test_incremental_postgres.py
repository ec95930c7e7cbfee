"""Incremental, resilient extraction from the real PostgreSQL (issue: ingestion)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from transforms.extract import TABLE_KEYS
from transforms.land import land_source
from transforms.warehouse import build_all, connect

pytestmark = pytest.mark.postgres
KEY = "incremental-test-key"


@pytest.fixture
def store(tmp_path, pg_database):
    from demo.generate import generate
    from demo.postgres import load_sqlite_into_postgres

    path = tmp_path / "store.sqlite"
    generate(path, scale="small", seed=5)
    load_sqlite_into_postgres(path, pg_database)
    return pg_database


def _count(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_incremental_runs_pick_up_new_late_and_changed_rows_and_nothing_twice(tmp_path, store):
    con = connect(tmp_path / "wh.duckdb")
    first = land_source(store, KEY, con, "run1")
    # every row read is landed or (a bad code, validated in memory) quarantined
    assert first["afslag"]["new"] + first["afslag"]["quarantined"] == first["afslag"]["read"] > 1000
    build_all(con)
    n_afslag = _count(con, "SELECT count(*) FROM raw_afslag")
    n_versions = _count(con, "SELECT count(*) FROM fct_aftale_historik")

    again = land_source(store, KEY, con, "run2")
    assert {t: again[t]["new"] for t in ("afslag", "frafaldsvurdering", "uddannelsesaftale")} \
        == {"afslag": 0, "frafaldsvurdering": 0, "uddannelsesaftale": 0}
    # only the look-back window is re-read, not the whole table
    assert again["afslag"]["read"] < first["afslag"]["read"] / 10

    with psycopg.connect(store, autocommit=True) as pg:
        wm = pg.execute("SELECT max(registreret) FROM laerepladsen.afslag").fetchone()[0]
        aftale_id, = pg.execute("SELECT min(aftale_id) FROM laerepladsen.uddannelsesaftale "
                                "WHERE ophoert_dato IS NULL").fetchone()
        pg.execute("INSERT INTO laerepladsen.afslag SELECT afslag_id + 1000000, virksomhed_id, "
                   "uddannelse_kode, ansoeger, primaer_begrundelse, sekundaer_begrundelse, %s, "
                   "registreret_af FROM laerepladsen.afslag ORDER BY afslag_id LIMIT 1",
                   [wm + timedelta(hours=1)])
        # committed late, with a timestamp a day older than what we have already seen
        pg.execute("INSERT INTO laerepladsen.afslag SELECT afslag_id + 2000000, virksomhed_id, "
                   "uddannelse_kode, ansoeger, primaer_begrundelse, sekundaer_begrundelse, %s, "
                   "registreret_af FROM laerepladsen.afslag ORDER BY afslag_id LIMIT 1",
                   [wm - timedelta(days=1)])
        pg.execute("UPDATE laerepladsen.uddannelsesaftale SET ophoert_dato = DATE '2026-11-10', "
                   "ophoert_aarsag = 'AFBRUDT', aendret = %s WHERE aftale_id = %s",
                   [wm + timedelta(hours=2), aftale_id])
    third = land_source(store, KEY, con, "run3")
    assert third["afslag"]["new"] == 2
    assert third["uddannelsesaftale"]["new"] == 1
    build_all(con)
    assert _count(con, "SELECT count(*) FROM raw_afslag") == n_afslag + 2
    assert _count(con, "SELECT count(DISTINCT afslag_id) FROM raw_afslag") == n_afslag + 2
    assert _count(con, "SELECT count(*) FROM fct_aftale_historik") == n_versions + 1
    versions = con.execute("SELECT ophoert_aarsag, gyldig_til IS NULL FROM fct_aftale_historik "
                           "WHERE aftale_id = ? ORDER BY gyldig_fra", [aftale_id]).fetchall()
    assert versions == [(None, False), ("AFBRUDT", True)]
    con.close()


def test_a_connection_killed_mid_extract_is_survived_without_loss_or_duplicates(tmp_path, store):
    clean = connect(tmp_path / "clean.duckdb")
    expected = land_source(store, KEY, clean, "clean")
    clean_counts = {t: _count(clean, f"SELECT count(*) FROM raw_{t}") for t in expected}
    clean.close()

    killed = {"n": 0}

    def kill_once(table, rows_so_far):
        if table == "elev" and killed["n"] == 0:
            killed["n"] += 1
            with psycopg.connect(store, autocommit=True) as pg:
                pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")

    con = connect(tmp_path / "wh.duckdb")
    stats = land_source(store, KEY, con, "run", on_batch=kill_once, backoff_seconds=0.1)
    assert killed["n"] == 1
    counts = {t: _count(con, f"SELECT count(*) FROM raw_{t}") for t in stats}
    assert counts == clean_counts
    for table, key in (("afslag", "afslag_id"), ("frafaldsvurdering", "vurdering_id"),
                       ("elev", "elev_id")):
        assert _count(con, f"SELECT count(DISTINCT {key}) FROM raw_{table}") == counts[table]
    con.close()


def test_an_unreachable_store_fails_with_a_clear_message(tmp_path):
    from transforms.extract import SourceError

    con = connect(tmp_path / "wh.duckdb")
    with pytest.raises(SourceError, match="Cannot connect to the store"):
        land_source("postgresql://nobody@127.0.0.1:1/none", KEY, con, "run", retries=1,
                    backoff_seconds=0.01)
    con.close()


def test_many_small_batches_land_in_key_order_and_match_one_big_batch(tmp_path, store,
                                                                      monkeypatch):
    import transforms.extract as extract

    big = connect(tmp_path / "big.duckdb")
    land_source(store, KEY, big, "run")
    monkeypatch.setattr(extract, "PG_BATCH_BYTES", 16 * 1024)  # hundreds of batches a table
    batches, settings = [], set()
    small = connect(tmp_path / "small.duckdb")
    other = small.cursor()
    current = "SELECT current_setting('memory_limit'), current_setting('threads')"
    before = small.execute(current).fetchall()[0]

    def seen(table, rows):
        batches.append(table)
        settings.add(other.execute(current).fetchall()[0])

    stats = land_source(store, KEY, small, "run", on_batch=seen)
    assert batches.count("afslag") > 10
    # DuckDB's memory is bounded and one thread writes while landing; the caller's settings
    # are back afterwards
    assert settings == {("488.2 MiB", 1)} and small.execute(current).fetchall()[0] == before
    # table and key names from the contract's fixed lists, never from input
    for table in ("elev", "afslag", "frafaldsvurdering", "uddannelsesaftale"):
        key = TABLE_KEYS[table]
        assert _count(small, f"SELECT count(*) FROM raw_{table}") == \
            stats[table]["read"] - stats[table]["quarantined"]
        # physical order is the source's key order, batch after batch
        assert _count(small, f"SELECT count(*) FROM (SELECT {key} < lag({key}) OVER () AS back "
                             f"FROM raw_{table}) WHERE back") == 0
        rows = small.execute(f"SELECT * FROM raw_{table}").fetchall()
        assert rows == big.execute(f"SELECT * FROM raw_{table}").fetchall(), table
    big.close()
    small.close()


def test_dropped_identifiers_are_never_fetched_from_the_store(tmp_path, store, monkeypatch):
    from transforms.extract import SourceConnection

    asked = []
    read = SourceConnection.read

    def spy(self, table, where="", params=(), columns=None):
        asked.append((table, columns))
        return read(self, table, where, params, columns)

    monkeypatch.setattr(SourceConnection, "read", spy)
    con = connect(tmp_path / "wh.duckdb")
    land_source(store, KEY, con, "run")
    con.close()
    fetched = {c for _, cols in asked for c in cols}
    assert {"fornavn", "efternavn", "adresse", "mobil", "medarbejder", "registreret_af",
            "cvr", "p_nummer"}.isdisjoint(fetched)
    assert {"cpr", "ansoeger"} <= fetched  # read, and pseudonymised in memory
    assert dict(asked)["virksomhed"] == ("virksomhed_id", "sektor", "kommunekode")


def test_a_failing_warehouse_stops_the_reading_threads_and_lands_nothing(tmp_path, store,
                                                                         monkeypatch):
    import threading

    import transforms.land as land

    original = land._land_table

    def failing(con, feed, table, *args):
        if table == "frafaldsvurdering":
            raise RuntimeError("disk full")
        return original(con, feed, table, *args)

    monkeypatch.setattr(land, "_land_table", failing)
    con = connect(tmp_path / "wh.duckdb")
    with pytest.raises(Exception, match="disk full"):
        land_source(store, KEY, con, "run", retries=0)
    # The landing threads only (the API's query pool, started by earlier tests in the same
    # process, is also named lpstat-…).
    assert not [t for t in threading.enumerate()
                if t.name in ("lpstat-read", "lpstat-pseudonymise")]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'raw_%'"
                       ).fetchall()[0][0] == 0
    con.close()
