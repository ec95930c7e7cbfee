"""Single-relation bound propagation over a pattern: outer bounds of every withheld
variable, and the relation that produced each (where the propagation pass and the check
add a suppression, or read an interval as exact)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def propagate(A: sp.csr_matrix, values: np.ndarray, withheld: np.ndarray, n: int, layers: int,
              max_iter: int = 50):
    """Outer bounds of every withheld variable by single-relation bound tightening.

    Returns (lo, hi, lo_row, hi_row) over all variables (published: their value, row -1),
    where *_row is the relation that last tightened the bound (-1: none). The true LP
    interval lies inside [lo, hi], so a cell whose outer bounds already break the rule
    fails for sure, and the binding relation says where to add a suppression.
    """
    N = len(values)
    vals = values.astype(float)
    lo = np.where(withheld, 0.0, vals)
    hi = np.where(withheld, np.inf, vals)
    lo_row = np.full(N, -1)
    hi_row = np.full(N, -1)
    if layers == 2:
        pub_x = ~withheld[:n]
        hi[n:][withheld[n:] & pub_x] = vals[:n][withheld[n:] & pub_x]
    coo = A.tocoo()
    keep = withheld[coo.col]
    r, c, a = coo.row, coo.col, coo.data
    # published part moves to the right-hand side
    rhs = -np.bincount(r[~keep], weights=a[~keep] * vals[c[~keep]], minlength=A.shape[0])
    r, c, a = r[keep], c[keep], a[keep]
    nr = A.shape[0]
    # entries grouped by variable once (stable: within a variable, entry order), so each
    # round's per-variable best bound is a reduceat, not a sort
    by_c = np.argsort(c, kind="stable")
    r, c, a = r[by_c], c[by_c], a[by_c]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(c)])
    group = np.repeat(np.arange(len(starts)), sizes)
    cc = c[starts] if len(c) else c

    def best(vals: np.ndarray, pick):
        """Per variable: the best of its entries' bounds and the relation of the first
        entry attaining it."""
        b = pick.reduceat(vals, starts)
        at = np.flatnonzero(vals == b[group])
        first = at[np.r_[True, group[at][1:] != group[at][:-1]]]
        return b, r[first]

    for _ in range(max_iter):
        lc, hc = lo[c], hi[c]
        mn = np.where(a > 0, a * lc, a * hc)  # min contribution
        mx = np.where(a > 0, a * hc, a * lc)
        mn_inf = ~np.isfinite(mn)
        mx_inf = ~np.isfinite(mx)
        smn = np.bincount(r, weights=np.where(mn_inf, 0.0, mn), minlength=nr)
        smx = np.bincount(r, weights=np.where(mx_inf, 0.0, mx), minlength=nr)
        kmn = np.bincount(r, weights=mn_inf.astype(float), minlength=nr)
        kmx = np.bincount(r, weights=mx_inf.astype(float), minlength=nr)
        # others' min / max for each entry
        o_mn_inf = (kmn[r] - mn_inf) > 0
        o_mx_inf = (kmx[r] - mx_inf) > 0
        o_mn = smn[r] - np.where(mn_inf, 0.0, mn)
        o_mx = smx[r] - np.where(mx_inf, 0.0, mx)
        # a z = rhs - others  ->  a z <= rhs - o_mn,  a z >= rhs - o_mx
        up_az = np.where(o_mn_inf, np.inf, rhs[r] - o_mn)
        dn_az = np.where(o_mx_inf, -np.inf, rhs[r] - o_mx)
        with np.errstate(invalid="ignore"):
            new_hi = np.where(a > 0, up_az / a, dn_az / a)
            new_lo = np.where(a > 0, dn_az / a, up_az / a)
        new_hi = np.where(np.isnan(new_hi), np.inf, new_hi)
        new_lo = np.where(np.isnan(new_lo), -np.inf, new_lo)
        changed = False
        if len(c):
            hv, hr = best(new_hi, np.minimum)
            better = hv < hi[cc] - 1e-9
            if better.any():
                hi[cc[better]] = hv[better]
                hi_row[cc[better]] = hr[better]
                changed = True
            lv, lr = best(new_lo, np.maximum)
            better = lv > lo[cc] + 1e-9
            if better.any():
                lo[cc[better]] = lv[better]
                lo_row[cc[better]] = lr[better]
                changed = True
        if layers == 2:
            # y <= x
            yh = np.minimum(hi[n:], hi[:n])
            xl = np.maximum(lo[:n], lo[n:])
            if np.any(yh < hi[n:] - 1e-9) or np.any(xl > lo[:n] + 1e-9):
                changed = True
                hi_row[n:][yh < hi[n:] - 1e-9] = -2
                lo_row[:n][xl > lo[:n] + 1e-9] = -2
                hi[n:] = yh
                lo[:n] = xl
        if not changed:
            break
    return lo, hi, lo_row, hi_row
