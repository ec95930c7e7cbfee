"""Issue 19, items 1, 2 and 5 (keys): landing against the real SQLite store and the real
PostgreSQL on this machine.

1. A row registered in the future (2099) must not move the watermark past the run's cut-off:
   rows added afterwards are still read, and the future row is quarantined as such.
2. A CPR number or a name typed into a code column is validated in memory: it never lands, not
   even in the quarantine (a redacted marker stands in), and once the portal corrects the row
   the next run loads it.
5. A NULL or duplicate ``afslag_id`` is quarantined with a reason instead of landing.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from transforms.cubes import cutoff_for
from transforms.land import land_source
from transforms.validate import REDACTED
from transforms.warehouse import build_all, connect, source_counts

KEY = "hardening-test-key"
CPR = "2412931234"
NAME = "Hans Hansen"
CUTOFF = cutoff_for("2026-10")


class Store:
    """The small demo store, in SQLite or loaded into PostgreSQL, with a way to change it."""

    def __init__(self, kind: str, path: Path, pg_url: str | None):
        self.kind, self.path, self.pg_url = kind, path, pg_url
        self.url = f"sqlite:///{path}" if kind == "sqlite" else pg_url

    def execute(self, sql: str, params: tuple = ()) -> list:
        """``sql`` with ``?`` placeholders and ``{ts}`` for a bound timestamp."""
        if self.kind == "sqlite":
            con = sqlite3.connect(self.path)
            try:
                rows = con.execute(sql.replace("{ts}", "?").replace("laerepladsen.", ""),
                                   params).fetchall()
                con.commit()
                return rows
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as con:
            cur = con.execute(sql.replace("{ts}", "CAST(%s AS TIMESTAMPTZ)").replace("?", "%s"),
                              params)
            return cur.fetchall() if cur.description else []

    def copy_refusals(self, offset: int, registreret: str, n: int) -> None:
        """``n`` new refusals (ids + offset) registered at ``registreret``."""
        self.execute(
            "INSERT INTO laerepladsen.afslag SELECT afslag_id + ?, virksomhed_id, "
            "uddannelse_kode, ansoeger, primaer_begrundelse, sekundaer_begrundelse, {ts}, "
            "registreret_af FROM laerepladsen.afslag WHERE registreret < {ts} "
            "ORDER BY afslag_id LIMIT ?",
            (offset, registreret, "2026-10-01T00:00:00+02:00", n))

    def count(self, table: str) -> int:
        return self.execute(f"SELECT count(*) FROM laerepladsen.{table}")[0][0]


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    from demo.generate import generate

    path = tmp_path_factory.mktemp("store") / "store.sqlite"
    generate(path, scale="small", seed=7)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, small_store, tmp_path) -> Store:
    import shutil

    path = tmp_path / "store.sqlite"
    shutil.copy(small_store, path)
    if request.param == "sqlite":
        return Store("sqlite", path, None)
    from demo.postgres import load_sqlite_into_postgres

    url = request.getfixturevalue("pg_database")
    load_sqlite_into_postgres(path, url)
    return Store("postgres", path, url)


def _reconciles(con, store: Store) -> dict:
    build_all(con)
    counts = source_counts(con)
    for table, c in counts.items():
        assert c["read"] == c["loaded"] + sum(c["quarantined"].values()), (table, c)
    assert counts["afslag"]["read"] == store.count("afslag")
    return counts


def test_a_future_row_does_not_stop_later_loading(store, tmp_path):
    store.copy_refusals(5_000_000, "2099-01-01T10:00:00+01:00", 1)
    con = connect(tmp_path / "wh.duckdb")
    land_source(store.url, KEY, con, "run1", cutoff=CUTOFF)
    (wm,) = con.execute("SELECT vandmaerke FROM ingest_vandmaerke WHERE tabel = 'afslag'"
                        ).fetchall()[0]
    assert wm <= CUTOFF
    # 40 October refusals committed after the run, within the look-back of the cut-off
    store.copy_refusals(6_000_000, "2026-10-31T12:00:00+01:00", 40)
    second = land_source(store.url, KEY, con, "run2", cutoff=CUTOFF)
    assert second["afslag"]["new"] == 40
    landed = con.execute("SELECT count(*) FROM raw_afslag WHERE afslag_id >= 6000000"
                         ).fetchall()[0][0]
    assert landed == 40
    # the future row is quarantined as such (not landed), and read again while in the future
    [(key,)] = con.execute("SELECT noegle FROM karantaene_indlaesning "
                           "WHERE kilde_tabel = 'afslag' AND aarsag = 'fremtidigt_tidspunkt'"
                           ).fetchall()
    assert 5_000_000 < int(key) < 6_000_000
    assert second["afslag"]["read"] >= 41
    counts = _reconciles(con, store)
    assert counts["afslag"]["quarantined"]["fremtidigt_tidspunkt"] == 1
    con.close()


def _text_values(con) -> set[str]:
    """Every text value of every table and column in the warehouse (JSON as text)."""
    out: set[str] = set()
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')").fetchall():
        out |= {r[0] for r in con.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}"').fetchall()
            if r[0] is not None}
    return out


def test_an_identifier_in_a_code_column_never_lands_and_the_corrected_row_does(store, tmp_path):
    (a, b) = [r[0] for r in store.execute(
        "SELECT afslag_id FROM laerepladsen.afslag WHERE registreret < {ts} "
        "ORDER BY afslag_id LIMIT 2", ("2026-10-01T00:00:00+02:00",))]
    store.execute("UPDATE laerepladsen.afslag SET sekundaer_begrundelse = ? WHERE afslag_id = ?",
                  (CPR, a))
    store.execute("UPDATE laerepladsen.afslag SET primaer_begrundelse = ? WHERE afslag_id = ?",
                  (NAME, b))
    path = tmp_path / "wh.duckdb"
    con = connect(path)
    land_source(store.url, KEY, con, "run1", cutoff=CUTOFF)
    values = _text_values(con)
    assert not [v for v in values if CPR in v or NAME in v]
    assert {(str(a), "direkte_identifikator"), (str(b), "ukendt_begrundelse")} <= set(
        con.execute("SELECT noegle, aarsag FROM karantaene_indlaesning").fetchall())
    assert all(REDACTED in r[0] for r in con.execute(
        "SELECT CAST(raekke AS VARCHAR) FROM karantaene_indlaesning WHERE noegle IN (?, ?)",
        [str(a), str(b)]).fetchall())
    # the checks on what landed pass (nothing blocks the release)
    from quality.rules import identifier_shaped_values

    assert all(r.passed for r in identifier_shaped_values(con, {"raw_afslag": "afslag_id"}))
    _reconciles(con, store)
    con.close()
    raw = path.read_bytes() + (Path(f"{path}.wal").read_bytes()
                               if Path(f"{path}.wal").exists() else b"")
    assert CPR.encode() not in raw and NAME.encode() not in raw

    # the portal corrects both rows: the next run loads them, the quarantine forgets them
    store.execute("UPDATE laerepladsen.afslag SET sekundaer_begrundelse = NULL WHERE afslag_id = ?",
                  (a,))
    store.execute("UPDATE laerepladsen.afslag SET primaer_begrundelse = 'R01' WHERE afslag_id = ?",
                  (b,))
    con = connect(path)
    again = land_source(store.url, KEY, con, "run2", cutoff=CUTOFF)
    assert again["afslag"]["new"] == 2
    assert con.execute("SELECT count(*) FROM raw_afslag WHERE afslag_id IN (?, ?)", [a, b]
                       ).fetchall()[0][0] == 2
    assert not con.execute("SELECT * FROM karantaene_indlaesning WHERE noegle IN (?, ?)",
                           [str(a), str(b)]).fetchall()
    _reconciles(con, store)
    con.close()


def test_a_null_or_duplicate_key_is_quarantined_with_a_reason(small_store, tmp_path):
    """SQLite allows both (PostgreSQL's primary key does not)."""
    import shutil

    path = tmp_path / "store.sqlite"
    shutil.copy(small_store, path)
    store = Store("sqlite", path, None)
    # a store whose afslag table has lost its key constraint
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE afslag_kopi AS SELECT * FROM afslag; DROP TABLE afslag; "
                      "ALTER TABLE afslag_kopi RENAME TO afslag;")
    con.close()
    (a,) = store.execute("SELECT min(afslag_id) FROM afslag")[0]
    rest = ("virksomhed_id, uddannelse_kode, ansoeger, primaer_begrundelse, "
            "sekundaer_begrundelse, registreret, registreret_af FROM afslag WHERE afslag_id = ?")
    store.execute("INSERT INTO afslag SELECT NULL, " + rest, (a,))       # a row without a key
    store.execute("INSERT INTO afslag SELECT afslag_id, " + rest, (a,))  # the same key twice
    con = connect(tmp_path / "wh.duckdb")
    land_source(store.url, KEY, con, "run1", cutoff=CUTOFF)
    got = con.execute("SELECT noegle, aarsag FROM karantaene_indlaesning "
                      "WHERE aarsag IN ('manglende_noegle', 'dublet_noegle') ORDER BY 1, 2"
                      ).fetchall()
    assert got == [(str(a), "dublet_noegle"), (str(a), "dublet_noegle"),
                   (None, "manglende_noegle")]
    # what landed has one row per key (the release's key checks pass)
    assert con.execute("SELECT count(*) - count(DISTINCT afslag_id) FROM raw_afslag"
                       ).fetchall()[0][0] == 0
    _reconciles(con, store)
    con.close()


