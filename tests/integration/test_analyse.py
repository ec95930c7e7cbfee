"""``<home>/analyse.duckdb`` (issue 10): views over every published release, the worked
examples of docs/analysts.md run against a demo build, and the guarantee that nothing in it
reaches the warehouse or a pseudonym.

The demo build (one per test session, shared with test_cli.py through
:func:`analysis_home`) has two releases, 2026-09 and 2026-10, published through the real
``transforms.publish.release.publish_release`` (release writer, manifest, audit, revisions,
``latest`` and the ``build_analysis_db`` hook) from a real warehouse file:

- by default, the cells are the synthetic ones of ``release_fixture.py`` (primary
  suppression only) stored as the warehouse's ``pub_*`` partitions, and the warehouse also
  holds pseudonymised rows (``dim_elev``, ``raw_afslag``) keyed like the pipeline's; the
  Excel and report writers are replaced by placeholders to save time (analyse.duckdb reads
  neither);
- with ``LPSTAT_TEST_ANALYSE_PIPELINE=1``, the whole asset graph on the small demo store
  (``pipelines.cli.materialize``, as tests/integration/test_pipeline.py), which takes as long
  as disclosure control does.

The example checks compute every expected answer independently, with pandas, from the
release files themselves (never through analyse.duckdb).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from transforms.catalog import CUBES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "analysts.md"
RELEASES = ("2026-09", "2026-10")
TEST_KEY = "analyse-test-key"
SSA = "Social- og sundhedsassistent"
HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


# --- the demo build ---------------------------------------------------------------------------


def _pipeline_home(home: Path) -> None:
    from demo.generate import generate
    from pipelines.cli import materialize
    from transforms.settings import load_settings

    store = home.parent / "laerepladsen.sqlite"
    generate(store, scale="small", seed=7)
    settings = load_settings({"LPSTAT_HOME": str(home), "LPSTAT_SOURCE_URL": f"sqlite:///{store}",
                              "LPSTAT_PSEUDONYM_KEY": TEST_KEY})
    for i, release in enumerate(RELEASES):
        assert materialize(settings, release, with_ingest=(i == 0), progress=False), release


def _synthetic_home(home: Path) -> None:
    """The release path from the warehouse's protected cells on: publish_release."""
    from types import SimpleNamespace

    from tests.integration.release_fixture import write_release as write_fixture_cells
    from transforms.extract import SOURCE_TABLES
    from transforms.pseudonymise import Pseudonymiser
    from transforms.publish.release import format_writers, publish_release
    from transforms.warehouse import connect, store_partition

    con = connect(home / "warehouse.duckdb")
    ps = Pseudonymiser(TEST_KEY)
    for table in SOURCE_TABLES:
        con.execute(f"CREATE TABLE raw_{table} (n INTEGER)")
        con.execute(f"CREATE TABLE stg_laerepladsen__{table} (registreret TIMESTAMPTZ, "
                    "aendret TIMESTAMPTZ)")
        con.execute(f"INSERT INTO raw_{table} VALUES (1)")
        con.execute(f"INSERT INTO stg_laerepladsen__{table} VALUES "
                    "('2026-10-31 12:00:00+01', '2026-10-31 12:00:00+01')")
    con.execute("CREATE TABLE karantaene (kilde_tabel VARCHAR, noegle VARCHAR, aarsag VARCHAR, "
                "raekke JSON)")
    # pseudonymised microdata, as the real warehouse holds them
    con.execute("CREATE TABLE dim_elev (elev_id INTEGER, elev_pseudonym VARCHAR)")
    con.executemany("INSERT INTO dim_elev VALUES (?, ?)",
                    [(i, ps.one("cpr", f"{i:010d}")) for i in range(500)])
    con.execute("CREATE TABLE raw_afslag_pseudonymer (ansoeger_pseudonym VARCHAR)")
    con.executemany("INSERT INTO raw_afslag_pseudonymer VALUES (?)",
                    [(ps.one("ansoeger", f"ansøger {i}"),) for i in range(500)])
    con.execute("CREATE TABLE release_audit (udgivelse VARCHAR PRIMARY KEY, audit JSON)")

    def placeholder(path, *args, **kwargs):
        Path(path).write_bytes(b"placeholder: not read by analyse.duckdb\n")

    real = format_writers()
    fast = SimpleNamespace(write_view_csv=real.write_view_csv, write_dcat=real.write_dcat,
                           write_xlsx=placeholder, write_report=placeholder)
    scratch = home.parent / "fixture-cells"
    try:
        for release in RELEASES:
            folder = write_fixture_cells(scratch, release)
            withheld = {}
            for u, cube in CUBES.items():
                cells = pq.read_table(folder / cube.id / "cells.parquet").to_pandas()
                store_partition(con, f"pub_{u.lower()}", release, cells)
                withheld[u] = int((cells["status"] == "diskretioneret").sum())
            audit = {"udgivelse": release, "verdict": "bestået",
                     "cubes": {u: {"cube": u, "verdict": "bestået", "withheld": n,
                                   "checked": n, "failed": 0, "cells": []}
                               for u, n in withheld.items()}}
            con.execute("INSERT INTO release_audit VALUES (?, ?)",
                        [release, json.dumps(audit, ensure_ascii=False)])
            publish_release(con, home / "releases", release,
                            {"diskretion": {"primær_max_individer": 3}}, writers=fast)
    finally:
        con.close()


