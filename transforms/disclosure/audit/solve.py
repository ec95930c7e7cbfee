"""Feasible intervals and verdicts over an attacker's system: :func:`solve_system`, shared
by the frame audit (``cube.py``) and the series audit (``audit_series.py``)."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from transforms.disclosure.audit.cache import _component_digest
from transforms.disclosure.audit.component import _Component
from transforms.disclosure.audit.pool import _shared_pool
from transforms.disclosure.audit.presolve import Reduced, presolve
from transforms.disclosure.audit.rule import _num_out, interval_ok


def solve_system(A: sp.csr_matrix, known: np.ndarray, objs: list[tuple],
                 ineq_pairs, report, *, exact: bool = False, workers: int | None = None,
                 hints_for=None, keep_points: bool = False, max_point_values: int | None = None,
                 cache=None, probe_work: dict | None = None) -> tuple[list[dict], dict]:
    """Feasible intervals and verdicts of linear objectives over an attacker's system.

    ``A`` (relations x variables): every relation is ``A x = 0``; ``known`` holds the
    published value of a variable, NaN where it is withheld; every variable is ≥ 0, and for
    each ``(count, outcome)`` pair in ``ineq_pairs`` the outcome is at most the count.
    ``objs``: objectives, each a tuple of ``(coefficient, variable)``, in a canonical order.
    ``report`` receives ``relation_error(row, kind, residual)``, ``outcome_error(count,
    outcome, value, count_value)`` and ``infeasible(objective indices)``. ``hints_for(vars)``
    returns carried points over those variables (checked before use, inner bounds only).
    ``max_point_values``: with ``keep_points``, about how many numbers a component keeps at
    the most (None: every point it found). ``probe_work``: the counts that decide whether
    probes pay (``component.probe_work``), shared by every component of this solve and
    updated in place (None: each component counts afresh).
    Returns one result dict per objective (``lo``, ``hi``, ``lo_bound``, ``hi_bound``,
    ``exact``, ``ok``) and the solve's bookkeeping (LPs, carried points used, the points
    found per component over the system's variables, and every determined value).
    Used by the frame audit (:func:`audit`) and the series audit (``audit_series``).

    ``cache`` (optional, :class:`ComponentCache`): results of components solved before, keyed
    by a digest of everything a component's results depend on (its unknowns' identities, its
    relations with their right-hand sides, bounds, outcome pairs and targets), so a component
    that is exactly the same system as one already audited is not solved again. The series
    audit uses it: its past periods with unchanged truth give the same components release
    after release.
    """
    red = presolve(A, known, ineq_pairs, report)
    res, by_comp, tdef = _targets(red, known, objs)
    rows_of, ineq_of, cols_of = _component_parts(red)
    tally = {"lps": 0, "hints_used": 0, "reused": 0, "solved": [], "blocks": []}
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    pool = _shared_pool(workers)
    for c in sorted(by_comp):
        ts = by_comp[c]
        if c in red.comp_bad:
            for t in ts:
                res[t] = _not_ok()
            continue
        comp_, glob = _component(red, ts, tdef, cols_of[c], rows_of.get(c, []),
                                 ineq_of.get(c, []))
        digest = tkeys = None
        if cache is not None and len(glob) >= cache.min_size:
            digest, tkeys = _component_digest(cache.ident(glob), comp_)
            hit = cache.get(digest)
            if hit is not None and all(k in hit for k in tkeys):
                for t, k in zip(ts, tkeys):
                    res[t] = dict(hit[k])
                cache.hits += 1
                tally["reused"] += 1
                continue
        comp_.max_point_values = max_point_values
        if probe_work is not None:
            comp_.probe_work = probe_work
        feasible_c = _solve_component(comp_, glob, ts, res, tally, report, exact, pool,
                                      hints_for, keep_points)
        if feasible_c and digest is not None:
            cache.put(digest, {k: res[t] for t, k in zip(ts, tkeys)})

    full = known.copy()
    full[red.unknown] = red.fixed  # determined values; NaN where free (the blocks hold those)
    solved = tally["solved"]
    return res, {"lps": tally["lps"], "hints_used": tally["hints_used"],
                 "blocks": tally["blocks"], "values": full,
                 "components_reused": tally["reused"], "components_solved": len(solved),
                 "largest_solved": max(solved, default=0)}


def _not_ok() -> dict:
    """The result of a value that cannot be judged (an error in its part of the system)."""
    return {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
            "exact": False, "ok": False}


def _targets(red: Reduced, known: np.ndarray, objs: list[tuple]):
    """Step 4: every objective over the free unknowns (a constant plus terms), grouped by
    component; objectives with no free unknown get their result here. Returns (results so
    far, targets by component, (constant, terms) per target)."""
    uindex, free, fixed, fpos = red.uindex, red.free, red.fixed, red.fpos
    res: list[dict | None] = [None] * len(objs)
    by_comp: dict[int, list[int]] = defaultdict(list)
    tdef: dict[int, tuple[float, list[tuple[float, int]]]] = {}
    for t, obj in enumerate(objs):
        const, terms, bad = 0.0, [], False
        for coef, g in obj:
            u = uindex[g]
            if u < 0:
                const += coef * known[g]
            elif not free[u]:
                const += coef * fixed[u]
                bad = bad or int(u) in red.bad_unknowns
            else:
                terms.append((coef, int(fpos[u])))
        if not terms:
            if bad:
                res[t] = _not_ok()
            else:
                v = _num_out(const)
                v = int(round(const)) if isinstance(v, float) else v
                res[t] = {"lo": v, "hi": v, "lo_bound": v, "hi_bound": v, "exact": True,
                          "ok": interval_ok(v, v)}
            continue
        comps = {int(red.comp[f]) for _, f in terms}
        if len(comps) != 1:  # cannot happen: a count and its outcome share a ≤ relation
            raise AssertionError("a target spans components")
        by_comp[comps.pop()].append(t)
        tdef[t] = (const, terms)
    return res, by_comp, tdef


def _component_parts(red: Reduced):
    """Per component: its relations (rows of ``Af``), outcome pairs and free unknowns."""
    Af, comp = red.Af, red.comp
    rows_of: dict[int, list[int]] = defaultdict(list)
    if Af.shape[0]:
        row_comp = comp[Af.indices[Af.indptr[:-1]]]
        for r, c in enumerate(row_comp.tolist()):
            rows_of[c].append(r)
    ineq_of: dict[int, list[int]] = defaultdict(list)
    for p, e in enumerate(red.ineq_f[:, 0].tolist()):
        ineq_of[int(comp[e])].append(p)
    cols_of: dict[int, list[int]] = defaultdict(list)
    for f, c in enumerate(comp.tolist()):
        cols_of[c].append(f)
    return rows_of, ineq_of, cols_of


def _component(red: Reduced, ts: list[int], tdef: dict, cols_c: list[int], rows_c: list[int],
               ineq_c: list[int]) -> tuple[_Component, np.ndarray]:
    """One component's system and targets ``ts``, and the system's variables of its
    unknowns."""
    nf = len(red.free_idx)
    cols = np.array(cols_c, dtype=np.int64)
    loc = np.full(nf, -1, dtype=np.int64)
    loc[cols] = np.arange(len(cols))
    rws = np.array(rows_c, dtype=np.int64)
    Ac_ = red.Af[rws][:, cols] if len(rws) else sp.csr_matrix((0, len(cols)))
    iq = red.ineq_f[ineq_c]
    iq = loc[iq] if len(iq) else np.zeros((0, 2), dtype=np.int64)
    tr, tc, tv = [], [], []
    for k, t in enumerate(ts):
        for coef, f in tdef[t][1]:
            tr.append(k)
            tc.append(loc[f])
            tv.append(coef)
    Tm = sp.csr_matrix((tv, (tr, tc)), shape=(len(ts), len(cols)))
    comp_ = _Component(Ac_.tocsr(), red.bf[rws] if len(rws) else np.zeros(0), iq,
                       red.lbf[cols].copy(), red.ubf[cols].copy(), Tm,
                       np.array([tdef[t][0] for t in ts]))
    glob = red.unknown[red.free_idx[cols]]  # the system's variables of the unknowns
    return comp_, glob


def _solve_component(comp_: _Component, glob: np.ndarray, ts: list[int], res: list,
                     tally: dict, report, exact: bool, pool, hints_for,
                     keep_points: bool) -> bool:
    """Solve one component and write its targets' results; False where it is infeasible."""
    tally["solved"].append(len(glob))
    comp_.keep_points = keep_points
    hints = hints_for(glob) if hints_for is not None else []
    feasible_c = comp_.solve(exact, pool, hints)
    tally["lps"] += comp_.lp_count
    tally["hints_used"] += comp_.hints_used
    if feasible_c and comp_.points:
        tally["blocks"].append((glob, np.array(comp_.points)))
    if not feasible_c:
        report.infeasible(ts)
        for t in ts:
            res[t] = _not_ok()
        return False
    states = comp_._states()
    for k, t in enumerate(ts):
        L, a_, b, U, d = states[k]
        if b is None:  # proved unbounded
            res[t] = {"lo": L, "hi": None, "lo_bound": L, "hi_bound": None,
                      "exact": L == a_, "ok": True}
            continue
        if d is None:  # not decided: only possible if an LP failed; be strict
            d = False
        res[t] = {"lo": a_, "hi": b, "lo_bound": L, "hi_bound": U,
                  "exact": L == a_ and U is not None and U == b, "ok": bool(d)}
    return True
