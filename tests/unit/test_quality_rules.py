"""The quality rules as pure functions, on small DataFrames and in-memory DuckDB tables (no
Dagster, no Great Expectations), and the suites as declarations."""

import hashlib
import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from quality import rules
from quality.rules import ERROR, WARN, RuleResult
from transforms.catalog import Cube, Measure, View

ROOT = Path(__file__).resolve().parents[2]


def _db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Europe/Copenhagen'")
    return con


# --- the catalogue of rules ----------------------------------------------------------------

def test_every_rule_has_a_severity_and_a_description():
    assert set(r.severity for r in rules.RULES.values()) == {ERROR, WARN}
    assert {n for n, r in rules.RULES.items() if r.severity == WARN} == {
        "watermark_advanced", "volume_within_band", "timestamps_not_in_future"}
    for r in rules.RULES.values():
        assert len(r.description) > 30, r.name


def test_merge_keeps_failures_and_at_most_ten_examples():
    ok = RuleResult("codes_in_domain", "t", True, "a fine.", checked=5)
    bad = [RuleResult("codes_in_domain", "t", False, f"b{i} bad.", count=3,
                      examples=[f"k{i}.{j}" for j in range(4)]) for i in range(4)]
    m = rules.merge("codes_in_domain", "t", [ok, *bad])
    assert not m.passed and m.count == 12 and m.severity == ERROR
    assert m.examples == ["k0.0", "k0.1", "k0.2", "k0.3", "k1.0", "k1.1", "k1.2", "k1.3",
                          "k2.0", "k2.1"]
    assert m.summary.startswith("b0 bad.") and "a fine" not in m.summary
    assert rules.merge("codes_in_domain", "t", [ok]).passed
    assert rules.merge("codes_in_domain", "t", []).passed


# --- landed rows ---------------------------------------------------------------------------

def test_identifier_shaped_values_report_keys_never_values():
    con = _db()
    con.execute("CREATE TABLE raw_x (id BIGINT, navn VARCHAR, kode VARCHAR, _koersel VARCHAR)")
    con.execute("INSERT INTO raw_x VALUES (1, 'SOSU H', '0101', 'r'), "
                "(2, '010203-1234', '0751', 'r'), "
                "(3, 'Ib', '+45 20 30 40 50', 'r'), (4, '2024-03-31', '751420', 'r')")
    res, = rules.identifier_shaped_values(con, {"raw_x": "id"})
    assert not res.passed and res.count == 2 and res.severity == ERROR
    assert res.examples == ["navn @ id=2", "kode @ id=3"]
    assert "010203" not in json.dumps([res.summary, res.examples, res.details])
    con.execute("DELETE FROM raw_x WHERE id IN (2, 3)")
    assert rules.identifier_shaped_values(con, {"raw_x": "id"})[0].passed
    missing, = rules.identifier_shaped_values(con, {"raw_nope": "id"})
    assert not missing.passed


def _landed(con, rows, watermark_run):
    con.execute("CREATE OR REPLACE TABLE raw_afslag "
                "(afslag_id BIGINT, registreret VARCHAR, _koersel VARCHAR)")
    con.executemany("INSERT INTO raw_afslag VALUES (?, ?, ?)", rows)
    con.execute("CREATE OR REPLACE TABLE ingest_vandmaerke "
                "(tabel VARCHAR, vandmaerke TIMESTAMPTZ, koersel VARCHAR)")
    top = max(r[1] for r in rows)
    con.execute("INSERT INTO ingest_vandmaerke VALUES ('afslag', CAST(? AS TIMESTAMPTZ), ?)",
                [top, watermark_run])


