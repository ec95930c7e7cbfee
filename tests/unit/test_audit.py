"""Tests of the independent disclosure audit (transforms/disclosure/audit/).

Frames are built from the real catalogue cubes, restricted to a few groupings and members:
a *universe* of finest-level combinations (empty ones included) is aggregated to every
grouping asked for, then chosen cells are withheld (measures null, status 'diskretioneret').
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms import catalog
from transforms.catalog import AFSLAARS, ATTRIBUTES, FRAFAFBRUD, FRAFVURD
from transforms.disclosure.audit import Witnesses, audit, audit_release

U = "[Uddannelse].[Uddannelse]"
P = "[Afslagsårsag].[Primær årsag]"
REG = "[Arbejdssted].[Region]"
KOM = "[Arbejdssted].[Kommune]"
AAR = "[Tid].[År]"
KVT = "[Tid].[Kvartal]"
RISK = "[Frafaldsrisiko].[Frafaldsrisiko]"
HJ, AS = "Social- og sundhedshjælper", "Social- og sundhedsassistent"


# --- frame building -------------------------------------------------------------------------


def g(*attrs: str) -> str:
    return "|".join(attrs)


def build(cube, groupings, universe: pd.DataFrame, counts=None) -> pd.DataFrame:
    """The true cell frame of `cube` for `groupings` from a universe of finest cells."""
    counts = counts or [cube.value_column]
    stock = cube.kind == "stock"
    frames = []
    for key in groupings:
        assert key in cube.groupings, key
        carried = set(catalog.carried_attributes(key))
        cols = [ATTRIBUTES[a].column for a in cube.attributes if a in carried]
        keys = (["statusdato"] if stock else []) + cols
        if keys:
            agg = universe.groupby(keys, dropna=True, sort=False)[counts].sum().reset_index()
        else:
            agg = universe[counts].sum().to_frame().T
        agg["gruppering"] = key
        frames.append(agg)
    df = pd.concat(frames, ignore_index=True)
    for c in cube.columns:
        if c not in df.columns:
            df[c] = None
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    if not stock:
        df["statusdato"] = None
    for c in counts:
        df[c] = df[c].astype("int64")
    return df[["gruppering", "statusdato", *cube.columns, *counts]]


def publish(df: pd.DataFrame, cube, withhold=(), outcome=(), zeros=True) -> pd.DataFrame:
    """Withhold cells: `withhold` and `outcome` are lists of (gruppering, {column: caption});
    `outcome` withholds only the outcome counts. Zeros (value column) are withheld too."""
    counts = [m.column for m in cube.measures if m.kind == "count" and m.column in df.columns]
    outc = [m.column for m in cube.measures if m.outcome and m.column in df.columns]
    out = df.copy()
    for c in counts:
        out[c] = out[c].astype("Float64")

    def mask(spec):
        m = np.zeros(len(out), dtype=bool)
        for key, members in spec:
            sel = out["gruppering"] == key
            for col, cap in members.items():
                sel &= out[col] == cap
            assert sel.any(), (key, members)
            m |= sel.to_numpy()
        return m

    full = mask(withhold)
    if zeros:
        full |= (df[cube.value_column] == 0).to_numpy()
    for c in counts:
        out.loc[full, c] = pd.NA
    om = mask(outcome)
    for c in outc:
        out.loc[om, c] = pd.NA
    out["status"] = np.where(full | om, "diskretioneret", "publiceret")
    return out


def cells_of(result, measure=None):
    return {
        (c["gruppering"], tuple(sorted(c["members"].items())), c["measure"]): (c["lo"], c["hi"], c["ok"])
        for c in result["cells"]
        if measure is None or c["measure"] == measure
    }


def one(result, gruppering, measure=None, **members):
    hits = [
        c
        for c in result["cells"]
        if c["gruppering"] == gruppering
        and all(c["members"].get(k) == v for k, v in members.items())
        and (measure is None or c["measure"] == measure)
    ]
    assert len(hits) == 1, hits
    return hits[0]["lo"], hits[0]["hi"], hits[0]["ok"]


def table2(values, reasons=None, edus=None):
    """AFSLAARS universe: Uddannelse × Primær årsag with the given counts."""
    edus = edus or [f"U{i}" for i in range(len(values))]
    reasons = reasons or [f"Årsag {j}" for j in range(len(values[0]))]
    rows = []
    for i, e in enumerate(edus):
        for j, r in enumerate(reasons):
            rows.append({"uddannelse": e, "primaer_aarsag": r, "antal_afslag": values[i][j]})
    return pd.DataFrame(rows)


T2 = ["", g(U), g(P), g(U, P)]


# --- 2 × 2 and rectangles -------------------------------------------------------------------


def test_single_withheld_cell_is_pinned_and_fails():
    df = build(AFSLAARS, T2, table2([[5, 7], [6, 9]], edus=[HJ, AS]))
    pub = publish(df, AFSLAARS, withhold=[(g(U, P), {"uddannelse": HJ, "primaer_aarsag": "Årsag 0"})])
    res = audit(pub, AFSLAARS)
    assert res["cube"] == "EUD_AFSL_AFSLAARS"
    assert res["withheld"] == 1 and res["checked"] == 1 and res["failed"] == 1
    assert one(res, g(U, P), uddannelse=HJ, primaer_aarsag="Årsag 0") == (5, 5, False)
    assert res["verdict"] == "ikke bestået"
    assert res["consistency_errors"] == []
    json.dumps(res)


def test_rectangle_of_four_withheld_cells():
    # row sums 22, 23; column sums 11, 16, 18; the 2×2 block (0..1 × 0..1) withheld:
    # x00 + x01 = 12, x10 + x11 = 15, x00 + x10 = 11, x01 + x11 = 16 -> x00 = t, t in [0, 11]
    df = build(AFSLAARS, T2, table2([[5, 7, 10], [6, 9, 8]]))
    spec = [
        (g(U, P), {"uddannelse": f"U{i}", "primaer_aarsag": f"Årsag {j}"})
        for i in range(2)
        for j in range(2)
    ]
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    got = {(c["members"]["uddannelse"], c["members"]["primaer_aarsag"]): (c["lo"], c["hi"]) for c in res["cells"]}
    assert got == {
        ("U0", "Årsag 0"): (0, 11),
        ("U0", "Årsag 1"): (1, 12),
        ("U1", "Årsag 0"): (0, 11),
        ("U1", "Årsag 1"): (4, 15),
    }
    assert res["verdict"] == "bestået" and res["failed"] == 0


def test_narrow_rectangle_fails_on_width_and_upper():
    # values 1, 2 / 1, 9: the block's interval for the (0,0) cell is [0, 2]: too low, too narrow
    df = build(AFSLAARS, T2, table2([[1, 2, 10], [1, 9, 8]]))
    spec = [
        (g(U, P), {"uddannelse": f"U{i}", "primaer_aarsag": f"Årsag {j}"})
        for i in range(2)
        for j in range(2)
    ]
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    assert one(res, g(U, P), uddannelse="U0", primaer_aarsag="Årsag 0") == (0, 2, False)
    # [8, 10] starts at 4 or above and is wider than one value: ok
    assert one(res, g(U, P), uddannelse="U1", primaer_aarsag="Årsag 1") == (8, 10, True)
    assert res["verdict"] == "ikke bestået"


def test_empty_combination_pinned_to_zero_passes():
    df = build(AFSLAARS, T2, table2([[5, 0], [6, 9]]))
    res = audit(publish(df, AFSLAARS), AFSLAARS)  # only the zero is withheld
    assert res["withheld"] == 1
    assert one(res, g(U, P), uddannelse="U0", primaer_aarsag="Årsag 1") == (0, 0, True)
    assert res["verdict"] == "bestået"


def test_unbounded_cell_when_all_margins_withheld():
    df = build(AFSLAARS, ["", g(U)], table2([[5], [6]]))
    spec = [("", {}), (g(U), {"uddannelse": "U0"}), (g(U), {"uddannelse": "U1"})]
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    assert one(res, "") == (0, None, True)
    assert res["verdict"] == "bestået"


# --- hierarchies ----------------------------------------------------------------------------

KOMMUNER = [
    ("København", "Region Hovedstaden", 5),
    ("Frederiksberg", "Region Hovedstaden", 2),
    ("Roskilde", "Region Sjælland", 8),
    ("Køge", "Region Sjælland", 9),
]


def kommune_universe(with_year=False):
    rows = []
    for k, r, n in KOMMUNER:
        rows.append({"kommune": k, "region": r, "antal_afslag": n, "tid_aar": "2022"})
    return pd.DataFrame(rows)


def test_region_margin_pins_kommune():
    df = build(AFSLAARS, ["", g(REG), g(KOM)], kommune_universe())
    pub = publish(df, AFSLAARS, withhold=[(g(KOM), {"kommune": "Frederiksberg"})])
    res = audit(pub, AFSLAARS)
    assert one(res, g(KOM), kommune="Frederiksberg") == (2, 2, False)


def test_region_margin_with_two_withheld_kommuner():
    df = build(AFSLAARS, ["", g(REG), g(KOM)], kommune_universe())
    spec = [(g(KOM), {"kommune": "Frederiksberg"}), (g(KOM), {"kommune": "København"})]
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    assert one(res, g(KOM), kommune="Frederiksberg") == (0, 7, True)
    assert one(res, g(KOM), kommune="København") == (0, 7, True)


def test_missing_intermediate_grouping_keeps_direct_relation():
    # no Region grouping: the grand total still relates directly to the Kommune cells
    df = build(AFSLAARS, ["", g(KOM)], kommune_universe())
    pub = publish(df, AFSLAARS, withhold=[(g(KOM), {"kommune": "Frederiksberg"})])
    assert one(audit(pub, AFSLAARS), g(KOM), kommune="Frederiksberg") == (2, 2, False)
    # År × Kommune without År × Region or Kommune: År is total over Kommune (in the year)
    df = build(AFSLAARS, [g(AAR), g(AAR, KOM)], kommune_universe())
    pub = publish(df, AFSLAARS, withhold=[(g(AAR, KOM), {"kommune": "Køge"})])
    assert one(audit(pub, AFSLAARS), g(AAR, KOM), kommune="Køge") == (9, 9, False)


def test_flow_time_is_additive():
    rows = []
    for kv, n in (("2022K1", 5), ("2022K2", 6), ("2022K3", 7), ("2022K4", 8)):
        rows.append({"tid_aar": "2022", "tid_kvartal": kv, "antal_afslag": n})
    df = build(AFSLAARS, [g(AAR), g(KVT)], pd.DataFrame(rows))
    pub = publish(df, AFSLAARS, withhold=[(g(KVT), {"tid_kvartal": "2022K2"})])
    assert one(audit(pub, AFSLAARS), g(KVT), tid_kvartal="2022K2") == (6, 6, False)


# --- stock cubes ----------------------------------------------------------------------------

RISKS = ["Lav", "Middel", "Høj", "Ikke vurderet"]
DEC, SEP = dt.date(2022, 12, 31), dt.date(2022, 9, 30)


def stock_universe(values_by_date, outcome_by_date=None):
    rows = []
    for d, values in values_by_date.items():
        q = (d.month - 1) // 3 + 1
        for i, r in enumerate(RISKS):
            row = {
                "statusdato": d,
                "tid_aar": str(d.year) if d.month == 12 else None,
                "tid_kvartal": f"{d.year}K{q}",
                "frafaldsrisiko": r,
                "antal_elever": values[i],
            }
            if outcome_by_date is not None:
                row["antal_afbrudt"] = outcome_by_date[d][i]
            rows.append(row)
    return pd.DataFrame(rows)


STOCK_G = [g(AAR), g(KVT), g(AAR, RISK), g(KVT, RISK)]


def test_stock_year_and_december_are_one_variable():
    uni = stock_universe({SEP: [9, 9, 9, 9], DEC: [10, 12, 8, 6]})
    df = build(FRAFVURD, STOCK_G, uni)
    # withheld in the year table, published in the quarter table: revealed
    spec = [(g(AAR, RISK), {"frafaldsrisiko": "Lav"}), (g(AAR, RISK), {"frafaldsrisiko": "Middel"})]
    res = audit(publish(df, FRAFVURD, withhold=spec), FRAFVURD)
    assert one(res, g(AAR, RISK), frafaldsrisiko="Lav") == (10, 10, False)
    assert one(res, g(AAR, RISK), frafaldsrisiko="Middel") == (12, 12, False)
    assert all(c["statusdato"] == "2022-12-31" for c in res["cells"])
    # År 2022 (36) is not K3 + K4 (72): no consistency error, time is not additive
    assert res["consistency_errors"] == []


def test_stock_withheld_in_both_levels_is_protected():
    uni = stock_universe({SEP: [9, 9, 9, 9], DEC: [10, 12, 8, 6]})
    df = build(FRAFVURD, STOCK_G, uni)
    spec = [
        (key, {"frafaldsrisiko": r})
        for key in (g(AAR, RISK), g(KVT, RISK))
        for r in ("Lav", "Middel")
        if not (key == g(KVT, RISK))
    ] + [
        (g(KVT, RISK), {"frafaldsrisiko": r, "tid_kvartal": "2022K4"}) for r in ("Lav", "Middel")
    ]
    res = audit(publish(df, FRAFVURD, withhold=spec), FRAFVURD)
    assert res["withheld"] == 4 and res["failed"] == 0
    for c in res["cells"]:
        assert (c["lo"], c["hi"]) == (0, 22)
    assert res["verdict"] == "bestået"


def test_stock_unequal_published_values_are_an_error():
    uni = stock_universe({DEC: [10, 12, 8, 6]})
    df = build(FRAFVURD, STOCK_G, uni)
    pub = publish(df, FRAFVURD)
    sel = (pub["gruppering"] == g(KVT, RISK)) & (pub["frafaldsrisiko"] == "Lav")
    pub.loc[sel, "antal_elever"] = 11
    res = audit(pub, FRAFVURD)
    kinds = [e["type"] for e in res["consistency_errors"]]
    assert "unequal_values" in kinds
    assert res["verdict"] == "ikke bestået"


# --- FRAFAFBRUD outcome ---------------------------------------------------------------------

AFB_G = [g(AAR), g(AAR, RISK)]


def afbrud_frame():
    uni = stock_universe({DEC: [10, 12, 8, 6]}, {DEC: [1, 2, 4, 0]})
    return build(FRAFAFBRUD, AFB_G, uni, counts=["antal_elever", "antal_afbrudt"])


def test_frafafbrud_outcome_intervals():
    df = afbrud_frame()
    spec = [(g(AAR, RISK), {"frafaldsrisiko": r}) for r in ("Lav", "Middel")]
    res = audit(publish(df, FRAFAFBRUD, outcome=spec), FRAFAFBRUD)
    diff = "antal_elever-antal_afbrudt"
    # afbrudt: Lav + Middel = 7 - 4 - 0 = 3
    assert one(res, g(AAR, RISK), "antal_afbrudt", frafaldsrisiko="Lav") == (0, 3, False)
    assert one(res, g(AAR, RISK), "antal_afbrudt", frafaldsrisiko="Middel") == (0, 3, False)
    assert one(res, g(AAR, RISK), diff, frafaldsrisiko="Lav") == (7, 10, True)
    assert one(res, g(AAR, RISK), diff, frafaldsrisiko="Middel") == (9, 12, True)
    assert res["withheld"] == 2 and res["checked"] == 4 and res["failed"] == 2
    # 'Ikke vurderet' has 0 dropouts among 6 students: listed as information
    info = [(h["type"], h["members"].get("frafaldsrisiko")) for h in res["hundrede_procent"]]
    assert ("ingen_afbrudt", "Ikke vurderet") in info


def test_frafafbrud_outcome_protected_and_bounded_by_count():
    df = afbrud_frame()
    spec = [(g(AAR, RISK), {"frafaldsrisiko": r}) for r in ("Lav", "Middel", "Høj")]
    res = audit(publish(df, FRAFAFBRUD, outcome=spec), FRAFAFBRUD)
    diff = "antal_elever-antal_afbrudt"
    assert one(res, g(AAR, RISK), "antal_afbrudt", frafaldsrisiko="Lav") == (0, 7, True)
    assert one(res, g(AAR, RISK), "antal_afbrudt", frafaldsrisiko="Høj") == (0, 7, True)
    assert one(res, g(AAR, RISK), diff, frafaldsrisiko="Høj") == (1, 8, True)
    assert res["verdict"] == "bestået"


def test_frafafbrud_withheld_count_links_outcome():
    # Lav and Middel fully withheld: elever in [0, 22], and its outcome gives a lower bound
    df = afbrud_frame()
    spec = [(g(AAR, RISK), {"frafaldsrisiko": r}) for r in ("Lav", "Middel")]
    res = audit(publish(df, FRAFAFBRUD, withhold=spec), FRAFAFBRUD)
    assert one(res, g(AAR, RISK), "antal_elever", frafaldsrisiko="Lav") == (0, 22, True)
    assert res["checked"] == 2
    strict = audit(publish(df, FRAFAFBRUD, withhold=spec), FRAFAFBRUD, outcome_of_withheld=True)
    assert strict["checked"] == 6
    assert one(strict, g(AAR, RISK), "antal_afbrudt", frafaldsrisiko="Lav") == (0, 3, False)


def test_frafafbrud_outcome_above_count_is_an_error():
    df = afbrud_frame()
    pub = publish(df, FRAFAFBRUD)
    sel = (pub["gruppering"] == g(AAR, RISK)) & (pub["frafaldsrisiko"] == "Høj")
    pub.loc[sel, "antal_afbrudt"] = 9
    res = audit(pub, FRAFAFBRUD)
    assert "outcome_exceeds_count" in [e["type"] for e in res["consistency_errors"]]


# --- consistency and information ------------------------------------------------------------


def test_margin_mismatch_is_a_failed_consistency_check():
    df = build(AFSLAARS, T2, table2([[5, 7], [6, 9]]))
    pub = publish(df, AFSLAARS)
    pub.loc[(pub["gruppering"] == g(U)) & (pub["uddannelse"] == "U0"), "antal_afslag"] = 13
    res = audit(pub, AFSLAARS)
    errs = [e for e in res["consistency_errors"] if e["type"] == "margin_mismatch"]
    assert errs
    e = next(e for e in errs if e["gruppering"] == g(U) and e["children_gruppering"] == g(U, P))
    assert e["value"] == 13 and e["sum_children"] == 12 and e["measure"] == "antal_afslag"
    assert res["failed"] == 0 and res["verdict"] == "ikke bestået"


def test_published_zero_and_status_are_checked():
    df = build(AFSLAARS, T2, table2([[5, 0], [6, 9]]))
    pub = publish(df, AFSLAARS, zeros=False)
    pub.loc[0, "status"] = "diskretioneret"
    res = audit(pub, AFSLAARS)
    kinds = sorted({e["type"] for e in res["consistency_errors"]})
    assert kinds == ["published_zero", "status_mismatch"]


def test_infeasible_published_numbers():
    # margin 12 but published children already 15 (with a withheld third child)
    df = build(AFSLAARS, ["", g(P)], table2([[5, 10, 0]]))
    pub = publish(df, AFSLAARS)
    pub.loc[pub["gruppering"] == "", "antal_afslag"] = 12
    res = audit(pub, AFSLAARS)
    assert "infeasible" in [e["type"] for e in res["consistency_errors"]]
    assert res["verdict"] == "ikke bestået"


def test_shares_must_follow_their_counts():
    df = build(AFSLAARS, T2, table2([[5, 7], [6, 9]]))
    tot = {"U0": 12, "U1": 15, None: 27}
    df["antal_ansoegere"] = df["antal_afslag"]
    df["andel_af_afslag"] = [
        a / tot[u] for a, u in zip(df["antal_afslag"], df["uddannelse"].where(df["uddannelse"].notna(), None))
    ]
    spec = [(g(U, P), {"uddannelse": "U0", "primaer_aarsag": "Årsag 0"}),
            (g(U, P), {"uddannelse": "U0", "primaer_aarsag": "Årsag 1"}),
            (g(U, P), {"uddannelse": "U1", "primaer_aarsag": "Årsag 0"}),
            (g(U, P), {"uddannelse": "U1", "primaer_aarsag": "Årsag 1"})]
    pub = publish(df, AFSLAARS, withhold=spec)
    for c in ("andel_af_afslag",):
        pub[c] = pub[c].where(pub["antal_afslag"].notna(), np.nan)
    res = audit(pub, AFSLAARS)
    assert res["consistency_errors"] == [] and res["verdict"] == "bestået"
    # a share left standing next to a withheld count
    pub2 = pub.copy()
    i = pub2.index[(pub2["gruppering"] == g(U, P)) & (pub2["uddannelse"] == "U0")][0]
    pub2.loc[i, "andel_af_afslag"] = 5 / 12
    kinds = {e["type"] for e in audit(pub2, AFSLAARS)["consistency_errors"]}
    assert "share_without_count" in kinds
    # a share inconsistent with its count and denominator
    pub3 = pub.copy()
    pub3.loc[pub3["gruppering"] == g(U), "andel_af_afslag"] = 0.4
    kinds = {e["type"] for e in audit(pub3, AFSLAARS)["consistency_errors"]}
    assert kinds == {"share_value"}


def test_hundred_percent_cell_is_information_only():
    uni = stock_universe({DEC: [0, 0, 9, 0]})
    df = build(FRAFVURD, [g(AAR), g(AAR, RISK)], uni)
    res = audit(publish(df, FRAFVURD), FRAFVURD)
    assert res["verdict"] == "bestået"
    assert [c["lo"] for c in res["cells"]] == [0, 0, 0] and [c["hi"] for c in res["cells"]] == [0, 0, 0]
    [h] = res["hundrede_procent"]
    assert h["type"] == "frafaldsrisiko_hele_margen"
    assert h["members"]["frafaldsrisiko"] == "Høj" and h["value"] == 9 and h["margin"] == 9
    assert h["statusdato"] == "2022-12-31"


def test_audit_release_and_determinism():
    a = build(AFSLAARS, T2, table2([[5, 7], [6, 9]]))
    f = build(FRAFVURD, STOCK_G, stock_universe({SEP: [9, 9, 9, 9], DEC: [10, 12, 8, 6]}))
    spec = [(g(AAR, RISK), {"frafaldsrisiko": "Lav"}), (g(AAR, RISK), {"frafaldsrisiko": "Middel"})]
    cells = {"AFSLAARS": publish(a, AFSLAARS), "FRAFVURD": publish(f, FRAFVURD, withhold=spec)}
    r1 = audit_release(cells)
    r2 = audit_release(dict(reversed(list(cells.items()))))
    assert json.dumps(r1, sort_keys=False) == json.dumps(r2, sort_keys=False)
    assert list(r1["cubes"]) == ["AFSLAARS", "FRAFVURD"]
    assert r1["cubes"]["AFSLAARS"]["verdict"] == "bestået"
    assert r1["cubes"]["FRAFVURD"]["verdict"] == "ikke bestået"
    assert r1["verdict"] == "ikke bestået" and r1["failed"] == 2
    # statusdato as pandas Timestamps / strings and nulls as NaN are read the same way
    pub = cells["FRAFVURD"].copy()
    pub["statusdato"] = pd.to_datetime(pub["statusdato"])
    pub["antal_elever"] = pub["antal_elever"].astype(float)
    assert audit(pub, FRAFVURD)["cells"] == r1["cubes"]["FRAFVURD"]["cells"]
    with pytest.raises(KeyError):
        audit_release({"NOPE": a})


# --- property: LP intervals equal brute-force enumeration on small tables --------------------


def brute_force(values, pub_interior, pub_rows, pub_cols):
    """Exact integer intervals of every withheld cell of a two-way table with margins, the
    grand total published. Returns {('c', i, j) | ('r', i) | ('k', j): (lo, hi)}."""
    r, c = len(values), len(values[0])
    total = sum(map(sum, values))
    rows = [sum(v) for v in values]
    cols = [sum(values[i][j] for i in range(r)) for j in range(c)]
    unknown = [(i, j) for i in range(r) for j in range(c) if not pub_interior[i][j]]
    x = [[values[i][j] if pub_interior[i][j] else 0 for j in range(c)] for i in range(r)]
    lo: dict = {}
    hi: dict = {}

    def record():
        rs = [sum(x[i]) for i in range(r)]
        cs = [sum(x[i][j] for i in range(r)) for j in range(c)]
        if sum(rs) != total:
            return
        if any(pub_rows[i] and rs[i] != rows[i] for i in range(r)):
            return
        if any(pub_cols[j] and cs[j] != cols[j] for j in range(c)):
            return
        keys = [(("c", i, j), x[i][j]) for i, j in unknown]
        keys += [(("r", i), rs[i]) for i in range(r) if not pub_rows[i]]
        keys += [(("k", j), cs[j]) for j in range(c) if not pub_cols[j]]
        for k, v in keys:
            lo[k] = min(lo.get(k, v), v)
            hi[k] = max(hi.get(k, v), v)

    def rec(n):
        if n == len(unknown):
            record()
            return
        i, j = unknown[n]
        for v in range(total + 1):
            x[i][j] = v
            if sum(map(sum, x)) > total:
                break
            if pub_rows[i] and sum(x[i]) > rows[i]:
                break
            if pub_cols[j] and sum(x[k][j] for k in range(r)) > cols[j]:
                break
            rec(n + 1)
        x[i][j] = 0

    rec(0)
    return {k: (lo[k], hi[k]) for k in lo}


@st.composite
def small_tables(draw):
    r = draw(st.integers(1, 3))
    c = draw(st.integers(2, 3 if r < 3 else 2))
    values = [[draw(st.integers(0, 3)) for _ in range(c)] for _ in range(r)]
    pub_interior = [[draw(st.booleans()) for _ in range(c)] for _ in range(r)]
    pub_rows = [draw(st.booleans()) for _ in range(r)]
    pub_cols = [draw(st.booleans()) for _ in range(c)]
    return values, pub_interior, pub_rows, pub_cols


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_lp_intervals_equal_brute_force(case):
    values, pub_interior, pub_rows, pub_cols = case
    r, c = len(values), len(values[0])
    df = build(AFSLAARS, T2, table2(values))
    spec = [(g(U, P), {"uddannelse": f"U{i}", "primaer_aarsag": f"Årsag {j}"})
            for i in range(r) for j in range(c) if not pub_interior[i][j]]
    spec += [(g(U), {"uddannelse": f"U{i}"}) for i in range(r) if not pub_rows[i]]
    spec += [(g(P), {"primaer_aarsag": f"Årsag {j}"}) for j in range(c) if not pub_cols[j]]
    # zeros are withheld too, as in the contract
    for i, j in itertools.product(range(r), range(c)):
        if values[i][j] == 0:
            pub_interior[i][j] = False
    for i in range(r):
        if sum(values[i]) == 0:
            pub_rows[i] = False
    for j in range(c):
        if sum(values[i][j] for i in range(r)) == 0:
            pub_cols[j] = False
    total = sum(map(sum, values))
    spec_total = [] if total else None  # a zero total is withheld by publish(); skip that case
    if spec_total is None:
        return
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    expected = brute_force(values, pub_interior, pub_rows, pub_cols)
    got = {}
    for cell in res["cells"]:
        m = cell["members"]
        if cell["gruppering"] == g(U, P):
            k = ("c", int(m["uddannelse"][1:]), int(m["primaer_aarsag"].split()[-1]))
        elif cell["gruppering"] == g(U):
            k = ("r", int(m["uddannelse"][1:]))
        else:
            k = ("k", int(m["primaer_aarsag"].split()[-1]))
        got[k] = (cell["lo"], cell["hi"])
    assert got == expected
    assert res["consistency_errors"] == []


# --- the rule, and the certificate path against exact LPs -------------------------------------


def test_decide_matches_enumeration():
    from transforms.disclosure.audit.rule import _decide, interval_ok

    for L in range(0, 9):
        for a in range(L, 11):
            for b in range(a, 13):
                for U in list(range(b, 15)) + [None]:
                    top = U if U is not None else 40
                    vals = {interval_ok(lo, hi) for lo in range(L, a + 1) for hi in range(b, top + 1)}
                    want = vals.pop() if len(vals) == 1 else None
                    assert _decide(L, a, b, U) == want, (L, a, b, U)


V2_GROUPINGS = sorted(
    {catalog.grouping_key(m, AFSLAARS) for m in catalog.margins(AFSLAARS.views[1].attributes, stock=False)},
    key=lambda k: catalog._gsort(k, AFSLAARS),
)


def three_way(seed: int, share: float = 0.35, more: float = 0.0) -> pd.DataFrame:
    """AFSLAARS view 2 (Kvartal × Kommune × Primær årsag with every margin) on a year, six
    kommuner in two regions and four reasons; small counts; zeros, 1-3 and a random share of
    the other finest cells and margins withheld. ``more``: a further random share withheld
    (the same frame and a pattern that contains the one without it)."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(1, 5):
        for k, (kom, reg, _) in enumerate(KOMMUNER + [("Gentofte", "Region Hovedstaden", 0), ("Næstved", "Region Sjælland", 0)]):
            for r in range(4):
                rows.append({"tid_aar": "2022", "tid_kvartal": f"2022K{q}", "kommune": kom, "region": reg,
                             "primaer_aarsag": f"Årsag {r}", "antal_afslag": int(rng.poisson(3.0))})
    df = build(AFSLAARS, V2_GROUPINGS, pd.DataFrame(rows))
    small = (df["antal_afslag"] <= 3) | (rng.random(len(df)) < share)
    if more:
        small |= rng.random(len(df)) < more
    small &= df["gruppering"] != ""  # keep the grand total
    spec = []
    for i in np.flatnonzero(small.to_numpy()):
        row = df.iloc[i]
        members = {c: row[c] for c in AFSLAARS.columns if row[c] is not None}
        spec.append((row["gruppering"], members))
    return publish(df, AFSLAARS, withhold=spec)


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_certificates_agree_with_exact_lps(seed, monkeypatch):
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)  # take the certificate path
    pub = three_way(seed)
    fast = audit(pub, AFSLAARS, workers=1)
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    assert fast["checked"] == exact["checked"] > 100
    assert exact["exact"] == exact["checked"]
    assert fast["exact"] < fast["checked"]  # the certificate path was taken
    for c, x in zip(fast["cells"], exact["cells"]):
        assert (c["gruppering"], c["members"]) == (x["gruppering"], x["members"])
        assert c["ok"] == x["ok"]
        assert c["lo_bound"] <= x["lo"] <= c["lo"]
        big = 10**9
        assert c["hi"] <= (x["hi"] if x["hi"] is not None else big) <= (c["hi_bound"] if c["hi_bound"] is not None else big)
        if c["exact"]:
            assert (c["lo"], c["hi"]) == (x["lo"], x["hi"])
    assert fast["verdict"] == exact["verdict"]


