"""Linear programs for :mod:`transforms.disclosure.suppress` (private).

- :class:`Attack`: the attacker's LP for one pattern (the withheld variables free and >= 0,
  everything published fixed). It certifies protected quantities in batches (one LP moves
  many of them at once toward a target) and computes exact intervals for the rest.
- :class:`Repair`: a Fischetti-Salazar style LP over every variable: the cheapest move
  (weighted by the cost of withholding the cells it touches) that changes one protected
  quantity by a required amount while keeping every equation, ``x >= 0`` and ``y <= x``.
  The published cells the move touches are the secondary suppressions that protect it.

A *quantity* is a sparse vector over the variables: a cell (``x``), an outcome (``y``) or a
cell's count without the outcome (``x - y``).
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

INF = highspy.kHighsInf
TOL = 1e-6


def _highs(primal: bool = False) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    if primal:
        # re-solves change the objective only: the basis stays primal feasible, so primal
        # simplex from it takes a handful of iterations where dual simplex restarts
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)
    return h


def _pass(h: highspy.Highs, cost, lo, hi, A: sp.csc_matrix, rlo, rhi, maximize=False) -> None:
    lp = highspy.HighsLp()
    lp.num_col_ = A.shape[1]
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(lo, dtype=float)
    lp.col_upper_ = np.asarray(hi, dtype=float)
    lp.row_lower_ = np.asarray(rlo, dtype=float)
    lp.row_upper_ = np.asarray(rhi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = A.shape[1]
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h.passModel(lp)


class LPError(RuntimeError):
    pass


def _run(h: highspy.Highs) -> str:
    h.run()
    st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if st == highspy.HighsModelStatus.kUnbounded:
        return "unbounded"
    bad = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
    if st in bad:
        # the attacker's LP always contains the true values; retry from scratch once
        h.clearSolver()
        h.run()
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kOptimal:
            return "optimal"
        if st == highspy.HighsModelStatus.kUnbounded:
            return "unbounded"
    raise LPError(f"HiGHS: {h.modelStatusToString(st)}")


class _Part:
    """One connected component of the attacker's LP, its own HiGHS model."""

    def __init__(self, cols: np.ndarray, M: sp.csr_matrix, rlo, rhi, ub: np.ndarray):
        self.cols = cols  # core column indices
        self.ub = ub
        self.h = _highs()
        _pass(self.h, np.zeros(len(cols)), np.zeros(len(cols)), ub, M.tocsc(), rlo, rhi)
        _run(self.h)  # a first feasible basis (dual simplex, presolve)
        self.h.setOptionValue("presolve", "off")
        self.h.setOptionValue("simplex_strategy", 4)
        self.idx = np.arange(len(cols), dtype=np.int32)
        self.cost = np.zeros(len(cols))
        self.lo = np.zeros(len(cols))
        self.hi = ub.copy()
        self.strategy = 4

    def solve(self, cost, lo, hi, maximize: bool, primal: bool = True):
        """Solve with these costs and bounds; only the entries that differ from the last
        solve are passed to HiGHS, so the basis it keeps stays as valid as possible."""
        h = self.h
        strategy = 4 if primal else 1
        if strategy != self.strategy:
            h.setOptionValue("simplex_strategy", strategy)
            self.strategy = strategy
        nb = np.flatnonzero((lo != self.lo) | (hi != self.hi)).astype(np.int32)
        if len(nb):
            h.changeColsBounds(len(nb), nb, lo[nb], hi[nb])
            self.lo = lo.copy()
            self.hi = hi.copy()
        nc = np.flatnonzero(cost != self.cost).astype(np.int32)
        if len(nc):
            h.changeColsCost(len(nc), nc, cost[nc])
            self.cost = cost.copy()
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        h.changeObjectiveSense(sense)
        st = _run(h)
        if st != "optimal":
            return st, None
        return st, np.asarray(h.getSolution().col_value)


