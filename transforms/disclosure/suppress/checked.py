"""The checked search for large linked cubes (:func:`suppress_checked`): the cheap passes,
then rounds driven by an outside checker (in lpstat the independent audit)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from transforms.catalog import Cube
from transforms.disclosure.suppress.frame import _as_frame, _empty_pattern
from transforms.disclosure.suppress.passes import (
    _cheapest_in_rows, _close, _local_pass, _primary, _propagation_pass, _rank,
)
from transforms.disclosure.suppress.system import System, build_system

log = logging.getLogger(__package__)  # the package's logger, as before the split


def suppress_checked(cells: pd.DataFrame, cube: Cube, check, max_rounds: int = 40,
                     stats: dict | None = None, locked: np.ndarray | None = None,
                     forced: np.ndarray | None = None) -> tuple[pd.DataFrame, object]:
    """A faster search for large linked cubes, driven by an outside checker.

    Steps 1-3 of the global method (primary, local pass, propagation pass), then rounds in
    which ``check(pattern)`` -- in lpstat the independent audit -- names the frame rows whose
    withheld count (``bad``) or outcome (``bad_out``) it finds unprotected, and every
    relation such a cell sits in gets one more withheld term, the cheapest published one
    (greedy set cover, as in the propagation pass); a cell named a second time gets every
    term of its relations withheld (parents included); a cell named while it is published
    (the series audit does that) is withheld itself. Where a
    round's relations have no published term left, the round widens to the relations of
    the cells those relations hold. Withholding only grows, so the search ends; it stops with
    a RuntimeError only when nothing is left to withhold.

    ``check(pattern) -> (passed, result, bad, bad_out)``; returns (pattern, the passing
    check's result). A-priori knowledge from earlier releases (contract 3.7): ``locked``
    frame rows are published already with the same truth, so they are never chosen as
    secondary cells (withholding them protects nothing); ``forced`` rows were withheld
    before with the same truth and stay withheld. Loses more information than
    :func:`suppress` (no LP repair choosing the cheapest move over the whole system), but
    needs no LP of its own.
    """
    stats = {} if stats is None else stats
    if len(cells) == 0:
        pattern = _empty_pattern(cells)
        return pattern, check(pattern)[1]
    s = build_system(cells, cube)
    wh, prim, prim_out = _primary(s)
    _apply_prior(s, wh, locked, forced)
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
        log.info("%s: checked round %d: %d withheld, %s, %d + %d open (%.2f s)",
                 cube.underemne, rnd, int(wh.sum()), "passed" if passed else "open",
                 int(bad.sum()), int(bad_out.sum()), time.perf_counter() - t0)
        if passed:
            return pattern, result
        qs = np.unique(s.row_var[np.flatnonzero(bad)])
        if s.layers == 2:
            qs = np.r_[qs, s.n + np.unique(s.row_var[np.flatnonzero(bad_out)])]
        named = _withhold_named(s, wh, qs)
        qs = qs[~np.isin(qs, named)]  # the rest: withheld already, or locked
        again = np.zeros(len(wh), dtype=bool)
        again[qs] = seen[qs]
        seen[qs] = True
        added = len(named) + (_withhold_around(s, A, wh, qs, again, rank) if len(qs) else 0)
        if not added:
            raise RuntimeError("suppression could not protect every withheld cell "
                               f"({int(bad.sum() + bad_out.sum())} still open)")
        stats["checked_added"] = stats.get("checked_added", 0) + added
    raise RuntimeError(f"suppression did not converge in {max_rounds} checked rounds")


def _withhold_named(s: System, wh: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Quantities the checker names while they are published (the series audit names a cell
    of this release whose publication, next to an earlier release's, pins a withheld one:
    this year's running total beside last month's, say) are withheld themselves: no other
    term of their relations can hide a difference of two published numbers. Locked ones
    (published before with the same truth) are not: they are public already. Returns those
    withheld."""
    named = qs[~wh[qs]]
    if getattr(s, "locked", None) is not None:
        named = named[~s.locked[named]]
    if len(named):
        wh[named] = True
        _close(s, wh)
    return named


def _apply_prior(s: System, wh: np.ndarray, locked: np.ndarray | None,
                 forced: np.ndarray | None) -> None:
    """A-priori knowledge (contract 3.7): ``forced`` rows withheld; ``locked`` ones (published
    before with the same truth) recorded on the system as never to be chosen."""
    if forced is not None and forced.any():
        wh[np.unique(s.row_var[np.flatnonzero(forced)])] = True
        _close(s, wh)
    if locked is not None and locked.any():
        lk = np.zeros(len(wh), dtype=bool)
        lk[np.unique(s.row_var[np.flatnonzero(locked)])] = True
        if s.layers == 2:
            lk[s.n:] = lk[:s.n]
        s.locked = lk & ~wh


def _withhold_around(s: System, A, wh: np.ndarray, qs: np.ndarray, again: np.ndarray,
                     rank: np.ndarray) -> int:
    """One more withheld term in every relation of the open quantities ``qs`` (the cheapest
    published one; every term for those open ``again``), widening to the relations of those
    relations' cells where nothing is left to withhold. Returns how many were withheld."""
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
    return added