def test_row_order_and_workers_do_not_change_the_result(monkeypatch):
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    monkeypatch.setattr(audit_module, "EXACT_SPLIT_MIN", 3)  # exercise the split exact phase
    pub = three_way(3)
    one_ = audit(pub, AFSLAARS, workers=1)
    shuffled = pub.sample(frac=1.0, random_state=7)
    two = audit(shuffled, AFSLAARS, workers=2)
    key = lambda c: (c["gruppering"], tuple(sorted(c["members"].items())), c["measure"])  # noqa: E731
    # raekke (a failing cell's row position, for the suppressor's search) follows the frame
    row_of = {key(c): c.pop("raekke") for c in two["cells"] if "raekke" in c}
    assert {k: int(shuffled.index[r]) for k, r in row_of.items()} == {
        key(c): int(pub.index[c.pop("raekke")]) for c in one_["cells"] if "raekke" in c}
    assert sorted(map(json.dumps, one_["cells"])) == sorted(map(json.dumps, two["cells"]))
    assert {key(c) for c in one_["cells"]} == {key(c) for c in two["cells"]}
    assert one_["verdict"] == two["verdict"]


# --- the solver paths: interior point seed and goal LPs, exact sides only as needed ---------


def test_interior_point_runs_reach_a_vertex_and_report_infeasibility():
    import scipy.sparse as sp

    from transforms.disclosure.audit.highs import _highs, _pass, _run_interior

    # x0 + x1 = 3, x0 - x1 = 1, x >= 0: the single point (2, 1)
    A = sp.csc_matrix(np.array([[1.0, 1.0], [1.0, -1.0]]))
    h = _highs(interior=True)
    _pass(h, A, np.zeros(2), np.zeros(2), np.full(2, np.inf), np.array([3.0, 1.0]),
          np.array([3.0, 1.0]))
    assert _run_interior(h) == "optimal"
    assert np.allclose(h.getSolution().col_value, [2.0, 1.0])
    # x0 + x1 = -1 has no non-negative solution: the simplex fallback says so
    h = _highs(interior=True)
    _pass(h, A, np.zeros(2), np.zeros(2), np.full(2, np.inf), np.array([-1.0, 1.0]),
          np.array([-1.0, 1.0]))
    assert _run_interior(h) == "infeasible"


