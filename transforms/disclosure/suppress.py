"""Primary and global secondary suppression (contract section 3, issue 11).

``suppress(cells, cube)`` chooses which cells of a cube to withhold so that, over every view,
margin and hierarchy level of the release together, no withheld cell can be narrowed down:
its feasible interval (all cells >= 0, everything published fixed) is [0, 0], or it is wider
than one value, reaches ``PROTECTION_UPPER`` (4) and, where it starts below 4, is at least
``PROTECTION_WIDTH`` (3) wide. ``apply_pattern`` turns the result into a published frame.

Method
------
The attacker's system is built by :mod:`._suppress_system` (parent = sum of its refining
children for every pair of published groupings; stock cubes per status date with År = Q4 =
December as one variable; FRAFAFBRUD with a second layer for the outcome count and
``y <= x``). Only groupings present in the frame take part.

1. *Primary*: ``1 <= n_individer <= 3`` withholds all measures; empty cells (value 0) are
   withheld for free. FRAFAFBRUD also withholds the outcome where ``1 <= afbrudt <= 3`` or
   ``0 <= elever - afbrudt <= 3``.
2. *Local pass* (vectorised over all equations, repeated to a fixed point): an equation with
   exactly one withheld non-zero term, or whose withheld terms all sit on one side and add up
   to 1..3, discloses them. Terms to withhold are chosen by a greedy set cover over those
   equations (price = cost / number of disclosing equations the term sits in), so one cell
   can serve a row and a column at once. This is the classic hypercube step.
3. *Propagation pass*: single-equation bound tightening (vectorised, to a fixed point) gives
   outer bounds of every withheld cell; where they already break the rule the cell fails for
   sure, and the equation that produced the binding bound gets one more withheld term.
   This pass is greedy and cascades up the margins on linked stock tables (a cell it
   withholds is often determined by another relation it sits in), so :func:`suppress`
   protects twice, with and without it (steps 4-5 then do the work), and keeps the cheaper
   pattern; the checked search keeps it (without it the audit-driven rounds, greedier
   still, withheld 3x the value on national AFSLAARS 2026-10).
4. *Global check*: the exact rule is an LP question per withheld cell, far too many LPs for
   a 40,000-cell linked table, so every withheld quantity first gets *certificates*:
   feasible points of the attacker's LP. Points where a quantity takes values ``a <= b``
   with ``b - a >= 3`` and ``b >= 4`` prove its interval passes, now and however much more
   is withheld (certificates are monotone; the rule itself is not: [4, 5] passes, [3, 5]
   does not). The attacker's LP is split into connected components, one HiGHS model each.
   a. Where a known point attains the propagated outer bounds, the interval is exact
      without an LP (e.g. zeros pinned to [0, 0], cells determined exactly).
   b. Rounds: one LP per component maximises the capped moves of all open quantities
      toward their goals at once; when conflicts stall that, rounds over *spread* subsets
      (no two targets in one equation) continue while they certify faster than single LPs.
   c. Guided LPs: max of one open quantity plus a small bonus for lifting every other open
      quantity of its component to its goal (capped there) - one LP certifies many.
   d. Only what is still open gets exact min/max LPs (primal simplex re-solved from the
      last basis with only the objective changed: a few pivots each).
5. *Repair*: for each quantity that fails exactly, a Fischetti-Salazar style LP finds the
   cheapest move ``d`` over the whole linked system (``A d = 0``, ``z + d >= 0``,
   ``y <= x``, ``q.d`` up by enough, or down where the cell is >= 4) with cost per unit =
   the cell's cost for published cells and ~0 for withheld ones; the published cells the
   move touches are withheld (secondary), and the move certifies the quantity. Steps 2-5
   repeat until every withheld quantity passes.

Intervals are read as the audit reads them: the LP interval rounded inward to integers.

Why this and not GaussSuppression alone: Gaussian elimination (Statistics Norway) finds
exactly determined cells fast but says nothing about interval width, and our rule is an
interval rule (reach 4, width 3) over *every* withheld cell (zeros and secondary cells
too, not only primary ones as in Tau-Argus), so LP checks are needed anyway; the local and
propagation passes play the role of the cheap first sweep, and the LP repair chooses
secondary cells by cost over the whole linked system, preferring few and small cells
(cost = (value + 1) x the number of cells a variable stands for; the grand total of each
system 1000x dearer, so it is withheld only when nothing else works).

Determinism: variables are numbered canonically (grouping, status date, captions), never by
frame row order, HiGHS runs single-threaded with a fixed seed, and every choice breaks ties
by (cost, canonical number). The same cells in any row order give the same pattern.

Outcome rule interpretation (FRAFAFBRUD): for an outcome-withheld cell the rule applies to
``afbrudt`` (where [0, 0], "nobody dropped out", passes as the primary rule publishes a 0
outcome) and to ``elever - afbrudt``, where [0, 0] passes only if the cell's ``elever`` is
itself known to be 0: "everyone dropped out" of a non-empty group is what the rule protects.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms.catalog import MAX_SMALL, PROTECTION_UPPER, PROTECTION_WIDTH, Cube
from transforms.disclosure._suppress_lp import Attack, Repair, propagate
from transforms.disclosure._suppress_system import System, build_system

TOL = 1e-6
log = logging.getLogger(__name__)
#: certificate rounds per check before falling back to exact LPs
MAX_ROUNDS = 60
#: switch to spread-out target sets when a round certifies less than this share
SPREAD_AT = 0.15
#: stop spread rounds when one certifies less than this share of its targets
SPREAD_STOP = 0.5

__all__ = ["suppress", "apply_pattern", "interval_ok"]


def interval_ok(lo: float, hi: float) -> bool:
    """The contract's rule for one feasible interval (3.3), on the LP interval rounded
    inward to integers (counts are integers), as the audit reads it."""
    lo = math.ceil(lo - TOL)
    hi = math.floor(hi + TOL) if hi != math.inf else math.inf
    if lo == 0 and hi == 0:
        return True
    return hi > lo and hi >= PROTECTION_UPPER and (
        lo >= PROTECTION_UPPER or hi - lo >= PROTECTION_WIDTH
    )


def _certified(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Observed values a..b of a quantity prove its interval passes, now and later."""
    lo = np.ceil(a - TOL)
    hi = np.floor(b + TOL)
    return (hi - lo >= PROTECTION_WIDTH) & (hi >= PROTECTION_UPPER)


