"""The demo store must look like the portal's (volumes, shares, timing, personal data in the
formats people type) and misbehave like it (every dirty kind present, rarely), or the pipeline
is tested against a fiction. All checks read the generated SQLite file back with plain SQL."""

from __future__ import annotations

import csv
import re
import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from demo.generate import (
    DEFAULT_END,
    DIRTY_KINDS,
    SCALES,
    STORE_TABLES,
    generate,
    store_schema_sql,
)

CPH = ZoneInfo("Europe/Copenhagen")
ROOT = Path(__file__).resolve().parents[2]

# The contract (contracts/operational_store.sql), column for column.
CONTRACT = {
    "uddannelse": [("uddannelse_kode", "TEXT", 1), ("navn", "TEXT", 0)],
    "afslagsbegrundelse": [("begrundelse_kode", "TEXT", 1), ("tekst", "TEXT", 0),
                           ("gyldig_fra", "DATE", 0), ("gyldig_til", "DATE", 0)],
    "skole": [("institutionsnummer", "TEXT", 1), ("navn", "TEXT", 0), ("kommunekode", "TEXT", 0)],
    "virksomhed": [("virksomhed_id", "BIGINT", 1), ("cvr", "TEXT", 0), ("p_nummer", "TEXT", 0),
                   ("navn", "TEXT", 0), ("sektor", "TEXT", 0), ("kommunekode", "TEXT", 0)],
    "elev": [("elev_id", "BIGINT", 1), ("cpr", "TEXT", 0), ("fornavn", "TEXT", 0),
             ("efternavn", "TEXT", 0), ("adresse", "TEXT", 0), ("mobil", "TEXT", 0)],
    "uddannelsesaftale": [
        ("aftale_id", "BIGINT", 1), ("elev_id", "BIGINT", 0), ("virksomhed_id", "BIGINT", 0),
        ("institutionsnummer", "TEXT", 0), ("uddannelse_kode", "TEXT", 0),
        ("startdato", "DATE", 0), ("slutdato", "DATE", 0), ("ophoert_dato", "DATE", 0),
        ("ophoert_aarsag", "TEXT", 0), ("oprettet", "TIMESTAMPTZ", 0),
        ("aendret", "TIMESTAMPTZ", 0)],
    "frafaldsvurdering": [("vurdering_id", "BIGINT", 1), ("aftale_id", "BIGINT", 0),
                          ("risiko", "TEXT", 0), ("registreret", "TIMESTAMPTZ", 0),
                          ("medarbejder", "TEXT", 0)],
    "afslag": [("afslag_id", "BIGINT", 1), ("virksomhed_id", "BIGINT", 0),
               ("uddannelse_kode", "TEXT", 0), ("ansoeger", "TEXT", 0),
               ("primaer_begrundelse", "TEXT", 0), ("sekundaer_begrundelse", "TEXT", 0),
               ("registreret", "TIMESTAMPTZ", 0), ("registreret_af", "TEXT", 0)],
}
NULLABLE = {("afslagsbegrundelse", "gyldig_til"), ("virksomhed", "p_nummer"), ("elev", "adresse"),
            ("elev", "mobil"), ("uddannelsesaftale", "ophoert_dato"),
            ("uddannelsesaftale", "ophoert_aarsag"), ("afslag", "sekundaer_begrundelse")}

REASONS = [
    ("R01", "Faglige forudsætninger", "2021-04-15", None),
    ("R02", "Danskkundskaber", "2021-04-15", None),
    ("R03", "Personlige kompetencer", "2021-04-15", None),
    ("R04", "Ansøger udeblev fra samtale", "2021-04-15", None),
    ("R05", "Ansøger trak ansøgningen eller takkede nej", "2021-04-15", None),
    ("R06", "Andre ansøgere var bedre kvalificerede", "2021-04-15", None),
    ("R07", "Ingen ledige lærepladser", "2021-04-15", "2023-12-31"),
    ("R08", "Manglende børne- eller straffeattest", "2022-01-01", None),
    ("R99", "Andet", "2021-04-15", None),
]
TS_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
END_LIMIT = datetime(2026, 11, 16, tzinfo=CPH)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, dict[str, int], list]:
    calls: list[tuple[str, int, int]] = []
    path = tmp_path_factory.mktemp("demo") / "store.sqlite"
    counts = generate(path, "small", seed=1, progress=lambda t, d, n: calls.append((t, d, n)))
    return path, counts, calls