def _rectangle_component():
    """Four withheld cells of a 2 x 2 table whose margins (6, 6 | 6, 6) are published: every
    cell ranges over [0, 6] (x_a = x_d = 6 - x_b = 6 - x_c)."""
    import scipy.sparse as sp

    from transforms.disclosure.audit.component import _Component

    A = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]], float))
    return _Component(A, np.full(4, 6.0), np.zeros((0, 2), dtype=np.int64), np.zeros(4),
                      np.full(4, 6.0), sp.identity(4, format="csr"), np.zeros(4))


def test_decide_only_solves_just_the_side_a_verdict_needs():
    comp = _rectangle_component()
    h = comp._seed()
    assert comp.lp_count == 1
    x0 = comp.amin.copy()  # the seed vertex: x_a in {0, 6}
    assert x0[0] in (0.0, 6.0) and x0[0] == x0[3] == 6.0 - x0[1]
    comp._exact(h, [0, 1, 2, 3], decide_only=True)
    # one LP for x_a, in the direction its goal needs; its vertex and the seed's then
    # decide the three others (each seen at 0 and 6) without an LP of their own
    assert comp.lp_count == 2
    if x0[0] == 0.0:
        assert comp.hi_lp[0] == 6.0 and np.isnan(comp.lo_lp[0])
    else:
        assert comp.lo_lp[0] == 0.0 and np.isnan(comp.hi_lp[0])
    assert np.isnan(comp.lo_lp[1:]).all() and np.isnan(comp.hi_lp[1:]).all()
    assert [s[4] for s in comp._states()] == [True] * 4
    assert comp.amin.tolist() == [0.0] * 4 and comp.bmax.tolist() == [6.0] * 4


