"""The series audit one release at a time (audit_chain) against the whole union's audit.

The chain's claim (transforms/disclosure/audit_chain.py): where a release adds nothing but its
new month, the union's feasible set is the earlier union times the new month's system, so every
earlier verdict stands and the new release's verdicts follow from its month alone. These tests
build series of releases with random data and random patterns and compare, release by release,
every verdict the chain reaches with the verdicts of the whole union solved at once.
"""

import numpy as np
import pandas as pd
import pytest

from tests.synth_cells import cells_from_records
from transforms.catalog import AFSLAARS
from transforms.disclosure.audit import PASSED
from transforms.disclosure.audit_chain import ChainStore, NotAStep, step, version_digest
from transforms.disclosure.audit_series import SeriesVersion, audit_series
from transforms.series import flow_truth

KOMMUNER = {"København": "Region Hovedstaden", "Aarhus": "Region Midtjylland",
            "Odense": "Region Syddanmark"}
REASONS = ["Ansøger trak ansøgningen eller takkede nej", "Andet", "Manglende kvalifikationer"]


def _month(k: int) -> str:  # k = 0 → 2025M11
    y, m = divmod(2025 * 12 + 10 + k, 12)
    return f"{y}M{m + 1:02d}"


def _records(rng, n_months: int, late: dict | None = None) -> list[pd.DataFrame]:
    """Per month its refusals (Poisson counts per kommune and reason)."""
    out = []
    ind = 0
    for k in range(n_months):
        rows = []
        for kom, reg in KOMMUNER.items():
            for r in REASONS:
                for _ in range(int(rng.poisson(rng.choice([0.3, 1.5, 4.0])))):
                    ind += 1
                    rows.append({"tid_maaned": _month(k), "kommune": kom, "region": reg,
                                 "primaer_aarsag": r, "individ": f"i{ind}"})
        out.append(pd.DataFrame(rows, columns=["tid_maaned", "kommune", "region",
                                                "primaer_aarsag", "individ"]))
    return out


def _cells(recs: list[pd.DataFrame], upto: int):
    rec = pd.concat(recs[:upto + 1], ignore_index=True)
    months = [_month(k) for k in range(upto + 1)]
    cells = cells_from_records(rec, AFSLAARS, views=["v2"],
                               members={"tid_maaned": months, "kommune": list(KOMMUNER),
                                        "primaer_aarsag": REASONS,
                                        "_geo": [{"kommune": k, "region": r}
                                                 for k, r in KOMMUNER.items()]})
    return cells, flow_truth(rec, AFSLAARS)


def _key(frame: pd.DataFrame) -> pd.Series:
    cols = ["gruppering", "tid_kvartal", "tid_aar", "kommune", "region", "primaer_aarsag"]
    return frame[cols].astype(object).where(frame[cols].notna(), "").astype(str).agg(
        "|".join, axis=1)


def _publish(cells: pd.DataFrame, hide: np.ndarray) -> pd.DataFrame:
    pub = cells.drop(columns=["n_individer"]).copy()
    for c in ("antal_afslag", "antal_ansoegere"):
        pub[c] = pub[c].astype(float).where(~hide)
    return pub


def _cell_keys(ver) -> list[tuple]:
    """(G, X, time level, caption) per row, as the chain keys a version's cells."""
    from transforms.disclosure.audit_chain import _keys

    k = _keys(ver, AFSLAARS)
    return list(zip(k["G"], k["X"], k["tid"], k["tcap"]))


def _pattern(rng, cells: pd.DataFrame, prev: pd.DataFrame | None, month: str,
             p_publish: float, follow: bool = True) -> np.ndarray:
    """A random pattern that adds only its month (when ``follow``): periods that ended keep
    the previous release's status, running periods are published only where the previous
    release published them; zeros and cells of 1-3 individuals are withheld."""
    v = cells["antal_afslag"].to_numpy()
    hide = (v == 0) | cells["n_individer"].between(1, 3).to_numpy()
    hide |= rng.random(len(cells)) > p_publish
    if prev is not None and follow:
        before = dict(zip(_key(prev), np.isnan(prev["antal_afslag"].to_numpy(float))))
        k = _key(cells)
        q = f"{month[:4]}K{(int(month[5:]) - 1) // 3 + 1}"
        for i, key in enumerate(k):
            if key not in before:
                continue
            tq, ta = cells["tid_kvartal"].iat[i], cells["tid_aar"].iat[i]
            tq, ta = (None if pd.isna(tq) else tq), (None if pd.isna(ta) else ta)
            running = (tq is None and ta is None) or tq == q or (tq is None and ta == month[:4])
            if running:
                hide[i] |= before[key]
            else:
                hide[i] = before[key]
    return hide