def _without_key(path: Path, table: str) -> None:
    """The SQLite store's ``table`` without its key constraint (SQLite allows that)."""
    con = sqlite3.connect(path)
    con.executescript(f"CREATE TABLE {table}_kopi AS SELECT * FROM {table}; DROP TABLE {table}; "
                      f"ALTER TABLE {table}_kopi RENAME TO {table};")
    con.close()


def test_a_reused_key_in_a_later_run_is_quarantined_not_skipped(small_store, tmp_path):
    """A refusal that reuses a landed refusal's id with other content, read by a later run,
    was skipped as "already landed" and lost without a word. It is quarantined as
    ``genbrugt_noegle`` (the landed row stays: what was published stays); an exact second
    copy of a landed row is a ``dublet_noegle``; the counts still reconcile with the store."""
    import shutil

    path = tmp_path / "store.sqlite"
    shutil.copy(small_store, path)
    _without_key(path, "afslag")
    store = Store("sqlite", path, None)
    con = connect(tmp_path / "wh.duckdb")
    land_source(store.url, KEY, con, "run1", cutoff=cutoff_for("2026-09"))
    (old, recent) = store.execute(
        "SELECT min(afslag_id), max(afslag_id) FROM afslag WHERE registreret < ?",
        ("2026-09-30T00:00:00+02:00",))[0]
    rest = ("virksomhed_id, uddannelse_kode, ansoeger, primaer_begrundelse, "
            "sekundaer_begrundelse, registreret, registreret_af FROM afslag WHERE afslag_id = ?")
    # an old id reused by a refusal registered in October, with another reason
    store.execute("INSERT INTO afslag SELECT afslag_id, virksomhed_id, uddannelse_kode, "
                  "ansoeger, CASE primaer_begrundelse WHEN 'R01' THEN 'R02' ELSE 'R01' END, "
                  "sekundaer_begrundelse, '2026-10-05T10:00:00+02:00', registreret_af "
                  "FROM afslag WHERE afslag_id = ?", (old,))
    # an exact second copy of a refusal landed by run1 and read again by the look-back
    store.execute("INSERT INTO afslag SELECT afslag_id, " + rest, (recent,))
    second = land_source(store.url, KEY, con, "run2", cutoff=CUTOFF)
    got = con.execute("SELECT noegle, aarsag FROM karantaene_indlaesning "
                      "WHERE kilde_tabel = 'afslag' ORDER BY 2").fetchall()
    assert (str(recent), "dublet_noegle") in got and (str(old), "genbrugt_noegle") in got
    # the landed rows stay, once each
    assert con.execute("SELECT count(*) FROM raw_afslag WHERE afslag_id IN (?, ?)",
                       [old, recent]).fetchall()[0][0] == 2
    assert second["afslag"]["new"] == 0  # (run1 read every row the store had)
    _reconciles(con, store)
    # read again by the next run, and quarantined again (never dropped)
    land_source(store.url, KEY, con, "run3", cutoff=CUTOFF)
    assert con.execute("SELECT count(*) FROM karantaene_indlaesning WHERE aarsag IN "
                       "('genbrugt_noegle', 'dublet_noegle')").fetchall()[0][0] == 2
    _reconciles(con, store)
    con.close()