def test_exact_mode_still_solves_both_sides():
    comp = _rectangle_component()
    h = comp._seed()
    comp._exact(h, [0, 1, 2, 3])
    L, a, b, U = comp.rounded()
    assert L.tolist() == a.tolist() == [0.0] * 4 and b.tolist() == U.tolist() == [6.0] * 4


def test_values_determined_by_implied_bounds_need_no_lp(monkeypatch):
    import transforms.disclosure.audit.component as audit_module

    def no_lp(self, exact_all, pool):
        raise AssertionError("an LP was built for values the bounds determine")

    monkeypatch.setattr(audit_module._Component, "solve", no_lp)
    # row U1 is empty, so its cells are 0 (x_1j >= 0 summing to 0): no relation has a single
    # unknown, but the implied bounds meet, and then each column total (2) gives x_0j = 2
    df = build(AFSLAARS, T2, table2([[2, 2, 2], [0, 0, 0]]))
    spec = [(g(U, P), {"uddannelse": "U0", "primaer_aarsag": f"Årsag {j}"}) for j in range(3)]
    res = audit(publish(df, AFSLAARS, withhold=spec), AFSLAARS)
    for j in range(3):
        assert one(res, g(U, P), uddannelse="U0", primaer_aarsag=f"Årsag {j}") == (2, 2, False)
        assert one(res, g(U, P), uddannelse="U1", primaer_aarsag=f"Årsag {j}") == (0, 0, True)
    assert one(res, g(U), uddannelse="U1") == (0, 0, True)
    assert res["failed"] == 3 and res["exact"] == res["checked"] == 7


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_probes_agree_with_exact_lps(seed, monkeypatch):
    """The exact phase's probes (a goal as a bound, the seed LP re-solved) only add points:
    with no goal rounds, so that every undecided value reaches the exact phase, the verdicts
    are those of exact LPs for every value (failing ones included), and every interval
    reported still lies between the exact one's inner and outer bounds."""
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 10**9)  # no goal rounds
    found = []
    real = audit_module._Component._record

    def record(self, x):
        found.append(sys._getframe(1).f_code.co_name)
        return real(self, x)

    monkeypatch.setattr(audit_module._Component, "_record", record)
    pub = three_way(seed, share=0.6)
    fast = audit(pub, AFSLAARS, workers=1)
    assert found.count("_probe") > 5  # points found by probes
    monkeypatch.setattr(audit_module._Component, "_probe", lambda *a: 0)
    plain = audit(pub, AFSLAARS, workers=1)
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    assert _verdicts(fast) == _verdicts(plain) == _verdicts(exact)
    assert fast["failed"] == exact["failed"] > 0
    big = 10**9
    for c, x in zip(fast["cells"], exact["cells"]):
        assert c["lo_bound"] <= x["lo"] <= c["lo"]
        assert c["hi"] <= (x["hi"] if x["hi"] is not None else big) <= (
            c["hi_bound"] if c["hi_bound"] is not None else big)


