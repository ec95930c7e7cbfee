"""The series audit: withheld cells checked against every published release together."""

import numpy as np
import pandas as pd
import pytest

from transforms.catalog import AFSLAARS
from tests.synth_cells import cells_from_records
from transforms.disclosure.audit import PASSED, audit
from transforms.disclosure.audit.series_points import SeriesPoints
from transforms.disclosure.audit_series import SeriesVersion, audit_series
from transforms.series import flow_truth

REASON = "Ansøger trak ansøgningen eller takkede nej"
# København's refusals per month of 2026 (the example): K1 = 9, K2 = 10, K3 = 2, Oct 2
PER_MONTH = {1: 3, 2: 3, 3: 3, 4: 4, 5: 3, 6: 3, 7: 1, 8: 1, 9: 0, 10: 2}


def _records(last_month: int) -> pd.DataFrame:
    rows, ind = [], 0
    for m, n in PER_MONTH.items():
        if m > last_month:
            continue
        for _ in range(n):
            ind += 1
            rows.append({"tid_maaned": f"2026M{m:02d}", "kommune": "København",
                         "region": "Region Hovedstaden", "primaer_aarsag": REASON,
                         "individ": f"a{ind}"})
    return pd.DataFrame(rows)


def _release(last_month: int, withheld_quarters: set[str]):
    rec = _records(last_month)
    months = [f"2026M{m:02d}" for m in range(1, last_month + 1)]
    cells = cells_from_records(rec, AFSLAARS, views=["v2"], members={"tid_maaned": months})
    pub = cells.drop(columns=["n_individer"]).copy()
    val = pub["antal_afslag"].astype("float")
    hide = pub["tid_kvartal"].isin(withheld_quarters) & pub["gruppering"].str.contains("Kvartal")
    hide |= val == 0
    pub["antal_afslag"] = val.where(~hide)
    pub["antal_ansoegere"] = pub["antal_ansoegere"].astype(float).where(~hide)
    truth = flow_truth(rec, AFSLAARS)
    return pub, truth


def test_each_release_passes_alone_but_not_together():
    p09, t09 = _release(9, {"2026K1", "2026K3"})   # År 21, K2 10 published
    p10, t10 = _release(10, {"2026K3", "2026K4"})  # K1 9 and År 23 published
    assert audit(p09, AFSLAARS)["verdict"] == PASSED
    assert audit(p10, AFSLAARS)["verdict"] == PASSED
    res = audit_series([SeriesVersion("2026-09", "2026-09", p09, t09),
                        SeriesVersion("2026-10", "2026-10", p10, t10)], AFSLAARS)
    assert res["verdict"] != PASSED
    bad = {(c["udgivelse"], c["members"].get("tid_kvartal"), c["lo"], c["hi"])
           for c in res["cells"] if c["gruppering"].startswith("[Tid].[Kvartal]")}
    # K3 = 21 - 10 - 9 = 2 in both releases; October's K4 = 23 - 21 = 2
    assert ("2026-09", "2026K3", 2, 2) in bad
    assert ("2026-10", "2026K3", 2, 2) in bad
    assert ("2026-10", "2026K4", 2, 2) in bad
    assert res["per_version"]["2026-10"]["failed"] > 0


def test_same_pattern_and_protected_increment_pass():
    # R10 keeps R09's pattern on the closed quarters and withholds the partial year and the
    # totals, so October cannot be differenced out
    p09, t09 = _release(9, {"2026K1", "2026K3"})
    p10, t10 = _release(10, {"2026K1", "2026K3", "2026K4"})
    hide = p10["tid_kvartal"].isna() | ~p10["gruppering"].str.contains("Kvartal")
    p10.loc[hide, ["antal_afslag", "antal_ansoegere"]] = np.nan
    res = audit_series([SeriesVersion("2026-09", "2026-09", p09, t09),
                        SeriesVersion("2026-10", "2026-10", p10, t10)], AFSLAARS)
    assert res["verdict"] == PASSED, res["cells"][:5]


