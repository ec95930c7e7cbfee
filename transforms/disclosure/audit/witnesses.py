"""Carried points: feasible points of one audit, handed to the next audit of the same frame
(see the package docstring, *Carried points*)."""

from __future__ import annotations

import numpy as np

from transforms.disclosure.audit.rule import probe_work


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
        #: whether probes pay on this frame, counted over every audit that used these
        #: witnesses (``component._probe_pays``): a search's last audit need not try them
        #: again where its first found they do not
        self.probe_work: dict = probe_work()
        #: (cube id, the cell-naming columns it was built from, frame.Structure)
        self._structure: tuple | None = None

    def structure_for(self, frame, cube):
        """The structure kept by :meth:`keep_structure` where ``frame`` has exactly the cells
        it was built from (the same columns naming them, value for value, in the same
        order), else None."""
        from transforms.disclosure.audit.frame import cell_columns

        if self._structure is None:
            return None
        cube_id, names, st = self._structure
        if cube_id != cube.id or not names.equals(
                frame[cell_columns(frame, cube)].reset_index(drop=True)):
            return None
        return st

    def keep_structure(self, frame, cube, st) -> None:
        from transforms.disclosure.audit.frame import cell_columns

        self._structure = (cube.id, frame[cell_columns(frame, cube)].reset_index(drop=True)
                           .copy(), st)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def candidates(self, flat: np.ndarray):
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


def combine(base: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]]):
    """Point k: ``base`` with every part's k-th point (its last where it has fewer) at its
    positions; a part is (positions, points x positions). Parts are independent components
    of one system, so combinations of their feasible points stay feasible. Yielded one at a
    time: the audit checks each and keeps those that hold, so a large component's
    candidates (national AFSLAARS: 240-400 points of 17,000 unknowns, 30-55 MB) are never
    all held at once beside the points they come from."""
    if not parts:
        return
    for k in range(max(len(p) for _, p in parts)):
        x = base.copy()
        for pos, pts in parts:
            x[pos] = pts[min(k, len(pts) - 1)]
        yield x


#: at most this many points per block are carried to the next release (:func:`deviations`)
CARRY_MAX_POINTS = 128


