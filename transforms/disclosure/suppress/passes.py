"""Primary suppression and the cheap passes (steps 1-3 of the package docstring): the
local pass and the propagation pass, both choosing the terms to withhold by a greedy set
cover over the relations that disclose."""

from __future__ import annotations

import numpy as np

from transforms.catalog import MAX_SMALL, PROTECTION_UPPER, PROTECTION_WIDTH
from transforms.disclosure.suppress.bounds import propagate
from transforms.disclosure.suppress.rule import TOL
from transforms.disclosure.suppress.system import System


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