def test_changed_truth_is_a_new_unknown():
    # the same release month published twice: a late correction moved K3 from 2 to 3. The
    # old and new K3 are different unknowns; a published old value says nothing exact
    # about the new one, and vice versa
    p09, t09 = _release(9, {"2026K1", "2026K3"})
    PER_MONTH[8] = 2
    try:
        p09b, t09b = _release(9, {"2026K1", "2026K3"})
    finally:
        PER_MONTH[8] = 1
    res = audit_series([SeriesVersion("2026-09", "2026-09", p09, t09),
                        SeriesVersion("2026-09.2", "2026-09", p09b, t09b)], AFSLAARS)
    assert res["verdict"] == PASSED, res["cells"][:5]
    # had the truth been taken as unchanged, the two published years (21, 22) would clash
    res2 = audit_series([SeriesVersion("2026-09", "2026-09", p09, t09),
                         SeriesVersion("2026-09.2", "2026-09", p09b, t09)], AFSLAARS)
    assert res2["verdict"] != PASSED


def test_a_release_with_new_members_is_audited_with_the_earlier_one():
    """A later release with members the earlier one lacks (a new reason and kommune): the
    København leak is found all the same. (Caption combinations are identified by a hash of
    their captions, not their position in a release's member list, which shifts here.)"""
    p09, t09 = _release(9, {"2026K1", "2026K3"})
    extra = pd.DataFrame([{"tid_maaned": "2026M10", "kommune": "Aarhus",
                           "region": "Region Midtjylland", "primaer_aarsag": "Andet",
                           "individ": f"b{k}"} for k in range(5)])
    rec = pd.concat([_records(10), extra], ignore_index=True)
    months = [f"2026M{m:02d}" for m in range(1, 11)]
    cells = cells_from_records(rec, AFSLAARS, views=["v2"], members={"tid_maaned": months})
    p10 = cells.drop(columns=["n_individer"]).copy()
    val = p10["antal_afslag"].astype("float")
    hide = (p10["tid_kvartal"].isin({"2026K3", "2026K4"})
            & p10["gruppering"].str.contains("Kvartal")) | (val == 0)
    hide |= (p10["n_individer"] if "n_individer" in p10 else cells["n_individer"]).between(1, 3)
    p10["antal_afslag"] = val.where(~hide)
    p10["antal_ansoegere"] = p10["antal_ansoegere"].astype(float).where(~hide)
    res = audit_series([SeriesVersion("2026-09", "2026-09", p09, t09),
                        SeriesVersion("2026-10", "2026-10", p10, flow_truth(rec, AFSLAARS))],
                       AFSLAARS)
    bad = {(c["udgivelse"], c["members"].get("kommune"), c["members"].get("tid_kvartal"),
            c["lo"], c["hi"]) for c in res["cells"] if c["gruppering"].startswith("[Tid].[Kvartal]")}
    assert ("2026-09", "København", "2026K3", 2, 2) in bad


def test_component_cache_reuses_only_the_same_system():
    """A component solved before is reused only when it is exactly the same system (its
    unknowns by identity, relations, published values, targets), whatever the numbering."""
    from transforms.disclosure.audit import ComponentCache

    p09, t09 = _release(9, {"2026K1", "2026K3"})
    p10, t10 = _release(10, {"2026K1", "2026K3", "2026K4"})
    hide = p10["tid_kvartal"].isna() | ~p10["gruppering"].str.contains("Kvartal")
    p10.loc[hide, ["antal_afslag", "antal_ansoegere"]] = np.nan
    v09 = SeriesVersion("2026-09", "2026-09", p09, t09)
    v10 = SeriesVersion("2026-10", "2026-10", p10, t10)
    cache = ComponentCache(None, min_size=1)
    first = audit_series([v09, v10], AFSLAARS, cache=cache)
    assert first["verdict"] == PASSED
    assert first["components"]["components_reused"] == 0
    solved = first["components"]["components_solved"]
    assert solved > 0 and len(cache.fresh) == solved
    # the same system again, with the cache as the warehouse keeps it (JSON) and with the
    # rows of a version in another order (another numbering of the unknowns): every
    # component from the cache, the same verdicts
    import json
    stored = ComponentCache(None, json.loads(json.dumps(cache.entries)), min_size=1)
    shuffled = SeriesVersion("2026-10", "2026-10", p10.iloc[::-1].reset_index(drop=True), t10)
    for versions, c in (([v09, v10], cache), ([v09, shuffled], stored)):
        again = audit_series(versions, AFSLAARS, cache=c)
        assert again["components"] == {"components_reused": solved, "components_solved": 0,
                                        "largest_solved": 0}
        assert again["verdict"] == PASSED and again["checked"] == first["checked"]
    # the failing pair: October publishes K1 (9) and the year (23). Its components are other
    # systems, solved afresh, and the audit still finds K3 and K4 = [2, 2]
    p10b, t10b = _release(10, {"2026K3", "2026K4"})
    other = audit_series([v09, SeriesVersion("2026-10", "2026-10", p10b, t10b)], AFSLAARS,
                         cache=stored)
    assert other["components"]["components_reused"] == 0
    assert other["verdict"] != PASSED
    bad = {(c["udgivelse"], c["members"].get("tid_kvartal"), c["lo"], c["hi"])
           for c in other["cells"] if c["gruppering"].startswith("[Tid].[Kvartal]")}
    assert ("2026-10", "2026K4", 2, 2) in bad


