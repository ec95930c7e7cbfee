"""The contract's rule (3.3) for a withheld value's interval, and the audit's tolerances.

:func:`interval_ok` is the rule on an integer interval. The audit rarely knows a value's
interval exactly: it knows outer bounds ``L ≤ lo`` and ``hi ≤ U`` and inner bounds from the
feasible points found (``lo ≤ a``, ``hi ≥ b``). :func:`_decide` gives the verdict where it is
the same over that whole box (the rule is not monotone: [4, 5] passes where [3, 5] fails),
and :func:`_goal` the move that would prove a value ok, which steers the goal rounds and the
exact LPs (``component.py``).
"""

from __future__ import annotations

import math
from functools import lru_cache

from transforms import catalog

TOL = 1e-6  # rounding tolerance on LP values: ceil(lo - TOL), floor(hi + TOL)
_EPS = 1e-9  # exactness tolerance on integer arithmetic done in floating point
_SHARE_TOL = 5e-4 + 1e-9  # half of 0.1 percentage point: shares may be stored rounded


PASSED = "bestået"
FAILED = "ikke bestået"


def _num_out(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return int(x) if x.is_integer() else x


def interval_ok(lo: int | None, hi: int | None) -> bool:
    """The contract's rule (3.3) for an integer interval; ``hi`` None = unbounded."""
    if lo is None:
        return False
    if hi is None:
        return True
    if lo > hi:
        return False
    if lo == 0 and hi == 0:
        return True
    up, width = catalog.PROTECTION_UPPER, catalog.PROTECTION_WIDTH
    return hi > lo and hi >= up and (lo >= up or hi - lo >= width)


_SPAN = catalog.PROTECTION_UPPER + catalog.PROTECTION_WIDTH + 2  # where the rule stops changing


@lru_cache(maxsize=200_000)
def _decide(L: int, a: int, b: int, U: int | None) -> bool | None:
    """The verdict if it is the same for every lo in [L, a] and hi in [b, U] (U None =
    unbounded), else None. The rule only changes near 0..PROTECTION_UPPER+WIDTH and near
    hi - lo = 0..PROTECTION_WIDTH, so a few candidates of each range suffice."""
    his = {b}
    top = max(b, a) + _SPAN
    his.update(range(b, (top if U is None else min(U, top)) + 1))
    his.add(top + 1 if U is None else U)  # beyond top the rule no longer changes
    seen = set()
    for hi in his:
        los = {L, a}
        los.update(v for v in range(max(L, 0), min(a, _SPAN) + 1))
        los.update(v for v in range(max(L, hi - _SPAN), min(a, hi) + 1))
        for lo in los:
            if L <= lo <= a:
                seen.add(interval_ok(lo, hi))
                if len(seen) > 1:
                    return None
    return seen.pop() if seen else False


def _goal(L: int, a: int, b: int, U: int | None) -> tuple[int, int] | None:
    """A move that would prove the value ok: (+1, g) = reach ≥ g, (-1, h) = reach ≤ h."""
    top = max(b, a) + _SPAN
    for g in range(b + 1, (top if U is None else min(U, top)) + 1):
        if _decide(L, a, g, U) is True:
            return (1, g)
    for h in range(a - 1, max(L, a - _SPAN) - 1, -1):
        if _decide(L, h, b, U) is True:
            return (-1, h)
    return None


def probe_work() -> dict:
    """Fresh counts for ``component._probe_pays``: probes and exact LPs, and the simplex
    iterations each took."""
    return {"probe_its": 0, "probes": 0, "exact_its": 0, "exact_lps": 0}