# --- the protected quantities --------------------------------------------------------------


class _Quantities:
    """Rows: x_v (v < n), then y_v and x_v - y_v for the outcome layer."""

    def __init__(self, s: System):
        n, N = s.n, len(s.values)
        v = np.arange(n)
        if s.layers == 1:
            self.Q = sp.identity(n, format="csr")
            self.kind = np.zeros(n, dtype=np.int8)
            self.var = v
        else:
            r = np.concatenate([v, n + v, 2 * n + v, 2 * n + v])
            c = np.concatenate([v, n + v, v, n + v])
            d = np.concatenate([np.ones(3 * n), -np.ones(n)])
            self.Q = sp.csr_matrix((d, (r, c)), shape=(3 * n, N))
            self.kind = np.repeat(np.array([0, 1, 2], dtype=np.int8), n)
            self.var = np.concatenate([v, v, v])
        self.n = n
        self.value = self.Q @ s.values.astype(float)

    def active(self, wh: np.ndarray) -> np.ndarray:
        n = self.n
        if len(wh) == n:
            return wh.copy()
        return np.concatenate([wh[:n], wh[n:], wh[n:]])


# --- primary --------------------------------------------------------------------------------


def _primary(s: System) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = s.n
    x = s.values[:n]
    zero = x == 0
    prim = (~zero) & (s.n_ind >= 1) & (s.n_ind <= MAX_SMALL)
    wh = np.zeros(len(s.values), dtype=bool)
    wh[:n] = zero | prim
    prim_out = np.zeros(n, dtype=bool)
    if s.layers == 2:
        y = s.values[n:]
        prim_out = (~wh[:n]) & (((y >= 1) & (y <= MAX_SMALL)) | (x - y <= MAX_SMALL))
        wh[n:] = wh[:n] | prim_out
    return wh, prim, prim_out


def _close(s: System, wh: np.ndarray) -> None:
    if s.layers == 2:
        wh[s.n:] |= wh[: s.n]


