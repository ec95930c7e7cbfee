"""Components already solved, by a digest of their whole system (the series audit reuses
them release after release; see :func:`solve.solve_system`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from transforms.disclosure.audit.component import _Component


class ComponentCache:
    """Results of solved components by digest (see :func:`solve_system`).

    ``ident(variables) -> uint64`` gives each system variable an identity that is the same in
    every system the cache serves (the series audit's unknown keys), so the digest does not
    depend on how a build happens to number its variables. Only components of at least
    ``min_size`` unknowns are kept (smaller ones solve faster than they hash). ``entries``:
    loaded from a persistent store (the warehouse) and added to here; ``fresh``: the digests
    added by this process; ``used``: those the last solve met (what is worth keeping)."""

    def __init__(self, ident, entries: dict | None = None, min_size: int = 64):
        self.ident = ident
        self.entries = dict(entries or {})
        self.fresh: set[str] = set()
        self.min_size = min_size
        self.hits = 0
        self.misses = 0
        self.used: set[str] = set()  # the digests the last solve met (begin() resets)

    def begin(self) -> None:
        self.used = set()

    def get(self, digest: str):
        v = self.entries.get(digest)
        if v is None:
            self.misses += 1
        else:
            self.used.add(digest)
        return v

    def put(self, digest: str, results: dict) -> None:
        self.used.add(digest)
        if digest not in self.entries:
            self.entries[digest] = results
            self.fresh.add(digest)


def _component_digest(ident: np.ndarray, comp: "_Component") -> tuple[str, list[str]]:
    """A digest of a component's whole system in a canonical form (unknowns ordered by
    identity, relations and targets by content), and per target a key of its own form."""
    import hashlib

    ident = np.asarray(ident, dtype=np.uint64)
    perm = np.argsort(ident, kind="stable")

    def canon(M: sp.csr_matrix, rhs: np.ndarray) -> list[bytes]:
        """Each row as bytes: its unknowns' identities in order, coefficients, right side."""
        C = M.tocsr()[:, perm].tocsr()
        C.sort_indices()
        rows = []
        for r in range(C.shape[0]):
            a, e = C.indptr[r], C.indptr[r + 1]
            rows.append(ident[perm[C.indices[a:e]]].tobytes() + C.data[a:e].tobytes()
                        + np.float64(rhs[r]).tobytes())
        return rows

    h = hashlib.sha256()
    h.update(ident[perm].tobytes())
    h.update(np.asarray(comp.lb, float)[perm].tobytes())
    h.update(np.where(np.isinf(comp.ub), -1.0, comp.ub)[perm].tobytes())
    for row in sorted(canon(comp.A, comp.b)):
        h.update(hashlib.blake2b(row, digest_size=16).digest())
    pairs = sorted((int(ident[e]), int(ident[a])) for e, a in np.asarray(comp.ineq).tolist())
    h.update(repr(pairs).encode())
    tk = [hashlib.blake2b(r, digest_size=16).hexdigest()
          for r in canon(comp.T, np.asarray(comp.consts, float))]
    for k in sorted(tk):
        h.update(k.encode())
    return h.hexdigest(), tk