def _stock_release(last: int, n_jan: int, hide_changed_january: bool):
    """FRAFVURD (views v1: Måned x Uddannelse x Frafaldsrisiko, v3: Kvartal x Kommune x
    Frafaldsrisiko) with n_jan students on 31 January. Every release after January
    publishes that status date only in the month view (its quarter ends later), so Kommune
    and Region are not published there."""
    from transforms.catalog import FRAFVURD
    from tests.synth_cells import month_end
    from transforms.series import stock_truth

    rows = []
    for m, n in (("2026M01", n_jan), ("2026M02", 12), ("2026M03", 12)):
        if m > f"2026M{last:02d}":
            continue
        for k in range(n):
            rows.append({"tid_maaned": m, "statusdato": month_end(m), "individ": f"e{k}",
                         "uddannelse": ("Social- og sundhedsassistent" if k % 2
                                        else "Social- og sundhedshjælper"),
                         "frafaldsrisiko": "Lav",
                         "kommune": "København" if k % 3 else "Aarhus",
                         "region": "Region Hovedstaden" if k % 3 else "Region Midtjylland"})
    cells = cells_from_records(pd.DataFrame(rows), FRAFVURD, views=["v1", "v3"])
    pub = cells.drop(columns=["n_individer"]).copy()
    v = pub["antal_elever"].astype(float)
    hide = v == 0
    if hide_changed_january:  # the January cells whose truth changed (SSA stays 5)
        hide |= (pub["tid_maaned"] == "2026M01") & (v != 5)
    pub["antal_elever"] = v.where(~hide)
    return pub, stock_truth(cells, FRAFVURD)


def test_stock_groupings_not_published_at_a_date_are_no_unknowns_there():
    """A late registration moves 31 January from 10 to 11 students between the February and
    March releases; both publish that date only in the month view. March withholds the
    changed cells (total 11, SSH 6, Lav 11) and publishes the unchanged SSA 5: the total is
    then only known to be at least 5, and passes. Unknowns for the Region cells of that date
    (published by neither version, so without a kept truth) would tie the two versions'
    totals together and pin March's at 10: they must not exist."""
    from transforms.catalog import FRAFVURD

    p2, t2 = _stock_release(2, 10, False)
    p3, t3 = _stock_release(3, 11, True)
    res = audit_series([SeriesVersion("2026-02", "2026-02", p2, t2),
                        SeriesVersion("2026-03", "2026-03", p3, t3)], FRAFVURD)
    assert res["verdict"] == PASSED, res["cells"][:3]
    assert res["consistency_errors"] == []
    # and the audit still sees what is known: publishing March's SSH (6) pins its total at 11
    p3b = p3.copy()
    ssh = ((p3b["tid_maaned"] == "2026M01") & (p3b["gruppering"] == "[Tid].[Måned]|"
           "[Uddannelse].[Uddannelse]") & (p3b["uddannelse"] == "Social- og sundhedshjælper"))
    p3b.loc[ssh, "antal_elever"] = 6.0
    res = audit_series([SeriesVersion("2026-02", "2026-02", p2, t2),
                        SeriesVersion("2026-03", "2026-03", p3b, t3)], FRAFVURD)
    pinned = {(c["gruppering"], c["lo"], c["hi"]) for c in res["cells"]}
    assert ("[Tid].[Måned]", 11, 11) in pinned