def analysis_home(tmp_path_factory) -> Path:
    """The demo build, made once per test session (test_analyse.py and test_cli.py)."""
    base = tmp_path_factory.getbasetemp() / "analyse-demo"
    home = base / "home"
    if not (home / "analyse.duckdb").exists():
        if base.exists():
            shutil.rmtree(base)
        home.mkdir(parents=True)
        if os.environ.get("LPSTAT_TEST_ANALYSE_PIPELINE"):
            _pipeline_home(home)
        else:
            _synthetic_home(home)
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return analysis_home(tmp_path_factory)


@pytest.fixture(scope="module")
def con(home):
    from transforms.analyse import connect_readonly

    c = connect_readonly(home)
    yield c
    c.close()


# --- reading the release files independently ---------------------------------------------------


def cells(home: Path, release: str, underemne: str) -> pd.DataFrame:
    df = pq.read_table(home / "releases" / release / CUBES[underemne].id / "cells.parquet") \
        .to_pandas()
    return df.astype(object).where(df.notna(), None)


def latest(home: Path) -> str:
    return os.readlink(home / "releases" / "latest")


def previous(home: Path) -> str:
    return sorted(p.name for p in (home / "releases").iterdir()
                  if re.fullmatch(r"\d{4}-\d{2}", p.name))[-2]


def rows_of(con, sql: str, params=None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r)) for r in rel.fetchall()]


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return str(a) == str(b) if not isinstance(a, (int, float)) else a == b


def assert_rows(got: list[dict], expected: list[dict], keys: list[str] | None = None) -> None:
    assert len(got) == len(expected), (len(got), len(expected))
    for i, (g, e) in enumerate(zip(got, expected)):
        for k in keys or list(e):
            assert same(g[k], e[k]), (i, k, g[k], e[k], g)


def half_up(x: float, digits: int = 1) -> float:
    """DuckDB's round(): half away from zero (the values here are never negative)."""
    f = 10 ** digits
    return math.floor(x * f + 0.5) / f


def pct(share) -> float | None:
    return None if share is None else half_up(100 * share)


def manifest(home: Path, release: str) -> dict:
    return json.loads((home / "releases" / release / "manifest.json").read_text("utf-8"))


def audit_json(home: Path, release: str) -> dict:
    return json.loads((home / "releases" / release / "audit.json").read_text("utf-8"))


def published(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "releases").iterdir()
                  if re.fullmatch(r"\d{4}-\d{2}", p.name) and (p / "manifest.json").exists())


# --- the model ---------------------------------------------------------------------------------

VIEWS = {"afslaars", "afslaars_celler", "frafvurd", "frafvurd_celler", "frafafbrud",
         "frafafbrud_celler", "releases", "release_files", "release_cubes", "informationstab",
         "revisions", "grupperinger", "noegletal"}