@pytest.mark.parametrize("seed", range(6))
def test_each_step_gives_the_whole_unions_verdicts(seed):
    """Release by release: wherever the union before passed, the chain's verdict on the new
    release equals the whole union's, value by value, and the whole union finds every earlier
    value still protected."""
    rng = np.random.default_rng(seed)
    n = 7
    recs = _records(rng, n)
    versions: list[SeriesVersion] = []
    prev_pub = None
    steps = 0
    for k in range(n):
        month = _month(k)
        release = f"{month[:4]}-{month[5:]}"
        cells, truth = _cells(recs, k)
        for attempt in range(3):
            p = (0.9, 0.6, 0.0)[attempt]
            pub = _publish(cells, _pattern(rng, cells, prev_pub, month, p))
            ver = SeriesVersion(release, release, pub, truth)
            whole = audit_series(versions + [ver], AFSLAARS)
            want = ver.rows["count_ok"].copy()
            want_old = [o.rows["count_ok"].copy() for o in versions]
            # the cells of the version before proved [0, 0] by the whole union (its values
            # keep their intervals in a step, so these are the ones the chain carries)
            want_zero = set() if not versions else {
                key for key, f in zip(_cell_keys(versions[-1]), versions[-1].rows["zero"]) if f}
            if versions:
                zeros = ChainStore()
                base = audit_series(versions, AFSLAARS, chain=zeros)
                assert base["verdict"] == PASSED
                from transforms.disclosure.audit_chain import prefix_digests
                z = zeros.get(prefix_digests(versions, AFSLAARS)[-1])
                assert z == want_zero, (seed, k, attempt, len(z), len(want_zero))
                got = step(versions[-1], z, ver, AFSLAARS)
                steps += 1
                assert np.array_equal(got.ok, want), (seed, k, attempt,
                                                      np.flatnonzero(got.ok != want))
                for old in want_old:  # every earlier value keeps its verdict: passed
                    assert old.all()
            if whole["verdict"] == PASSED:
                break
        assert whole["verdict"] == PASSED, "withholding every running cell must pass"
        versions.append(ver)
        prev_pub = pub
    assert steps >= n - 1


def test_the_chain_gives_the_whole_unions_result_and_says_how():
    """audit_series with a chain: the same verdict and failing values as without it, one step
    per release after the first, and a second call starts from the state the first left."""
    rng = np.random.default_rng(11)
    n = 6
    recs = _records(rng, n)
    versions, prev_pub = [], None
    for k in range(n):
        month = _month(k)
        release = f"{month[:4]}-{month[5:]}"
        cells, truth = _cells(recs, k)
        pub = _publish(cells, _pattern(rng, cells, prev_pub, month, 0.0))
        versions.append(SeriesVersion(release, release, pub, truth))
        prev_pub = pub
    chain = ChainStore()
    res = audit_series(versions, AFSLAARS, chain=chain)
    whole = audit_series(versions, AFSLAARS)
    assert res["verdict"] == whole["verdict"] == PASSED
    assert res["inkrementel"]["trin"] == n - 1 and res["inkrementel"]["fuld_revision"] == []
    # the next release starts from the state the chain ended with: one step
    again = audit_series(versions, AFSLAARS, chain=ChainStore(dict(chain.entries)))
    assert again["inkrementel"]["trin"] == 1


def test_a_late_registration_or_a_link_is_not_a_step():
    rng = np.random.default_rng(3)
    recs = _records(rng, 3)
    c1, t1 = _cells(recs, 1)
    p1 = _publish(c1, _pattern(rng, c1, None, _month(1), 0.7))
    v1 = SeriesVersion("2025-12", "2025-12", p1, t1)
    # a late registration: a refusal of November registered after the December release
    late = [r.copy() for r in recs]
    late[0] = pd.concat([late[0], pd.DataFrame([{"tid_maaned": _month(0), "kommune": "Aarhus",
                                                 "region": "Region Midtjylland",
                                                 "primaer_aarsag": "Andet",
                                                 "individ": "late"}])], ignore_index=True)
    c2, t2 = _cells(late, 2)
    p2 = _publish(c2, _pattern(rng, c2, p1, _month(2), 0.0))
    with pytest.raises(NotAStep, match="sen registrering"):
        step(v1, set(), SeriesVersion("2026-01", "2026-01", p2, t2), AFSLAARS)
    # a total over time published where the previous release withheld it
    c2, t2 = _cells(recs, 2)
    hide = _pattern(rng, c2, p1, _month(2), 0.0)
    prev_hidden = set(_key(p1)[np.isnan(p1["antal_afslag"].to_numpy(float))])
    total = (c2["gruppering"] == "").to_numpy() & _key(c2).isin(prev_hidden).to_numpy()
    if not total.any():
        pytest.skip("the grand total was published in the first release")
    hide[total] = False
    with pytest.raises(NotAStep, match="forgænger"):
        step(v1, set(), SeriesVersion("2026-01", "2026-01", _publish(c2, hide), t2), AFSLAARS)