@pytest.mark.parametrize("seed", [1, 2])
def test_probes_stop_where_they_cost_more_than_exact_lps(seed, monkeypatch):
    """Probes are weighed by simplex iterations against the exact LPs of the same exact
    phase: where a probe takes more than twice an exact LP's iterations on average, no
    probe runs after the first ``PROBE_TRIAL`` (national AFSLAARS: 887 against 150); where
    probes are cheap, every eligible value is probed. Either way the verdicts are the exact
    ones."""
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 10**9)  # no goal rounds
    monkeypatch.setattr(audit_module, "EXACT_SPLIT_MIN", 10**9)  # one exact phase
    monkeypatch.setattr(audit_module, "PROBE_TRIAL", 2)
    real = audit_module._Component._probe
    calls = []

    def priced(its):
        def probe(self, *a):
            calls.append(real(self, *a))
            return its
        return probe

    pub = three_way(seed, share=0.6)
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    monkeypatch.setattr(audit_module._Component, "_probe", priced(0))
    cheap = audit(pub, AFSLAARS, workers=1)
    n_cheap = len(calls)
    calls.clear()
    monkeypatch.setattr(audit_module._Component, "_probe", priced(10**6))
    dear = audit(pub, AFSLAARS, workers=1)
    assert n_cheap >= 5
    assert 2 <= len(calls) < n_cheap  # the trial (and probes before any exact LP ran)
    assert _verdicts(cheap) == _verdicts(dear) == _verdicts(exact)
    monkeypatch.setattr(audit_module, "PROBE_TRIAL", 8)
    assert audit_module._probe_pays({"probes": 8, "probe_its": 8 * 887, "exact_lps": 10,
                                     "exact_its": 1500}) is False
    assert audit_module._probe_pays({"probes": 8, "probe_its": 8 * 300, "exact_lps": 10,
                                     "exact_its": 1500}) is True
    assert audit_module._probe_pays({"probes": 3, "probe_its": 10**6, "exact_lps": 10,
                                     "exact_its": 10}) is True  # still in its trial


@pytest.mark.parametrize("seed", [1, 2])
def test_probe_counts_carry_over_both_halves_and_the_audits_of_a_search(seed, monkeypatch):
    """Whether probes pay is counted over the audit, not per exact phase: the two halves'
    counts are added to the audit's (each half works on a copy), and the counts live in the
    Witnesses a search hands from audit to audit. So where the first audit found probes
    dear, the next audit of the search tries none (national AFSLAARS 2026-10: 0.9 s of the
    last audit's 1 s of exact work went to a new trial). Verdicts stay the exact ones."""
    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit import Witnesses

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 10**9)  # no goal rounds
    monkeypatch.setattr(audit_module, "EXACT_SPLIT_MIN", 4)  # two halves
    monkeypatch.setattr(audit_module, "PROBE_TRIAL", 2)
    real = audit_module._Component._probe
    calls = []

    def dear(self, *a):
        calls.append(real(self, *a))
        return 10**6

    monkeypatch.setattr(audit_module._Component, "_probe", dear)
    pub = three_way(seed, share=0.6)
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    w = Witnesses()
    first = audit(pub, AFSLAARS, workers=1, witnesses=w)
    assert len(calls) >= 2 and w.probe_work["probes"] == len(calls)  # both halves counted
    assert w.probe_work["probe_its"] == 10**6 * len(calls) and w.probe_work["exact_lps"] > 0
    calls.clear()
    lps = w.probe_work["exact_lps"]
    w.blocks = []  # no points carried: the next audit has values open for its exact phase
    again = audit(pub, AFSLAARS, workers=1, witnesses=w)  # the search's next audit
    assert calls == [] and w.probe_work["exact_lps"] > lps
    fresh = audit(pub, AFSLAARS, workers=1, witnesses=Witnesses())
    assert len(calls) >= 2  # a search of its own tries them again
    assert _verdicts(first) == _verdicts(again) == _verdicts(fresh) == _verdicts(exact)