def test_watermark_advanced_first_load_then_stale_then_moving():
    con = _db()
    first = [(1, "2026-10-01T10:00:00+02:00", "r1"), (2, "2026-10-30T10:00:00+01:00", "r1")]
    _landed(con, first, "r1")
    res, = rules.watermark_advanced(con, {"afslag": "registreret"})
    assert res.passed and "First load" in res.summary and res.severity == WARN
    _landed(con, first, "r2")  # a second load that found nothing new
    res, = rules.watermark_advanced(con, {"afslag": "registreret"})
    assert not res.passed and res.count == 1
    assert res.details["rows_landed_in_latest_load"] == 0
    assert res.details["watermark"] == res.details["previous_watermark"]
    _landed(con, [*first, (3, "2026-11-02T09:00:00+01:00", "r3")], "r3")
    res, = rules.watermark_advanced(con, {"afslag": "registreret"})
    assert res.passed and res.details["rows_landed_in_latest_load"] == 1
    con.execute("DELETE FROM ingest_vandmaerke")
    assert not rules.watermark_advanced(con, {"afslag": "registreret"})[0].passed


def _registrations(con, per_month: dict[str, int]):
    con.execute("CREATE OR REPLACE TABLE stg_x (id BIGINT, registreret TIMESTAMPTZ)")
    rows, i = [], 0
    for month, n in per_month.items():
        for k in range(n):
            i += 1
            rows.append((i, f"{month}-{1 + k % 27:02d} 12:00:00+01"))
    con.executemany("INSERT INTO stg_x VALUES (?, CAST(? AS TIMESTAMPTZ))", rows)


def test_volume_within_band_flags_a_drop_beyond_the_band():
    con = _db()
    _registrations(con, {"2026-08": 100, "2026-09": 100, "2026-10": 40, "2026-11": 7})
    res, = rules.volume_within_band(con, {"stg_x": "registreret"}, "2026-10", band=0.5)
    assert not res.passed and res.severity == WARN and res.threshold == 0.5
    assert res.details["rows"] == 40 and res.details["previous_rows"] == 100
    assert res.details["change"] == -0.6 and "-60%" in res.summary
    assert res.examples == ["2026-10: 40 rows", "2026-09: 100 rows"]
    assert rules.volume_within_band(con, {"stg_x": "registreret"}, "2026-10", band=0.7)[0].passed
    # without a release: the newest month before the newest registration (2026-11 is running)
    assert not rules.volume_within_band(con, {"stg_x": "registreret"}, None)[0].passed


def test_volume_within_band_does_not_judge_small_months():
    con = _db()
    _registrations(con, {"2026-09": 10, "2026-10": 30})
    res, = rules.volume_within_band(con, {"stg_x": "registreret"}, "2026-10", min_rows=30)
    assert res.passed and "too few" in res.summary


def test_timestamps_not_in_future():
    con = _db()
    con.execute("CREATE TABLE stg_x (id BIGINT, registreret TIMESTAMPTZ)")
    con.execute("INSERT INTO stg_x VALUES (1, '2026-11-01 10:00:00+01'), "
                "(2, '2031-01-01 10:00:00+01')")
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    res, = rules.timestamps_not_in_future(con, {"stg_x": ("registreret", "id")}, now)
    assert not res.passed and res.count == 1 and res.examples == ["id=2"]
    assert rules.timestamps_not_in_future(con, {"stg_x": ("registreret", "id")},
                                          datetime(2031, 1, 1, tzinfo=timezone.utc))[0].passed


def test_quarantine_reconciles():
    counts = {"afslag": {"read": 10, "loaded": 7,
                         "quarantined": {"foer_regel": 2, "tom_ansoeger": 1}},
              "elev": {"read": 5, "loaded": 5, "quarantined": {}}}
    assert rules.quarantine_reconciles(counts).passed
    counts["afslag"]["loaded"] = 6
    res = rules.quarantine_reconciles(counts)
    assert not res.passed and res.count == 1 and res.severity == ERROR
    assert res.examples == ["afslag: read 10 ≠ loaded 6 + quarantined 3 (+1 unaccounted)"]


# --- warehouse -------------------------------------------------------------------------------

