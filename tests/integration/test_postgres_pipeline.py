"""The same release from PostgreSQL as from SQLite: the demo store loaded into the real
server, extracted through ADBC in one read-only snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.catalog import CUBES

pytestmark = pytest.mark.postgres


def test_postgres_store_gives_the_same_release_as_sqlite(tmp_path, pg_database):
    from demo.generate import generate
    from demo.postgres import load_sqlite_into_postgres
    from pipelines.cli import materialize
    from tests.standins import disclosure_methods
    from transforms.settings import load_settings

    store = tmp_path / "store.sqlite"
    generate(store, scale="small", seed=11)
    load_sqlite_into_postgres(store, pg_database)
    homes = {}
    for kind, url in (("sqlite", f"sqlite:///{store}"), ("postgresql", pg_database)):
        home = tmp_path / kind
        settings = load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": url,
                                  "LPSTAT_PSEUDONYM_KEY": "same-key"})
        assert materialize(settings, "2026-10", resources={"disclosure": disclosure_methods()})
        homes[kind] = home / "releases" / "2026-10"
    for cube in CUBES.values():
        a = (homes["sqlite"] / cube.id / "cells.parquet").read_bytes()
        b = (homes["postgresql"] / cube.id / "cells.parquet").read_bytes()
        assert a == b, cube.id
    for name in ("audit.json", "skema.json", "revisions.csv"):
        assert (homes["sqlite"] / name).read_bytes() == (homes["postgresql"] / name).read_bytes()


def test_postgres_source_with_wrong_columns_stops_with_a_clear_message(tmp_path, pg_database):
    import psycopg

    from demo.generate import generate
    from demo.postgres import load_sqlite_into_postgres
    from transforms.extract import SourceError
    from transforms.land import land_source
    from transforms.warehouse import connect

    store = tmp_path / "store.sqlite"
    generate(store, scale="small", seed=3)
    load_sqlite_into_postgres(store, pg_database)
    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("ALTER TABLE laerepladsen.afslag RENAME COLUMN ansoeger TO ansoeger_tekst")
    con = connect(tmp_path / "wh.duckdb")
    with pytest.raises(SourceError, match=r"'afslag'.*missing ansoeger; unexpected ansoeger_tekst"):
        land_source(pg_database, "k", con, "t")
    con.close()