def _cheapest_in_rows(s: System, wh: np.ndarray, rows: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Published terms to withhold so that every given relation gets one more withheld term.

    Greedy set cover: a term's price is its cost divided by the number of these relations
    it sits in; relations are served cheapest first, skipping those a chosen term already
    serves (ties: canonical order)."""
    sub = s.A[rows].tocoo()
    cand = ~wh[sub.col]
    locked = getattr(s, "locked", None)
    if locked is not None:  # known from earlier releases: withholding them protects nothing
        cand &= ~locked[sub.col]
    rr, cc = sub.row[cand], sub.col[cand]
    if not len(rr):
        return np.zeros(0, dtype=np.int64)
    cov = np.bincount(cc, minlength=len(wh)).astype(float)
    price = s.weight[cc] / cov[cc]
    order = np.lexsort((rank[cc], s.weight[cc], price, rr))
    rr, cc, price = rr[order], cc[order], price[order]
    starts = np.flatnonzero(np.r_[True, rr[1:] != rr[:-1]])
    ends = np.r_[starts[1:], len(rr)]
    best = cc[starts]
    serve = np.lexsort((rank[best], price[starts]))
    chosen: set[int] = set()
    out = []
    for i in serve:
        members = cc[starts[i]:ends[i]]
        if chosen and any(int(m) in chosen for m in members):
            continue
        b = int(best[i])
        chosen.add(b)
        out.append(b)
    return np.unique(np.array(out, dtype=np.int64))


def _rank(s: System) -> np.ndarray:
    return np.concatenate([s.order] * s.layers)


def _propagation_pass(s: System, wh: np.ndarray) -> int:
    """Withhold more where single-relation bounds already prove a withheld cell unsafe."""
    n = s.n
    vals = s.values.astype(float)
    rank = _rank(s)
    total = 0
    for _ in range(1000):
        lo, hi, lo_row, hi_row = propagate(s.A, s.values, wh, n, s.layers)
        U, L = PROTECTION_UPPER, PROTECTION_WIDTH
        low_top = wh & (hi < U - TOL) & (hi > TOL)
        narrow = wh & (vals > 0) & (vals < U) & (hi - lo < L - TOL)
        exact = wh & (vals > 0) & (hi - lo < TOL)
        relax_hi = (low_top | narrow) & (hi_row >= 0)
        relax_lo = (exact & ~relax_hi & (lo_row >= 0)) | (narrow & (hi_row < 0) & (lo_row >= 0))
        rows = np.unique(np.concatenate([hi_row[relax_hi], lo_row[relax_lo]]))
        if not len(rows):
            break
        chosen = _cheapest_in_rows(s, wh, rows, rank)
        if not len(chosen):
            break
        wh[chosen] = True
        _close(s, wh)
        total += len(chosen)
    return total


# --- 2. local pass ------------------------------------------------------------------------------


def _local_pass(s: System, wh: np.ndarray) -> int:
    """Withhold the cheapest published term of every locally disclosing equation."""
    A = s.A
    if A.shape[0] == 0:
        return 0
    n = s.n
    vals = s.values.astype(float)
    P = A.copy()
    P.data = (P.data > 0).astype(float)
    Nn = A.copy()
    Nn.data = (Nn.data < 0).astype(float)
    P.eliminate_zeros()
    Nn.eliminate_zeros()
    rank = np.concatenate([s.order, s.order])[: len(vals)] if s.layers == 2 else s.order
    # x published -> a y-layer variable whose single disclosure makes x - y exact
    y_exposed = np.zeros(len(vals), dtype=bool)
    if s.layers == 2:
        y_exposed[n:] = ~wh[:n]
    total = 0
    for _ in range(10_000):
        w = wh.astype(float)
        kpos = P @ w
        kneg = Nn @ w
        k = kpos + kneg
        r = A @ (vals * w)
        single = k == 1
        # the single withheld term of each row: its value / layer
        one_exposed = (abs(A) @ (w * y_exposed)) > 0
        viol = single & ((np.abs(r) > TOL) | one_exposed)
        same = (k >= 1) & ((kpos == 0) | (kneg == 0))
        viol |= same & (np.abs(r) > TOL) & (np.abs(r) < PROTECTION_UPPER - TOL)
        rows = np.flatnonzero(viol)
        if not len(rows):
            break
        chosen = _cheapest_in_rows(s, wh, rows, rank)
        wh[chosen] = True
        _close(s, wh)
        if s.layers == 2:
            y_exposed[n:] = ~wh[:n]
        total += len(chosen)
    return total


# --- 3. global check --------------------------------------------------------------------------


def _exact_ok(s: System, Qs: "_Quantities", wh, q: int, lo: float, hi: float, x_interval) -> bool:
    """The rule for quantity q with exact interval [lo, hi]. For elever - afbrudt, [0, 0]
    passes only if the cell's elever is itself known to be 0 (x_interval gives it; None:
    treat as not known)."""
    ok = interval_ok(lo, hi)
    if ok and Qs.kind[q] == 2 and hi <= TOL and lo >= -TOL:
        v = Qs.var[q]
        if not wh[v] or x_interval is None:
            return False
        xl, xh = x_interval(v)
        return xh <= TOL and xl >= -TOL
    return ok


def _check(s: System, Qs: _Quantities, wh: np.ndarray, cert: np.ndarray, lo_obs, hi_obs):
    """Certify what can be certified; return (failing quantities, their exact intervals)."""
    act = Qs.active(wh)
    todo = act & ~cert
    if not todo.any():
        return [], {}
    rows = np.flatnonzero(act)
    t0 = time.perf_counter()
    qv = Qs.value[rows]
    a = np.minimum(lo_obs[rows], qv)
    b = np.maximum(hi_obs[rows], qv)
    # outer bounds by propagation: where known points attain them, the interval is exact
    plo, phi, _, _ = propagate(s.A, s.values, wh, s.n, s.layers)
    QP = Qs.Q[rows]
    pos = QP.multiply(QP > 0).tocsr()
    neg = (-QP).multiply(QP < 0).tocsr()
    fin_hi = np.where(np.isfinite(phi), phi, 1e18)
    fin_lo = np.where(np.isfinite(plo), plo, 0.0)
    Uq = pos @ fin_hi - neg @ fin_lo
    Lq = pos @ fin_lo - neg @ fin_hi

    def known(i):
        return a[i] <= Lq[i] + TOL and b[i] >= Uq[i] - TOL and Uq[i] < 1e17

    def done():
        return cert[rows] | _certified(a, b)

    fails: list[int] = []
    exact: dict[int, tuple[float, float]] = {}
    settled = np.zeros(len(rows), dtype=bool)
    for i in np.flatnonzero(~done() & (a <= Lq + TOL) & (b >= Uq - TOL) & (Uq < 1e17)):
        settled[i] = True
        exact[int(rows[i])] = (float(Lq[i]), float(Uq[i]))
        if not _exact_ok(s, Qs, wh, rows[i], float(Lq[i]), float(Uq[i]),
                         lambda v: (0.0, float(phi[v]))):
            fails.append(int(rows[i]))
    if not (~done() & ~settled).any():
        log.debug("check: %d active, all certified or known (%d fail)", len(rows), len(fails))
        return sorted(set(fails)), exact
    att = Attack(s.A, s.values, wh, s.n, s.layers, QP)

    def observe(vals):
        nonlocal a, b
        a = np.minimum(a, vals)
        b = np.maximum(b, vals)

    log.debug("check: %d active, %d open, %d known, model %.2fs", len(rows),
              int((~done() & ~settled).sum()), int(settled.sum()), time.perf_counter() - t0)
    spread = False
    for rnd in range(MAX_ROUNDS):
        c = done() | settled
        open_ = ~c
        if not open_.any():
            break
        if spread:
            open_ = att.spread(open_)
        # one direction per quantity: down for cells that may go down (>= 4, and some
        # point already reaches 4), up for the rest; alternate for cells left open
        a_i, b_i = np.ceil(a - TOL), np.floor(b + TOL)
        t_up = np.maximum(np.maximum(PROTECTION_UPPER, a_i + PROTECTION_WIDTH) - qv, 0.0)
        t_dn = np.minimum(qv - (b_i - PROTECTION_WIDTH), qv)
        can_dn = (b_i >= PROTECTION_UPPER) & (t_dn > TOL)
        want_dn = can_dn & ((qv >= PROTECTION_UPPER) != (rnd % 2 == 1))
        t_up = np.where(open_ & ~want_dn, t_up, 0.0)
        t_dn = np.where(open_ & want_dn, t_dn, 0.0)
        observe(att.targeted(t_up, t_dn))
        gained = int((done() & open_).sum())
        log.debug("  round %d: %d open, %d certified (%.2fs)", rnd, int(open_.sum()), gained,
                  time.perf_counter() - t0)
        # rounds over all open quantities until they stall, then rounds over spread-out
        # subsets until those stall too (counts, not clock time, decide, so the work done
        # does not depend on machine load)
        if spread and gained < SPREAD_STOP * open_.sum():
            break
        if not spread and gained < SPREAD_AT * open_.sum():
            spread = True
    c = done() | settled
    log.debug("  exact LPs for up to %d quantities", int((~c).sum()))
    x_exact: dict[int, tuple[float, float]] = {}
    nlp = 0

    def ok_now(i):
        return _certified(a[i:i + 1], b[i:i + 1])[0]

    def ext(i, mx):
        nonlocal nlp
        nlp += 1
        if nlp % 500 == 0:
            log.debug("  %d exact LPs (%.2fs)", nlp, time.perf_counter() - t0)
        val, qs, qvals = att.extreme(i, mx)
        if qs is not None:
            a[qs] = np.minimum(a[qs], qvals)
            b[qs] = np.maximum(b[qs], qvals)
        return val

    t_goal = np.maximum(np.maximum(PROTECTION_UPPER, np.ceil(a - TOL) + PROTECTION_WIDTH) - qv, 0)
    n_known = n_guided = 0
    for i in np.flatnonzero(~c):
        if cert[rows[i]] or ok_now(i):
            continue
        if not known(i):
            n_guided += 1
            qs, qvals = att.extreme_guided(i, ~done(), t_goal)
            if qs is not None:
                a[qs] = np.minimum(a[qs], qvals)
                b[qs] = np.maximum(b[qs], qvals)
            if ok_now(i):
                continue
        if known(i):
            n_known += 1
            lo, hi = float(Lq[i]), float(Uq[i])
        else:
            hi = ext(i, True)
            if ok_now(i):
                continue
            lo = ext(i, False)
            if ok_now(i):
                continue
        q = rows[i]

        def x_interval(v):
            if v not in x_exact:
                j = int(np.searchsorted(rows, v))
                x_exact[v] = (ext(j, False), ext(j, True))
            return x_exact[v]

        ok = _exact_ok(s, Qs, wh, q, lo, hi, x_interval)
        exact[q] = (lo, hi)
        if not ok:
            fails.append(q)
    log.debug("  %d exact LPs, %d guided, %d known from bounds", nlp, n_guided, n_known)
    newc = done()
    # canonical order: which phase found a failure depends on the points found on the way
    fails = sorted(set(fails))
    log.debug("  %d fail (%.2fs)", len(fails), time.perf_counter() - t0)
    cert[rows[newc]] = True
    lo_obs[rows] = a
    hi_obs[rows] = b
    return fails, exact


# --- 4. repair ---------------------------------------------------------------------------------


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


# --- driver -----------------------------------------------------------------------------------


def _protect(s: System, wh: np.ndarray, stats: dict, propagation: bool = True) -> np.ndarray:
    Qs = _Quantities(s)
    nq = Qs.Q.shape[0]
    cert = np.zeros(nq, dtype=bool)
    lo_obs = Qs.value.copy()
    hi_obs = Qs.value.copy()
    rep = None
    for it in range(1000):
        t0 = time.perf_counter()
        nl = _local_pass(s, wh)
        stats["local"] = stats.get("local", 0) + nl
        log.debug("local pass: %d added (%.2fs)", nl, time.perf_counter() - t0)
        t0 = time.perf_counter()
        npp = _propagation_pass(s, wh) if propagation else 0
        stats["propagation"] = stats.get("propagation", 0) + npp
        log.debug("propagation pass: %d added (%.2fs)", npp, time.perf_counter() - t0)
        fails, exact = _check(s, Qs, wh, cert, lo_obs, hi_obs)
        stats["rounds"] = it + 1
        if not fails:
            return wh
        stats["repaired"] = stats.get("repaired", 0) + len(fails)
        if rep is None:
            rep = Repair(s.A, s.values, s.n, s.layers, s.weight)
        t0 = time.perf_counter()
        added = _repair(s, Qs, rep, wh, fails, exact, cert, lo_obs, hi_obs)
        log.debug("repair: %d added for %d fails (%.2fs)", added, len(fails),
                  time.perf_counter() - t0)
        if added == 0:
            raise RuntimeError("suppression could not protect every withheld cell")
    raise RuntimeError("suppression did not converge")


def _secondary_cost(s: System, wh: np.ndarray, wh0: np.ndarray) -> float:
    return float(np.sum(s.weight[wh & ~wh0]))


def _pattern(s: System, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Primary cells, then the cheaper of two protections: the LP repair alone (after the
    local pass), and the same with the propagation pass first.

    The propagation pass is greedy: where single relations already prove a withheld cell
    open, it withholds the cheapest published term of that relation, and a cell withheld
    that way is often determined by another relation it sits in, so it cascades up the
    margins (national FRAFVURD 2026-10: 863 cells from it, secondary value 5.9 % of the
    cube's, 144 secondary cells of 1,000 or more, where the repair alone withholds 0.47 %
    and 3). The repair's moves are cheapest over the whole linked system. Both are kept as
    candidates because neither is cheaper on every table; the cost compared is the
    suppressor's own (``weight`` of the secondary cells), ties go to the repair alone."""
    stats = {} if stats is None else stats
    wh0, prim, prim_out = _primary(s)
    if not s.n:
        return wh0.copy(), prim, prim_out
    best = None
    for propagation in (False, True):
        st: dict = {}
        try:
            wh = _protect(s, wh0.copy(), st, propagation=propagation)
        except RuntimeError:
            if propagation and best is None:
                raise
            continue
        cost = _secondary_cost(s, wh, wh0)
        if best is None or cost < best[0] - TOL:
            best = (cost, wh, st, propagation)
    cost, wh, st, propagation = best
    stats.update(st)
    stats["propagation_pass"] = propagation
    stats["secondary_cost"] = cost
    return wh, prim, prim_out