def test_facts_join_dimensions_names_the_fact_keys():
    con = _db()
    con.execute("CREATE TABLE dim_v (virksomhed_id BIGINT)")
    con.execute("INSERT INTO dim_v VALUES (1), (2)")
    con.execute("CREATE TABLE fct_afslag "
                "(afslag_id BIGINT, virksomhed_id BIGINT, sekundaer BIGINT)")
    con.execute("INSERT INTO fct_afslag VALUES (10, 1, NULL), (11, 3, 2), (12, 2, 9)")
    joins = (("fct_afslag", "virksomhed_id", "dim_v", "virksomhed_id"),
             ("fct_afslag", "sekundaer", "dim_v", "virksomhed_id"))
    res, = rules.facts_join_dimensions(con, joins)
    assert not res.passed and res.count == 2 and res.subject == "fct_afslag"
    assert res.examples == ["afslag_id=11 (virksomhed_id=3)", "afslag_id=12 (sekundaer=9)"]


def _history(con, rows):
    con.execute("CREATE OR REPLACE TABLE h "
                "(aftale_id BIGINT, gyldig_fra TIMESTAMPTZ, gyldig_til TIMESTAMPTZ)")
    con.executemany("INSERT INTO h VALUES (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ))",
                    rows)


@pytest.mark.parametrize("rows,kind", [
    ([(1, "2024-01-01", "2024-02-01"), (1, "2024-01-15", None)], "overlap"),
    ([(1, "2024-01-01", "2024-02-01"), (1, "2024-03-01", None)], "gap"),
    ([(1, "2024-01-01", None), (1, "2024-03-01", None)], "overlap"),
    ([(1, "2024-01-01", "2024-01-01"), (1, "2024-01-01", None)], "empty_version"),
    ([(1, "2024-01-01", "2024-02-01")], "not_one_current"),
])
def test_agreement_history_breaks(rows, kind):
    con = _db()
    _history(con, [(2, "2024-01-01", "2024-05-01"), (2, "2024-05-01", None), *rows])
    res = rules.agreement_history_no_overlap(con, "h")
    assert not res.passed and res.count == 1 and res.details[kind] == 1
    assert res.examples[0].startswith("aftale_id=1:")


def test_agreement_history_sound():
    con = _db()
    _history(con, [(1, "2024-01-01", "2024-02-01"), (1, "2024-02-01", "2024-06-01"),
                   (1, "2024-06-01", None), (2, "2023-01-01", None)])
    assert rules.agreement_history_no_overlap(con, "h").passed


# --- cubes -----------------------------------------------------------------------------------

FLOW = Cube(underemne="TESTFLOW", caption="t", omraade=("EUD", "e"), emne=("T", "t"), kind="flow",
            attributes=("[Tid].[År]", "[Tid].[Kvartal]", "[Arbejdssted].[Sektor]"),
            measures=(Measure("Antal", "antal", "count"),
                      Measure("Personer", "personer", "count", additive=False)),
            views=(View("v1", ("[Tid].[Kvartal]", "[Arbejdssted].[Sektor]")),),
            value_column="antal", individuals_column="personer")
STOCK = Cube(underemne="TESTSTOCK", caption="t", omraade=("EUD", "e"), emne=("T", "t"),
             kind="stock", attributes=("[Tid].[År]", "[Tid].[Kvartal]", "[Arbejdssted].[Sektor]"),
             measures=(Measure("Antal", "antal", "count"),),
             views=(View("v1", ("[Tid].[Kvartal]", "[Arbejdssted].[Sektor]")),
                    View("v2", ("[Tid].[År]", "[Arbejdssted].[Sektor]"))),
             value_column="antal", individuals_column="antal")


