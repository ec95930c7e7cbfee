"""Bound tightening for the audit's presolve (step 2 of the package docstring).

Activity-based tightening of every unknown's bounds over the relations gives the *outer*
bounds ``L ≤ lo`` and ``hi ≤ U`` (e.g. a cell is at most the smallest published margin
around it); unknowns whose bounds meet are determined and leave the LPs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from transforms.disclosure.audit.rule import _EPS


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