@pytest.fixture(scope="module")
def db(store):
    conn = sqlite3.connect(f"file:{store[0]}?mode=ro", uri=True)
    yield conn
    conn.close()


def q(db, sql: str, *params):
    return db.execute(sql, params).fetchall()


def one(db, sql: str, *params):
    return db.execute(sql, params).fetchone()[0]


def table_contents(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t, _ in STORE_TABLES}
    finally:
        conn.close()


def cpr_birth(cpr: str) -> tuple[date, bool] | None:
    """The CPR register's rule: DDMMYY, century from the 7th digit, sex from the 10th."""
    if len(cpr) != 10 or not cpr.isdigit():
        return None
    dd, mm, yy, c7 = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6]), int(cpr[6])
    if c7 <= 3:
        century = 1900
    elif c7 in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        return date(century + yy, mm, dd), int(cpr[9]) % 2 == 1
    except ValueError:
        return None


def mod11_ok(cpr: str) -> bool:
    return sum(int(c) * w for c, w in zip(cpr, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1))) % 11 == 0


def dirty_share(db, table: str) -> tuple[int, int]:
    """Bounds for the rows of one dirty kind: at least one, at most about 1 %."""
    n = one(db, f"SELECT count(*) FROM {table}")
    return 1, max(3, n // 100)


# --- schema and reference values ----------------------------------------------------------------


def test_schema_follows_the_contract(db):
    tables = {r[0] for r in q(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(CONTRACT)
    for table, columns in CONTRACT.items():
        info = q(db, f"PRAGMA table_info({table})")
        assert [(c[1], c[2], c[5]) for c in info] == columns, table
        for c in info:
            assert c[3] == (0 if (table, c[1]) in NULLABLE or c[5] else 1), (table, c[1])


def test_postgresql_ddl_uses_the_schema_and_contract_types():
    ddl = store_schema_sql("postgresql", "lp_x")
    assert ddl.startswith('CREATE SCHEMA IF NOT EXISTS "lp_x";')
    assert ddl.count('CREATE TABLE "lp_x".') == 8
    assert "oprettet            TIMESTAMPTZ NOT NULL" in ddl
    assert "virksomhed_id  BIGINT PRIMARY KEY" in ddl
    assert "CREATE SCHEMA" not in store_schema_sql("sqlite")
    assert "CREATE TABLE afslag (" in store_schema_sql("sqlite")
    with pytest.raises(ValueError, match="identifier"):
        store_schema_sql("postgresql", 'x"; DROP TABLE y; --')
    with pytest.raises(ValueError, match="dialect"):
        store_schema_sql("duckdb")  # type: ignore[arg-type]


def test_reference_values_are_exactly_the_contracts(db):
    assert q(db, "SELECT * FROM uddannelse ORDER BY rowid") == [
        ("SSH", "Social- og sundhedshjælper"), ("SSA", "Social- og sundhedsassistent")]
    assert q(db, "SELECT * FROM afslagsbegrundelse ORDER BY begrundelse_kode") == REASONS


def test_returned_counts_and_progress_match_the_file(store, db):
    _, counts, calls = store
    assert counts == {t: one(db, f"SELECT count(*) FROM {t}") for t, _ in STORE_TABLES}
    last = {}
    for table, done, total in calls:
        assert 0 < done <= total
        assert done >= last.get(table, 0)
        last[table] = done
    assert last == counts


def test_small_scale_volumes(store):
    counts = store[1]
    assert SCALES["small"] == pytest.approx(1 / 20)
    assert counts["skole"] == 16
    assert 100 <= counts["virksomhed"] <= 160
    assert 2_800 <= counts["elev"] <= 4_300
    assert 3_200 <= counts["uddannelsesaftale"] <= 4_800      # ~500 a year from 2019
    assert 4_000 <= counts["frafaldsvurdering"] <= 6_500      # ~1,000 a year from 2022
    assert 3_400 <= counts["afslag"] <= 5_000                 # ~750 a year from April 2021


# --- determinism and writing --------------------------------------------------------------------


def test_same_seed_gives_identical_tables_different_seed_does_not(store, tmp_path):
    again = tmp_path / "again.sqlite"
    other = tmp_path / "other.sqlite"
    generate(again, "small", seed=1)
    generate(other, "small", seed=2)
    first = table_contents(store[0])
    assert table_contents(again) == first
    different = table_contents(other)
    for table in ("virksomhed", "elev", "uddannelsesaftale", "frafaldsvurdering", "afslag"):
        assert different[table] != first[table], table
    assert different["afslagsbegrundelse"] == first["afslagsbegrundelse"]


def test_an_existing_store_is_replaced_whole(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_text("not a database")
    counts = generate(path, "small", seed=3, end=date(2022, 3, 31))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM afslag").fetchone()[0] == counts["afslag"] > 0
    latest = conn.execute("SELECT max(registreret) FROM afslag").fetchone()[0]
    conn.close()
    assert datetime.fromisoformat(latest) < datetime(2022, 4, 1, tzinfo=CPH)
    assert [p.name for p in tmp_path.iterdir()] == ["store.sqlite"]


@pytest.mark.parametrize("scale", ["tiny", 0, -3, 1.5, True])
def test_unknown_scales_are_refused_clearly(tmp_path, scale):
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path / "x.sqlite", scale)
    assert not list(tmp_path.iterdir())


# --- time ---------------------------------------------------------------------------------------


TIMESTAMP_COLUMNS = [("uddannelsesaftale", "oprettet"), ("uddannelsesaftale", "aendret"),
                     ("frafaldsvurdering", "registreret"), ("afslag", "registreret")]
DATE_COLUMNS = [("uddannelsesaftale", "startdato"), ("uddannelsesaftale", "slutdato"),
                ("uddannelsesaftale", "ophoert_dato"), ("afslagsbegrundelse", "gyldig_fra")]


@pytest.mark.parametrize(("table", "column"), TIMESTAMP_COLUMNS)
def test_timestamps_carry_the_copenhagen_offset_and_stop_at_end(db, table, column):
    values = [r[0] for r in q(db, f"SELECT {column} FROM {table}")]
    assert all(isinstance(v, str) and TS_PATTERN.match(v) for v in values)
    for v in values:
        t = datetime.fromisoformat(v)
        assert t.utcoffset() == t.astimezone(CPH).utcoffset(), v
        assert t < END_LIMIT, v
    # Late-evening and after-midnight registrations exist, so month boundaries are exercised.
    assert any(v[11:13] in ("00", "01") for v in values)
    assert any(v[11:13] == "23" for v in values)


@pytest.mark.parametrize(("table", "column"), DATE_COLUMNS)
def test_dates_are_iso_text(db, table, column):
    values = [r[0] for r in q(db, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
    assert values and all(DATE_PATTERN.match(v) and date.fromisoformat(v) for v in values)


def test_agreement_lifecycle(db):
    assert one(db, "SELECT min(startdato) FROM uddannelsesaftale") >= "2019-01-01"
    assert one(db, "SELECT count(*) FROM uddannelsesaftale WHERE slutdato <= startdato") == 0
    assert one(db, "SELECT count(*) FROM uddannelsesaftale WHERE ophoert_dato < startdato") == 0
    assert one(db, "SELECT count(*) FROM uddannelsesaftale "
                   "WHERE (ophoert_dato IS NULL) <> (ophoert_aarsag IS NULL)") == 0
    assert one(db, "SELECT max(ophoert_dato) FROM uddannelsesaftale") <= DEFAULT_END.isoformat()
    rows = q(db, "SELECT startdato, oprettet, aendret, ophoert_dato FROM uddannelsesaftale")
    late = 0
    for start, created, changed, ended in rows:
        created_t, changed_t = datetime.fromisoformat(created), datetime.fromisoformat(changed)
        assert changed_t >= created_t
        lag = (created_t.astimezone(CPH).date() - date.fromisoformat(start)).days
        assert -61 <= lag <= 45
        late += lag > 0
        if ended is not None and changed_t != created_t:
            # The end is registered 0-30 days after it happened (unless the agreement itself
            # was registered so late that it arrived already ended).
            assert 0 <= (changed_t.astimezone(CPH).date() - date.fromisoformat(ended)).days <= 30
    assert 0.08 <= late / len(rows) <= 0.25
    causes = dict(q(db, "SELECT ophoert_aarsag, count(*) FROM uddannelsesaftale "
                        "WHERE ophoert_aarsag IS NOT NULL GROUP BY 1"))
    ended = sum(causes.values())
    assert set(causes) == {"GENNEMFOERT", "AFBRUDT", "OVERFOERT"}
    assert 0.15 <= causes["AFBRUDT"] / ended <= 0.32
    assert 0.025 <= causes["OVERFOERT"] / ended <= 0.09
    # Agreements registered ahead of a start after the end day exist, as in the portal.
    assert one(db, "SELECT count(*) FROM uddannelsesaftale WHERE startdato > ?",
               DEFAULT_END.isoformat()) > 0


def test_education_shares_and_durations(db):
    shares = dict(q(db, "SELECT uddannelse_kode, count(*) FROM uddannelsesaftale GROUP BY 1"))
    assert 0.53 <= shares["SSA"] / (shares["SSA"] + shares["SSH"]) <= 0.63
    months = dict(q(db, """
        SELECT uddannelse_kode, avg((julianday(slutdato) - julianday(startdato)) / 30.44)
        FROM uddannelsesaftale WHERE uddannelse_kode IN ('SSH', 'SSA') GROUP BY 1"""))
    assert 12 <= months["SSH"] <= 14.2          # 14 months, some shortened by merit
    assert 28 <= months["SSA"] <= 33.2          # 2 years 9 months; after SSH about 2 years


def test_workplaces_mostly_public_and_in_few_municipalities_at_small_scale(db):
    with (ROOT / "reference" / "kommuner.csv").open(encoding="utf-8") as f:
        official = {r["kommunekode"] for r in csv.DictReader(f)}
    sectors = Counter(dict(q(db, "SELECT sektor, count(*) FROM virksomhed GROUP BY 1")))
    n = sum(sectors.values())
    assert 0.5 <= sectors["KOMMUNE"] / n <= 0.8
    assert 0.12 <= sectors["REGION"] / n <= 0.38
    codes = {r[0] for r in q(db, "SELECT kommunekode FROM virksomhed")}
    assert len(codes - official) <= 1 and len(codes & official) == 10
    for cvr, p in q(db, "SELECT cvr, p_nummer FROM virksomhed"):
        assert len(cvr) == 8 and cvr.isdigit()
        assert sum(int(c) * w for c, w in zip(cvr, (2, 7, 6, 5, 4, 3, 2, 1))) % 11 == 0
        assert p in (None, "") or (len(p) == 10 and p.isdigit())
    assert one(db, "SELECT count(DISTINCT institutionsnummer) FROM skole") == 16


# --- students and CPR numbers -------------------------------------------------------------------


def test_cpr_numbers_match_birth_and_sex(db):
    rows = q(db, """
        SELECT e.cpr, min(a.startdato) FROM elev e JOIN uddannelsesaftale a USING (elev_id)
        GROUP BY e.elev_id""")
    decoded = [(cpr_birth(cpr), cpr, date.fromisoformat(start)) for cpr, start in rows]
    readable = [(b, cpr, s) for b, cpr, s in decoded if b is not None]
    unreadable = len(decoded) - len(readable)
    assert 1 <= unreadable <= len(decoded) // 100
    ages = [(s - b[0]).days / 365.25 for b, _, s in readable]
    assert min(ages) >= 16 and max(ages) <= 63
    assert 23 <= sum(ages) / len(ages) <= 27
    assert 0.75 <= sum(a <= 45 for a in ages) / len(ages) <= 1
    male = sum(b[1] for b, _, _ in readable) / len(readable)
    assert 0.10 <= male <= 0.20
    failing = sum(not mod11_ok(cpr) for _, cpr, _ in readable) / len(readable)
    assert 0.06 <= failing <= 0.14
    valid = [cpr for _, cpr, _ in readable]
    assert len(set(valid)) == len(valid)


def test_student_contact_details(db):
    rows = q(db, "SELECT fornavn, efternavn, adresse, mobil FROM elev")
    assert all(f and e for f, e, _, _ in rows)
    assert any(" " in f for f, _, _, _ in rows)              # middle names
    mobiles = [m for _, _, _, m in rows if m]
    assert all(re.fullmatch(r"(\+45 )?[2-9]\d{7}", m) for m in mobiles)
    addresses = [a for _, _, a, _ in rows if a]
    assert all(re.fullmatch(r".+ \d+, \d{4} .+", a) for a in addresses)
    assert any(m is None for _, _, _, m in rows) and any(a is None for _, _, a, _ in rows)


# --- assessments --------------------------------------------------------------------------------


def test_assessments_start_with_the_rule_and_change_over_time(db):
    n = one(db, "SELECT count(*) FROM frafaldsvurdering")
    lo, hi = dirty_share(db, "frafaldsvurdering")
    registered = q(db, "SELECT registreret FROM frafaldsvurdering")
    law = datetime(2022, 1, 1, tzinfo=CPH)
    before = sum(datetime.fromisoformat(r[0]) < law for r in registered)
    assert lo <= before <= hi
    shares = Counter(dict(q(db, "SELECT risiko, count(*) FROM frafaldsvurdering GROUP BY 1")))
    assert 0.50 <= shares["LAV"] / n <= 0.70
    assert 0.17 <= shares["MIDDEL"] / n <= 0.33
    assert 0.08 <= shares["HOEJ"] / n <= 0.22
    assert 0.005 <= shares["IKKE_ANGIVET"] / n <= 0.05
    changed = one(db, """
        SELECT count(*) FROM (SELECT aftale_id FROM frafaldsvurdering
                              WHERE risiko IN ('LAV', 'MIDDEL', 'HOEJ')
                              GROUP BY aftale_id HAVING count(DISTINCT risiko) > 1)""")
    assert changed >= 100
    # No assessment before the agreement was registered or after it ended (clean rows).
    wrong = q(db, """
        SELECT v.registreret, a.oprettet, a.ophoert_dato FROM frafaldsvurdering v
        JOIN uddannelsesaftale a USING (aftale_id) WHERE v.registreret >= '2022-01-01'""")
    for registered, created, ended in wrong:
        t = datetime.fromisoformat(registered)
        assert t > datetime.fromisoformat(created)
        assert ended is None or t.astimezone(CPH).date() <= date.fromisoformat(ended)


def test_the_latest_assessment_predicts_dropout(db):
    rates = dict(q(db, """
        WITH latest AS (
            SELECT aftale_id, risiko, row_number() OVER (
                PARTITION BY aftale_id ORDER BY registreret DESC, vurdering_id DESC) AS rn
            FROM frafaldsvurdering)
        SELECT l.risiko, avg(a.ophoert_aarsag = 'AFBRUDT')
        FROM uddannelsesaftale a JOIN latest l ON l.aftale_id = a.aftale_id AND l.rn = 1
        WHERE a.ophoert_aarsag IS NOT NULL GROUP BY 1"""))
    assert rates["LAV"] < 0.15
    assert 0.12 <= rates["MIDDEL"] <= 0.38
    assert rates["HOEJ"] >= 0.3
    assert rates["LAV"] < rates["MIDDEL"] < rates["HOEJ"]


# --- refusals -----------------------------------------------------------------------------------


def normalise(text: str) -> str:
    digits = re.sub(r"[\s]", "", text)
    digits = re.sub(r"^(\+45|0045)", "", digits)
    if len(digits) == 8 and digits.isdigit():
        return "tlf:" + digits
    return " ".join(text.replace(",", " ").casefold().split())


def test_refusals_volume_timing_and_reasons(db):
    n = one(db, "SELECT count(*) FROM afslag")
    lo, hi = dirty_share(db, "afslag")
    rows = q(db, "SELECT registreret, primaer_begrundelse, sekundaer_begrundelse FROM afslag")
    local = [(datetime.fromisoformat(t).astimezone(CPH).date(), p, s) for t, p, s in rows]
    assert lo <= sum(d < date(2021, 4, 15) for d, _, _ in local) <= hi
    stale = sum((p == "R07" and d > date(2023, 12, 31)) or (p == "R08" and d < date(2022, 1, 1))
                for d, p, _ in local)
    assert lo <= stale <= hi
    assert not any((s == "R07" and d > date(2023, 12, 31)) or (s == "R08" and d < date(2022, 1, 1))
                   for d, _, s in local)
    assert any(p == "R07" and d <= date(2023, 12, 31) for d, p, _ in local)
    assert any(p == "R08" and d >= date(2022, 1, 1) for d, p, _ in local)
    with_secondary = [(p, s) for _, p, s in local if s]
    assert 0.2 <= len(with_secondary) / n <= 0.3
    assert lo <= sum(p == s for p, s in with_secondary) <= hi
    years = Counter(d.year for d, _, _ in local if d >= date(2021, 4, 15))
    assert 0.8 * 750 <= years[2023] <= 1.2 * 750


def test_applicants_are_typed_many_ways_and_refused_repeatedly(db):
    texts = [r[0] for r in q(db, "SELECT ansoeger FROM afslag WHERE ansoeger <> ''")]
    kinds = {
        "8 digits": r"[2-9]\d{7}", "pairs": r"\d\d \d\d \d\d \d\d",
        "+45 pairs": r"\+45 \d\d \d\d \d\d \d\d", "0045": r"0045 \d{8}", "+45": r"\+45\d{8}",
        "name": r"[A-ZÆØÅ][\w\-]+( [\w\-]+)+", "lower name": r"[a-zæøå\- ]+",
        "upper name": r"[A-ZÆØÅ\- ]+", "last, first": r"[\w\- ]+, [\w\- ]+",
        "padded": r" \S.*  \S.* ", "address": r".+ \d+, \d{4} .+",
    }
    for kind, pattern in kinds.items():
        assert any(re.fullmatch(pattern, t) for t in texts), kind
    people = Counter(normalise(t) for t in texts)
    repeated = sum(c for c in people.values() if c > 1)
    assert 0.3 <= repeated / len(texts) <= 0.8
    assert max(people.values()) <= 8


def test_published_cells_can_clear_the_threshold_at_small_scale(db):
    """Several (month, education, primary reason) cells hold 4 or more distinct applicants."""
    rows = q(db, """SELECT substr(registreret, 1, 7), uddannelse_kode, primaer_begrundelse, ansoeger
                    FROM afslag""")
    cells: dict[tuple, set] = {}
    for month, edu, reason, text in rows:
        cells.setdefault((month, edu, reason), set()).add(normalise(text))
    assert sum(len(v) >= 4 for v in cells.values()) >= 20


# --- dirty rows ---------------------------------------------------------------------------------


DIRTY_QUERIES = {
    ("virksomhed", "unknown_kommunekode"):
        "SELECT count(*) FROM virksomhed WHERE kommunekode = '0000'",
    ("virksomhed", "unknown_sektor"):
        "SELECT count(*) FROM virksomhed WHERE sektor NOT IN ('KOMMUNE','REGION','STAT','PRIVAT')",
    ("virksomhed", "empty_p_nummer"): "SELECT count(*) FROM virksomhed WHERE p_nummer = ''",
    ("elev", "unreadable_cpr"): None,   # checked in test_cpr_numbers_match_birth_and_sex
    ("elev", "empty_adresse"): "SELECT count(*) FROM elev WHERE adresse = ''",
    ("elev", "empty_mobil"): "SELECT count(*) FROM elev WHERE mobil = ''",
    ("uddannelsesaftale", "dangling_institutionsnummer"):
        "SELECT count(*) FROM uddannelsesaftale WHERE institutionsnummer NOT IN "
        "(SELECT institutionsnummer FROM skole)",
    ("uddannelsesaftale", "unknown_uddannelse_kode"):
        "SELECT count(*) FROM uddannelsesaftale WHERE uddannelse_kode NOT IN "
        "(SELECT uddannelse_kode FROM uddannelse)",
    ("frafaldsvurdering", "dangling_aftale_id"):
        "SELECT count(*) FROM frafaldsvurdering WHERE aftale_id NOT IN "
        "(SELECT aftale_id FROM uddannelsesaftale)",
    ("frafaldsvurdering", "unknown_risiko"):
        "SELECT count(*) FROM frafaldsvurdering "
        "WHERE risiko NOT IN ('LAV','MIDDEL','HOEJ','IKKE_ANGIVET')",
    ("frafaldsvurdering", "before_legal_start"): None,   # checked with the time zone above
    ("frafaldsvurdering", "empty_medarbejder"):
        "SELECT count(*) FROM frafaldsvurdering WHERE medarbejder = ''",
    ("afslag", "unknown_begrundelse"):
        "SELECT count(*) FROM afslag WHERE primaer_begrundelse NOT IN "
        "(SELECT begrundelse_kode FROM afslagsbegrundelse)",
    ("afslag", "secondary_equals_primary"):
        "SELECT count(*) FROM afslag WHERE sekundaer_begrundelse = primaer_begrundelse",
    ("afslag", "dangling_virksomhed_id"):
        "SELECT count(*) FROM afslag WHERE virksomhed_id NOT IN "
        "(SELECT virksomhed_id FROM virksomhed)",
    ("afslag", "unknown_uddannelse_kode"):
        "SELECT count(*) FROM afslag WHERE uddannelse_kode NOT IN "
        "(SELECT uddannelse_kode FROM uddannelse)",
    ("afslag", "empty_ansoeger"): "SELECT count(*) FROM afslag WHERE ansoeger = ''",
    ("afslag", "empty_registreret_af"): "SELECT count(*) FROM afslag WHERE registreret_af = ''",
    ("afslag", "empty_sekundaer_begrundelse"):
        "SELECT count(*) FROM afslag WHERE sekundaer_begrundelse = ''",
    ("afslag", "before_legal_start"): None,              # checked with the time zone above
    ("afslag", "begrundelse_not_valid_then"): None,      # checked with the time zone above
}


def test_every_dirty_kind_is_covered_by_a_check():
    assert set(DIRTY_QUERIES) == {(t, k) for t, kinds in DIRTY_KINDS.items() for k in kinds}


@pytest.mark.parametrize(("table", "kind"), [k for k, v in DIRTY_QUERIES.items() if v])
def test_each_dirty_kind_is_present_and_rare(db, table, kind):
    lo, hi = dirty_share(db, table)
    assert lo <= one(db, DIRTY_QUERIES[(table, kind)]) <= hi


def test_clean_rows_are_clean(db):
    """Apart from the dirty kinds, references resolve and text columns are filled."""
    assert one(db, "SELECT count(*) FROM uddannelsesaftale WHERE elev_id NOT IN "
                   "(SELECT elev_id FROM elev)") == 0
    assert one(db, "SELECT count(*) FROM uddannelsesaftale WHERE virksomhed_id NOT IN "
                   "(SELECT virksomhed_id FROM virksomhed)") == 0
    assert one(db, "SELECT count(*) FROM elev WHERE fornavn = '' OR efternavn = ''") == 0
    assert one(db, "SELECT count(*) FROM virksomhed WHERE navn = '' OR cvr = ''") == 0