def _empty_pattern(cells: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"undertrykt": pd.Series(dtype=bool),
                         "undertrykt_udfald": pd.Series(dtype=bool),
                         "aarsag": pd.Series(dtype=object)}, index=cells.index)


def _as_frame(cells: pd.DataFrame, s: System, wh: np.ndarray, prim: np.ndarray,
              prim_out: np.ndarray) -> pd.DataFrame:
    n = s.n
    rv = s.row_var
    x = s.values[:n]
    und = wh[:n][rv]
    und_o = wh[n:][rv] if s.layers == 2 else und.copy()
    aarsag = np.full(len(cells), None, dtype=object)
    zero = (x == 0)[rv]
    aarsag[und] = "sekundær"
    aarsag[und & prim[rv]] = "primær"
    aarsag[und & zero] = "tom"
    if s.layers == 2:
        only_o = und_o & ~und
        aarsag[only_o] = "sekundær_udfald"
        aarsag[only_o & prim_out[rv]] = "primær_udfald"
    return pd.DataFrame(
        {"undertrykt": und.astype(bool), "undertrykt_udfald": und_o.astype(bool), "aarsag": aarsag},
        index=cells.index,
    )


def suppress(cells: pd.DataFrame, cube: Cube, stats: dict | None = None) -> pd.DataFrame:
    """The suppression pattern for a cube's cell frame (one row per cell, same index).

    Columns: ``undertrykt`` (all measures withheld), ``undertrykt_udfald`` (the outcome
    measures withheld; equal to ``undertrykt`` for cubes without an outcome) and ``aarsag``:
    'tom', 'primær', 'sekundær', 'primær_udfald', 'sekundær_udfald' or None.
    """
    if len(cells) == 0:
        return _empty_pattern(cells)
    s = build_system(cells, cube)
    wh, prim, prim_out = _pattern(s, stats)
    return _as_frame(cells, s, wh, prim, prim_out)


