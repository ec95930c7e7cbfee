"""The series audit of a flow cube, one release at a time (contract 3.7).

The series audit (:mod:`audit_series`) solves the union of every published version at once.
For AFSLAARS that union is one linked system that grows by some 3,700 unknowns a release
(85,128 at 2023-03 of the national demo, 1,516 s to solve), because the running periods and
the totals over time of every release chain all months together. This module reaches the
same verdicts from the previous release's audit and a system of the new month alone, where
the new release adds nothing but that month. It shares no code with the suppressor.

Why that is exact
-----------------
Let ``V`` be the versions published so far, their union's feasible set ``F_V`` (every
withheld value of every version proved protected in it), ``P`` the latest of them (month
``M-1``) and ``R`` the next month's release. Write ``z(G, X)`` for the unknown true count of
month ``M`` at non-time grouping ``G`` and captions ``X``. Suppose

1. ``R`` is the month after ``P``, has the same groupings and members, and its truth is
   ``P``'s for every month before ``M`` (no late registration changed a past month);
2. every cell of ``R`` over a period that ended before ``M`` is the same number in ``P``
   (same truth), published in both with the same value or withheld in both;
3. every cell of ``R`` over a period that contains ``M`` and began before it (the running
   quarter and year, every total over time) has ``P``'s cell of the same place and caption
   (the same period, ending at ``M-1``) as its *predecessor*, and ``R`` publishes it only
   where ``P`` published the predecessor.

Each new cell is its predecessor plus ``z`` (or ``z`` alone when its period begins at
``M``). Condition 2 adds no equation; 3 turns every published new cell into ``z = v_R -
v_P``; the covers of ``R``'s new cells are the predecessors' covers (already in ``F_V``)
plus the covers of month ``M``. So the union's feasible set is ``F_V × G_M``, where ``G_M``
is month ``M`` alone: the unknowns ``z``, their covers, ``z ≥ 0`` and the published
differences. In a product, every value of ``V`` keeps its interval (its verdict stands), and
a new cell's interval is its predecessor's interval plus that of ``z``. A predecessor that
passed with an interval other than ``[0, 0]`` makes the sum pass whatever ``z`` does (adding
a non-negative interval keeps ``hi ≥ 4``, never narrows, and can only lift ``lo``); a
published predecessor is a constant; a predecessor proved ``[0, 0]`` adds nothing. So what is
left to solve is ``G_M`` with objectives ``z`` or ``v_P + z``, by the audit's own solver
(:func:`audit.solve_system`), and what the next release needs of this one is which of its
withheld cells are exactly ``[0, 0]``.

Where a condition does not hold (the first release, a re-run that changed a published month,
a late registration, new members, a running cell published after its predecessor was
withheld), the whole union is solved as before (:func:`audit_series.audit_series` without a
chain), and the chain goes on from that audit.

The state after a prefix of versions is kept by a digest of those versions' published cells
and truths (:class:`ChainStore`; the warehouse keeps the one the last release ended with, so
the next release starts from it; without it the chain is replayed from the first version,
one month's system per release).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms.calendar import Release
from transforms.catalog import Cube
from transforms.disclosure.audit import FAILED, PASSED, solve_system
from transforms.disclosure.audit.frame import _num

METHOD_STEP = (
    " Revisionen går frem én udgivelse ad gangen, hvor den nye udgivelse kun tilføjer sin "
    "nye måned (ingen sen registrering, løbende perioder offentliggjort kun hvor perioden til "
    "forrige måned var offentliggjort): så er seriens system produktet af det forrige og den "
    "nye måneds system, og kun den nye måned løses."
)


@dataclass
class ChainStore:
    """States of the series audit after a prefix of versions, by the prefix's digest: the
    keys ``(G, X, time level, caption)`` of the prefix's latest version's withheld cells whose
    interval over the prefix's union is exactly ``[0, 0]``. Only states of prefixes whose
    audit passed are kept."""
    entries: dict[str, list] = field(default_factory=dict)
    used: set = field(default_factory=set)

    def get(self, digest: str):
        z = self.entries.get(digest)
        if z is not None:
            self.used.add(digest)
            return {tuple(k) for k in z}
        return None

    def put(self, digest: str, zeros: set) -> None:
        self.entries[digest] = sorted([list(k) for k in zeros], key=lambda k: [str(x) for x in k])
        self.used.add(digest)


# --- digests ----------------------------------------------------------------------------------


def _keys(ver, cube: Cube) -> pd.DataFrame:
    """The version's cells as (G, X, tid, tcap, val), cached on the version."""
    got = getattr(ver, "_chain_keys", None)
    if got is None:
        from transforms.disclosure.audit_series import frame_keys

        k = frame_keys(ver.frame, cube)
        got = pd.DataFrame({"G": k["G"].to_numpy(), "X": k["X"].to_numpy(),
                            "tid": k["tid"].to_numpy(), "tcap": k["tcap"].to_numpy(),
                            "val": _num(ver.frame[cube.value_column]) if len(ver.frame)
                            else np.zeros(0)})
        got["tid"] = got["tid"].where(got["tid"].notna(), "")
        got["tcap"] = got["tcap"].where(got["tcap"].notna(), "")
        ver._chain_keys = got
    return got


