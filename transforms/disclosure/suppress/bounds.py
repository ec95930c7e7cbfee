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
    # each relation's entries (positions in that order): the next round's active entries
    by_r = np.argsort(r, kind="stable")
    r_ptr = np.searchsorted(r[by_r], np.arange(nr + 1))
    touched = np.zeros(N, dtype=bool)

    def best(e: np.ndarray, vals: np.ndarray, pick):
        """Per variable with an entry in ``e``: the best of those entries' bounds, and the
        relation of the first entry attaining it."""
        ce = c[e]
        starts = np.flatnonzero(np.r_[True, ce[1:] != ce[:-1]])
        group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(ce)]))
        b = pick.reduceat(vals, starts)
        at = np.flatnonzero(vals == b[group])
        first = at[np.r_[True, group[at][1:] != group[at][:-1]]]
        return ce[starts], b, r[e[first]]

    # Rounds of single-relation tightening, each from the bounds the previous one left (a
    # Jacobi sweep). A round evaluates only the relations with a variable whose bound the
    # previous round changed: another relation's bounds are those it gave before, which
    # were applied or were no better (by 1e-9) than what stands, and bounds only tighten, so
    # it can neither tighten a bound nor be the relation recorded for one. The same bounds
    # and relations as sweeping every relation every round (tests/unit/test_suppress.py
    # compares the two), in a fraction of the time: national AFSLAARS's 61,000 entries
    # change in a few hundred after the first round.
    e = np.arange(len(c))
    for _ in range(max_iter):
        if not len(e):
            break
        re, ce, ae = r[e], c[e], a[e]
        lc, hc = lo[ce], hi[ce]
        mn = np.where(ae > 0, ae * lc, ae * hc)  # min contribution
        mx = np.where(ae > 0, ae * hc, ae * lc)
        mn_inf = ~np.isfinite(mn)
        mx_inf = ~np.isfinite(mx)
        smn = np.bincount(re, weights=np.where(mn_inf, 0.0, mn), minlength=nr)
        smx = np.bincount(re, weights=np.where(mx_inf, 0.0, mx), minlength=nr)
        kmn = np.bincount(re, weights=mn_inf.astype(float), minlength=nr)
        kmx = np.bincount(re, weights=mx_inf.astype(float), minlength=nr)
        # others' min / max for each entry
        o_mn_inf = (kmn[re] - mn_inf) > 0
        o_mx_inf = (kmx[re] - mx_inf) > 0
        o_mn = smn[re] - np.where(mn_inf, 0.0, mn)
        o_mx = smx[re] - np.where(mx_inf, 0.0, mx)
        # a z = rhs - others  ->  a z <= rhs - o_mn,  a z >= rhs - o_mx
        up_az = np.where(o_mn_inf, np.inf, rhs[re] - o_mn)
        dn_az = np.where(o_mx_inf, -np.inf, rhs[re] - o_mx)
        with np.errstate(invalid="ignore"):
            new_hi = np.where(ae > 0, up_az / ae, dn_az / ae)
            new_lo = np.where(ae > 0, dn_az / ae, up_az / ae)
        new_hi = np.where(np.isnan(new_hi), np.inf, new_hi)
        new_lo = np.where(np.isnan(new_lo), -np.inf, new_lo)
        changed = []
        vh, hv, hr = best(e, new_hi, np.minimum)
        better = hv < hi[vh] - 1e-9
        if better.any():
            hi[vh[better]] = hv[better]
            hi_row[vh[better]] = hr[better]
            changed.append(vh[better])
        vl, lv, lr = best(e, new_lo, np.maximum)
        better = lv > lo[vl] + 1e-9
        if better.any():
            lo[vl[better]] = lv[better]
            lo_row[vl[better]] = lr[better]
            changed.append(vl[better])
        if layers == 2:
            # y <= x
            yh = np.minimum(hi[n:], hi[:n])
            xl = np.maximum(lo[:n], lo[n:])
            y_down = yh < hi[n:] - 1e-9
            x_up = xl > lo[:n] + 1e-9
            if y_down.any() or x_up.any():
                hi_row[n:][y_down] = -2
                lo_row[:n][x_up] = -2
                # every y and x whose bound moves, by any amount, as the assignments below do
                changed.append(n + np.flatnonzero(yh != hi[n:]))
                changed.append(np.flatnonzero(xl != lo[:n]))
                hi[n:] = yh
                lo[:n] = xl
        if not changed:
            break
        # the next round: every entry of a relation holding a variable that moved
        touched[:] = False
        touched[np.concatenate(changed)] = True
        rows = np.unique(r[touched[c]])
        lens = r_ptr[rows + 1] - r_ptr[rows]
        at = np.repeat(r_ptr[rows] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        e = np.sort(by_r[at])
    return lo, hi, lo_row, hi_row
