"""Repair (step 5 of the package docstring): the cheapest protecting move.

:class:`Repair` is a Fischetti-Salazar style LP over every variable: the cheapest move
(weighted by the cost of withholding the cells it touches) that changes one protected
quantity by a required amount while keeping every equation, ``x >= 0`` and ``y <= x``. The
published cells the move touches are the secondary suppressions that protect it
(:func:`_repair`).
"""

from __future__ import annotations

import math

import highspy
import numpy as np
import scipy.sparse as sp

from transforms.catalog import PROTECTION_UPPER, PROTECTION_WIDTH
from transforms.disclosure.suppress.highs import INF, _highs, _pass, _solve
from transforms.disclosure.suppress.passes import _close
from transforms.disclosure.suppress.rule import TOL, _certified, _Quantities
from transforms.disclosure.suppress.system import System


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
            _solve(h)
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


def _repair(s: System, Qs: _Quantities, rep: Repair, wh: np.ndarray, fails, exact, cert,
            lo_obs, hi_obs) -> int:
    """Withhold the published cells of the cheapest protecting move of every failing
    quantity (in canonical order). Only exact intervals and this loop's own moves decide
    anything here, never which feasible points the check happened to find, so the pattern
    does not depend on how the check went."""
    added = 0
    moves: list[np.ndarray] = []
    for q in fails:
        row = Qs.Q.getrow(q)
        v = float(Qs.value[q])
        if moves:
            # certified by an earlier move of this loop (valid: withholding only grows)
            vals = np.array([float((row @ (s.values + d))[0]) for d in moves] + [v])
            if _certified(vals.min(keepdims=True), vals.max(keepdims=True))[0]:
                continue
        lo, hi = exact[q]
        lo_i = math.ceil(lo - TOL)
        hi_i = math.floor(hi + TOL) if hi != math.inf else math.inf
        options = [max(PROTECTION_UPPER, lo_i + PROTECTION_WIDTH) - v]
        if hi_i >= PROTECTION_UPPER and hi_i - PROTECTION_WIDTH >= 0:
            dn = v - (hi_i - PROTECTION_WIDTH)
            if dn > TOL:
                options.append(-dn)
        best = None
        rep.set_free(wh)
        for amount in options:
            d = rep.move(row.indices, row.data, amount)
            if d is None:
                continue
            cost = float(np.sum(s.weight[(~wh) & (d != 0)]))
            if best is None or cost < best[0] - TOL:
                best = (cost, d)
        if best is None:
            continue
        d = best[1]
        moves.append(d)
        new = (~wh) & (d != 0)
        wh[new] = True
        _close(s, wh)
        added += int(new.sum())
        moved = Qs.Q @ (s.values + d)
        lo_obs[:] = np.minimum(lo_obs, moved)
        hi_obs[:] = np.maximum(hi_obs, moved)
        cert |= _certified(lo_obs, hi_obs)
    return added