def test_built_by_publish_release_over_every_release(home, con):
    db = home / "analyse.duckdb"
    assert db.exists()
    newest = max((home / "releases" / r / "manifest.json").stat().st_mtime for r in RELEASES)
    assert db.stat().st_mtime >= newest  # rebuilt after the last release was written
    assert [r[0] for r in con.execute("SELECT udgivelse FROM releases ORDER BY 1").fetchall()] \
        == list(RELEASES)
    assert not [p for p in home.iterdir() if p.name.startswith(".analyse")]


def test_views_only_no_data_no_attachments(con):
    views = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert views == VIEWS
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0] == 0
    dbs = {r[0] for r in con.execute(
        "SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()}
    assert dbs == {"analyse"}


def test_cells_views_are_the_released_cells(home, con):
    for release in RELEASES:
        for u, cube in CUBES.items():
            path = home / "releases" / release / cube.id / "cells.parquet"
            released = pq.read_table(path)
            got = con.sql(f"SELECT * EXCLUDE (udgivelse) FROM {u.lower()}_celler "
                          "WHERE udgivelse = ?", params=[release]).to_arrow_table()
            assert got.column_names == released.column_names
            assert got.to_pylist() == released.to_pylist(), (release, u)  # exact, nulls too
            expected = cells(home, release, u)
            # long form: one row per cell and measure, NULL exactly where the file has null
            n, nulls = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE vaerdi IS NULL) FROM {u.lower()} "
                "WHERE udgivelse = ?", [release]).fetchall()[0]
            assert n == len(expected) * len(cube.measures)
            assert nulls == sum(int(expected[m.column].isna().sum()) for m in cube.measures)
            withheld = con.execute(
                f"SELECT count(*) FROM {u.lower()} WHERE udgivelse = ? AND vaerdi IS NULL "
                "AND status <> 'diskretioneret'", [release]).fetchall()[0][0]
            assert withheld == 0


def test_releases_files_and_revisions_views(home, con):
    rows = {r["udgivelse"]: r for r in rows_of(con, "SELECT * FROM releases")}
    assert sorted(rows) == published(home)
    for release, row in rows.items():
        m, a = manifest(home, release), audit_json(home, release)
        assert row["skaeringstidspunkt"] == m["skaeringstidspunkt"]
        assert row["revisionsverdikt"] == a["verdict"] == "bestået"
        assert row["tilbageholdte_celler"] == sum(c["withheld"] for c in a["cubes"].values())
        # these audits predate the information-loss block (tests/integration/
        # test_disclosure_real.py reads it from a real release)
        assert row["informationstab"] is None
        assert not any("informationstab" in c for c in a["cubes"].values())
        assert dict(row["filer"]) == m["filer"]
        assert row["seneste"] == (release == latest(home))
        files = dict(con.execute("SELECT fil, sha256 FROM release_files WHERE udgivelse = ?",
                                 [release]).fetchall())
        assert files == m["filer"]
        with (home / "releases" / release / "revisions.csv").open(encoding="utf-8-sig") as f:
            n = sum(1 for _ in f) - 1
        assert con.execute("SELECT count(*) FROM revisions WHERE udgivelse = ?",
                           [release]).fetchall()[0][0] == n
    assert con.execute("SELECT count(*) FROM revisions WHERE udgivelse = ?",
                       [RELEASES[0]]).fetchall()[0][0] == 0
    assert con.execute("SELECT count(*) FROM revisions WHERE udgivelse = ?",
                       [RELEASES[1]]).fetchall()[0][0] > 0
    assert con.execute("SELECT DISTINCT forrige_udgivelse FROM revisions").fetchall() == \
        [(RELEASES[0],)]
    assert con.execute("SELECT count(*) FROM informationstab").fetchall()[0][0] == 0


def test_groupings_and_measures_follow_the_catalogue(con):
    n = con.execute("SELECT count(*) FROM grupperinger").fetchall()[0][0]
    assert n == sum(len(c.groupings) for c in CUBES.values())
    assert con.execute("SELECT count(*) FROM noegletal").fetchall()[0][0] == \
        sum(len(c.measures) for c in CUBES.values())


# --- privacy ----------------------------------------------------------------------------------