def _verdicts(res) -> tuple:
    return (res["verdict"], res["checked"], res["failed"],
            sorted((c["udgivelse"], c["gruppering"], tuple(sorted(c["members"].items())))
                   for c in res["cells"]))


def test_carried_points_change_the_lps_not_the_verdicts():
    """The checked search hands each series audit's points to the next one (SeriesPoints):
    the same verdicts as an audit without them, on a failing and a passing series, with the
    later audit withholding more of the same release (as the search's next round does); on
    the same system again the carried points are used and no more LPs are solved."""
    p09, t09 = _release(9, {"2026K1", "2026K3"})
    v09 = SeriesVersion("2026-09", "2026-09", p09, t09)
    open_, t10 = _release(10, {"2026K3", "2026K4"})  # K1 and the year published: a leak
    closed, _ = _release(10, {"2026K1", "2026K3", "2026K4"})
    hide = closed["tid_kvartal"].isna() | ~closed["gruppering"].str.contains("Kvartal")
    closed.loc[hide, ["antal_afslag", "antal_ansoegere"]] = np.nan
    points = SeriesPoints()
    results = []
    for p10 in (open_, closed, closed):  # each round withholds at least as much as the last
        versions = [v09, SeriesVersion("2026-10", "2026-10", p10, t10)]
        fresh = audit_series(versions, AFSLAARS)
        carried = audit_series(versions, AFSLAARS, points=points)
        assert _verdicts(carried) == _verdicts(fresh)
        results.append((fresh, carried))
    assert results[0][1]["verdict"] != PASSED and results[1][1]["verdict"] == PASSED
    assert results[2][1]["hints_used"] > 0
    # a point that does not fit the system is never used: the leak is still found with
    # points carried from the passing series
    leak = audit_series([v09, SeriesVersion("2026-10", "2026-10", open_, t10)], AFSLAARS,
                        points=points)
    assert _verdicts(leak) == _verdicts(results[0][0])


def _many_places(last: int, hide_every: tuple[int, ...]):
    """40 kommuner x 4 reasons, about 4 refusals a month each; cells of 1-3 applicants and
    every k-th cell for k in ``hide_every`` withheld (no protection: the audit must fail)."""
    kommuner = pd.read_csv("reference/kommuner.csv", dtype=str).head(40)
    rng = np.random.default_rng(3)
    reasons = ["Faglige forudsætninger", "Danskkundskaber", "Andet", "Personlige kompetencer"]
    rows, ind = [], 0
    for m in range(1, 11):
        for k in kommuner.itertuples():
            for p in reasons:
                for _ in range(rng.poisson(4)):
                    ind += 1
                    if m <= last:
                        rows.append({"tid_maaned": f"2026M{m:02d}", "kommune": k.kommune,
                                     "region": k.region, "primaer_aarsag": p,
                                     "individ": f"a{ind}"})
    rec = pd.DataFrame(rows)
    months = [f"2026M{m:02d}" for m in range(1, last + 1)]
    cells = cells_from_records(rec, AFSLAARS, views=["v2"], members={"tid_maaned": months})
    pub = cells.drop(columns=["n_individer"]).copy()
    hide = cells["n_individer"].between(1, 3).to_numpy().copy()
    for k in hide_every:
        hide |= np.arange(len(pub)) % k == 0
    for c in ("antal_afslag", "antal_ansoegere"):
        pub[c] = pub[c].astype(float).where(~hide)
    return pub, flow_truth(rec, AFSLAARS)


def test_carried_points_save_lps_when_the_next_round_withholds_more():
    """Components large enough that most values are decided by points, not exact LPs: the
    second round, carrying the first round's points, reaches the same verdicts with fewer."""
    p09, t09 = _many_places(9, (3,))
    v09 = SeriesVersion("2026-09", "2026-09", p09, t09)
    points = SeriesPoints()
    for hide_every in ((3,), (3, 5)):  # the second round withholds more of the same release
        p10, t10 = _many_places(10, hide_every)
        versions = [v09, SeriesVersion("2026-10", "2026-10", p10, t10)]
        fresh = audit_series(versions, AFSLAARS)
        carried = audit_series(versions, AFSLAARS, points=points)
        assert _verdicts(carried) == _verdicts(fresh) and fresh["failed"] > 0
    assert carried["hints_used"] > 0
    assert carried["lps"] < fresh["lps"]