def test_goal_rounds_find_points_where_the_system_has_rays(monkeypatch):
    """Where no published number bounds an unknown, a goal LP pushing along that ray is
    unbounded and gives no point; the goal LPs run in a box that holds the seed point, so a
    round still proves values (before: none, and an exact LP each)."""
    import scipy.sparse as sp

    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit.pool import _Pool

    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 1)
    n = 6  # two withheld totals over two withheld cells each, nothing published above them
    A = sp.csr_matrix(np.array([[1, 1, -1, 0, 0, 0], [0, 0, 0, 1, 1, -1]], dtype=float))
    comp = audit_module._Component(A, np.zeros(2), np.zeros((0, 2), dtype=np.int64),
                                   np.zeros(n), np.full(n, np.inf), sp.identity(n, format="csr"),
                                   np.zeros(n))
    assert comp._seed().getInfo().objective_function_value == pytest.approx(0.0)  # all 0
    assert all(s[4] is None for s in comp._states())  # the seed (all 0) decides nothing
    comp._goal_rounds(_Pool(1))
    assert comp.lp_count > 1
    L, a, b, U = comp.rounded()
    assert (b >= catalog.PROTECTION_UPPER).all() and np.isinf(U).all()
    assert all(s[4] is True for s in comp._states())


# --- points carried from one audit to the next (the checked search's rounds) ------------------


def _verdicts(res: dict) -> dict:
    return {(c["gruppering"], tuple(sorted(c["members"].items())), c["measure"]): c["ok"]
            for c in res["cells"]}


@pytest.mark.parametrize("seed", [1, 2])
def test_carried_points_give_the_same_verdicts_with_fewer_lps(seed, monkeypatch):
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)  # the certificate path
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 3)
    first, later = three_way(seed), three_way(seed, more=0.1)
    assert (later["status"] == "diskretioneret").sum() > (first["status"] == "diskretioneret").sum()
    carried = Witnesses()
    audit(first, AFSLAARS, workers=1, witnesses=carried)
    assert carried
    hinted = audit(later, AFSLAARS, workers=1, witnesses=carried)
    _same_verdicts_fewer_lps(later, hinted, carried)


def _same_verdicts_fewer_lps(pub, hinted: dict, carried) -> dict:
    """The audit with carried points (``hinted``, ``carried``) used some, needed fewer LPs
    than a fresh one, gave its verdicts, and still reports inner and outer bounds of the
    exact intervals. Returns the fresh audit."""
    used, lps = carried.last["hints_used"], carried.last["lps"]
    fresh = Witnesses()
    plain = audit(pub, AFSLAARS, workers=1, witnesses=fresh)
    assert fresh.last["hints_used"] == 0 and used > 0
    assert lps < fresh.last["lps"]
    assert _verdicts(hinted) == _verdicts(plain)
    assert hinted["verdict"] == plain["verdict"]
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    big = 10**9
    for c, x in zip(hinted["cells"], exact["cells"]):  # still inner and outer bounds
        assert c["lo_bound"] <= x["lo"] <= c["lo"]
        assert c["hi"] <= (x["hi"] if x["hi"] is not None else big) <= (
            c["hi_bound"] if c["hi_bound"] is not None else big)
    return plain


def test_carried_points_are_checked_before_use(monkeypatch):
    """Points that do not satisfy the audited system are dropped: forged points (every
    carried value x made 1.5 x + 1) neither change a verdict nor widen an interval beyond
    the exact one."""
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    pub = three_way(2, share=0.1)
    carried = Witnesses()
    plain = audit(pub, AFSLAARS, workers=1, witnesses=carried)
    assert carried.last["hints_used"] == 0  # nothing carried into a first audit
    assert plain["failed"] > 0
    carried.blocks = [(cells, 1.5 * pts + 1.0) for cells, pts in carried.blocks]
    again = audit(pub, AFSLAARS, workers=1, witnesses=carried)
    assert carried.last["hints_used"] == 0
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    assert _verdicts(again) == _verdicts(plain) == _verdicts(exact)
    big = 10**9
    for c, x in zip(again["cells"], exact["cells"]):
        assert c["lo"] >= x["lo"]
        assert (c["hi"] if c["hi"] is not None else big) <= (x["hi"] if x["hi"] is not None else big)


def test_a_point_is_used_only_where_it_meets_the_relations_and_bounds():
    import scipy.sparse as sp

    from transforms.disclosure.audit.component import _Component

    # x0 + x1 = 4, x1 = x2 + 1, 0 <= x <= 4; targets: each unknown
    A = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, -1.0]]))
    comp = _Component(A, np.array([4.0, 1.0]), np.zeros((0, 2), dtype=np.int64),
                      np.zeros(3), np.full(3, 4.0), sp.identity(3, format="csr"), np.zeros(3))
    comp.use_hints([np.array([4.0, 4.0, 3.0]),   # within the bounds, off the first relation
                    np.array([0.0, 4.0, 3.0001]),  # off the second relation
                    np.array([5.0, -1.0, -2.0]),  # off the bounds
                    np.array([1.0, 3.0]),        # not a point of this system
                    np.array([np.nan, 3.0, 2.0])])
    assert comp.hints_used == 0 and not comp.points
    comp.use_hints([np.array([1.0, 3.0, 2.0]), np.array([3.0, 1.0, -1e-9])])
    assert comp.hints_used == 2
    assert comp.amin.tolist() == [1.0, 1.0, 0.0]  # clipped into the bounds
    assert comp.bmax.tolist() == [3.0, 3.0, 2.0]


def test_a_component_its_points_decide_runs_no_lp(monkeypatch):
    """Where carried points prove a (non-exact-mode) component feasible and decide every
    value, it runs no LP at all: the same verdicts and outer bounds as with its seed LP
    (inner bounds as wide as the points show). Where they leave values open, local LPs
    from a carried point decide them; failing those, the seed LP and the rest as before."""
    import scipy.sparse as sp

    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit.component import _Component
    from transforms.disclosure.audit.pool import _Pool

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 0)  # the goal/decide path

    def comp():  # x0 + x1 = 20, x2 + x3 = 20, 0 <= x <= 20; targets: each unknown
        A = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
        return _Component(A, np.array([20.0, 20.0]), np.zeros((0, 2), dtype=np.int64),
                          np.zeros(4), np.full(4, 20.0), sp.identity(4, format="csr"),
                          np.zeros(4))

    wide = [np.array([0.0, 20.0, 0.0, 20.0]), np.array([20.0, 0.0, 20.0, 0.0])]
    hinted, plain = comp(), comp()
    assert hinted.solve(False, _Pool(1), hints=wide)
    assert hinted.lp_count == 0 and hinted.hints_used == 2
    assert plain.solve(False, _Pool(1))
    assert plain.lp_count > 0

    def judged(c):  # (L, U, verdict) per value
        return [(s[0], s[3], s[4]) for s in c._states()]

    assert judged(hinted) == judged(plain) == [(0, 20, True)] * 4
    assert [s[1:3] for s in hinted._states()] == [(0, 20)] * 4  # what the points show

    # one point: every value pinned to it; local LPs from it (the unknowns near the open
    # values freed, the rest held) decide them, still without the component's seed LP
    seeds = []
    real_seed = _Component._seed
    monkeypatch.setattr(_Component, "_seed", lambda self: seeds.append(1) or real_seed(self))
    narrow = comp()
    assert narrow.solve(False, _Pool(1), hints=wide[:1])
    assert 0 < narrow.lp_count <= audit_module.LOCAL_LPS and not seeds
    assert judged(narrow) == judged(plain)
    # without local LPs the seed decides, as before
    monkeypatch.setattr(audit_module, "LOCAL_MAX_OPEN", 0)
    monkeypatch.setattr(audit_module, "LOCAL_SINGLE_MAX", -1)
    pinned = comp()
    assert pinned.solve(False, _Pool(1), hints=wide[:1])
    assert seeds and judged(pinned) == judged(plain)


def _judged(res: dict) -> tuple:
    """An audit result without the inner bounds (which carried points may widen)."""
    cells = [{k: v for k, v in c.items() if k not in ("lo", "hi", "exact")} for c in res["cells"]]
    return (res["verdict"], res["withheld"], res["checked"], res["failed"],
            res["consistency_errors"], res["hundrede_procent"], cells)