def suppress_checked(cells: pd.DataFrame, cube: Cube, check, max_rounds: int = 40,
                     stats: dict | None = None, locked: np.ndarray | None = None,
                     forced: np.ndarray | None = None) -> tuple[pd.DataFrame, object]:
    """A faster search for large linked cubes, driven by an outside checker.

    Steps 1-3 of the global method (primary, local pass, propagation pass), then rounds in
    which ``check(pattern)`` -- in lpstat the independent audit -- names the frame rows whose
    withheld count (``bad``) or outcome (``bad_out``) it finds unprotected, and every relation such a cell sits in gets one more withheld term, the
    cheapest published one (greedy set cover, as in the propagation pass); a cell named a
    second time gets every term of its relations withheld (parents included). Where a
    round's relations have no published term left, the round widens to the relations of
    the cells those relations hold. Withholding only grows, so the search ends; it stops with
    a RuntimeError only when nothing is left to withhold.

    ``check(pattern) -> (passed, result, bad, bad_out)``; returns (pattern, the passing
    check's result). A-priori knowledge from earlier releases (contract 3.7): ``locked``
    frame rows are published already with the same truth, so they are never chosen as
    secondary cells (withholding them protects nothing); ``forced`` rows were withheld
    before with the same truth and stay withheld. Loses more information than :func:`suppress` (no LP repair choosing
    the cheapest move over the whole system), but needs no LP of its own.
    """
    stats = {} if stats is None else stats
    if len(cells) == 0:
        pattern = _empty_pattern(cells)
        return pattern, check(pattern)[1]
    s = build_system(cells, cube)
    wh, prim, prim_out = _primary(s)
    if forced is not None and forced.any():
        wh[np.unique(s.row_var[np.flatnonzero(forced)])] = True
        _close(s, wh)
    if locked is not None and locked.any():
        lk = np.zeros(len(wh), dtype=bool)
        lk[np.unique(s.row_var[np.flatnonzero(locked)])] = True
        if s.layers == 2:
            lk[s.n:] = lk[:s.n]
        s.locked = lk & ~wh
    rank = _rank(s)
    A = s.A.tocsc()
    seen = np.zeros(len(wh), dtype=bool)  # quantities found open in an earlier round
    for rnd in range(max_rounds):
        t0 = time.perf_counter()
        if s.A.shape[0]:
            stats["local"] = stats.get("local", 0) + _local_pass(s, wh)
            stats["propagation"] = stats.get("propagation", 0) + _propagation_pass(s, wh)
        pattern = _as_frame(cells, s, wh, prim, prim_out)
        passed, result, bad, bad_out = check(pattern)
        stats["rounds"] = rnd + 1
        log.debug("checked round %d: %d withheld, %s, %d + %d open (%.2fs)", rnd,
                  int(wh.sum()), "passed" if passed else "open", int(bad.sum()),
                  int(bad_out.sum()), time.perf_counter() - t0)
        if passed:
            return pattern, result
        qs = np.unique(s.row_var[np.flatnonzero(bad)])
        if s.layers == 2:
            qs = np.r_[qs, s.n + np.unique(s.row_var[np.flatnonzero(bad_out)])]
        again = np.zeros(len(wh), dtype=bool)
        again[qs] = seen[qs]
        seen[qs] = True
        added = 0
        radius = 1
        while not added and s.A.shape[0]:
            rows = np.unique(A[:, qs].tocoo().row)
            for _ in range(radius - 1):  # widen: the relations of those relations' cells
                cols = np.unique(s.A[rows].tocoo().col)
                rows = np.unique(A[:, cols].tocoo().row)
            # open for the second time: every term of its relations; else the cheapest one
            rows_again = np.unique(A[:, np.flatnonzero(again)].tocoo().row)
            every = np.unique(s.A[rows_again].tocoo().col)
            every = every[~wh[every]]
            if getattr(s, "locked", None) is not None:
                every = every[~s.locked[every]]
            chosen = np.unique(np.r_[every, _cheapest_in_rows(
                s, wh, np.setdiff1d(rows, rows_again), rank)]).astype(np.int64)
            if len(chosen):
                wh[chosen] = True
                _close(s, wh)
                added = len(chosen)
            elif radius > 8:
                break
            else:
                radius += 1
        if not added:
            raise RuntimeError("suppression could not protect every withheld cell "
                               f"({int(bad.sum() + bad_out.sum())} still open)")
        stats["checked_added"] = stats.get("checked_added", 0) + added
    raise RuntimeError(f"suppression did not converge in {max_rounds} checked rounds")


def apply_pattern(cells: pd.DataFrame, pattern: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """The published frame: count measures nulled where withheld (nullable Int64) and a
    ``status`` column ('diskretioneret' where any measure is withheld, else 'publiceret').

    Shares are computed elsewhere; only count columns present in ``cells`` are touched.
    """
    out = cells.copy()
    und = pattern["undertrykt"].reindex(cells.index).fillna(True).astype(bool).to_numpy()
    und_o = pattern["undertrykt_udfald"].reindex(cells.index).fillna(True).astype(bool).to_numpy()
    for m in cube.measures:
        if m.kind != "count" or m.column not in out.columns:
            continue
        hide = und_o if m.outcome else und
        col = out[m.column].astype("Int64")
        col[hide] = pd.NA
        out[m.column] = col
    out["status"] = np.where(und | und_o, "diskretioneret", "publiceret")
    return out