def test_an_agreement_without_a_key_or_with_a_repeated_version_is_quarantined(small_store,
                                                                            tmp_path):
    """Agreements keep every version (id, aendret): a version without an id, or the same
    version twice (SQLite allows both), is quarantined with its reason, not landed."""
    import shutil

    path = tmp_path / "store.sqlite"
    shutil.copy(small_store, path)
    _without_key(path, "uddannelsesaftale")
    store = Store("sqlite", path, None)
    (a,) = store.execute("SELECT min(aftale_id) FROM uddannelsesaftale")[0]
    cols = [r[1] for r in store.execute("PRAGMA table_info(uddannelsesaftale)")]
    rest = ", ".join(cols[1:]) + " FROM uddannelsesaftale WHERE aftale_id = ?"
    store.execute("INSERT INTO uddannelsesaftale SELECT NULL, " + rest, (a,))
    store.execute("INSERT INTO uddannelsesaftale SELECT aftale_id, " + rest, (a,))
    con = connect(tmp_path / "wh.duckdb")
    land_source(store.url, KEY, con, "run1", cutoff=CUTOFF)
    got = con.execute("SELECT noegle, aarsag FROM karantaene_indlaesning "
                      "WHERE kilde_tabel = 'uddannelsesaftale' AND aarsag IN "
                      "('manglende_noegle', 'dublet_noegle') ORDER BY 1, 2").fetchall()
    assert got == [(str(a), "dublet_noegle"), (str(a), "dublet_noegle"),
                   (None, "manglende_noegle")]
    assert con.execute("SELECT count(*) FROM raw_uddannelsesaftale WHERE aftale_id = ? "
                       "OR aftale_id IS NULL", [a]).fetchall()[0][0] == 0
    counts = _reconciles(con, store)
    assert counts["uddannelsesaftale"]["read"] == store.count("uddannelsesaftale")
    con.close()