def _warehouse_tables(home: Path) -> list[str]:
    from transforms.warehouse import connect

    w = connect(home / "warehouse.duckdb", read_only=True)
    try:
        return [r[0] for r in w.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
    finally:
        w.close()


def _warehouse_pseudonyms(home: Path) -> set[str]:
    from transforms.warehouse import connect

    w = connect(home / "warehouse.duckdb", read_only=True)
    found: set[str] = set()
    try:
        for table, column in w.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE data_type = 'VARCHAR'").fetchall():
            found |= {r[0] for r in w.execute(
                f'SELECT DISTINCT "{column}" FROM "{table}" '
                f"WHERE regexp_full_match(\"{column}\", '[0-9a-f]{{32}}')").fetchall()}
    finally:
        w.close()
    return found


def test_warehouse_is_owner_only(home):
    for p in (home / "warehouse.duckdb", Path(f"{home / 'warehouse.duckdb'}.wal")):
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert (home / "warehouse.duckdb").exists()


def test_no_view_can_reach_a_pseudonym_or_the_warehouse(home, con):
    pseudonyms = _warehouse_pseudonyms(home)
    assert len(pseudonyms) >= 100  # the warehouse really holds pseudonyms to leak
    tables = _warehouse_tables(home)
    assert "release_audit" in tables
    view_sql = dict(con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    assert set(view_sql) == VIEWS
    releases_dir = str((home / "releases").resolve())
    for name, sql in view_sql.items():
        assert "warehouse" not in sql.lower(), name
        assert "attach" not in sql.lower(), name
        for table in tables:  # no warehouse table is named (views name only views/files)
            assert not re.search(rf"(?<![\w/.-]){re.escape(table)}(?![\w.-])", sql), (name, table)
        for path in re.findall(r"'(/[^'(]+)'", sql):  # every file read is a release file
            assert path.startswith(releases_dir + "/"), (name, path)
            assert re.search(r"/\d{4}-\d{2}/(EUD_\w+/cells\.parquet|manifest\.json|audit\.json|"
                             r"revisions\.csv)$", path), (name, path)
    # every value of every view, as text: no 32-hex token (checksums are 64-hex)
    for name in sorted(VIEWS):
        for row in con.execute(f"SELECT * FROM {name}").fetchall():
            text = " ".join(str(v) for v in row)
            hit = HEX32.search(text)
            assert hit is None, (name, hit.group(0) if hit else None)
            assert not pseudonyms & set(re.findall(r"[0-9a-f]{32}", text))
    # and the read-only connection cannot open the warehouse in any way
    wh = (home / "warehouse.duckdb").as_posix()
    for sql in (f"ATTACH '{wh}' AS w (READ_ONLY)", f"SELECT * FROM read_blob('{wh}')",
                f"SELECT * FROM read_blob('{releases_dir}/../warehouse.duckdb')",
                "SET enable_external_access = true"):
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()


def test_rebuild_is_atomic(home, tmp_path):
    from transforms.analyse import build_analysis_db

    copy = tmp_path / "home"
    shutil.copytree(home / "releases", copy / "releases", symlinks=True)
    db = build_analysis_db(copy)
    first = db.stat().st_ino
    db = build_analysis_db(copy)
    assert db.stat().st_ino != first  # a new file moved into place, never rewritten in place
    before = db.read_bytes()
    broken = copy / "releases" / RELEASES[-1] / CUBES["FRAFVURD"].id / "cells.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(duckdb.Error):
        build_analysis_db(copy)
    assert db.read_bytes() == before  # the old file is untouched
    assert [p.name for p in copy.iterdir()] == ["releases", "analyse.duckdb"] or \
        sorted(p.name for p in copy.iterdir()) == ["analyse.duckdb", "releases"]


def test_empty_home_gives_empty_views(tmp_path):
    from transforms.analyse import build_analysis_db, connect_readonly

    build_analysis_db(tmp_path)
    c = connect_readonly(tmp_path)
    try:
        for name in VIEWS - {"grupperinger", "noegletal"}:
            assert c.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] == 0, name
    finally:
        c.close()


# --- the worked examples of docs/analysts.md ----------------------------------------------------


def doc_examples() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    found = re.findall(r"<!-- example: ([\w-]+) -->\s*```sql\n(.*?)```", text, flags=re.S)
    out = dict(found)
    assert len(out) == len(found), "duplicate example ids in docs/analysts.md"
    return out


def check_releases_overview(home, rows):
    expected = []
    for r in published(home):
        frames = [cells(home, r, u) for u in CUBES]
        n = sum(len(f) for f in frames)
        w = sum(int((f["status"] == "diskretioneret").sum()) for f in frames)
        expected.append({"udgivelse": r,
                         "skaeringstidspunkt": manifest(home, r)["skaeringstidspunkt"],
                         "revisionsverdikt": audit_json(home, r)["verdict"], "celler": n,
                         "diskretionerede": w, "pct_diskretioneret": half_up(100 * w / n)})
    assert_rows(rows, expected)


def check_ssa_reasons(home, rows):
    c = cells(home, latest(home), "AFSLAARS")
    key = "[Tid].[Kvartal]|[Uddannelse].[Uddannelse]|[Afslagsårsag].[Primær årsag]"
    sel = c[(c.gruppering == key) & (c.uddannelse == SSA) & (c.tid_aar >= "2025")]
    expected = [{"tid_kvartal": r.tid_kvartal, "primaer_aarsag": r.primaer_aarsag,
                 "antal_afslag": r.antal_afslag, "pct_af_afslag": pct(r.andel_af_afslag),
                 "status": r.status} for r in sel.itertuples()]
    expected.sort(key=lambda e: (e["tid_kvartal"], e["antal_afslag"] is None,
                                 -(e["antal_afslag"] or 0), e["primaer_aarsag"]))
    assert len(expected) > 8 and any(e["antal_afslag"] is None for e in expected) or expected
    assert_rows(rows, expected)


def check_region_reasons(home, rows):
    c = cells(home, latest(home), "AFSLAARS")
    key = "[Tid].[År]|[Arbejdssted].[Region]|[Afslagsårsag].[Primær årsag]"
    sel = c[(c.gruppering == key) & (c.region == "Region Hovedstaden")]
    years = sorted(set(sel.tid_aar))
    by_reason: dict[str, dict] = {}
    for r in sel.itertuples():
        by_reason.setdefault(r.primaer_aarsag, {"primaer_aarsag": r.primaer_aarsag})[r.tid_aar] \
            = r.antal_afslag
    expected = [by_reason[k] for k in sorted(by_reason)]
    assert list(rows[0]) == ["primaer_aarsag", *years]
    assert_rows(rows, expected)


def check_groupings(home, rows):
    want = {"[Arbejdssted].[Region]", "[Afslagsårsag].[Primær årsag]"}
    expected = []
    for u, cube in CUBES.items():
        for key, view_ids in cube.groupings.items():
            attrs = key.split("|") if key else []
            if want <= set(attrs):
                expected.append({"kube": u, "gruppering": key, "n": len(attrs),
                                 "visninger": [v.name for v in cube.views if v.id in view_ids]})
    expected.sort(key=lambda e: (e["kube"], e["n"], e["gruppering"]))
    assert [r["gruppering"] for r in rows] == [e["gruppering"] for e in expected]
    assert [r["visninger"] for r in rows] == [e["visninger"] for e in expected]
    assert [r["kube"] for r in rows] == [e["kube"] for e in expected]
    assert expected


def check_stale(home, rows):
    c = cells(home, latest(home), "FRAFVURD")
    ages = c[c.gruppering == "[Tid].[Kvartal]|[Vurdering].[Alder af vurdering]"]
    total = c[c.gruppering == "[Tid].[Kvartal]"]
    expected = []
    for r in total.sort_values("tid_kvartal").itertuples():
        parts = ages[(ages.tid_kvartal == r.tid_kvartal)
                     & ages.alder_af_vurdering.isin(["6-11 måneder", "12 måneder og derover"])]
        vals = parts.antal_elever.tolist()
        gamle = None if any(v is None for v in vals) or not vals else sum(vals)
        expected.append({"tid_kvartal": r.tid_kvartal, "statusdato": r.statusdato,
                         "elever": r.antal_elever, "gamle": gamle,
                         "pct_gamle": None if gamle is None or r.antal_elever is None
                         else half_up(100 * gamle / r.antal_elever)})
    assert len(expected) >= 8
    assert_rows(rows, expected)


def check_dropout(home, rows):
    c = cells(home, latest(home), "FRAFAFBRUD")
    sel = c[c.gruppering == "[Tid].[År]|[Frafaldsrisiko].[Frafaldsrisiko]"]
    order = ["Lav", "Middel", "Høj", "Ikke vurderet"]
    expected = [{"tid_aar": r.tid_aar, "frafaldsrisiko": r.frafaldsrisiko,
                 "antal_elever": r.antal_elever, "antal_afbrudt": r.antal_afbrudt,
                 "pct_afbrudt": pct(r.andel_afbrudt), "status": r.status}
                for r in sel.itertuples()]
    expected.sort(key=lambda e: (e["tid_aar"], order.index(e["frafaldsrisiko"])))
    assert expected
    assert_rows(rows, expected)


def check_high_risk(home, rows):
    c = cells(home, latest(home), "FRAFVURD")
    last_q = max(c[c.gruppering == "[Tid].[Kvartal]"].tid_kvartal)
    sel = c[(c.gruppering == "[Tid].[Kvartal]|[Skole].[Skole]|[Frafaldsrisiko].[Frafaldsrisiko]")
            & (c.frafaldsrisiko == "Høj") & (c.tid_kvartal == last_q)]
    expected = [{"skole": r.skole, "institutionsnummer": r.institutionsnummer,
                 "tid_kvartal": r.tid_kvartal, "elever_hoej_risiko": r.antal_elever,
                 "pct_hoej_risiko": pct(r.andel_elever)} for r in sel.itertuples()]
    expected.sort(key=lambda e: (e["pct_hoej_risiko"] is None, -(e["pct_hoej_risiko"] or 0),
                                 e["skole"]))
    assert expected
    assert_rows(rows, expected)


def check_revisions(home, rows):
    import csv

    with (home / "releases" / latest(home) / "revisions.csv").open(encoding="utf-8-sig") as f:
        revs = list(csv.DictReader(f, delimiter=";"))
    groups: dict[tuple, dict] = {}
    for r in revs:
        g = groups.setdefault((r["kube"], r["art"], r["nøgletal"]),
                              {"celler": 0, "status_skiftet": 0, "steget": 0, "faldet": 0})
        g["celler"] += 1
        g["status_skiftet"] += r["forrige_status"] != r["ny_status"]
        if r["forrige_værdi"] and r["ny_værdi"]:
            a, b = float(r["forrige_værdi"]), float(r["ny_værdi"])
            g["steget"] += b > a
            g["faldet"] += b < a
    expected = [{"kube": k[0], "art": k[1], "noegletal": k[2], **v}
                for k, v in sorted(groups.items())]
    assert expected
    assert_rows(rows, expected)


def check_series(home, rows):
    old, new = cells(home, previous(home), "AFSLAARS"), cells(home, latest(home), "AFSLAARS")
    a = old[old.gruppering == "[Tid].[Måned]"].set_index("tid_maaned")
    b = new[new.gruppering == "[Tid].[Måned]"].set_index("tid_maaned")
    expected = []
    for m in sorted(set(a.index) & set(b.index)):
        x, y = a.at[m, "antal_afslag"], b.at[m, "antal_afslag"]
        if not same(x, y) or a.at[m, "status"] != b.at[m, "status"]:
            expected.append({"tid_maaned": m, "forrige": x, "seneste": y,
                             "aendring": None if x is None or y is None else y - x,
                             "forrige_status": a.at[m, "status"],
                             "seneste_status": b.at[m, "status"]})
    assert expected  # late registrations revise at least one month
    assert_rows(rows, expected)


def check_withheld(home, rows):
    expected = []
    for u in CUBES:
        c = cells(home, latest(home), u)
        for key, g in c.groupby("gruppering", sort=False):
            n, w = len(g), int((g.status == "diskretioneret").sum())
            expected.append({"kube": u, "gruppering": key, "celler": n, "diskretionerede": w,
                             "pct_diskretioneret": half_up(100 * w / n)})
    expected.sort(key=lambda e: (-e["pct_diskretioneret"], e["kube"], e["gruppering"]))
    assert_rows(rows, expected[:10])


CHECKS = {
    "releases-overview": check_releases_overview,
    "ssa-reasons-by-quarter": check_ssa_reasons,
    "region-reasons-by-year": check_region_reasons,
    "groupings-with-region": check_groupings,
    "stale-assessments-trend": check_stale,
    "dropout-by-risk": check_dropout,
    "high-risk-by-school": check_high_risk,
    "revisions-summary": check_revisions,
    "series-two-releases": check_series,
    "withheld-by-grouping": check_withheld,
}


def test_docs_have_ten_examples_each_checked():
    examples = doc_examples()
    assert len(examples) == 10
    assert set(examples) == set(CHECKS)


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_docs_example(example, home, con):
    sql = doc_examples()[example]
    rows = rows_of(con, sql)
    assert rows, f"example {example} returned no rows on the demo build"
    CHECKS[example](home, rows)


def test_docs_pandas_example(home):
    """The snippet as a user runs it: its own process (one process cannot open a DuckDB file
    with two configurations, and the tests hold the sandboxed one)."""
    import subprocess
    import sys

    text = DOCS.read_text(encoding="utf-8")
    code = re.search(r"<!-- pandas-example -->\s*```python\n(.*?)```", text, flags=re.S).group(1)
    code += "\nprint(df.to_json(orient='records', force_ascii=False))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "LPSTAT_HOME": str(home)}, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    df = pd.DataFrame(json.loads(out.stdout))
    c = cells(home, latest(home), "AFSLAARS")
    key = "[Tid].[Kvartal]|[Uddannelse].[Uddannelse]|[Afslagsårsag].[Primær årsag]"
    sel = c[(c.gruppering == key) & (c.uddannelse == SSA)]
    assert len(df) == len(sel) > 0

    def norm(v):
        return None if v is None or pd.isna(v) else int(v)

    got = sorted((a, b, norm(v)) for a, b, v in zip(df.tid_kvartal, df.primaer_aarsag,
                                                     df.antal_afslag))
    want = sorted((a, b, norm(v)) for a, b, v in zip(sel.tid_kvartal, sel.primaer_aarsag,
                                                      sel.antal_afslag))
    assert got == want


def _danish_number(text: str) -> float | None:
    if text == "":
        return None
    if text.endswith(" %"):
        return float(text[:-2].replace(".", "").replace(",", "."))
    return float(text.replace(".", ""))


def test_docs_api_example_gives_the_same_numbers(home, con):
    import asyncio

    import httpx

    from serving.app import create_app

    text = DOCS.read_text(encoding="utf-8")
    body = json.loads(re.search(r"<!-- api-example -->\s*```json\n(.*?)```", text,
                                flags=re.S).group(1))

    async def ask():
        transport = httpx.ASGITransport(app=create_app(home, ["docs-token"]))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.post("/Api/v1/statistik", json=body,
                                     headers={"Authorization": "Bearer docs-token"})

    answer = asyncio.run(ask())
    assert answer.status_code == 200, answer.text
    api = {(r["[Tid].[Kvartal].[Kvartal]"], r["[Afslagsårsag].[Primær årsag].[Primær årsag]"]):
           (_danish_number(r["Antal afslag"]), _danish_number(r["Andel af afslag"]))
           for r in answer.json()}
    sql = rows_of(con, doc_examples()["ssa-reasons-by-quarter"])
    ours = {(r["tid_kvartal"], r["primaer_aarsag"]): (r["antal_afslag"], r["pct_af_afslag"])
            for r in sql if r["tid_kvartal"].startswith("2025") and r["antal_afslag"] is not None}
    assert set(api) == set(ours) and api
    for k, (n, p) in ours.items():
        assert api[k][0] == n
        assert abs(api[k][1] - p) <= 0.051, (k, api[k], p)


def test_release_list_rule_matches_the_release_writer(home, tmp_path):
    from transforms import analyse
    from transforms.publish import release

    assert analyse.complete_releases(home / "releases") == \
        release.complete_releases(home / "releases") == list(RELEASES)
    odd = tmp_path / "releases"
    for name in ("2026-01", ".tmp-2026-02-1", "2026-03"):
        (odd / name).mkdir(parents=True)
    (odd / "2026-01" / "manifest.json").write_text("{}")
    (odd / ".tmp-2026-02-1" / "manifest.json").write_text("{}")
    (odd / "latest").symlink_to("2026-01")
    assert analyse.complete_releases(odd) == release.complete_releases(odd) == ["2026-01"]
    assert analyse.complete_releases(tmp_path / "none") == []
