"""The audit's presolve (steps 1-3 of the package docstring).

Published values move to the right-hand side; a relation without unknowns must hold
exactly (consistency check); a relation with one unknown pins it (iterated, exact); an
outcome pair with one side known bounds the other. Activity-based bound tightening then
gives every unknown *outer* bounds ``L ≤ lo`` and ``hi ≤ U`` (e.g. a cell is at most the
smallest published margin around it); unknowns whose bounds meet are determined and leave
the system, repeated until none is left. What remains splits into connected components,
each solved on its own (``component.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from transforms.disclosure.audit.rule import _EPS


@dataclass
class Reduced:
    """The system after presolve. Unknowns (``u``) are the withheld variables
    (``unknown[u]``); the free ones (``f``) are those neither pinned nor determined
    (``free_idx[f]``; ``fpos[u]``: f, or -1). ``fixed[u]``: a pinned or determined value,
    NaN where free. ``Af x_f = bf`` are the relations with free unknowns, ``ineq_f`` the
    outcome pairs (count, outcome) among them, ``lbf``/``ubf`` their outer bounds, ``comp``
    the component of each, ``comp_bad`` the components with an error (judged not ok)."""

    unknown: np.ndarray
    uindex: np.ndarray
    fixed: np.ndarray
    free: np.ndarray
    bad_unknowns: set
    free_idx: np.ndarray
    fpos: np.ndarray
    Af: sp.csr_matrix
    bf: np.ndarray
    ineq_f: np.ndarray
    lbf: np.ndarray
    ubf: np.ndarray
    comp: np.ndarray
    comp_bad: set


def presolve(A: sp.csr_matrix, known: np.ndarray, ineq_pairs, report) -> Reduced:
    """Steps 1-3 over ``A x = 0`` with ``known`` values (NaN: withheld); errors go to
    ``report`` (see :func:`solve.solve_system`)."""
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
    fixed, rhs_w, bad_unknowns = _pin_single_unknowns(Au, rhs, cnt, rel_error)

    # outcome ≤ count, with published and pinned values applied
    free = np.isnan(fixed)
    lb, ub, ineq = _outcome_bounds(ineq_pairs, known, is_known, uindex, fixed, free, report,
                                   bad_unknowns)

    # 3. the reduced system over free unknowns, its implied bounds and components
    free_idx, fpos, Af, bf, ineq_f, lbf, ubf, feasible = _determine(
        Au, rhs_w, fixed, free, lb, ub, ineq)
    comp = _components(Af, ineq_f, len(free_idx))
    comp_bad: set[int] = set()
    for j in bad_unknowns:
        if free[j]:
            comp_bad.add(int(comp[fpos[j]]))
    if not feasible:
        comp_bad.update(int(c) for c in np.unique(comp))
    return Reduced(unknown, uindex, fixed, free, bad_unknowns, free_idx, fpos, Af, bf, ineq_f,
                   lbf, ubf, comp, comp_bad)


def _pin_single_unknowns(Au: sp.csr_matrix, rhs: np.ndarray, cnt: np.ndarray, rel_error):
    """Step 2: a relation with one unknown pins it, iterated in a canonical order. Returns
    (fixed: the pinned values, NaN elsewhere; the right-hand sides with them applied; the
    unknowns an infeasible relation touched)."""
    nu = Au.shape[1]
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
    return fixed, rhs_w, bad_unknowns


def _outcome_bounds(ineq_pairs, known, is_known, uindex, fixed, free, report, bad_unknowns):
    """Outcome ≤ count per pair: a bound where one side is known or pinned, a pair of free
    unknowns to keep (e, a), a consistency error where both are known and break it."""
    nu = len(fixed)

    def value_of(g: int) -> float:
        return known[g] if is_known[g] else fixed[uindex[g]]

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
    return lb, ub, ineq


def _determine(Au, rhs_w, fixed, free, lb, ub, ineq):
    """Step 3: the reduced system over free unknowns and its implied bounds; unknowns whose
    implied bounds meet are determined: they leave the system like pinned ones (the LPs get
    smaller and components may split), repeated until none is left. Updates ``fixed``,
    ``free`` and ``rhs_w``; returns the last reduced system and whether it is feasible."""
    nu = len(fixed)
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
    return free_idx, fpos, Af, bf, ineq_f, lbf, ubf, feasible


def _components(Af: sp.csr_matrix, ineq_f: np.ndarray, nf: int) -> np.ndarray:
    """The connected component of each free unknown (relations and outcome pairs link)."""
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
    return comp


def _tighten(A: sp.csr_matrix, b: np.ndarray, ineq: np.ndarray, lb: np.ndarray,
             ub: np.ndarray, rounds: int = 100) -> bool:
    """Activity-based bound tightening on A x = b, x[a] ≤ x[e] for (e, a) in ineq, in place.
    Returns False when infeasibility is proved."""
    C = A.tocoo()
    rows, cols, vals = C.row, C.col, C.data
    m = A.shape[0]
    pos = vals > 0
    ie, ia = (ineq[:, 0], ineq[:, 1]) if len(ineq) else (np.zeros(0, int), np.zeros(0, int))
    for _ in range(rounds):
        old_lb, old_ub = lb.copy(), ub.copy()
        if m:
            lbv, ubv = lb[cols], ub[cols]
            uinf = np.isinf(ubv)
            ubf = np.where(uinf, 0.0, ubv)
            cmin = np.where(pos, vals * lbv, vals * ubf)  # lb finite (≥ 0) throughout
            cmax = np.where(pos, vals * ubf, vals * lbv)
            imin = ((~pos) & uinf).astype(float)  # entries contributing -inf to min activity
            imax = (pos & uinf).astype(float)  # entries contributing +inf to max activity
            minact = np.bincount(rows, cmin, minlength=m)
            maxact = np.bincount(rows, cmax, minlength=m)
            nmin = np.bincount(rows, imin, minlength=m)
            nmax = np.bincount(rows, imax, minlength=m)
            minrest, maxrest = minact[rows] - cmin, maxact[rows] - cmax
            nminr = np.rint(nmin[rows] - imin)
            nmaxr = np.rint(nmax[rows] - imax)
            bb = b[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                # a x = b - rest with rest in [minrest, maxrest]
                hi = np.where(pos, np.where(nminr == 0, (bb - minrest) / vals, np.inf),
                              np.where(nmaxr == 0, (bb - maxrest) / vals, np.inf))
                lo = np.where(pos, np.where(nmaxr == 0, (bb - maxrest) / vals, -np.inf),
                              np.where(nminr == 0, (bb - minrest) / vals, -np.inf))
            np.minimum.at(ub, cols, hi)
            np.maximum.at(lb, cols, lo)
        if len(ie):
            np.minimum.at(ub, ia, ub[ie])
            np.maximum.at(lb, ie, lb[ia])
        for arr in (lb, ub):  # snap integer-valued bounds (the data are integers)
            fin = np.isfinite(arr)
            r = np.round(arr[fin])
            v = arr[fin]
            close = np.abs(v - r) < _EPS
            v[close] = r[close]
            arr[fin] = v
        np.maximum(lb, 0.0, out=lb)
        if np.any(lb > ub + _EPS):
            return False
        fin = np.isfinite(ub) & np.isfinite(old_ub)
        if not (np.any(np.abs(lb - old_lb) > _EPS) or np.any(np.abs(ub[fin] - old_ub[fin]) > _EPS)
                or np.any(np.isfinite(ub) != np.isfinite(old_ub))):
            break
    return True
