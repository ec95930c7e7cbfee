"""The global check (step 4 of the package docstring): certificates for every withheld
quantity it can certify, exact intervals (and the failures) for the rest."""

from __future__ import annotations

import logging
import time

import numpy as np

from transforms.catalog import PROTECTION_UPPER, PROTECTION_WIDTH
from transforms.disclosure.suppress.attack import Attack
from transforms.disclosure.suppress.bounds import propagate
from transforms.disclosure.suppress.rule import TOL, _certified, _Quantities, interval_ok
from transforms.disclosure.suppress.system import System

log = logging.getLogger(__package__)  # the package's logger, as before the split


#: certificate rounds per check before falling back to exact LPs
MAX_ROUNDS = 60
#: switch to spread-out target sets when a round certifies less than this share
SPREAD_AT = 0.15
#: stop spread rounds when one certifies less than this share of its targets
SPREAD_STOP = 0.5


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
    ob = _Observed(s, Qs, wh, cert, lo_obs, hi_obs, rows)
    fails, exact, settled = _settle_known(s, Qs, wh, ob)
    if not (~ob.done() & ~settled).any():
        log.debug("check: %d active, all certified or known (%d fail)", len(rows), len(fails))
        return sorted(set(fails)), exact
    att = Attack(s.A, s.values, wh, s.n, s.layers, ob.QP)
    log.debug("check: %d active, %d open, %d known, model %.2fs", len(rows),
              int((~ob.done() & ~settled).sum()), int(settled.sum()), time.perf_counter() - t0)
    _certificate_rounds(att, ob, settled, t0)
    _exact_phase(s, Qs, wh, att, ob, settled, fails, exact, t0)
    newc = ob.done()
    # canonical order: which phase found a failure depends on the points found on the way
    fails = sorted(set(fails))
    log.debug("  %d fail (%.2fs)", len(fails), time.perf_counter() - t0)
    cert[rows[newc]] = True
    lo_obs[rows] = ob.a
    hi_obs[rows] = ob.b
    return fails, exact


class _Observed:
    """What one check knows of the active quantities (``rows``): the values seen at feasible
    points (``a`` .. ``b``, the quantity's own value included) and outer bounds by
    propagation (``Lq`` .. ``Uq``); where known points attain them, the interval is exact."""

    def __init__(self, s: System, Qs: _Quantities, wh: np.ndarray, cert: np.ndarray, lo_obs,
                 hi_obs, rows: np.ndarray):
        self.rows, self.cert = rows, cert
        qv = self.qv = Qs.value[rows]
        self.a = np.minimum(lo_obs[rows], qv)
        self.b = np.maximum(hi_obs[rows], qv)
        # outer bounds by propagation: where known points attain them, the interval is exact
        plo, phi, _, _ = propagate(s.A, s.values, wh, s.n, s.layers)
        self.phi = phi
        QP = self.QP = Qs.Q[rows]
        pos = QP.multiply(QP > 0).tocsr()
        neg = (-QP).multiply(QP < 0).tocsr()
        fin_hi = np.where(np.isfinite(phi), phi, 1e18)
        fin_lo = np.where(np.isfinite(plo), plo, 0.0)
        self.Uq = pos @ fin_hi - neg @ fin_lo
        self.Lq = pos @ fin_lo - neg @ fin_hi

    def known(self, i) -> bool:
        a, b, Lq, Uq = self.a, self.b, self.Lq, self.Uq
        return a[i] <= Lq[i] + TOL and b[i] >= Uq[i] - TOL and Uq[i] < 1e17

    def done(self) -> np.ndarray:
        return self.cert[self.rows] | _certified(self.a, self.b)

    def ok_now(self, i) -> bool:
        return _certified(self.a[i:i + 1], self.b[i:i + 1])[0]

    def observe(self, vals: np.ndarray) -> None:
        """Values of every active quantity at one more feasible point."""
        self.a = np.minimum(self.a, vals)
        self.b = np.maximum(self.b, vals)

    def observe_some(self, qs, qvals) -> None:
        """Values of some quantities (positions ``qs``) at one more feasible point."""
        if qs is not None:
            self.a[qs] = np.minimum(self.a[qs], qvals)
            self.b[qs] = np.maximum(self.b[qs], qvals)