def test_many_quarantined_rows_are_read_again_by_key_and_hold_no_watermark(store, tmp_path):
    """More rows fail validation than one bound parameter per key allowed (the limit was
    5,000; at 100x national scale 23,000-32,000 rows per table fail): they are read again by
    their keys, passed as one parameter, instead of holding the watermark at the first of
    them, which made every run read the table again from 2021 and the release check
    watermarks_current fail."""
    n = 6_000
    good = store.execute("SELECT primaer_begrundelse FROM laerepladsen.afslag "
                         "ORDER BY afslag_id LIMIT 1")[0][0]
    for offset in (7_000_000, 8_000_000):  # n refusals with an unknown reason, May 2021
        store.execute(
            "INSERT INTO laerepladsen.afslag SELECT afslag_id + ?, virksomhed_id, "
            "uddannelse_kode, ansoeger, 'UKENDT', sekundaer_begrundelse, {ts}, registreret_af "
            "FROM laerepladsen.afslag WHERE afslag_id < 1000000 ORDER BY afslag_id LIMIT ?",
            (offset, "2021-05-03T10:00:00+02:00", n // 2))
    con = connect(tmp_path / "wh.duckdb")
    first = land_source(store.url, KEY, con, "run1", cutoff=CUTOFF)
    assert first["afslag"]["quarantined"] >= n
    (wm,) = con.execute("SELECT vandmaerke FROM ingest_vandmaerke WHERE tabel = 'afslag'"
                        ).fetchall()[0]
    assert wm > CUTOFF - timedelta(days=3)  # not held at May 2021
    second = land_source(store.url, KEY, con, "run2", cutoff=CUTOFF)
    assert second["afslag"]["new"] == 0
    assert second["afslag"]["quarantined"] == first["afslag"]["quarantined"]
    # the n by key, and of the rest only the look-back window: not the table from 2021
    assert second["afslag"]["read"] >= n
    assert second["afslag"]["read"] - n < (store.count("afslag") - n) / 10
    # the portal corrects 100 of them: the next run lands exactly those
    store.execute("UPDATE laerepladsen.afslag SET primaer_begrundelse = ? "
                  "WHERE afslag_id >= 7000000 AND afslag_id < 7000000 + 1000000 "
                  "AND afslag_id IN (SELECT afslag_id FROM laerepladsen.afslag "
                  "WHERE afslag_id >= 7000000 ORDER BY afslag_id LIMIT 100)", (good,))
    third = land_source(store.url, KEY, con, "run3", cutoff=CUTOFF)
    assert third["afslag"]["new"] == 100
    assert third["afslag"]["quarantined"] == first["afslag"]["quarantined"] - 100
    _reconciles(con, store)
    con.close()
