"""The contract's rule (3.3) as the suppressor reads it, and the quantities it protects.

A *quantity* is a sparse vector over the system's variables: a cell (``x``), an outcome
(``y``) or a cell's count without the outcome (``x - y``). Intervals are read as the audit
reads them: the LP interval rounded inward to integers. Certificates (:func:`_certified`)
are monotone: observed values that prove a quantity's interval passes keep proving it
however much more is withheld.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from transforms.catalog import PROTECTION_UPPER, PROTECTION_WIDTH
from transforms.disclosure.suppress.system import System

TOL = 1e-6


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
