"""Disclosure control with a time budget: the global suppressor, or a guarded fallback.

The global suppressor (:mod:`suppress`) is the method of record, but on large linked systems
it can take longer than a monthly run can wait. So it runs in a worker process with a time
budget; when the budget runs out, a conservative fallback takes over: primary cells and empty
cells, then rounds in which every withheld cell that the independent audit can still narrow
down gets all its siblings withheld (the other cells of each table row it sits in), and as a
last resort the whole cube. The audit decides in every case, so the fallback can lose more
information than necessary but can never publish a recoverable cell.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os

import numpy as np
import pandas as pd

from transforms.catalog import ATTRIBUTES, HIERARCHIES, MAX_SMALL, Cube, carried_attributes

log = logging.getLogger(__name__)
DEFAULT_BUDGET_SECONDS = float(os.environ.get("LPSTAT_SUPPRESSION_BUDGET_SECONDS", "300"))


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
        log.warning("%s: the global suppressor did not finish in %.0f s; using the guarded "
                    "fallback", cube.underemne, budget)
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)


def _primary(cells: pd.DataFrame, cube: Cube) -> tuple[np.ndarray, np.ndarray]:
    n = cells["n_individer"].to_numpy()
    value = cells[cube.value_column].to_numpy()
    hide = ((n >= 1) & (n <= MAX_SMALL)) | (value == 0)
    hide_outcome = hide.copy()
    if "antal_afbrudt" in cells.columns:
        out = cells["antal_afbrudt"].to_numpy()
        rest = value - out
        hide_outcome |= ((out >= 1) & (out <= MAX_SMALL)) | ((rest >= 0) & (rest <= MAX_SMALL))
    return hide, hide_outcome


def _sibling_groups(cells: pd.DataFrame, cube: Cube) -> list[np.ndarray]:
    """For each attribute of each grouping: group ids of cells that differ only in it."""
    out = []
    base = ["gruppering"] + (["statusdato"] if cube.kind == "stock" else [])
    for attr in cube.attributes:
        if ATTRIBUTES[attr].alias_of:
            continue
        h = ATTRIBUTES[attr].hierarchy
        drop = ({ATTRIBUTES[a].column for a in HIERARCHIES[h][:HIERARCHIES[h].index(attr) + 1]}
                if h else {ATTRIBUTES[attr].column})
        if h == "Tid" and cube.kind == "stock":
            continue  # time is not additive in a stock
        keep = base + [c for c in cube.columns if c not in drop
                       and not (ATTRIBUTES[_key(c)].alias_of)]
        out.append(cells.groupby(keep, dropna=False, sort=False).ngroup().to_numpy())
    return out


def _key(column: str) -> str:
    return next(k for k, a in ATTRIBUTES.items() if a.column == column)


def _failing_rows(cells: pd.DataFrame, cube: Cube, result: dict) -> np.ndarray:
    bad = [c for c in result.get("cells", []) if not c.get("ok", True)]
    if not bad:
        return np.zeros(len(cells), bool)
    idx = {}
    cols = cube.columns
    for pos, row in enumerate(cells[["gruppering"] + cols].itertuples(index=False)):
        idx[(row[0],) + tuple(v for v in row[1:])] = pos
    hit = np.zeros(len(cells), bool)
    for c in bad:
        members = c.get("members", {})
        key = (c["gruppering"],) + tuple(members.get(col) for col in cols)
        pos = idx.get(key)
        if pos is None:  # fall back: every cell of that grouping
            hit |= (cells["gruppering"] == c["gruppering"]).to_numpy()
        else:
            hit[pos] = True
    return hit


def guarded_pattern(cells: pd.DataFrame, cube: Cube, audit_fn, rounds: int = 4,
                    budget: float = DEFAULT_BUDGET_SECONDS) -> tuple[pd.DataFrame, str]:
    """A suppression pattern that passes ``audit_fn``; returns (pattern, method)."""
    from transforms.publication import published_cells

    pattern = global_pattern(cells, cube, budget)
    if pattern is not None:
        return pattern, "global"
    hide, hide_outcome = _primary(cells, cube)
    groups = _sibling_groups(cells, cube)
    value = cells[cube.value_column].to_numpy()
    hide = _local_pass(value, hide, groups)
    hide_outcome |= hide
    for _ in range(rounds):
        pat = _as_pattern(cells, hide, hide_outcome)
        result = audit_fn(published_cells(cells, pat, cube), cube)
        if result["verdict"] == "bestået":
            return pat, "fallback"
        failing = _failing_rows(cells, cube, result)
        add = np.zeros(len(cells), bool)
        for g in groups:
            touched = np.unique(g[failing])
            add |= np.isin(g, touched)
        if not (add & ~hide).any():
            break
        hide = _local_pass(value, hide | add, groups)
        hide_outcome |= hide
    log.warning("%s: withholding every cell (the fallback could not satisfy the audit)",
                cube.underemne)
    every = np.ones(len(cells), bool)
    return _as_pattern(cells, every, every), "fallback-all"


def _local_pass(value: np.ndarray, hide: np.ndarray, groups: list[np.ndarray],
                max_rounds: int = 100) -> np.ndarray:
    """Within every table row (cells that differ in one attribute), give each withheld
    non-empty cell enough withheld partners: the withheld total reaches 4, leaves at least 3
    beside each small cell and at least 1 beside each large one; else withhold the row's
    smallest published non-empty cell. Repeated to a fixed point."""
    hide = hide.copy()
    pos = value > 0
    for _ in range(max_rounds):
        changed = False
        for g in groups:
            w = hide & pos
            df = pd.DataFrame({"g": g, "v": value, "w": w,
                               "small": np.where(w & (value <= MAX_SMALL), value, 0),
                               "big": np.where(w & (value > MAX_SMALL), value, 0),
                               "cand": np.where(~hide & pos, value, np.inf)})
            agg = df.groupby("g").agg(n=("w", "sum"), s=("v", lambda x: 0), small=("small", "max"),
                                      big=("big", "max"), cand=("cand", "min"))
            agg["s"] = df.assign(vw=np.where(w, value, 0)).groupby("g")["vw"].sum()
            bad = (agg["n"] > 0) & ((agg["s"] < 4) | ((agg["small"] > 0) & (agg["s"] - agg["small"] < 3))
                                    | ((agg["big"] > 0) & (agg["s"] - agg["big"] < 1)))
            bad &= np.isfinite(agg["cand"])
            if not bad.any():
                continue
            target = agg.loc[bad, "cand"]
            row_target = pd.Series(g).map(target).to_numpy()
            pick = (~hide) & pos & (value == row_target)
            # one cell per row: the first smallest candidate
            first = pd.Series(np.where(pick, np.arange(len(g)), len(g))).groupby(g).transform("min")
            chosen = pick & (np.arange(len(g)) == first.to_numpy())
            if chosen.any():
                hide |= chosen
                changed = True
        if not changed:
            break
    return hide


def _as_pattern(cells, hide, hide_outcome) -> pd.DataFrame:
    aarsag = np.where(hide, "sekundær", None)
    return pd.DataFrame({"undertrykt": hide, "undertrykt_udfald": hide_outcome | hide,
                         "aarsag": aarsag}, index=cells.index)


__all__ = ["guarded_pattern", "global_pattern", "carried_attributes"]