def _flow_cells(micro: pd.DataFrame) -> pd.DataFrame:
    """Every cell of every grouping of FLOW, from micro rows (tid_kvartal, sektor, person)."""
    micro = micro.assign(tid_aar=micro["tid_kvartal"].str[:4])
    frames = []
    for g in FLOW.groupings:
        attrs = g.split("|") if g else []
        cols = []
        if "[Tid].[Kvartal]" in attrs:
            cols += ["tid_aar", "tid_kvartal"]
        elif "[Tid].[År]" in attrs:
            cols += ["tid_aar"]
        if "[Arbejdssted].[Sektor]" in attrs:
            cols += ["sektor"]
        if cols:
            agg = micro.groupby(cols).agg(antal=("person", "size"), personer=("person", "nunique"))
            agg = agg.reset_index()
        else:
            agg = pd.DataFrame({"antal": [len(micro)], "personer": [micro["person"].nunique()]})
        agg["gruppering"] = g
        frames.append(agg)
    cells = pd.concat(frames, ignore_index=True)
    for c in FLOW.columns:
        if c not in cells:
            cells[c] = None
    cells = cells.astype({c: object for c in FLOW.columns})
    cells[FLOW.columns] = cells[FLOW.columns].where(cells[FLOW.columns].notna(), None)
    return cells[["gruppering", *FLOW.columns, "antal", "personer"]]


MICRO = pd.DataFrame({
    "tid_kvartal": ["2024K1", "2024K1", "2024K2", "2024K4", "2025K1", "2025K1", "2025K1"],
    "sektor": ["Kommunal", "Privat", "Kommunal", "Kommunal", "Privat", "Privat", "Regional"],
    "person": ["a", "b", "a", "c", "d", "d", "e"],
})


def test_margins_add_up_on_consistent_cells():
    cells = _flow_cells(MICRO)
    assert set(cells["gruppering"]) == set(FLOW.groupings)
    res = rules.margins_add_up(cells, FLOW)
    assert res.passed and res.checked > 0 and res.severity == ERROR


def test_margins_add_up_names_the_margin_that_does_not():
    cells = _flow_cells(MICRO)
    i = cells.index[(cells["gruppering"] == "[Tid].[Kvartal]|[Arbejdssted].[Sektor]")
                    & (cells["tid_kvartal"] == "2025K1") & (cells["sektor"] == "Privat")][0]
    cells.loc[i, "antal"] += 1
    # non-additive measures are not summed
    cells.loc[cells["gruppering"] == "", "personer"] = 99
    res = rules.margins_add_up(cells, FLOW)
    assert not res.passed
    # the changed cell's parents: its quarter (by Sektor), its year × sector (by Kvartal → År)
    assert res.count == 2 and res.details["per_measure"] == {"antal": 2}
    assert any("tid_kvartal=2025K1 · antal=" in e or "2025K1" in e for e in res.examples)
    assert all("but its children by" in e for e in res.examples)


def test_margins_add_up_handles_empty_combinations_and_grand_total():
    cells = _flow_cells(MICRO)
    extra = pd.DataFrame([{"gruppering": "[Tid].[Kvartal]|[Arbejdssted].[Sektor]",
                           "tid_aar": "2024", "tid_kvartal": "2024K3", "sektor": "Statslig",
                           "antal": 0, "personer": 0}])
    assert rules.margins_add_up(pd.concat([cells, extra], ignore_index=True), FLOW).passed
    cells.loc[cells["gruppering"] == "", "antal"] += 5
    res = rules.margins_add_up(cells, FLOW)
    assert not res.passed and any(e.startswith("(total)") for e in res.examples)


