"""Choosing a cube's suppression pattern: the global suppressor, or the checked search.

The global suppressor (:func:`suppress.suppress`) loses the least information (its LP repair
picks the cheapest protecting move over the whole linked system) but its own LP checks grow
too slow on the large linked flow cube: AFSLAARS on the small demo store (37,560 cells, most
of them empty quarter x municipality x reason combinations) did not finish in 15 minutes,
and took 319 s for release 2022-06 (10,440 cells), while FRAFVURD (18,895 cells, but in
per-date systems of a few hundred) takes 10-20 s. So:

1. Cubes whose largest linked system (:func:`system_size`) has at most
   ``LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS`` cells (default 5,000) get the global suppressor,
   in a worker process with a time budget (``LPSTAT_SUPPRESSION_BUDGET_SECONDS``, default
   120).
2. Larger cubes, and any cube whose global run ran out of time or (it should not) failed the
   audit, get :func:`suppress.suppress_checked`: the same primary, local and propagation
   passes, then rounds in which the independent audit names every withheld value it finds
   unprotected and each relation of such a cell gets one more withheld term. A round's
   audit starts from the feasible points the previous round's audit found (still feasible,
   as the pattern only grows; checked again before use), so only the first is a full one.
3. Should that ever run out of cells to withhold, the whole cube is withheld.

Whatever the path, the pattern returned has passed the independent audit
(:mod:`audit`), whose result on exactly that pattern is returned with it for the release.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os

import numpy as np
import pandas as pd

from transforms.catalog import MAX_SMALL, Cube

log = logging.getLogger(__name__)
PASSED = "bestået"


def _budget() -> float:
    return float(os.environ.get("LPSTAT_SUPPRESSION_BUDGET_SECONDS", "120"))


def _global_max_cells() -> int:
    return int(os.environ.get("LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS", "5000"))


def system_size(cells: pd.DataFrame, cube: Cube) -> int:
    """Cells in the largest linked system: the whole cube for a flow cube, the largest
    status date for a stock cube (each status date is a system of its own)."""
    if cube.kind == "stock" and "statusdato" in cells.columns and len(cells):
        return int(cells.groupby("statusdato", dropna=False).size().max())
    return len(cells)


def _worker(cells, cube, queue):  # pragma: no cover - runs in a child process
    from transforms.disclosure.suppress import suppress

    queue.put(suppress(cells, cube))


def global_pattern(cells: pd.DataFrame, cube: Cube, budget: float) -> pd.DataFrame | None:
    """The global suppressor's pattern, or None when it did not finish within the budget."""
    if budget <= 0:
        return None
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(cells, cube, queue), daemon=True)
    proc.start()
    try:
        return queue.get(timeout=budget)
    except Exception:
        log.warning("%s: the global suppressor did not finish in %.0f s; using the checked "
                    "search", cube.underemne, budget)
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)


def _failing_rows(cells: pd.DataFrame, cube: Cube, result: dict) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose count (first) or outcome (second) the audit did not find ok."""
    bad = np.zeros(len(cells), bool)
    bad_out = np.zeros(len(cells), bool)
    for c in result.get("cells", []):
        if c.get("ok", True):
            continue
        row = c.get("raekke")
        if row is None:  # an audit without row positions: treat the whole grouping as open
            bad |= (cells["gruppering"] == c["gruppering"]).to_numpy()
            continue
        (bad if c["measure"] == cube.value_column else bad_out)[row] = True
    return bad, bad_out


def _every_cell(cells: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """Every cell withheld; ``aarsag`` as the suppressor gives it (tom, primær, sekundær)."""
    every = np.ones(len(cells), bool)
    n = cells["n_individer"].to_numpy()
    value = cells[cube.value_column].to_numpy()
    aarsag = np.where(value == 0, "tom",
                      np.where((n >= 1) & (n <= MAX_SMALL), "primær", "sekundær")).astype(object)
    return pd.DataFrame({"undertrykt": every, "undertrykt_udfald": every, "aarsag": aarsag},
                        index=cells.index)


def guarded_pattern(cells: pd.DataFrame, cube: Cube, audit_fn,
                    budget: float | None = None) -> tuple[pd.DataFrame, str, dict]:
    """A suppression pattern that passes ``audit_fn``: (pattern, method, audit result).

    ``audit_fn(published, cube, witnesses=...)``: :func:`audit.audit`; the checked search
    hands every round's audit the points of the round before (:class:`audit.Witnesses`).
    method: ``global`` (the global suppressor), ``kontrolleret`` (the checked search) or
    ``alt`` (every cell withheld). The audit result is ``audit_fn``'s on the pattern.
    """
    from transforms.disclosure.suppress import suppress_checked
    from transforms.publication import published_cells

    budget = _budget() if budget is None else budget
    size = system_size(cells, cube)
    if size <= _global_max_cells():
        pattern = global_pattern(cells, cube, budget)
        if pattern is not None:
            result = audit_fn(published_cells(cells, pattern, cube), cube)
            if result["verdict"] == PASSED:
                return pattern, "global", result
            log.error("%s: the global suppressor's pattern failed the audit (%s values); "
                      "using the checked search", cube.underemne, result.get("failed"))
    else:
        log.info("%s: a linked system of %d cells, more than the global suppressor's limit; "
                 "using the checked search", cube.underemne, size)

    from transforms.disclosure.audit import Witnesses

    carried = Witnesses()  # each round's audit starts from the points of the one before

    def check(pattern: pd.DataFrame):
        result = audit_fn(published_cells(cells, pattern, cube), cube, witnesses=carried)
        bad, bad_out = _failing_rows(cells, cube, result)
        return result["verdict"] == PASSED, result, bad, bad_out

    try:
        pattern, result = suppress_checked(cells, cube, check)
        return pattern, "kontrolleret", result
    except RuntimeError as exc:
        log.warning("%s: withholding every cell (%s)", cube.underemne, exc)
    pattern = _every_cell(cells, cube)
    return pattern, "alt", audit_fn(published_cells(cells, pattern, cube), cube)


__all__ = ["guarded_pattern", "global_pattern"]