def _stock_cells(rng, per: dict, last: int):
    from tests.synth_cells import month_end
    from transforms.catalog import FRAFVURD
    from transforms.series import stock_truth

    rows = []
    for m in range(1, last + 1):
        cap = f"2026M{m:02d}"
        for k in range(per[m]):
            rows.append({"tid_maaned": cap, "statusdato": month_end(cap), "individ": f"e{k}",
                         "uddannelse": ("Social- og sundhedsassistent" if k % 2
                                        else "Social- og sundhedshjælper"),
                         "frafaldsrisiko": ("Lav", "Middel", "Høj")[k % 3],
                         "kommune": "København" if k % 4 else "Aarhus",
                         "region": "Region Hovedstaden" if k % 4 else "Region Midtjylland"})
    cells = cells_from_records(pd.DataFrame(rows), FRAFVURD, views=["v1", "v3"])
    return cells, stock_truth(cells, FRAFVURD)


@pytest.mark.parametrize("seed", range(4))
def test_stock_chain_gives_the_whole_unions_verdicts(seed):
    """A stock cube's series audit by status dates (only the dates the new release changes
    are solved again) against the whole union, release by release: the same verdict and the
    same failing values of every version. Each release tries random patterns (often
    failing) and keeps the first that passes; a late registration now and then changes a
    past date's truth."""
    from transforms.catalog import FRAFVURD

    rng = np.random.default_rng(seed)
    per = {m: int(rng.integers(3, 14)) for m in range(1, 7)}
    chain = ChainStore()
    versions, steps, failing = [], 0, 0
    for last in range(1, 7):
        if last > 1 and rng.random() < 0.4:
            per[int(rng.integers(1, last))] += 1
        cells, truth = _stock_cells(rng, per, last)
        v = cells["antal_elever"].astype(float)
        for p in (0.8, 0.4, 0.0):
            hide = (v == 0).to_numpy() | cells["n_individer"].between(1, 3).to_numpy()
            hide |= (rng.random(len(cells)) > p) & (cells["gruppering"] != "").to_numpy()
            pub = cells.drop(columns=["n_individer"]).copy()
            pub["antal_elever"] = v.where(~hide)
            rel = f"2026-{last:02d}"
            upto = versions + [SeriesVersion(rel, rel, pub, truth)]
            whole = audit_series(upto, FRAFVURD)
            want = [u.rows["count_ok"].copy() for u in upto]
            got = audit_series(upto, FRAFVURD, chain=chain)
            assert got["verdict"] == whole["verdict"], (seed, last, p)
            for u, w in zip(upto, want):
                assert np.array_equal(u.rows["count_ok"], w), (seed, last, p, u.label)
            steps += got.get("inkrementel", {}).get("trin", 0)
            failing += whole["verdict"] != PASSED
            if whole["verdict"] == PASSED:
                break
        if whole["verdict"] != PASSED:  # no passing pattern tried: the series ends here
            break
        versions = upto
    assert steps >= 3 and len(versions) >= 3


def test_a_rerun_that_reproduces_the_latest_version_changes_nothing():
    """The same month built again with the same data: the union is what it was, so the
    chain decides without solving; a re-run that publishes one more cell is solved (as a
    whole union, since it is not the next month), with the whole union's verdict."""
    rng = np.random.default_rng(5)
    recs = _records(rng, 3)
    versions, prev_pub = [], None
    for k in range(3):
        month = _month(k)
        release = f"{month[:4]}-{month[5:]}"
        cells, truth = _cells(recs, k)
        for p in (0.9, 0.6, 0.0):  # the first pattern that passes with the versions before
            pub = _publish(cells, _pattern(rng, cells, prev_pub, month, p))
            ver = SeriesVersion(release, release, pub, truth)
            if audit_series(versions + [ver], AFSLAARS)["verdict"] == PASSED:
                break
        versions.append(ver)
        prev_pub = pub
    chain = ChainStore()
    assert audit_series(versions, AFSLAARS, chain=chain)["verdict"] == PASSED
    last = versions[-1]
    again = SeriesVersion(last.label + " (igen)", last.release, last.frame.copy(), last.truth)
    res = audit_series(versions + [again], AFSLAARS, chain=chain)
    assert res["verdict"] == PASSED and res["inkrementel"]["uaendret"] is True
    assert res["lps"] == 0 and again.rows["count_ok"].all()
    # one withheld cell published: another version of the month, audited as a whole union
    other = last.frame.copy()
    i = int(np.flatnonzero(np.isnan(other["antal_afslag"].to_numpy(float))
                           & (cells["antal_afslag"].to_numpy() > 0))[0])
    other.loc[other.index[i], "antal_afslag"] = float(cells["antal_afslag"].iat[i])
    res = audit_series(versions + [SeriesVersion("x", last.release, other, last.truth)],
                       AFSLAARS, chain=chain)
    assert "uaendret" not in res["inkrementel"]
    whole = audit_series(versions + [SeriesVersion("x", last.release, other, last.truth)],
                         AFSLAARS)
    assert res["verdict"] == whole["verdict"]


