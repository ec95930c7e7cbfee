"""Carried points of the series audit, by unknown identity (see ``audit_series``).

The checked search audits the series round after round with a growing pattern of the same
release (``guarded.series_pattern``). A point feasible for one round's system stays feasible
for the next, which withholds more: a cell withheld anew keeps the value it was published
with. The series system numbers its unknowns afresh on every build, so the points are kept
by the unknowns' identities (``audit_series._identities``), not by position.
"""

from __future__ import annotations

import numpy as np

from transforms.disclosure.audit.witnesses import combine


def _lookup(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Position of each of ``keys`` in ``sorted_keys``, -1 where absent."""
    if len(sorted_keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == keys, at, -1)


class SeriesPoints:
    """Feasible points of one series audit, for the next series audit of the same release.

    ``keep`` records, by identity, every value the audit knew (published or determined) and
    the points its components' LPs found; ``candidates(ids)`` assembles points over the
    unknowns of a component of the next audit (point k: every block's k-th point, its last
    where it has fewer; known values elsewhere; NaN where an identity was not there before,
    which the component then drops). As with :class:`Witnesses`, the audit checks every
    candidate against its own relations and bounds and uses it only where it holds, and
    only as an inner bound, so verdicts are the same with or without carried points; only
    the LPs needed to reach them (and the reported inner bounds) change.
    """

    def __init__(self, max_values: int = 6_000_000) -> None:
        #: numbers kept per component at the most, about (48 MB of float64): a component of
        #: 70,000 unknowns keeps some 85 points, one of 8,000 some 750
        self.max_values = max_values
        self.ids = np.zeros(0, dtype=np.uint64)  # sorted identities with a known value
        self.vals = np.zeros(0)
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted ids, points x ids)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def keep(self, ident: np.ndarray, info: dict) -> None:
        """The points of a finished audit: ``ident`` per system variable, ``info`` as
        :func:`solve_system` returns it with ``keep_points``."""
        values = np.asarray(info["values"], dtype=float)
        have = ~np.isnan(values)
        order = np.argsort(ident[have], kind="stable")
        self.ids = ident[have][order]
        self.vals = values[have][order]
        blocks = []
        for glob, pts in info["blocks"]:
            pts = np.asarray(pts, dtype=float)
            bid = ident[glob]
            o = np.argsort(bid, kind="stable")
            blocks.append((bid[o], pts[:, o]))
        self.blocks = blocks

    def candidates(self, ids: np.ndarray):
        """Candidate points over the unknowns with identities ``ids`` (see the class)."""
        if not self.blocks:
            return []
        ids = np.asarray(ids, dtype=np.uint64)
        base = np.full(len(ids), np.nan)
        at = _lookup(ids, self.ids)
        base[at >= 0] = self.vals[at[at >= 0]]
        parts = []
        for bid, pts in self.blocks:
            pos = _lookup(ids, bid)
            hit = pos >= 0
            if hit.any():
                parts.append((np.flatnonzero(hit), pts[:, pos[hit]]))
        return combine(base, parts)
