"""Disclosure control over the published series (contract 3.7, issue 17), on a hand-built store.

Two consecutive releases of the same store, 2021-06 and 2021-07, built in order on one home
as the monthly run builds them. July is the first month of a quarter, so 2021K3 in release
2021-07 is July alone, and the year 2021 grows by exactly July between the two releases.
København's refusals for "Ansøger trak ansøgningen eller takkede nej" are 3, 3, 2 in April-June
and 2 in July: the issue's example in small. Each release passes its own audit either way;
built without the series (as before), the second release publishes what, with the first,
pins withheld cells of 1-3 refusals.

The attacker here is written for this test and shares no code with lpstat's audit: month-level
unknowns for every non-time grouping of AFSLAARS (every caption combination published), every
published cell of both releases the sum of its months (the truth did not change between the
releases, so a month is one unknown in both), all refinement relations within a month, and
for each withheld cell an LP (HiGHS) that minimises and maximises it: one model per attack,
only the objective changing between cells (primal simplex from the previous basis: seconds,
where a model per cell took half a minute).
"""

from __future__ import annotations

import itertools
import json
import os

import highspy
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.storebuilder import TinyStore

RELEASES = ("2021-06", "2021-07")
CAPTION = {"tid_maaned", "tid_kvartal", "tid_aar"}
GEO = {"kommune": 0, "region": 1}


LONG = ("2021-06", "2021-07", "2021-08", "2021-09")


def _store(longer: bool = False) -> TinyStore:
    s = TinyStore()
    s.virksomhed(1, "KOMMUNE", "0101").virksomhed(2, "REGION", "0751")
    s.virksomhed(3, "KOMMUNE", "0147")  # Frederiksberg: a second kommune in the region
    n = 0

    def refusals(vid, udd, prim, month, count, day=10):
        nonlocal n
        for _ in range(count):
            n += 1
            s.afslag(n, vid, udd, f"Ansøger {n}", prim, None,
                     f"2021-{month:02d}-{day:02d}T10:00:00+02:00")

    for month, k in ((4, 3), (5, 3), (6, 2), (7, 2)):  # København: the increment is 2
        refusals(1, "SSA", "R05", month, k)
    for month, k in ((4, 5), (5, 4), (6, 6), (7, 7)):
        refusals(2, "SSA", "R05", month, k)
        refusals(3, "SSH", "R01", month, k)
    for month, k in ((4, 4), (6, 5), (7, 4)):
        refusals(1, "SSH", "R01", month, k)
    if longer:  # August and September, after the two releases above
        for month, k in ((8, 1), (9, 3)):
            refusals(1, "SSA", "R05", month, k)
        for month, k in ((8, 6), (9, 2)):
            refusals(2, "SSA", "R05", month, k)
            refusals(3, "SSH", "R01", month, k)
        refusals(1, "SSH", "R01", 9, 5)
    return s


def _build(tmp, series, releases=RELEASES, longer=False) -> dict[str, pd.DataFrame]:
    """The releases in order on one home; ``series``: per release, or for all, whether
    disclosure control knows the published series (the method before it did not)."""
    if isinstance(series, bool):
        series = (series,) * len(releases)
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells, prepare_release
    from transforms.disclosure.protect import protect_release
    from transforms.land import land_source
    from transforms.publish.release import publish_release
    from transforms.warehouse import build_all, connect, store_partition

    url = _store(longer).write(tmp / "store.sqlite")
    con = connect(tmp / "warehouse.duckdb")
    out, audits = {}, {}
    try:
        land_source(url, "k" * 32, con, "test")
        build_all(con)
        for release, with_series in zip(releases, series):
            prepare_release(con, release)
            for u, cube in CUBES.items():
                store_partition(con, f"cube_{u.lower()}", release, build_cells(con, cube, release))
            audits[release] = protect_release(
                con, release, releases_dir=(tmp / "releases") if with_series else None)
            assert audits[release]["verdict"] == "bestået"
            folder = publish_release(con, tmp / "releases", release, {})
            out[release] = pd.read_parquet(folder / "EUD_AFSL_AFSLAARS" / "cells.parquet")
        truth = {r: con.execute("SELECT * FROM cube_afslaars WHERE udgivelse = ? ORDER BY _nr",
                                [r]).df() for r in releases}
    finally:
        con.close()
    return {"published": out, "truth": truth, "audits": audits, "home": tmp}


# --- the independent attacker ----------------------------------------------------------------


def _attrs(gruppering: str) -> list[str]:
    return [a for a in gruppering.split("|") if a] if gruppering else []


def _col(attr: str) -> str:
    return {"[Uddannelse].[Uddannelse]": "uddannelse", "[Arbejdssted].[Region]": "region",
            "[Arbejdssted].[Kommune]": "kommune", "[Arbejdssted].[Sektor]": "sektor",
            "[Afslagsårsag].[Primær årsag]": "primaer_aarsag",
            "[Afslagsårsag].[Sekundær årsag]": "sekundaer_aarsag"}[attr]