def _settle_known(s: System, Qs: _Quantities, wh: np.ndarray, ob: _Observed):
    """Quantities whose outer bounds known points attain: exact without an LP. Returns
    (failing quantities, exact intervals, settled positions)."""
    a, b, Lq, Uq, rows, phi = ob.a, ob.b, ob.Lq, ob.Uq, ob.rows, ob.phi
    fails: list[int] = []
    exact: dict[int, tuple[float, float]] = {}
    settled = np.zeros(len(rows), dtype=bool)
    for i in np.flatnonzero(~ob.done() & (a <= Lq + TOL) & (b >= Uq - TOL) & (Uq < 1e17)):
        settled[i] = True
        exact[int(rows[i])] = (float(Lq[i]), float(Uq[i]))
        if not _exact_ok(s, Qs, wh, rows[i], float(Lq[i]), float(Uq[i]),
                         lambda v: (0.0, float(phi[v]))):
            fails.append(int(rows[i]))
    return fails, exact, settled


def _certificate_rounds(att: Attack, ob: _Observed, settled: np.ndarray, t0: float) -> None:
    """Rounds (step 4b): one LP per component moves every open quantity toward its goal."""
    qv = ob.qv
    spread = False
    for rnd in range(MAX_ROUNDS):
        c = ob.done() | settled
        open_ = ~c
        if not open_.any():
            break
        if spread:
            open_ = att.spread(open_)
        # one direction per quantity: down for cells that may go down (>= 4, and some
        # point already reaches 4), up for the rest; alternate for cells left open
        a_i, b_i = np.ceil(ob.a - TOL), np.floor(ob.b + TOL)
        t_up = np.maximum(np.maximum(PROTECTION_UPPER, a_i + PROTECTION_WIDTH) - qv, 0.0)
        t_dn = np.minimum(qv - (b_i - PROTECTION_WIDTH), qv)
        can_dn = (b_i >= PROTECTION_UPPER) & (t_dn > TOL)
        want_dn = can_dn & ((qv >= PROTECTION_UPPER) != (rnd % 2 == 1))
        t_up = np.where(open_ & ~want_dn, t_up, 0.0)
        t_dn = np.where(open_ & want_dn, t_dn, 0.0)
        ob.observe(att.targeted(t_up, t_dn))
        gained = int((ob.done() & open_).sum())
        log.debug("  round %d: %d open, %d certified (%.2fs)", rnd, int(open_.sum()), gained,
                  time.perf_counter() - t0)
        # rounds over all open quantities until they stall, then rounds over spread-out
        # subsets until those stall too (counts, not clock time, decide, so the work done
        # does not depend on machine load)
        if spread and gained < SPREAD_STOP * open_.sum():
            break
        if not spread and gained < SPREAD_AT * open_.sum():
            spread = True


def _exact_phase(s: System, Qs: _Quantities, wh: np.ndarray, att: Attack, ob: _Observed,
                 settled: np.ndarray, fails: list, exact: dict, t0: float) -> None:
    """Steps 4c-d for what is still open: a guided LP, then exact min/max LPs only as far as
    the verdict needs. Adds to ``fails`` and ``exact``."""
    rows, qv = ob.rows, ob.qv
    c = ob.done() | settled
    log.debug("  exact LPs for up to %d quantities", int((~c).sum()))
    x_exact: dict[int, tuple[float, float]] = {}
    nlp = 0

    def ext(i, mx):
        nonlocal nlp
        nlp += 1
        if nlp % 500 == 0:
            log.debug("  %d exact LPs (%.2fs)", nlp, time.perf_counter() - t0)
        val, qs, qvals = att.extreme(i, mx)
        ob.observe_some(qs, qvals)
        return val

    t_goal = np.maximum(np.maximum(PROTECTION_UPPER, np.ceil(ob.a - TOL) + PROTECTION_WIDTH)
                        - qv, 0)
    n_known = n_guided = 0
    for i in np.flatnonzero(~c):
        if ob.cert[rows[i]] or ob.ok_now(i):
            continue
        if not ob.known(i):
            n_guided += 1
            ob.observe_some(*att.extreme_guided(i, ~ob.done(), t_goal))
            if ob.ok_now(i):
                continue
        if ob.known(i):
            n_known += 1
            lo, hi = float(ob.Lq[i]), float(ob.Uq[i])
        else:
            hi = ext(i, True)
            if ob.ok_now(i):
                continue
            lo = ext(i, False)
            if ob.ok_now(i):
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
