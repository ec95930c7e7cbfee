"""The attacker's LP for one pattern (step 4 of the package docstring).

:class:`Attack`: the withheld variables free and >= 0, everything published fixed, split into
connected components (:class:`_Part`, one HiGHS model each). It certifies protected
quantities in batches (one LP moves many of them at once toward a target) and computes exact
intervals for the rest.
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from transforms.disclosure.suppress.highs import INF, _highs, _pass, _run


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