def _months_of(row, last: str) -> list[str]:
    months = [f"2021M{m:02d}" for m in range(4, int(last[5:]) + 1)]
    if isinstance(row.get("tid_maaned"), str):
        return [row["tid_maaned"]]
    if isinstance(row.get("tid_kvartal"), str):
        q = int(row["tid_kvartal"][-1])
        return [m for m in months if (int(m[5:]) - 1) // 3 + 1 == q]
    return months  # År 2021 and the total: every month so far


def attack(published: dict[str, pd.DataFrame], target=lambda row: True) -> list[dict]:
    """Withheld cells (those ``target`` picks) that an LP over every published number of
    both releases narrows below the rule."""
    region_of = {}
    var: dict[tuple, int] = {}
    rows, vals = [], []  # equations: (indices, coefficients) = value

    def x(g: tuple, caps: tuple, month: str) -> int:
        return var.setdefault((g, caps, month), len(var))

    groups: dict[tuple, set] = {}
    for release, df in published.items():
        for r in df.to_dict("records"):
            g = tuple(_col(a) for a in _attrs(r["gruppering"]) if "[Tid]" not in a)
            groups.setdefault(g, set()).add(tuple(r[c] for c in g))
            if isinstance(r.get("kommune"), str):
                region_of[r["kommune"]] = r["region"]
    last = max(RELEASES).replace("-", "M")
    months = [f"2021M{m:02d}" for m in range(4, int(last[5:]) + 1)]
    # refinement within a month: every pair (coarse, fine) of groupings
    for gp, gc in itertools.permutations(groups, 2):
        fine = set(gc) | ({"region"} if "kommune" in gc else set())
        if not set(gp) <= fine or set(gp) == set(gc):
            continue
        for caps_p in groups[gp]:
            p = dict(zip(gp, caps_p))
            kids = [c for c in groups[gc]
                    if all((dict(zip(gc, c)).get(k) if k != "region" or "region" in gc
                            else region_of.get(dict(zip(gc, c))["kommune"])) == v
                           for k, v in p.items())]
            for m in months:
                rows.append(([x(gp, caps_p, m)] + [x(gc, c, m) for c in kids],
                             [1.0] + [-1.0] * len(kids)))
                vals.append(0.0)
    targets = {}
    for release, df in published.items():
        rl = release.replace("-", "M")
        for r in df.to_dict("records"):
            g = tuple(_col(a) for a in _attrs(r["gruppering"]) if "[Tid]" not in a)
            caps = tuple(r[c] for c in g)
            idx = tuple(sorted(x(g, caps, m) for m in _months_of(r, rl)))
            if pd.isna(r["antal_afslag"]):
                if target(r):
                    targets.setdefault(idx, (release, r["gruppering"], dict(r)))
            else:
                rows.append((list(idx), [1.0] * len(idx)))
                vals.append(float(r["antal_afslag"]))
    n = len(var)
    # one LP for the whole attack: the constraints never change between targets, only the
    # objective (and its sense), so HiGHS starts each solve from the previous basis
    ri = [i for i, (ix, _) in enumerate(rows) for _ in ix]
    ci = [j for ix, _ in rows for j in ix]
    cv = [c for _, cf in rows for c in cf]
    A = sp.csc_matrix((cv, (ri, ci)), shape=(len(rows), n))  # duplicates are summed
    b = np.array(vals)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # presolve would drop the basis the next solve uses
    h.setOptionValue("simplex_strategy", 4)  # primal: a new objective keeps the basis feasible
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(rows)
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, highspy.kHighsInf)
    lp.row_lower_ = lp.row_upper_ = b
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    assert h.passModel(lp) == highspy.HighsStatus.kOk
    status = highspy.HighsModelStatus

    def solve(sense) -> tuple:
        h.changeObjectiveSense(sense)
        h.run()
        return h.getModelStatus(), h.getInfo().objective_function_value

    bad, previous = [], np.array([], dtype=np.int64)
    for idx, (release, grp, row) in targets.items():
        cols = np.array(idx, dtype=np.int64)
        h.changeColsCost(len(previous), previous, np.zeros(len(previous)))
        h.changeColsCost(len(cols), cols, np.ones(len(cols)))
        previous = cols
        lo_s, lo_f = solve(highspy.ObjSense.kMinimize)
        hi_s, hi_f = solve(highspy.ObjSense.kMaximize)
        # the truth is a solution, so the system is feasible: no upper bound means unbounded
        unbounded = (status.kUnbounded, status.kUnboundedOrInfeasible)
        assert lo_s == status.kOptimal and hi_s in (status.kOptimal, *unbounded)
        lo_v = int(np.ceil(lo_f - 1e-6))
        hi_v = None if hi_s in unbounded else int(np.floor(hi_f + 1e-6))
        ok = (lo_v == 0 and hi_v == 0) or hi_v is None or (
            hi_v > lo_v and hi_v >= 4 and (lo_v >= 4 or hi_v - lo_v >= 3))
        if not ok:
            bad.append({"release": release, "gruppering": grp, "lo": lo_v, "hi": hi_v,
                        "kommune": row.get("kommune"), "kvartal": row.get("tid_kvartal"),
                        "aar": row.get("tid_aar"), "maaned": row.get("tid_maaned")})
    return bad