def carried_choice(pts: np.ndarray, k: int) -> np.ndarray:
    """Which ``k`` of a block's points (points x cells) to carry, in their order.

    A point decides a value where it reaches the value's lowest or highest among the points:
    that is what the next release's first audit needs of them. So first, greedily, the point
    that reaches the most (cell, lowest) and (cell, highest) pairs not yet reached by a
    chosen one (ties to the earlier point), over the cells where the points differ; then,
    while there is room, the others evenly spread, first and last kept (what was carried
    before session 17). Deterministic: the same points give the same choice.

    Measured on national AFSLAARS, 2026-10 after 2026-09 (2026-09 built with each choice,
    the same search otherwise): 2026-09's final audit left 285 points in the largest block.
    The next release's first audit had 2,384 of its 10,997 values open after 128 points
    evenly spread, 1,133 after all 285, and 1,214 after these 128: that audit 8.3 s -> 7.1 s
    (all 285: 7.7 s), AFSLAARS's whole search 14.1 s -> 12.8 s, the same pattern; the
    stored points 6.3 MB -> 6.9 MB (all 285: 11.8 MB)."""
    n = len(pts)
    if n <= k:
        return np.arange(n)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    varies = hi - lo > 1e-9
    # (pair, point): the point reaches the pair; pairs as rows, so a pair's points are
    # contiguous
    reach = np.concatenate([np.abs(pts[:, varies] - lo[varies]).T <= 1e-9,
                            np.abs(pts[:, varies] - hi[varies]).T <= 1e-9])
    gain = reach.sum(axis=0, dtype=np.int64)  # pairs each point reaches, not yet reached
    open_ = np.ones(len(reach), dtype=bool)
    taken = np.zeros(n, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < k:
        best = int(np.argmax(np.where(taken, -1, gain)))  # the first of the largest
        if taken[best] or gain[best] <= 0:
            break
        chosen.append(best)
        taken[best] = True
        new = np.flatnonzero(reach[:, best] & open_)
        open_[new] = False
        gain -= reach[new].sum(axis=0, dtype=np.int64)  # only the pairs just reached count
    if len(chosen) < k:
        rest = np.setdiff1d(np.arange(n), chosen)
        even = np.unique(np.linspace(0, len(rest) - 1, k - len(chosen)).round().astype(int))
        chosen.extend(rest[even].tolist())
    return np.sort(np.array(chosen, dtype=np.int64))


def deviations(w: Witnesses, keys: np.ndarray, truth: dict[str, np.ndarray],
               max_points: int = CARRY_MAX_POINTS) -> dict[str, np.ndarray] | None:
    """The points of ``w`` as deviations from the true values, by cell key: arrays for
    ``numpy.savez`` (no pickled objects), what :func:`carried_over` turns into points of the
    next release's frame. ``noegler``: the cell keys used; per block ``b``: ``r<b>`` the key
    of each of its cells (an index into ``noegler``), ``m<b>`` its measure (an index into
    ``w.shape[1]``), ``d<b>`` its points minus the cells' true values (points x cells).
    ``keys``: the frame rows' cell keys; ``truth``: per measure, the frame rows' true
    values. At most ``max_points`` points a block (:func:`carried_choice`). None where ``w``
    holds no points of such a frame. Consumes ``w``, which is left empty: a block within the cap
    becomes its deviations in place, so a national search's points (tens of MB) are not
    copied once more at its end."""
    if not w.blocks or w.shape is None or w.shape[0] != len(keys):
        return None
    n, measures = w.shape
    if any(m not in truth for m in measures):
        return None
    true = np.stack([np.asarray(truth[m], dtype=float) for m in measures])
    rows = [np.divmod(np.asarray(flat, dtype=np.int64), n) for flat, _ in w.blocks]
    used, inverse = np.unique(np.concatenate([row for _, row in rows]), return_inverse=True)
    out = {"noegler": np.asarray(keys, dtype=str)[used]}
    at = 0
    for b, ((flat, pts), (mi, row)) in enumerate(zip(w.blocks, rows)):
        out[f"r{b}"] = inverse[at:at + len(row)].astype(np.int32)
        out[f"m{b}"] = mi.astype(np.int16)
        dev = np.asarray(pts, dtype=float)
        if len(dev) > max_points:
            dev = dev[carried_choice(dev, max_points)]
        dev -= true[mi, row]
        out[f"d{b}"] = dev
        at += len(row)
    w.blocks, w.shape, w.base = [], None, None
    return out


def carried_over(stored: dict[str, np.ndarray] | None, keys: np.ndarray,
                 truth: dict[str, np.ndarray], measures: tuple[str, ...]) -> Witnesses | None:
    """Points for the first audit of a new release's frame, from the deviations the previous
    release's final audit left (:func:`deviations`, its ``measures``): each point is this
    frame's true values plus the old point's deviation at the cell with the same key (none at
    a new cell).

    Why they are often feasible: a deviation of a point from the truth solves the previous
    system's relations with zero right-hand side. Under the series rule a cell withheld
    before stays withheld (forced where its truth is unchanged, and the search keeps the
    rest), a relation of this frame over old cells is the old one or the old one with new
    cells added (a month opens a quarter), and new cells deviate by nothing; so the shifted
    deviation meets this frame's relations too. Where it does not (a cell published now
    that was withheld and deviated), the audit drops the point for that component: every
    point is checked before use and only ever gives inner bounds, so verdicts never depend
    on these points; they only spare the LPs that would find similar ones. None where
    nothing maps. ``stored`` comes from the warehouse: its arrays are checked for shape
    before use, so a damaged entry gives no points rather than an error."""
    if not stored or "noegler" not in stored:
        return None
    n = len(keys)
    pos = {k: i for i, k in enumerate(keys)}
    at = np.array([pos.get(k, -1) for k in stored["noegler"].tolist()], dtype=np.int64)
    true = np.stack([np.asarray(truth[m], dtype=float) for m in measures])
    w = Witnesses()
    w.shape, w.base = (n, tuple(measures)), true.copy()
    b = 0
    while f"d{b}" in stored:
        r, m, d = stored.get(f"r{b}"), stored.get(f"m{b}"), stored[f"d{b}"]
        b += 1
        if r is None or m is None or r.ndim != 1 or m.shape != r.shape or d.ndim != 2 \
                or d.shape[1] != len(r) or not np.issubdtype(r.dtype, np.integer) \
                or not np.issubdtype(m.dtype, np.integer) or (len(r) and (
                    r.min() < 0 or r.max() >= len(at) or m.min() < 0)):
            continue  # not what deviations() writes: no points from this block
        row = at[r]
        mi = m.astype(np.int64)
        hit = (row >= 0) & (mi < len(measures))
        if hit.any():
            w.blocks.append((mi[hit] * n + row[hit], true[mi[hit], row[hit]] + d[:, hit]))
    return w if w.blocks else None
