"""Feasible intervals and verdicts over an attacker's system: :func:`solve_system`, shared
by the frame audit (``cube.py``) and the series audit (``audit_series.py``)."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from transforms.disclosure.audit.cache import _component_digest
from transforms.disclosure.audit.component import _Component
from transforms.disclosure.audit.pool import _shared_pool
from transforms.disclosure.audit.presolve import _tighten
from transforms.disclosure.audit.rule import _EPS, _num_out, interval_ok


def solve_system(A: sp.csr_matrix, known: np.ndarray, objs: list[tuple],
                 ineq_pairs, report, *, exact: bool = False, workers: int | None = None,
                 hints_for=None, keep_points: bool = False,
                 cache=None) -> tuple[list[dict], dict]:
    """Feasible intervals and verdicts of linear objectives over an attacker's system.

    ``A`` (relations x variables): every relation is ``A x = 0``; ``known`` holds the
    published value of a variable, NaN where it is withheld; every variable is ≥ 0, and for
    each ``(count, outcome)`` pair in ``ineq_pairs`` the outcome is at most the count.
    ``objs``: objectives, each a tuple of ``(coefficient, variable)``, in a canonical order.
    ``report`` receives ``relation_error(row, kind, residual)``, ``outcome_error(count,
    outcome, value, count_value)`` and ``infeasible(objective indices)``. ``hints_for(vars)``
    returns carried points over those variables (checked before use, inner bounds only).
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
    N = A.shape[1]
    is_known = ~np.isnan(known)
    rhs = -(A @ np.where(is_known, known, 0.0))  # A_U x_U = rhs
    unknown = np.flatnonzero(~is_known)
    uindex = np.full(N, -1, dtype=np.int64)
    uindex[unknown] = np.arange(len(unknown))
    Au = A[:, unknown].tocsr()
    Au.eliminate_zeros()
    cnt = np.diff(Au.indptr).astype(np.int64)

    rel_error = report.relation_error

    # 1. relations without unknowns must hold exactly
    for r in np.flatnonzero((cnt == 0) & (np.abs(rhs) > _EPS)):
        rel_error(int(r), "margin_mismatch", -rhs[r])

    # 2. a relation with one unknown pins it (iterated)
    nu = len(unknown)
    fixed = np.full(nu, np.nan)
    bad_unknowns: set[int] = set()
    Auc = Au.tocsc()
    rhs_w = rhs.copy()
    active = cnt.copy()
    queue = sorted(np.flatnonzero(active == 1).tolist(), reverse=True)
    while queue:
        r = queue.pop()
        if active[r] != 1:
            continue
        j, coef = -1, 0.0
        for k in range(Au.indptr[r], Au.indptr[r + 1]):
            if np.isnan(fixed[Au.indices[k]]):
                j, coef = int(Au.indices[k]), float(Au.data[k])
                break
        if j < 0:
            continue
        val = rhs_w[r] / coef
        if abs(val - round(val)) < _EPS:
            val = float(round(val))
        fixed[j] = val
        if val < -_EPS:
            rel_error(r, "infeasible", val)
            bad_unknowns.add(j)
        for k in range(Auc.indptr[j], Auc.indptr[j + 1]):
            r2 = int(Auc.indices[k])
            rhs_w[r2] -= Auc.data[k] * val
            active[r2] -= 1
            if active[r2] == 1:
                queue.append(r2)
            elif active[r2] == 0 and r2 != r and abs(rhs_w[r2]) > _EPS:
                rel_error(r2, "infeasible", -rhs_w[r2])
                bad_unknowns.add(j)

    # outcome ≤ count, with published and pinned values applied
    def value_of(g: int) -> float:
        return known[g] if is_known[g] else fixed[uindex[g]]

    free = np.isnan(fixed)
    lb = np.zeros(nu)
    ub = np.full(nu, np.inf)
    ineq: list[tuple[int, int]] = []  # (e, a) unknown indices, both free
    for ge, ga in ineq_pairs:
        ue, ua = int(uindex[ge]), int(uindex[ga])
        fe = ue >= 0 and free[ue]
        fa = ua >= 0 and free[ua]
        if fe and fa:
            ineq.append((ue, ua))
        elif fa:
            ub[ua] = min(ub[ua], value_of(ge))
        elif fe:
            lb[ue] = max(lb[ue], value_of(ga))
        else:
            ve, va = value_of(ge), value_of(ga)
            if va > ve + _EPS and (ue >= 0 or ua >= 0):
                report.outcome_error(int(ge), int(ga), va, ve)
                bad_unknowns.update(u for u in (ue, ua) if u >= 0)

    # 3. the reduced system over free unknowns, its implied bounds and components; unknowns
    # whose implied bounds meet are determined: they leave the system like pinned ones (the
    # LPs get smaller and components may split), repeated until none is left
    had_free = None
    while True:
        free_idx = np.flatnonzero(free)
        nf = len(free_idx)
        fpos = np.full(nu, -1, dtype=np.int64)
        fpos[free_idx] = np.arange(nf)
        Af = Au[:, free_idx].tocsr()
        Af.eliminate_zeros()
        has_free = np.diff(Af.indptr) > 0
        live = np.flatnonzero(has_free)
        Af = Af[live]
        bf = rhs_w[live]
        ineq_f = np.array([(fpos[e], fpos[x]) for e, x in ineq if free[e] and free[x]],
                          dtype=np.int64).reshape(-1, 2)
        lbf, ubf = lb[free_idx].copy(), ub[free_idx].copy()
        # a relation left without unknowns by the last substitution must hold
        feasible = had_free is None or not np.any(had_free & ~has_free
                                                  & (np.abs(rhs_w) > 1e-6))
        had_free = has_free
        feasible = feasible and _tighten(Af, bf, ineq_f, lbf, ubf)
        if not feasible:
            break
        in_ineq = np.zeros(nf, dtype=bool)
        in_ineq[ineq_f.ravel()] = True  # outcome pairs stay (their bounds couple them)
        pin = np.flatnonzero((ubf - lbf <= _EPS) & ~in_ineq)
        if not len(pin):
            break
        u = free_idx[pin]
        fixed[u] = lbf[pin]
        free[u] = False
        rhs_w -= Au[:, u] @ lbf[pin]
    if nf:
        nr, ni = Af.shape[0], len(ineq_f)
        Ac = Af.tocoo()
        gi = np.concatenate([Ac.col, ineq_f[:, 0], ineq_f[:, 1]]).astype(np.int64)
        gj = np.concatenate([nf + Ac.row, nf + nr + np.arange(ni), nf + nr + np.arange(ni)])
        G = sp.csr_matrix((np.ones(len(gi)), (gi, gj.astype(np.int64))),
                          shape=(nf + nr + ni, nf + nr + ni))
        _, comp = connected_components(G, directed=False)
        comp = comp[:nf]
    else:
        comp = np.zeros(0, dtype=np.int64)
    comp_bad: set[int] = set()
    for j in bad_unknowns:
        if free[j]:
            comp_bad.add(int(comp[fpos[j]]))
    if not feasible:
        comp_bad.update(int(c) for c in np.unique(comp))

    # 4. targets: unique objectives in canonical order, grouped by component
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
                bad = bad or int(u) in bad_unknowns
            else:
                terms.append((coef, int(fpos[u])))
        if not terms:
            if bad:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            else:
                v = _num_out(const)
                v = int(round(const)) if isinstance(v, float) else v
                res[t] = {"lo": v, "hi": v, "lo_bound": v, "hi_bound": v, "exact": True,
                          "ok": interval_ok(v, v)}
            continue
        comps = {int(comp[f]) for _, f in terms}
        if len(comps) != 1:  # cannot happen: a count and its outcome share a ≤ relation
            raise AssertionError("a target spans components")
        by_comp[comps.pop()].append(t)
        tdef[t] = (const, terms)

    rows_of: dict[int, list[int]] = defaultdict(list)
    if Af.shape[0]:
        row_comp = comp[Af.indices[Af.indptr[:-1]]]
        for r, c in enumerate(row_comp.tolist()):
            rows_of[c].append(r)
    ineq_of: dict[int, list[int]] = defaultdict(list)
    for p, e in enumerate(ineq_f[:, 0].tolist()):
        ineq_of[int(comp[e])].append(p)
    cols_of: dict[int, list[int]] = defaultdict(list)
    for f, c in enumerate(comp.tolist()):
        cols_of[c].append(f)

    lp_count = 0
    hints_used = 0
    reused, solved = 0, []  # components taken from the cache; sizes of those solved
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    pool = _shared_pool(workers)
    for c in sorted(by_comp):
        ts = by_comp[c]
        if c in comp_bad:
            for t in ts:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            continue
        cols = np.array(cols_of[c], dtype=np.int64)
        loc = np.full(nf, -1, dtype=np.int64)
        loc[cols] = np.arange(len(cols))
        rws = np.array(rows_of.get(c, []), dtype=np.int64)
        Ac_ = Af[rws][:, cols] if len(rws) else sp.csr_matrix((0, len(cols)))
        iq = ineq_f[ineq_of.get(c, [])]
        iq = loc[iq] if len(iq) else np.zeros((0, 2), dtype=np.int64)
        tr, tc, tv = [], [], []
        for k, t in enumerate(ts):
            for coef, f in tdef[t][1]:
                tr.append(k)
                tc.append(loc[f])
                tv.append(coef)
        Tm = sp.csr_matrix((tv, (tr, tc)), shape=(len(ts), len(cols)))
        comp_ = _Component(Ac_.tocsr(), bf[rws] if len(rws) else np.zeros(0), iq,
                           lbf[cols].copy(), ubf[cols].copy(), Tm,
                           np.array([tdef[t][0] for t in ts]))
        glob = unknown[free_idx[cols]]  # the system's variables of the unknowns
        digest = tkeys = None
        if cache is not None and len(cols) >= cache.min_size:
            digest, tkeys = _component_digest(cache.ident(glob), comp_)
            hit = cache.get(digest)
            if hit is not None and all(k in hit for k in tkeys):
                for t, k in zip(ts, tkeys):
                    res[t] = dict(hit[k])
                cache.hits += 1
                reused += 1
                continue
        solved.append(len(cols))
        comp_.keep_points = keep_points
        hints = hints_for(glob) if hints_for is not None else []
        feasible_c = comp_.solve(exact, pool, hints)
        lp_count += comp_.lp_count
        hints_used += comp_.hints_used
        if feasible_c and comp_.points:
            blocks.append((glob, np.array(comp_.points)))
        if not feasible_c:
            report.infeasible(ts)
            for t in ts:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            continue
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
        if digest is not None:
            cache.put(digest, {k: res[t] for t, k in zip(ts, tkeys)})

    full = known.copy()
    full[unknown] = fixed  # determined values; NaN where free (the blocks hold those)
    return res, {"lps": lp_count, "hints_used": hints_used, "blocks": blocks, "values": full,
                 "components_reused": reused, "components_solved": len(solved),
                 "largest_solved": max(solved, default=0)}