ACTIVE_REASONS = {"Ansøger trak ansøgningen eller takkede nej", "Faglige forudsætninger"}


def _active(row) -> bool:
    """Withheld cells of the kommuner, regions and reasons the store has data for, and their
    margins
    (the other kommuner are empty everywhere: their cells stay in the system as unknowns,
    but checking each of them would only make the test slower)."""
    k, r, p = row.get("kommune"), row.get("region"), row.get("primaer_aarsag")
    return (not isinstance(k, str) or k in {"København", "Frederiksberg", "Aarhus"}) and (
        not isinstance(r, str) or r in {"Region Hovedstaden", "Region Midtjylland"}) and (
        not isinstance(p, str) or p in ACTIVE_REASONS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return {"series": _build(tmp_path_factory.mktemp("series"), series=True),
            "alone": _build(tmp_path_factory.mktemp("alone"), series=False),
            "mixed": _build(tmp_path_factory.mktemp("mixed"), series=(False, True))}


def test_releases_built_alone_leak_together(built):
    """The method before the series rule: each release passes alone, together they pin
    withheld cells (the issue's example)."""
    bad = attack(built["alone"]["published"], _active)
    assert bad, "expected the two releases built alone to leak"
    assert any(b["kommune"] == "København" for b in bad)


def test_series_built_releases_hold_together(built):
    bad = attack(built["series"]["published"], _active)
    assert bad == []


def test_the_new_method_is_safe_with_history_the_old_one_made(built):
    """2021-06 published by the method before the series rule (no truth kept for it: the
    series audit rebuilds it from the warehouse), 2021-07 by the new one on the same home."""
    mixed = built["mixed"]
    assert attack(mixed["published"], _active) == []
    serie = mixed["audits"]["2021-07"]["cubes"]["AFSLAARS"]["serie"]
    assert serie["verdict"] == "bestået" and serie["uden_sandhed"] == []
    assert serie["versions"][0] == "2021-06"


def test_four_releases_in_order_hold_together_and_are_audited_month_by_month(tmp_path,
                                                                              monkeypatch):
    """June to September 2021 built in order on one home: the independent attacker over all
    four releases finds nothing, and from the second release on the series audit of AFSLAARS
    went by steps (audit_chain: one step from the state the previous release left in the
    warehouse), with no whole-union audit needed. (The checked search, as for national
    cubes: the global suppressor takes some 40 s a release on this store's sparse cube.)"""
    monkeypatch.setenv("LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS", "0")
    long = _build(tmp_path, series=True, releases=LONG, longer=True)
    assert attack(long["published"], _active) == []
    for release in LONG[1:]:
        serie = long["audits"][release]["cubes"]["AFSLAARS"]["serie"]
        assert serie["verdict"] == "bestået"
        assert serie["versions"][:-1] == list(LONG[:LONG.index(release)])
        step = serie["inkrementel"]
        assert step["fuld_revision"] == [] and step["trin"] >= 1, (release, step)
    last = long["audits"][LONG[-1]]["cubes"]["AFSLAARS"]["serie"]["inkrementel"]
    assert last["fra"] == LONG[-2] and last["trin"] == 1


def test_audit_json_states_the_series(built):
    home = built["series"]["home"]
    audit = json.loads((home / "releases" / "2021-07" / "audit.json").read_text())
    for u, cube in audit["cubes"].items():
        serie = cube["serie"]
        assert serie["verdict"] == "bestået", u
        assert serie["versions"][:-1] == ["2021-06"], u
        assert serie["uden_sandhed"] == []
        k = serie["komponenter"]  # components reused from earlier audits / solved afresh
        assert set(k) == {"genbrugt", "loest", "stoerste_loeste"}
        assert all(isinstance(v, int) and v >= 0 for v in k.values())


def test_each_release_is_found_by_its_published_cells(built):
    """The truth a version was built from is found again from its cells.parquet alone."""
    from transforms.catalog import CUBES
    from transforms.series import fingerprint, read_published, recorded_truth
    from transforms.warehouse import connect

    home = built["series"]["home"]
    con = connect(home / "warehouse.duckdb")
    try:
        for release in RELEASES:
            for cube in CUBES.values():
                frame = read_published(home / "releases" / release, cube)
                assert recorded_truth(con, cube, fingerprint(frame, cube)) is not None
    finally:
        con.close()


def test_a_rerun_reproduces_the_release_byte_for_byte(built, tmp_path, monkeypatch):
    """Re-running the latest month on the same home follows its own published pattern, and
    audits none of its cubes again: each frame is the one the first run audited, and its
    result comes from the warehouse's audit memo (transforms/disclosure/audit/memo.py), as
    the global suppressor's pattern of the same cells comes from its (guarded.PatternMemo)."""
    import functools

    from transforms.catalog import CUBES
    from transforms.disclosure import audit as audit_pkg
    from transforms.disclosure.protect import protect_release
    from transforms.publish import layout
    from transforms.publish.release import publish_release
    from transforms.warehouse import connect

    real, calls = audit_pkg.audit, []

    @functools.wraps(real)  # the same name: the memo's digest names the audit function
    def counted(*a, **k):
        calls.append(a[1].underemne)
        return real(*a, **k)

    monkeypatch.setattr(audit_pkg, "audit", counted)

    def no_process(*a, **k):
        raise AssertionError("the global suppressor ran again")

    from types import SimpleNamespace

    from transforms.disclosure import guarded

    # nor is any cube's global suppression run again (guarded.PatternMemo)
    monkeypatch.setattr(guarded, "mp", SimpleNamespace(get_context=no_process))
    home = built["series"]["home"]
    first = built["series"]["audits"]["2021-07"]
    con = connect(home / "warehouse.duckdb")
    try:
        before = {u: con.execute(f"SELECT * FROM pub_{u.lower()} WHERE udgivelse = ? "
                                 "ORDER BY _nr", ["2021-07"]).df() for u in CUBES}
        stored = con.execute("SELECT count(*) FROM serie_komponenter").fetchall()[0][0]
        kept = dict(con.execute("SELECT terning, udgivelse FROM audit_memo "
                                "WHERE udgivelse = '2021-07'").fetchall())
        rerun = protect_release(con, "2021-07", releases_dir=home / "releases")
        after = {u: con.execute(f"SELECT * FROM pub_{u.lower()} WHERE udgivelse = ? "
                                "ORDER BY _nr", ["2021-07"]).df() for u in CUBES}
        versions = layout.version_numbers(home / "releases")
        current = os.readlink(home / "releases" / "2021-07")
        publish_release(con, home / "releases", "2021-07", {})
    finally:
        con.close()
    # the same files, only the series block of audit.json differs: no version is added
    assert layout.version_numbers(home / "releases") == versions
    assert os.readlink(home / "releases" / "2021-07") == current
    assert all(c["serie"]["versions"][-2:] == ["2021-07", "2021-07 (denne)"]
               for c in rerun["cubes"].values())
    for u in CUBES:
        pd.testing.assert_frame_equal(before[u], after[u])
    assert sorted(kept) == sorted(CUBES)  # every cube's passing audit was kept ...
    assert calls == []  # ... and answered the re-run: no cube audited again
    for u in CUBES:
        for k in ("verdict", "withheld", "checked", "failed", "exact", "cells"):
            assert rerun["cubes"][u][k] == first["cubes"][u][k], (u, k)
    # the same system as the release's own final series audit: every component kept from
    # it (the warehouse keeps those of 64 unknowns or more) is reused, none solved again
    reused = sum(c["serie"]["komponenter"]["genbrugt"] for c in rerun["cubes"].values())
    assert reused == stored
    if stored:
        assert all(c["serie"]["komponenter"]["loest"] == 0 for c in rerun["cubes"].values()
                   if c["serie"]["komponenter"]["genbrugt"])


def test_the_warehouse_counts_the_flow_truth_as_pandas_did(built):
    """series.warehouse_flow_truth (the counts made in DuckDB, what the monthly run uses)
    gives the frame flow_truth gives from every base row in pandas, row for row and type
    for type: the recorded truths, and the series fingerprints, do not change."""
    from transforms.catalog import CUBES
    from transforms.series import base_rows, flow_truth, warehouse_flow_truth
    from transforms.warehouse import connect

    home = built["series"]["home"]
    con = connect(home / "warehouse.duckdb")
    try:
        for cube in CUBES.values():
            if cube.kind != "flow":
                continue
            for release in RELEASES:
                want = flow_truth(base_rows(con, cube, release), cube)
                got = warehouse_flow_truth(con, cube, release)
                assert len(got) > 0
                pd.testing.assert_frame_equal(got, want, check_exact=True)
                assert list(got.dtypes) == list(want.dtypes)
            assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                               "'_sandhed_grundlag'").fetchall()[0][0] == 0
    finally:
        con.close()
