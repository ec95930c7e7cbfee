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