def _step_fields(r) -> tuple:
    return (r.ok.tolist(), sorted(r.fails), sorted(r.zeros), r.errors, r.unknowns,
            r.relations, r.objectives)


@pytest.mark.parametrize("seed", range(3))
def test_candidates_sharing_a_layout_get_the_steps_they_would_get_alone(seed):
    """The series search audits several patterns of one release (each withholding more):
    with the candidates' shared dict (audit_chain.SHARED) every step equals the step of a
    fresh version; cells or a truth other than those a layout was built for rebuild it."""
    from transforms.calendar import Release
    from transforms.disclosure.audit_chain import SHARED, _layout_of

    rng = np.random.default_rng(100 + seed)
    recs = _records(rng, 3)
    cells_p, truth_p = _cells(recs, 1)
    prev = _publish(cells_p, _pattern(rng, cells_p, None, _month(1), 0.9))
    P = SeriesVersion("2025-12", "2025-12", prev, truth_p)
    cells, truth = _cells(recs, 2)
    hide = _pattern(rng, cells, prev, _month(2), 0.9)
    shared: dict = {}
    layouts = set()
    for _ in range(4):  # a growing pattern, as the search's rounds
        pub = _publish(cells, hide)
        alone = step(P, set(), SeriesVersion("2026-01", "2026-01", pub, truth), AFSLAARS)
        cand = SeriesVersion("2026-01", "2026-01", pub, truth)
        setattr(cand, SHARED, shared)
        got = step(P, set(), cand, AFSLAARS)
        assert _step_fields(got) == _step_fields(alone)
        fresh = SeriesVersion("2026-01", "2026-01", pub, truth)
        assert version_digest(cand, AFSLAARS) == version_digest(fresh, AFSLAARS)
        layouts.add(id(_layout_of(P, cand, AFSLAARS, Release.parse("2026-01"))))
        hide = hide | (rng.random(len(hide)) < 0.1)
    assert len(layouts) == 1  # built once, reused by every later candidate

    # another truth (a late registration in an earlier month): rebuilt, so not a step
    late = truth.copy()
    row = int(np.flatnonzero((late["unit"] != "2026M01").to_numpy() & (late["v"] > 0))[0])
    late.loc[late.index[row], "v"] += 1
    other = SeriesVersion("2026-01", "2026-01", _publish(cells, hide), late)
    setattr(other, SHARED, shared)
    with pytest.raises(NotAStep, match="sandheden"):
        step(P, set(), other, AFSLAARS)
    # other cells (a row dropped): the shared keys are not used
    keep = np.ones(len(cells), bool)
    keep[int(np.flatnonzero(hide)[0])] = False
    fewer = _publish(cells, hide)[keep].reset_index(drop=True)
    lone = SeriesVersion("2026-01", "2026-01", fewer, truth)
    mixed = SeriesVersion("2026-01", "2026-01", fewer, truth)
    setattr(mixed, SHARED, shared)
    try:
        want = _step_fields(step(P, set(), lone, AFSLAARS))
    except NotAStep as exc:
        with pytest.raises(NotAStep, match=str(exc)):
            step(P, set(), mixed, AFSLAARS)
    else:
        assert _step_fields(step(P, set(), mixed, AFSLAARS)) == want
    assert shared["keys"][0].shape[0] == len(fewer)  # the keys were rebuilt for these cells
    # the digest's text of the cells is shared too, and made anew for other cells
    digests: dict = {}
    full = SeriesVersion("2026-01", "2026-01", _publish(cells, hide), truth)
    setattr(full, SHARED, digests)
    assert version_digest(full, AFSLAARS) == version_digest(
        SeriesVersion("2026-01", "2026-01", _publish(cells, hide), truth), AFSLAARS)
    assert "digest_cells" in digests
    mixed2 = SeriesVersion("2026-01", "2026-01", fewer, truth)
    setattr(mixed2, SHARED, digests)
    assert version_digest(mixed2, AFSLAARS) == version_digest(
        SeriesVersion("2026-01", "2026-01", fewer, truth), AFSLAARS)