def test_the_frames_structure_is_built_once_for_the_search_rounds(monkeypatch):
    """The checked search audits the same cells round after round: the variables and
    relations (which depend only on the cells) are built at the first audit and reused by
    the next ones that carry its Witnesses; each result equals a fresh audit's, consistency
    errors included and in the same order (cell errors, errors in the numbers, then the
    relations'). Other cells, or another cube, build their own."""
    from transforms.disclosure.audit.frame import _Audit

    builds = []
    real = _Audit.build_structure

    def counted(self):
        builds.append(self.n)
        return real(self)

    monkeypatch.setattr(_Audit, "build_structure", counted)
    first, later = three_way(3), three_way(3, more=0.1)
    numbers = later.copy()  # the same cells, wrong numbers: the structure is reused
    total = numbers.index[numbers["gruppering"] == ""][0]
    numbers.loc[total, "antal_afslag"] = 0.0  # published_zero
    margin = numbers.index[(numbers["gruppering"] != "") & numbers["antal_afslag"].notna()][0]
    numbers.loc[margin, "antal_afslag"] += 1  # a margin that no longer adds up
    cells = numbers.copy()  # and other cells: an unknown grouping, a cell without margin
    cells.loc[cells.index[-1], "gruppering"] = "[Ukendt].[Gruppering]"
    fine = cells.index[cells["kommune"].notna() & cells["primaer_aarsag"].notna()
                       & cells["tid_kvartal"].notna()][0]
    cells.loc[fine, "kommune"] = "Ukendt Kommune"
    carried = Witnesses()
    for pub in (first, later, numbers, cells):
        got = audit(pub, AFSLAARS, workers=1, witnesses=carried)
        fresh = audit(pub, AFSLAARS, workers=1)
        assert _judged(got) == _judged(fresh)
        kinds = [e["type"] for e in got["consistency_errors"]]
        if pub is numbers:
            assert kinds[0] == "published_zero" and "margin_mismatch" in kinds, kinds
    assert kinds[0] == "unknown_grouping" and "missing_margin_cell" in kinds, kinds
    assert kinds.index("published_zero") < kinds.index("missing_margin_cell")
    assert len(builds) == 2 + 4  # first and cells with witnesses, then each fresh one

    builds.clear()  # other cells (a row fewer) build their own structure
    audit(first.iloc[:-1], AFSLAARS, workers=1, witnesses=carried)
    assert builds == [len(first) - 1]


def test_a_seed_started_ahead_in_a_worker_gives_the_seed_solved_here(monkeypatch):
    """A large component with values left open after the carried points starts its seed LP
    in a worker while its local LPs run; its basis then restarts the seed here in no
    iteration: the same verdicts, bounds and points as the seed solved here."""
    import scipy.sparse as sp

    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit.component import _Component
    from transforms.disclosure.audit.pool import _Pool

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 0)
    monkeypatch.setattr(audit_module, "SEED_AHEAD_MIN_VARS", 1)
    monkeypatch.setattr(audit_module, "LOCAL_MAX_OPEN", 0)  # the local LPs decide nothing
    monkeypatch.setattr(audit_module, "LOCAL_SINGLE_MAX", -1)

    def comp():  # x0 + x1 = 20, x2 + x3 = 20, x1 = x2, 0 <= x <= 20
        A = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0],
                                    [0.0, 1.0, -1.0, 0.0]]))
        return _Component(A, np.array([20.0, 20.0, 0.0]), np.zeros((0, 2), dtype=np.int64),
                          np.zeros(4), np.full(4, 20.0), sp.identity(4, format="csr"),
                          np.zeros(4))

    point = [np.array([5.0, 15.0, 15.0, 5.0])]
    used = []
    real = _Component._seed_ahead
    monkeypatch.setattr(_Component, "_seed_ahead",
                        lambda self, ahead: used.append(ahead) or real(self, ahead))
    pool = _Pool(2)
    try:
        ahead = comp()
        assert ahead.solve(False, pool, hints=point)
    finally:
        pool.close()
    here = comp()
    assert here.solve(False, _Pool(1), hints=point)
    assert len(used) == 1 and used[0].done()
    assert ahead._states() == here._states()
    assert ahead.lp_count == here.lp_count


def test_exact_halves_start_from_the_seeds_basis(monkeypatch):
    """The two halves of an exact phase start from the seed's final basis (handed over as
    arrays) instead of solving the seed again: no iteration is needed there, and the
    verdicts and exact intervals are those of halves that solve the seed afresh."""
    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit.component import _Component

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 10**6)  # exact mode: every value
    monkeypatch.setattr(audit_module, "EXACT_SPLIT_MIN", 1)  # always in two halves
    pub = three_way(5)
    iterations = []
    real = _Component._reseed

    def counted(self, basis):
        h = real(self, basis)
        iterations.append(h.getInfo().simplex_iteration_count)
        return h

    monkeypatch.setattr(_Component, "_reseed", counted)
    handed = audit(pub, AFSLAARS, workers=1)
    assert iterations and all(i == 0 for i in iterations)
    monkeypatch.setattr(_Component, "_reseed", lambda self, basis: self._seed())
    afresh = audit(pub, AFSLAARS, workers=1)
    assert _verdicts(handed) == _verdicts(afresh)
    assert [(c["lo"], c["hi"], c["exact"]) for c in handed["cells"]] == [
        (c["lo"], c["hi"], c["exact"]) for c in afresh["cells"]]


def test_goal_points_are_checked_before_use(monkeypatch):
    """The goal LPs' points are interior points (no crossover to a vertex), recorded only
    where they meet every relation and bound: forged ones (1.5 x + 1) change no verdict and
    widen no interval beyond the exact one; the real ones meet them and decide values."""
    import transforms.disclosure.audit.component as audit_module

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 3)
    pub = three_way(2, share=0.5)
    exact = audit(pub, AFSLAARS, workers=1, exact=True)
    real = audit_module._lp_task
    seen = []

    def forged(*args):
        x = real(*args)
        seen.append(x is not None)
        return None if x is None else 1.5 * x + 1.0

    monkeypatch.setattr(audit_module, "_lp_task", forged)
    got = audit(pub, AFSLAARS, workers=1)
    assert any(seen)  # goal rounds ran
    assert _verdicts(got) == _verdicts(exact)
    big = 10**9
    for c, x in zip(got["cells"], exact["cells"]):
        assert c["lo"] >= x["lo"]
        assert (c["hi"] if c["hi"] is not None else big) <= (x["hi"] if x["hi"] is not None
                                                             else big)
    monkeypatch.setattr(audit_module, "_lp_task", real)
    assert _verdicts(audit(pub, AFSLAARS, workers=1)) == _verdicts(exact)


def test_points_of_another_frame_are_not_used():
    first = three_way(1)
    carried = Witnesses()
    audit(first, AFSLAARS, workers=1, witnesses=carried)
    other = first.iloc[:-1]  # one row fewer: another frame
    res = audit(other, AFSLAARS, workers=1, witnesses=carried)
    assert carried.last["hints_used"] == 0
    assert res["checked"] > 0


# --- points carried from one release to the next (protect.load_carried_points) ---------------