def _truth_rows(ver) -> pd.DataFrame:
    """The version's truth as sorted (unit, G, X, v) rows with v ≠ 0."""
    t = ver.truth
    if t is None or not len(t):
        t = pd.DataFrame({"unit": [], "G": [], "X": [], "v": []})
    t = t[["unit", "G", "X", "v"]]
    t = t[t["v"].astype(np.int64) != 0].astype({"v": np.int64, "unit": str, "G": str, "X": str})
    return t.sort_values(["unit", "G", "X"]).reset_index(drop=True)


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two :func:`_truth_rows` frames hold the same rows (empty ones included)."""
    if len(a) != len(b):
        return False
    return all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in ("unit", "G", "X", "v"))


def version_digest(ver, cube: Cube) -> str:
    """sha256 of a version's release month, published cells and truth, the same whether the
    frame was read from ``cells.parquet`` or built in memory (rows in any order)."""
    got = getattr(ver, "_chain_digest", None)
    if got is not None:
        return got
    f = ver.frame
    h = hashlib.sha256(str(Release.parse(ver.release)).encode())
    cols = ["gruppering"] + [c for c in cube.columns if c in f.columns]
    # the rows in a canonical order (by their captions), each column as text, missing → ""
    text = {}
    for c in cols:
        col = pd.Series(f[c].to_numpy(dtype=object), dtype=object)
        text[c] = col.astype(str).where(col.notna().to_numpy(), "").to_numpy(dtype=object)
    order = np.lexsort([text[c] for c in reversed(cols)]) if len(f) else np.zeros(0, int)
    for c in cols:
        h.update((c + "\x1f" + "\x1e".join(text[c][order].tolist())).encode() + b"\x1d")
    val = _num(f[cube.value_column]) if len(f) else np.zeros(0)
    h.update(np.where(np.isnan(val), -1, val)[order].astype(np.int64).tobytes())
    t = _truth_rows(ver)
    for c in ("unit", "G", "X"):
        h.update("\x1e".join(t[c]).encode() + b"\x1d")
    h.update(t["v"].to_numpy(np.int64).tobytes())
    ver._chain_digest = h.hexdigest()
    return ver._chain_digest


def prefix_digests(versions: list, cube: Cube) -> list[str]:
    """Digest of versions[:k+1] for every k."""
    out, h = [], hashlib.sha256(cube.id.encode())
    for ver in versions:
        h.update(version_digest(ver, cube).encode())
        out.append(h.copy().hexdigest())
    return out


# --- one step -----------------------------------------------------------------------------------


def _contains(tid: str, tcap: str, M: Release) -> bool:
    """Whether a period (time level, caption; '' = every month so far) contains month M."""
    if not tid:
        return True
    if tid == "[Tid].[Måned]":
        return tcap == M.caption
    if tid == "[Tid].[Kvartal]":
        return tcap == M.quarter_caption
    return tcap == M.year_caption


def _begins_at(tid: str, tcap: str, M: Release) -> bool:
    """Whether a period containing M begins at M."""
    if tid == "[Tid].[Måned]":
        return True
    if tid == "[Tid].[Kvartal]":
        return (M.month - 1) % 3 == 0
    if tid == "[Tid].[År]":
        return M.month == 1
    return False


class NotAStep(Exception):
    """The new version adds more than its month; the reason is the message."""


@dataclass
class StepResult:
    ok: np.ndarray          # per row of R: its withheld value passed (True for published rows)
    lo: list                # per failing row: (row, lo, hi)
    zeros: set              # R's withheld cells proved [0, 0]
    errors: list
    unknowns: int
    relations: int
    objectives: int
    lps: int


def step(P, zeros_p: set, R, cube: Cube, *, workers: int | None = None) -> StepResult:
    """The audit of ``R`` over ``F_V × G_M`` (module docstring), given that the union up to
    ``P`` passed and ``zeros_p`` are ``P``'s withheld cells proved [0, 0] there. Raises
    :class:`NotAStep` where a condition does not hold."""
    from transforms.disclosure.audit_series import _layout, _region_map, _SeriesReport

    M = Release.parse(R.release)
    if Release.parse(P.release).next() != M:
        raise NotAStep(f"{R.label} følger ikke direkte efter {P.label}")
    kp, kr = _keys(P, cube), _keys(R, cube)
    # 1. the same groupings and members, and no month before M changed
    if set(zip(kp["G"], kp["X"])) != set(zip(kr["G"], kr["X"])):
        raise NotAStep("andre grupperinger eller medlemmer")
    tr, tp = _truth_rows(R), _truth_rows(P)
    tr_old = tr[tr["unit"] != M.caption].reset_index(drop=True)
    if not _same_rows(tr_old, tp):
        raise NotAStep("sandheden for tidligere måneder er ændret (sen registrering)")
    key_cols = ["G", "X", "tid", "tcap"]
    pidx = pd.MultiIndex.from_frame(kp[key_cols])
    if not pidx.is_unique or not pd.MultiIndex.from_frame(kr[key_cols]).is_unique:
        raise NotAStep("gentagne celler")
    pos = pidx.get_indexer(pd.MultiIndex.from_frame(kr[key_cols]))
    has_pred = pos >= 0
    vr = kr["val"].to_numpy(float)
    vp = np.where(has_pred, kp["val"].to_numpy(float)[np.maximum(pos, 0)], np.nan)
    run = np.array([_contains(t, c, M) for t, c in zip(kr["tid"], kr["tcap"])], dtype=bool)
    pub_r, pub_p = ~np.isnan(vr), has_pred & ~np.isnan(vp)

    n = len(kr)
    ok = np.ones(n, dtype=bool)
    fails: list = []
    zeros: set = set()
    keys_r = list(zip(kr["G"], kr["X"], kr["tid"], kr["tcap"]))
    # 2. periods that ended before M: the same numbers as in P
    old = ~run
    if (old & ~has_pred).any():
        raise NotAStep("en afsluttet periode mangler i forrige udgivelse")
    if (old & pub_r & ~pub_p).any():
        raise NotAStep("en celle diskretioneret før er offentliggjort nu")
    if (old & pub_r & pub_p & (vr != vp)).any():
        raise NotAStep("en afsluttet periode har fået en anden værdi")
    for i in np.flatnonzero(old & ~pub_r):
        if pub_p[i]:  # withheld now, published before with the same truth: known
            ok[i] = False
            fails.append((int(i), int(vp[i]), int(vp[i])))
        elif keys_r[i] in zeros_p:
            zeros.add(keys_r[i])
    # 3. running periods: predecessor + z, published only after a published predecessor
    starts = np.array([not has_pred[i] for i in range(n)]) & run
    for i in np.flatnonzero(starts):
        if not _begins_at(kr["tid"].iat[i], kr["tcap"].iat[i], M):
            raise NotAStep("en løbende periode uden forgænger")
    if (run & has_pred & pub_r & ~pub_p).any():
        raise NotAStep("en løbende periode offentliggjort efter en diskretioneret forgænger")

    # G_M: the month's unknowns z(G, X), their covers, the published differences
    keys_df = pd.DataFrame({"G": kr["G"], "X": kr["X"], "tid": kr["tid"].replace("", None),
                            "tcap": kr["tcap"].replace("", None)})
    keys_df.attrs["region"] = _region_map(R.frame)
    by_g, covers, _ = _layout(keys_df, cube)
    base, k = {}, 0
    for G, xs in by_g.items():
        base[G] = k
        k += len(xs)
    one = k  # a known unknown of value 1: the constant of v_P + z
    N = k + 1
    xpos = {G: {x: j for j, x in enumerate(xs)} for G, xs in by_g.items()}
    zvar = np.array([base[g] + xpos[g][x] for g, x in zip(kr["G"], kr["X"])], dtype=np.int64)
    known = np.full(N, np.nan)
    known[one] = 1.0
    for i in np.flatnonzero(run & pub_r):
        v = vr[i] - (vp[i] if has_pred[i] else 0.0)
        z = zvar[i]
        if not np.isnan(known[z]) and known[z] != v:
            raise NotAStep("uoverensstemmende tal for den nye måned")
        known[z] = v
    rr, cc, dd = [], [], []
    nrel = 0
    for pk, ck, c2p in covers:
        for p in range(len(by_g[pk])):
            rr.append(nrel), cc.append(base[pk] + p), dd.append(1.0)
            for j in np.flatnonzero(c2p == p).tolist():
                rr.append(nrel), cc.append(base[ck] + j), dd.append(-1.0)
            nrel += 1
    A = sp.csr_matrix((dd, (rr, cc)), shape=(nrel, N))
    objs: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(run & ~pub_r):
        z = int(zvar[i])
        if has_pred[i] and pub_p[i]:
            obj = ((1.0, z), (float(vp[i]), one))
        elif has_pred[i] and keys_r[i] not in zeros_p:
            continue  # a predecessor that passed, not [0, 0]: the sum passes
        else:
            obj = ((1.0, z),)
        objs.setdefault(obj, []).append(int(i))
    order = sorted(objs)
    errors: list = []
    res, info = solve_system(A, known, order, [], _SeriesReport(errors), workers=workers)
    for t, obj in enumerate(order):
        r = res[t]
        for i in objs[obj]:
            if not r["ok"]:
                ok[i] = False
                fails.append((i, r["lo"], r["hi"]))
            elif r["hi_bound"] == 0:
                zeros.add(keys_r[i])
    return StepResult(ok, fails, zeros, errors, N, nrel, len(order), info["lps"])


# --- the chain ----------------------------------------------------------------------------------


def audit_chain(versions: list, cube: Cube, chain: ChainStore, full, *,
                workers: int | None = None, max_cells: int = 200, **full_kw) -> dict:
    """The series audit of ``versions`` (oldest first) by steps from the latest state
    ``chain`` holds (module docstring); ``full(versions, cube, **kw)`` is the whole-union
    audit, run where a step's conditions do not hold. Returns what ``full`` returns, with
    ``inkrementel`` saying how it was reached."""
    from transforms.disclosure.audit_series import METHOD

    digs = prefix_digests(versions, cube)
    n = len(versions)
    if n < 2:
        return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    start = next((k for k in range(n - 1, 0, -1) if digs[k - 1] in chain.entries), 0)
    if start == 0:
        head = _full(versions[:1], cube, chain, digs, full, workers, max_cells, {})
        if head["verdict"] != PASSED:
            return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
        start = 1
    zeros = chain.get(digs[start - 1])
    if zeros is None:
        return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    steps, solved_full, lps, last = 0, [], 0, None
    for j in range(start, n):
        try:
            last = step(versions[j - 1], zeros, versions[j], cube, workers=workers)
        except NotAStep as e:
            solved_full.append({"udgivelse": versions[j].label, "grund": str(e)})
            res = _full(versions[:j + 1], cube, chain, digs, full, workers, max_cells,
                        full_kw if j == n - 1 else {})
            if j == n - 1 or res["verdict"] != PASSED:
                if j < n - 1:
                    return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
                res["inkrementel"] = {"fra": versions[start - 1].label, "trin": steps,
                                      "fuld_revision": solved_full}
                res["digests"] = digs
                return res
            zeros = chain.get(digs[j])
            if zeros is None:  # a whole-union audit that marks no [0, 0] cells
                return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
            last = None
            continue
        steps += 1
        lps += last.lps
        passed = bool(last.ok.all()) and not last.errors
        if passed:
            chain.put(digs[j], last.zeros)
            zeros = last.zeros
        elif j < n - 1:  # a published version that fails: the whole union says where
            return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    R = versions[-1]
    R.rows = {"count_ok": last.ok.copy(), "outcome_ok": np.ones(len(R.frame), bool)}
    for ver in versions[:-1]:
        ver.rows = {"count_ok": np.ones(len(ver.frame), bool),
                    "outcome_ok": np.ones(len(ver.frame), bool)}
    per_version = {v.label: {"withheld": int(np.isnan(_num(v.frame[cube.value_column])).sum())
                             if len(v.frame) else 0, "failed": 0} for v in versions}
    per_version[R.label]["failed"] = len(last.lo)
    cells = []
    for i, lo, hi in last.lo[:max_cells]:
        row = R.frame.iloc[i]
        cells.append({"udgivelse": R.label, "gruppering": row["gruppering"], "statusdato": None,
                      "members": {c: row[c] for c in cube.columns
                                  if c in row.index and row[c] is not None
                                  and not (isinstance(row[c], float) and np.isnan(row[c]))},
                      "measure": cube.value_column, "lo": lo, "hi": hi})
    verdict = PASSED if not last.lo and not last.errors else FAILED
    return {"cube": cube.id, "verdict": verdict, "versions": [v.label for v in versions],
            "unknowns": last.unknowns, "relations": last.relations,
            "checked": sum(p["withheld"] for p in per_version.values()),
            "failed": len(last.lo), "per_version": per_version, "cells": cells,
            "consistency_errors": last.errors[:50], "lps": lps, "hints_used": 0,
            "components": {"components_reused": 0, "components_solved": 0,
                           "largest_solved": 0},
            "inkrementel": {"fra": versions[start - 1].label, "trin": steps,
                            "fuld_revision": solved_full},
            "metode": METHOD + METHOD_STEP, "digests": digs}


def _full(versions, cube, chain, digs, full, workers, max_cells, kw) -> dict:
    """The whole union's audit of ``versions``; where it passes, the chain's state after it."""
    res = full(versions, cube, workers=workers, max_cells=max_cells, **kw)
    res["digests"] = digs[:len(versions)]
    if res["verdict"] == PASSED:
        last = versions[-1]
        zero = last.rows.get("zero")
        if zero is not None:
            k = _keys(last, cube)
            chain.put(digs[len(versions) - 1],
                      {key for key, f in zip(zip(k["G"], k["X"], k["tid"], k["tcap"]), zero)
                       if f})
    return res


__all__ = ["ChainStore", "NotAStep", "audit_chain", "prefix_digests", "step", "version_digest"]