def _stock_cells(values: dict[tuple[str, str], int]) -> pd.DataFrame:
    """STOCK cells: (status date, level) → total; per sector split 60/40."""
    rows = []
    for (day, level), total in values.items():
        y, m = day[:4], int(day[5:7])
        kv = f"{y}K{(m - 1) // 3 + 1}"
        tid = {"K": ("[Tid].[Kvartal]", y, kv), "Å": ("[Tid].[År]", y, None)}[level]
        split = {"Kommunal": total * 6 // 10, "Privat": total - total * 6 // 10}
        rows.append({"gruppering": tid[0], "statusdato": date.fromisoformat(day),
                     "tid_aar": tid[1], "tid_kvartal": tid[2], "sektor": None, "antal": total})
        for s, v in split.items():
            rows.append({"gruppering": f"{tid[0]}|[Arbejdssted].[Sektor]",
                         "statusdato": date.fromisoformat(day), "tid_aar": tid[1],
                         "tid_kvartal": tid[2], "sektor": s, "antal": v})
    return pd.DataFrame(rows)


def test_stock_consistent_year_equals_its_december():
    ok = _stock_cells({("2024-09-30", "K"): 50, ("2024-12-31", "K"): 60, ("2024-12-31", "Å"): 60})
    res = rules.stock_consistent(ok, STOCK)
    assert res.passed and res.checked == 3  # the total and two sectors on 2024-12-31
    assert rules.margins_add_up(ok, STOCK).passed  # stocks are not summed over time
    bad = _stock_cells({("2024-09-30", "K"): 50, ("2024-12-31", "K"): 60, ("2024-12-31", "Å"): 65})
    res = rules.stock_consistent(bad, STOCK)
    assert not res.passed and res.count == 3
    assert res.examples[0] == ("2024-12-31 · (total): antal differs by time level "
                               "(Kvartal: 60, År: 65)")
    assert rules.stock_consistent(_flow_cells(MICRO), FLOW).passed  # flows: nothing to compare


# --- disclosure and release --------------------------------------------------------------------

def test_no_small_cells_published():
    from transforms.catalog import FRAFAFBRUD

    true = pd.DataFrame({"gruppering": ["", "", "", "", ""], "statusdato": [date(2024, 12, 31)] * 5,
                         "tid_aar": ["2024"] * 5, "tid_kvartal": [None] * 5,
                         "uddannelse": [None] * 5,
                         "region": ["A", "B", "C", "D", "E"], "frafaldsrisiko": [None] * 5,
                         "antal_elever": [50, 3, 0, 20, 20], "antal_afbrudt": [10, 1, 0, 2, 18],
                         "n_individer": [50, 3, 0, 20, 20]})
    pub = true.drop(columns="n_individer").astype({"antal_elever": "Int64",
                                                   "antal_afbrudt": "Int64"})
    pub.loc[[1, 2], ["antal_elever", "antal_afbrudt"]] = pd.NA
    pub.loc[3, "antal_afbrudt"] = pd.NA
    pub.loc[4, "antal_afbrudt"] = pd.NA
    assert rules.no_small_cells_published(true, pub, FRAFAFBRUD).passed
    shown = pub.copy()
    shown.loc[1, "antal_elever"] = 3  # a cell of 3 students
    shown.loc[4, "antal_afbrudt"] = 18  # 18 of 20 dropped out: 2 did not
    res = rules.no_small_cells_published(true, shown, FRAFAFBRUD)
    assert not res.passed and res.count == 2 and res.threshold == 3
    assert "small" in res.examples[0] and "n_individer=3" in res.examples[0]
    assert "antal_afbrudt_small" in res.examples[1]


def test_audit_passed():
    good = {"verdict": "bestået", "cubes": {"AFSLAARS": {"failed": 0}}}
    assert rules.audit_passed("2026-10", good, good).passed
    bad = {"verdict": "ikke bestået", "cubes": {"AFSLAARS": {"failed": 4}}}
    res = rules.audit_passed("2026-10", good, bad)
    assert not res.passed and "audit.json verdict is 'ikke bestået'" in res.examples
    assert "AFSLAARS: 4 withheld values can be narrowed down" in res.examples
    assert not rules.audit_passed("2026-10", None, good).passed


def test_manifest_checksums(tmp_path):
    folder = tmp_path / "2026-10"
    (folder / "EUD").mkdir(parents=True)
    files = {"a.json": b"{}", "EUD/cells.parquet": b"PAR1"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"filer": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert rules.manifest_checksums(folder).passed
    (folder / "a.json").write_bytes(b"{ }")
    (folder / "extra.csv").write_bytes(b"x")
    (folder / "EUD/cells.parquet").unlink()
    res = rules.manifest_checksums(folder)
    assert not res.passed and res.count == 3
    assert res.examples == ["checksum differs: a.json", "missing: EUD/cells.parquet",
                            "not in manifest: extra.csv"]
    (folder / "manifest.json").unlink()
    assert not rules.manifest_checksums(folder).passed


# --- the suites (declarations only) --------------------------------------------------------------

def test_suites_declare_known_rules_and_exactly_the_landed_columns():
    from quality import suites
    from transforms.extract import SOURCE_TABLES
    from transforms.pseudonymise import RAW_COLUMNS

    # kept in step by hand on purpose: a change to RAW_COLUMNS must be made here too
    assert suites.ALLOWED_LANDED_COLUMNS == RAW_COLUMNS
    for table, cols in suites.ALLOWED_LANDED_COLUMNS.items():
        dropped = set(SOURCE_TABLES[table]) - set(cols)
        assert not set(cols) & {"cpr", "fornavn", "efternavn", "adresse", "mobil", "ansoeger",
                                "medarbejder", "registreret_af", "cvr", "p_nummer"}, table
        if table in ("elev", "afslag", "frafaldsvurdering", "virksomhed"):
            assert dropped, table
    every = suites.landed_suites() + suites.warehouse_suites() + suites.published_suites("2026-10")
    for s in every:
        for e in s.expectations:
            assert e.rule in rules.RULES and rules.RULES[e.rule].severity == ERROR, (s.name, e)
            if e.kind == "UnexpectedRowsExpectation":
                assert "{batch}" in e.kwargs["unexpected_rows_query"]
                assert "SELECT *" not in e.kwargs["unexpected_rows_query"]  # keys only
    assert {s.table for s in suites.landed_suites()} == {f"raw_{t}" for t in SOURCE_TABLES}
    with pytest.raises(ValueError):
        suites.published_suites("2026-10' OR 1=1 --")


def test_quarantine_reasons_cover_every_staging_model():
    import re

    from quality.suites import QUARANTINE_REASONS

    found = set()
    for f in (ROOT / "sql" / "staging").glob("*.sql"):
        found |= set(re.findall(r"THEN '([a-z_]+)'", f.read_text(encoding="utf-8")))
    assert found and found <= set(QUARANTINE_REASONS), found - set(QUARANTINE_REASONS)


def test_great_expectations_is_imported_lazily():
    code = ("import sys, pipelines.definitions, quality.rules, quality.suites; "
            "sys.exit(1 if 'great_expectations' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_watermarks_current():
    """Issue 19: a watermark lagging the release's cut-off is an ERROR on the release's page
    (it used to be only "watermark did not advance" in the log)."""
    from datetime import datetime, timedelta, timezone

    import duckdb

    cutoff = datetime(2026, 10, 31, 23, tzinfo=timezone.utc)
    con = duckdb.connect()
    con.execute("CREATE TABLE ingest_vandmaerke (tabel VARCHAR, vandmaerke TIMESTAMPTZ, "
                "koersel VARCHAR)")
    con.execute("INSERT INTO ingest_vandmaerke VALUES ('afslag', ?, 'r'), "
                "('uddannelsesaftale', ?, 'r')", [cutoff - timedelta(hours=5), cutoff])
    tables = {"afslag": "registreret", "frafaldsvurdering": "registreret",
              "uddannelsesaftale": "aendret"}
    assert rules.watermarks_current(con, tables, cutoff).passed  # no watermark: nothing yet
    con.execute("UPDATE ingest_vandmaerke SET vandmaerke = ? WHERE tabel = 'afslag'",
                [cutoff - timedelta(days=40)])
    res = rules.watermarks_current(con, tables, cutoff)
    assert not res.passed and res.count == 1 and res.examples[0].startswith("afslag:")
    assert rules.RULES["watermarks_current"].severity == rules.ERROR