class Attack:
    """The attacker's LP for the pattern ``withheld`` (bool over all variables), split into
    connected components. ``Q`` holds the protected quantities (rows over all variables)."""

    def __init__(self, A: sp.csr_matrix, values: np.ndarray, withheld: np.ndarray, n: int,
                 layers: int, Q: sp.csr_matrix):
        self.values = values.astype(float)
        self.cols = np.flatnonzero(withheld)
        nc = len(self.cols)
        self.pos = np.full(len(values), -1)
        self.pos[self.cols] = np.arange(nc)
        AW = A[:, self.cols].tocsr()
        AW = AW[np.diff(AW.indptr) > 0]
        rhs = AW @ self.values[self.cols]
        ub = np.full(nc, INF)
        rows = [AW]
        rlo = [rhs]
        rhi = [rhs]
        if layers == 2:
            ys = self.cols[self.cols >= n]
            xs = ys - n
            both = withheld[xs]
            # y <= x: a row where both are withheld, else an upper bound at the published x
            ub[self.pos[ys[~both]]] = self.values[xs[~both]]
            k = int(both.sum())
            if k:
                r = np.repeat(np.arange(k), 2)
                c = np.column_stack([self.pos[ys[both]], self.pos[xs[both]]]).ravel()
                d = np.tile([1.0, -1.0], k)
                rows.append(sp.csr_matrix((d, (r, c)), shape=(k, nc)))
                rlo.append(np.full(k, -INF))
                rhi.append(np.zeros(k))
        M = sp.vstack(rows, format="csr") if len(rows) > 1 else rows[0]
        self.Mc = M.tocsc()
        rlo = np.concatenate(rlo)
        rhi = np.concatenate(rhi)
        self.ub = ub
        self.Q = Q
        self.qv = Q @ self.values
        # components: columns linked by rows
        B = M.copy()
        B.data = np.ones_like(B.data)
        G = (B.T @ B).tocsr()
        ncomp, lab = connected_components(G, directed=False)
        self.lab = lab
        row_lab = lab[M.indices[M.indptr[:-1]]] if M.shape[0] else np.zeros(0, dtype=int)
        order = np.argsort(lab, kind="stable")
        starts = np.searchsorted(lab[order], np.arange(ncomp + 1))
        rorder = np.argsort(row_lab, kind="stable")
        rstarts = np.searchsorted(row_lab[rorder], np.arange(ncomp + 1))
        self.local = np.zeros(nc, dtype=np.int64)
        self.parts: list[_Part | None] = []
        for k in range(ncomp):
            cols = order[starts[k]:starts[k + 1]]
            rws = rorder[rstarts[k]:rstarts[k + 1]]
            self.local[cols] = np.arange(len(cols))
            if len(rws) == 0:
                self.parts.append(None)  # free variables: [0, ub]
                continue
            sub = M[rws][:, cols]
            self.parts.append(_Part(cols, sub, rlo[rws], rhi[rws], ub[cols]))
        # quantities on core columns (published parts are constants)
        QW = Q[:, self.cols].tocsr()
        self.QW = QW
        self.qconst = self.qv - QW @ self.values[self.cols]
        first = QW.indices[QW.indptr[:-1]]
        self.qcomp = lab[first]
        self.qsingle = np.diff(QW.indptr) == 1
        # per component: its quantities, over the component's local columns
        qo = np.argsort(self.qcomp, kind="stable")
        qst = np.searchsorted(self.qcomp[qo], np.arange(ncomp + 1))
        self.comp_q: list[np.ndarray] = []
        self.comp_Q: list[sp.csr_matrix | None] = []
        for k in range(ncomp):
            qs = qo[qst[k]:qst[k + 1]]
            self.comp_q.append(qs)
            part = self.parts[k]
            if part is None or not len(qs):
                self.comp_Q.append(None)
                continue
            sub = QW[qs].tocoo()
            self.comp_Q.append(sp.csr_matrix(
                (sub.data, (sub.row, self.local[sub.col])), shape=(len(qs), len(part.cols))))

    def targeted(self, t_up: np.ndarray, t_dn: np.ndarray) -> np.ndarray:
        """Quantities' values at feasible points that move many quantities up by t_up / down
        by t_dn (0 = no target; at most one direction each): per component, maximise the sum
        of normalised moves, single-variable targets capped at their goal by bounds."""
        out = self.qv.copy()
        up = t_up > 0
        dn = (t_dn > 0) & ~up
        tq = np.flatnonzero(up | dn)
        comps = np.unique(self.qcomp[tq])
        for k in comps:
            part = self.parts[k]
            sel = tq[self.qcomp[tq] == k]
            if part is None:
                continue
            m = len(part.cols)
            cost = np.zeros(m)
            lo = np.zeros(m)
            hi = part.ub.copy()
            for q in sel:
                s, e = self.QW.indptr[q], self.QW.indptr[q + 1]
                loc = self.local[self.QW.indices[s:e]]
                coef = self.QW.data[s:e]
                # cap a one-variable quantity at its goal: q = a z + const
                if up[q]:
                    w = 1.0 / t_up[q]
                    cost[loc] += w * coef
                    goal = self.qv[q] + t_up[q]
                else:
                    w = 1.0 / t_dn[q]
                    cost[loc] -= w * coef
                    goal = self.qv[q] - t_dn[q]
                if e - s == 1:
                    a, j = coef[0], loc[0]
                    zg = (goal - self.qconst[q]) / a
                    if (a > 0) == bool(up[q]):
                        hi[j] = min(hi[j], zg)
                    else:
                        lo[j] = max(lo[j], zg)
            st, x = part.solve(cost, lo, hi, maximize=True, primal=False)
            if x is None:
                continue
            qs = self.comp_q[k]
            out[qs] = self.comp_Q[k] @ x + self.qconst[qs]
        return out

    def spread(self, want: np.ndarray) -> np.ndarray:
        """A subset of the wanted quantities no two of which share a relation (greedy, in
        order): their moves do not compete for the same slack."""
        Mc, QW = self.Mc, self.QW
        blocked = np.zeros(Mc.shape[0], dtype=bool)
        out = np.zeros(len(want), dtype=bool)
        for q in np.flatnonzero(want):
            cols = QW.indices[QW.indptr[q]:QW.indptr[q + 1]]
            rws = np.concatenate([Mc.indices[Mc.indptr[c]:Mc.indptr[c + 1]] for c in cols])
            if blocked[rws].any():
                continue
            blocked[rws] = True
            out[q] = True
        return out

    def free_interval(self, q: int) -> tuple[float, float]:
        s, e = self.QW.indptr[q], self.QW.indptr[q + 1]
        c = self.QW.indices[s:e]
        coef = self.QW.data[s:e]
        hi = float(self.qconst[q] + np.sum(np.where(coef > 0, coef * self.ub[c], 0.0)))
        lo = float(self.qconst[q] + np.sum(np.where(coef < 0, coef * self.ub[c], 0.0)))
        return lo, hi

    def extreme_guided(self, q: int, open_: np.ndarray, t_up: np.ndarray, eps: float = 1e-3):
        """Max of quantity q, with a small bonus for moving the other open one-variable
        quantities of its component up to their goals (capped there by bounds). The caps can
        only lower the max, so the value is a certificate, not the exact max. Returns the
        component's quantities' values at the optimum (indices, values) or (None, None)."""
        k = self.qcomp[q]
        part = self.parts[k]
        if part is None:
            return None, None
        m = len(part.cols)
        cost = np.zeros(m)
        hi = part.ub.copy()
        qs = self.comp_q[k]
        sel = qs[open_[qs] & self.qsingle[qs] & (t_up[qs] > 0)]
        QW = self.QW
        for j in sel:
            if j == q:
                continue
            s0 = QW.indptr[j]
            a, loc = QW.data[s0], self.local[QW.indices[s0]]
            if a <= 0:
                continue
            cost[loc] += eps / t_up[j]
            hi[loc] = min(hi[loc], (self.qv[j] + t_up[j] - self.qconst[j]) / a)
        s0, e0 = QW.indptr[q], QW.indptr[q + 1]
        cost[self.local[QW.indices[s0:e0]]] += QW.data[s0:e0]
        st, x = part.solve(cost, np.zeros(m), hi, True)
        if x is None:
            return None, None
        return qs, self.comp_Q[k] @ x + self.qconst[qs]

    def extreme(self, q: int, maximize: bool):
        """Exact max (or min) of quantity q (+-inf when unbounded), and the values of the
        quantities of its component at the optimum: (value, their indices, their values)."""
        k = self.qcomp[q]
        part = self.parts[k]
        if part is None:
            lo, hi = self.free_interval(q)
            return (hi if maximize else lo), None, None
        s, e = self.QW.indptr[q], self.QW.indptr[q + 1]
        m = len(part.cols)
        cost = np.zeros(m)
        cost[self.local[self.QW.indices[s:e]]] = self.QW.data[s:e]
        st, x = part.solve(cost, np.zeros(m), part.ub, maximize)
        if x is None:
            return (INF if maximize else -INF), None, None
        val = float(cost @ x + self.qconst[q])
        qs = self.comp_q[k]
        return val, qs, self.comp_Q[k] @ x + self.qconst[qs]


