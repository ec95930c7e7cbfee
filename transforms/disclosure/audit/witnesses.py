"""Carried points: feasible points of one audit, handed to the next audit of the same frame
(see the package docstring, *Carried points*)."""

from __future__ import annotations

import numpy as np


class Witnesses:
    """Feasible points of a cube's attacker system, carried from one audit to the next.

    The checked search (``guarded.py``) audits a growing pattern of the same cell frame
    round after round. A point feasible for one pattern stays feasible for any pattern that
    withholds more (the newly withheld cells keep the values they were published with), so
    the points one audit found decide most verdicts of the next without an LP. The audit
    never trusts them: every point is checked against the relations and bounds of the system
    it audits and used only where it holds, and only as an inner bound (a value it reaches
    is reachable; nothing is ever excluded by a point). Verdicts are therefore the same with
    or without witnesses; only the reported inner bounds ``lo``/``hi`` of a value may be
    wider with them. Points are kept per frame row, so they apply only to a frame with the
    same rows and measures.
    """

    def __init__(self) -> None:
        self.shape: tuple | None = None  # (frame rows, measures) the points belong to
        self.base: np.ndarray | None = None  # (measures x rows): published or determined
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (flat cells, points x cells)
        self.last: dict = {}  # the last audit's LPs solved and carried points used

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def candidates(self, flat: np.ndarray) -> list[np.ndarray]:
        """Candidate points over the given flat cells (measure * rows + row): point k
        combines every block's k-th point (its last where it has fewer), the base
        elsewhere. Components of one system are independent, so combinations stay feasible."""
        if not self.blocks:
            return []
        base = self.base.ravel()[flat]
        where = np.full(self.base.size, -1, dtype=np.int64)
        where[flat] = np.arange(len(flat))
        parts = []
        for cells, pts in self.blocks:
            pos = where[cells]
            hit = pos >= 0
            if hit.any():
                parts.append((pos[hit], pts[:, hit]))
        return combine(base, parts)


def combine(base: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Point k: ``base`` with every part's k-th point (its last where it has fewer) at its
    positions; a part is (positions, points x positions). Parts are independent components
    of one system, so combinations of their feasible points stay feasible."""
    if not parts:
        return []
    out = []
    for k in range(max(len(p) for _, p in parts)):
        x = base.copy()
        for pos, pts in parts:
            x[pos] = pts[min(k, len(pts) - 1)]
        out.append(x)
    return out