def _quarters(n_quarters: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(truth, published) of AFSLAARS view 2 over the first ``n_quarters`` quarters of 2022:
    a release and, with one quarter more, the next. A cell is withheld by its key alone
    (zeros, 1-3, and a fixed pseudo-random share), so what the first withholds the next
    withholds too, as under the series rule; the next adds its new quarter's cells and its
    changed running cells (the year and its margins)."""
    import zlib

    rng = np.random.default_rng(seed)
    rows = []
    for q in range(1, 5):
        for kom, reg, _ in KOMMUNER:
            for r in range(4):
                rows.append({"tid_aar": "2022", "tid_kvartal": f"2022K{q}", "kommune": kom,
                             "region": reg, "primaer_aarsag": f"Årsag {r}",
                             "antal_afslag": int(rng.poisson(4.0))})
    universe = pd.DataFrame(rows)
    universe = universe[universe["tid_kvartal"] <= f"2022K{n_quarters}"]
    df = build(AFSLAARS, V2_GROUPINGS, universe)
    from transforms.disclosure.guarded import _cell_key

    keys = _cell_key(df, AFSLAARS)
    share = np.array([zlib.crc32(k.encode()) % 100 < 30 for k in keys])
    small = ((df["antal_afslag"] <= 3).to_numpy() | share) & (df["gruppering"] != "").to_numpy()
    spec = [(df.iloc[i]["gruppering"], {c: df.iloc[i][c] for c in AFSLAARS.columns
                                       if df.iloc[i][c] is not None})
            for i in np.flatnonzero(small)]
    return df, publish(df, AFSLAARS, withhold=spec)


def test_points_carried_to_the_next_release_spare_lps_and_change_no_verdict(monkeypatch):
    import transforms.disclosure.audit.component as audit_module
    from transforms.disclosure.audit.witnesses import carried_over, deviations
    from transforms.disclosure.guarded import _cell_key

    monkeypatch.setattr(audit_module, "EXACT_MAX_VARS", 5)  # the certificate path
    monkeypatch.setattr(audit_module, "ROUND_MIN_GAIN", 3)
    truth1, pub1 = _quarters(3)
    truth2, pub2 = _quarters(4)
    key1, key2 = (_cell_key(t, AFSLAARS).to_numpy() for t in (truth1, truth2))
    assert set(key1) < set(key2)
    final = Witnesses()  # the previous release's final audit
    audit(pub1, AFSLAARS, workers=1, witnesses=final)
    assert final
    measures = final.shape[1]
    points = [(f.copy(), p.copy()) for f, p in final.blocks]
    stored = deviations(final, key1, {m: truth1[m].to_numpy(float) for m in measures})
    assert not final and final.shape is None  # consumed: its points became the deviations

    # on the same frame the deviations give back the very points
    same = carried_over(stored, key1, {m: truth1[m].to_numpy(float) for m in measures},
                        measures)
    assert same.shape == (len(truth1), measures)
    assert len(same.blocks) == len(points)
    for (f1, p1), (f2, p2) in zip(points, same.blocks):
        assert np.array_equal(f1, f2) and np.allclose(p1, p2, atol=1e-9)

    # the next release: a quarter more, the year changed
    carried = carried_over(stored, key2, {m: truth2[m].to_numpy(float) for m in measures},
                           measures)
    hinted = audit(pub2, AFSLAARS, workers=1, witnesses=carried)
    plain = _same_verdicts_fewer_lps(pub2, hinted, carried)

    # forged deviations (not a solution of the relations) are dropped, nothing else changes
    forged = {k: (v * 1.5 + 1.0 if k.startswith("d") else v) for k, v in stored.items()}
    bad = carried_over(forged, key2, {m: truth2[m].to_numpy(float) for m in measures},
                       measures)
    again = audit(pub2, AFSLAARS, workers=1, witnesses=bad)
    assert bad.last["hints_used"] == 0
    assert _verdicts(again) == _verdicts(plain)


def test_the_warehouse_keeps_the_final_points_for_the_next_release(caplog):
    """protect.save_carried_points / load_carried_points: the points of a release's final
    audit come back, carried over by cell key, for the first audit of a later release (the
    newest earlier release's; ``CARRY_MAX_POINTS`` a block at most); an unreadable entry
    gives a warning and no points, never an error."""
    import duckdb

    from transforms.disclosure.audit.witnesses import CARRY_MAX_POINTS
    from transforms.disclosure.protect import load_carried_points, save_carried_points

    from transforms.disclosure.guarded import _cell_key

    truth1, pub1 = _quarters(3)
    truth2, pub2 = _quarters(4)
    key1, key2 = (_cell_key(t, AFSLAARS).to_numpy() for t in (truth1, truth2))
    con = duckdb.connect()
    assert not load_carried_points(con, AFSLAARS, "2022-09", truth1, key1)  # nothing kept yet
    final = Witnesses()
    audit(pub1, AFSLAARS, workers=1, witnesses=final)
    n_points = [len(p) for _, p in final.blocks]
    save_carried_points(con, AFSLAARS, "2022-09", truth1, key1, final)
    assert con.execute("SELECT udgivelse FROM audit_punkter").fetchall() == [("2022-09",)]
    assert not load_carried_points(con, AFSLAARS, "2022-09", truth1, key1)  # only earlier
    carried = load_carried_points(con, AFSLAARS, "2022-12", truth2, key2)
    assert carried and carried.shape == (len(truth2), ("antal_afslag",))
    assert [len(p) for _, p in carried.blocks] == [min(n, CARRY_MAX_POINTS) for n in n_points]
    res = audit(pub2, AFSLAARS, workers=1, witnesses=carried)
    assert carried.last["hints_used"] > 0 and res["checked"] > 0
    con.execute("UPDATE audit_punkter SET punkter = 'not a zip'::BLOB")
    assert not load_carried_points(con, AFSLAARS, "2022-12", truth2, key2)
    assert "unreadable" in caplog.text
    con.execute("UPDATE audit_punkter SET maal = '7'")
    assert not load_carried_points(con, AFSLAARS, "2022-12", truth2, key2)


def test_the_points_carried_are_those_that_reach_the_extremes():
    """Beyond ``CARRY_MAX_POINTS`` a block, the points carried to the next release are
    chosen greedily by the (cell, lowest) and (cell, highest) values they reach among the
    block's points, then evenly spread while there is room: a point that alone lifts a cell
    to its highest is kept where an even spread would drop it. The same points give the
    same choice; within the cap every point is kept."""
    from transforms.disclosure.audit.witnesses import carried_choice

    rng = np.random.default_rng(3)
    pts = np.tile(rng.integers(2, 6, size=40).astype(float), (200, 1))  # one point, repeated
    lonely = [7, 61, 113, 150]  # each alone reaches a cell's highest (and one its lowest)
    for j, i in enumerate(lonely):
        pts[i, j] += 9
    pts[150, 39] = 0.0
    even = np.unique(np.linspace(0, 199, 8).round().astype(int))
    assert not set(lonely) & set(even.tolist())  # what an even spread of 8 would carry
    got = carried_choice(pts, 8)
    assert len(got) == 8 and np.all(np.diff(got) > 0)
    assert set(lonely) <= set(got.tolist())
    assert np.array_equal(got, carried_choice(pts.copy(), 8))
    # exactly the five that reach something: the four, and the repeated point, which holds
    # the lowest of the cells the four lift and the highest of the one 150 lowers
    assert carried_choice(pts, 5).tolist() == [0] + lonely
    assert carried_choice(pts[:6], 8).tolist() == list(range(6))
    # every extreme the block reaches is still reached by the points chosen
    rng = np.random.default_rng(5)
    many = rng.integers(0, 30, size=(300, 500)).astype(float)
    ch = carried_choice(many, 128)
    sub = many[ch]
    assert len(ch) == 128
    assert np.array_equal(sub.min(axis=0), many.min(axis=0))
    assert np.array_equal(sub.max(axis=0), many.max(axis=0))
    even = many[np.unique(np.linspace(0, 299, 128).round().astype(int))]
    assert not np.array_equal(even.max(axis=0), many.max(axis=0))  # what was lost before


def test_row_ids_number_rows_as_numpy_unique_does():
    from transforms.disclosure.audit.frame import _row_ids

    rng = np.random.default_rng(11)
    for _ in range(100):
        n, k = int(rng.integers(1, 200)), int(rng.integers(1, 5))
        m = rng.integers(-3, 4, size=(n, k)).astype(np.int64)
        want = np.unique(m, axis=0, return_inverse=True)[1].ravel()
        assert np.array_equal(_row_ids(m), want)
    assert _row_ids(np.zeros((0, 3), dtype=np.int64)).tolist() == []


def test_damaged_carried_points_give_no_points():
    from transforms.disclosure.audit.witnesses import carried_over

    keys = np.array(["a", "b", "c"])
    truth = {"antal_afslag": np.array([1.0, 2.0, 3.0])}
    good = {"noegler": np.array(["a", "c"]), "r0": np.array([0, 1], dtype=np.int32),
            "m0": np.array([0, 0], dtype=np.int16), "d0": np.array([[1.0, -1.0]])}
    w = carried_over(good, keys, truth, ("antal_afslag",))
    assert w.blocks[0][0].tolist() == [0, 2] and w.blocks[0][1].tolist() == [[2.0, 2.0]]
    for damage in ({"r0": np.array([0, 5], dtype=np.int32)}, {"r0": np.array([0.5, 1.0])},
                   {"m0": np.array([0], dtype=np.int16)}, {"d0": np.array([1.0, 2.0])},
                   {"d0": np.ones((1, 3))}, {"noegler": np.array([])}):
        assert carried_over({**good, **damage}, keys, truth, ("antal_afslag",)) is None
    assert carried_over({}, keys, truth, ("antal_afslag",)) is None