class Repair:
    """Cheapest move of one quantity: minimise sum w_j |d_j| over A d = 0, z + d >= 0, y <= x."""

    def __init__(self, A: sp.csr_matrix, values: np.ndarray, n: int, layers: int,
                 weight: np.ndarray):
        N = len(values)
        self.N = N
        self.values = values.astype(float)
        A = A.tocsr()
        # columns: p (up moves) then m (down moves)
        M = sp.hstack([A, -A], format="csr")
        rows = [M]
        rlo = [np.zeros(A.shape[0])]
        rhi = [np.zeros(A.shape[0])]
        if layers == 2:
            # (y + dy) <= (x + dx):  p_y - m_y - p_x + m_x <= x - y
            v = np.arange(n)
            r = np.repeat(np.arange(n), 4)
            c = np.column_stack([n + v, N + n + v, v, N + v]).ravel()
            d = np.tile([1.0, -1.0, -1.0, 1.0], n)
            rows.append(sp.csr_matrix((d, (r, c)), shape=(n, 2 * N)))
            rlo.append(np.full(n, -INF))
            rhi.append(self.values[:n] - self.values[n:])
        self.nrow = sum(r.shape[0] for r in rows)
        Mat = sp.vstack(rows, format="csc")
        self.base_w = weight.astype(float)
        lo = np.zeros(2 * N)
        hi = np.concatenate([np.full(N, INF), self.values])
        self.h = _highs()
        _pass(self.h, np.concatenate([self.base_w, self.base_w]), lo, hi, Mat,
              np.concatenate(rlo), np.concatenate(rhi))
        self.free = np.zeros(N, dtype=bool)

    def set_free(self, withheld: np.ndarray) -> None:
        """Moving a withheld variable costs (almost) nothing."""
        changed = np.flatnonzero(withheld != self.free)
        if not len(changed):
            return
        self.free = withheld.copy()
        w = np.where(withheld[changed], 1e-4, self.base_w[changed])
        idx = np.concatenate([changed, changed + self.N]).astype(np.int32)
        self.h.changeColsCost(len(idx), idx, np.concatenate([w, w]))

    def move(self, q_idx: np.ndarray, q_val: np.ndarray, amount: float) -> np.ndarray | None:
        """The cheapest d with q.d >= amount (amount < 0: q.d <= amount); None if impossible."""
        h = self.h
        cols = np.concatenate([q_idx, q_idx + self.N]).astype(np.int32)
        vals = np.concatenate([q_val, -q_val])
        if amount >= 0:
            h.addRow(float(amount), INF, len(cols), cols, vals)
        else:
            h.addRow(-INF, float(amount), len(cols), cols, vals)
        try:
            h.run()
            st = h.getModelStatus()
            ok = st == highspy.HighsModelStatus.kOptimal
            d = None
            if ok:
                sol = np.asarray(h.getSolution().col_value)
                d = sol[: self.N] - sol[self.N:]
                d[np.abs(d) < TOL] = 0.0
        finally:
            h.deleteRows(1, np.array([self.nrow], dtype=np.int32))
        return d


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
