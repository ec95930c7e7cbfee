"""The audit of a cube's published frame (:func:`audit`) and of every cube of a release
(:func:`audit_release`): the verdict a release carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from transforms import catalog
from transforms.catalog import Cube
from transforms.disclosure.audit.frame import _Audit
from transforms.disclosure.audit.rule import FAILED, PASSED, TOL, _num_out, probe_work
from transforms.disclosure.audit.solve import solve_system
from transforms.disclosure.audit.witnesses import Witnesses

METHOD = (
    "Lineær programmering (HiGHS) over alle offentliggjorte tal i kuben: for hver "
    "diskretioneret værdi min og max under alle offentliggjorte relationer (marginer, "
    "hierarkiniveauer, samme statusdato i bestandskuber) og ikke-negativitet. "
    f"LP-grænser afrundes indad til heltal med tolerance {TOL:g}: lo = ceil(lo_lp - {TOL:g}), "
    f"hi = floor(hi_lp + {TOL:g}). Dommen bevises med mulige løsninger (lo/hi: værdier "
    "angriberen ikke kan udelukke) og beviste grænser (lo_bound/hi_bound); exact = true: "
    "intervallet er beregnet eksakt. hi/hi_bound = null: ubegrænset."
)


def audit(published: pd.DataFrame, cube: Cube, *, outcome_of_withheld: bool = False,
          exact: bool = False, workers: int | None = None,
          witnesses: Witnesses | None = None) -> dict:
    """Audit one cube's published cells (count measures null where withheld).

    Returns a JSON-serialisable, deterministic dict::

        {"cube", "verdict" ("bestået" | "ikke bestået"), "withheld" (rows with a withheld
         measure), "checked" (withheld values checked), "failed" (values not ok),
         "exact" (values with an exact interval), "consistency_errors": [...],
         "cells": [{"gruppering", "statusdato", "members", "measure", "lo", "hi", "ok",
                    "exact", "lo_bound", "hi_bound"}], "hundrede_procent": [...], "metode"}

    ``outcome_of_withheld``: also check the outcome count (and count minus outcome) of cells
    whose count is withheld (FRAFAFBRUD); by default only outcome-withheld cells (count
    published, outcome null) have their outcome checked. ``exact``: exact LP intervals for
    every withheld value (slow on national cubes); by default only where needed or cheap.
    Cells that are not ok carry ``raekke``, their row position in ``published`` (a passing
    audit, the only kind a release publishes, has none). ``witnesses``: points carried from
    an earlier audit of the same frame (:class:`Witnesses`), checked before use, and replaced
    by this audit's points on return; it also keeps the frame's structure (variables and
    relations, which depend only on the cells: ``frame.Structure``) for the next audit of
    the same cells.
    """
    a = _Audit(published, cube, outcome_of_withheld)
    st = witnesses.structure_for(published, cube) if witnesses is not None else None
    if st is None:
        st = a.build_structure()
        if witnesses is not None:
            witnesses.keep_structure(published, cube, st)
    a.adopt(st)  # its errors: the cells' now, the relations' after the numbers' (as always)
    A = st.A
    a.read_values()
    a.read_known()
    a.check_frame()
    a.errors += st.relation_errors
    hundred = a.hundred_percent()
    nm, nv = len(a.measures), a.n_var
    targets = a.targets()
    objs = sorted({obj for _, _, obj in targets}, key=lambda o: [(g, c) for c, g in o])
    tindex = {o: k for k, o in enumerate(objs)}
    shape = (a.n, tuple(a.measures))
    carry = witnesses is not None and witnesses.shape == shape

    pairs = [(v, k * nv + v) for k in range(1, nm) for v in range(nv)]
    res, info = solve_system(
        A, a.known, objs, pairs, _Report(a, targets, tindex), exact=exact, workers=workers,
        hints_for=(lambda glob: witnesses.candidates(_flat_of(a, glob))) if carry else None,
        keep_points=witnesses is not None,
        probe_work=witnesses.probe_work if witnesses is not None else probe_work())
    if witnesses is not None:  # this audit's points, for the next audit of this frame
        _keep_points(witnesses, a, shape, info)

    cells, failed, n_exact = _cells(a, targets, res, tindex)
    withheld = int(np.logical_or.reduce([np.isnan(a.values[c]) for c in a.measures]).sum()) \
        if a.n else 0
    errors = a.errors
    verdict = PASSED if failed == 0 and not errors else FAILED
    return {
        "cube": cube.id,
        "verdict": verdict,
        "withheld": withheld,
        "checked": len(cells),
        "failed": int(failed),
        "exact": int(n_exact),
        "consistency_errors": errors,
        "cells": cells,
        "hundrede_procent": hundred,
        "metode": METHOD,
    }


def _flat_of(a: _Audit, glob: np.ndarray) -> np.ndarray:
    """The frame cells (measure * rows + row) of system variables."""
    mi_, v_ = np.divmod(glob, a.n_var)
    return mi_ * a.n + a.var_first_row[v_]


class _Report:
    """Where :func:`solve_system` reports errors: as consistency errors of the frame."""

    def __init__(self, a: _Audit, targets: list, tindex: dict):
        self.a, self.targets, self.tindex = a, targets, tindex

    def relation_error(self, r: int, kind: str, residual: float) -> None:
        a, nv = self.a, self.a.n_var
        mi, rel = divmod(int(r), a.n_rel)
        pv = int(a.rel_parent[rel])
        col = a.measures[mi]
        extra = {"measure": col,
                 "children_gruppering": a.gkey_of_var(int(a.rel_child[rel]), pv)}
        pval = a.known[mi * nv + pv]
        if kind == "margin_mismatch":
            extra["value"] = _num_out(pval)
            extra["sum_children"] = _num_out(pval - residual)
        else:
            extra["residual"] = _num_out(residual)
        a.error(kind, int(a.var_first_row[pv]), **extra)

    def outcome_error(self, ge: int, ga: int, va: float, ve: float) -> None:
        a = self.a
        a.error("outcome_exceeds_count", int(a.var_first_row[ge]),
                measure=a.measures[ga // a.n_var], value=_num_out(va), count=_num_out(ve))

    def infeasible(self, ts: list[int]) -> None:
        row0 = min(i for i, _, obj in self.targets if self.tindex[obj] in set(ts))
        self.a.error("infeasible", row0, detail="the published numbers admit no non-negative "
                     "solution for this linked group of withheld cells")


def _keep_points(witnesses: Witnesses, a: _Audit, shape: tuple, info: dict) -> None:
    """This audit's points (and determined values), for the next audit of this frame."""
    nm, nv = len(a.measures), a.n_var
    full = info["values"]
    base = np.full((nm, a.n), np.nan)
    has_var = a.row_var >= 0
    for mi in range(nm):
        base[mi, has_var] = full[mi * nv + a.row_var[has_var]]
    witnesses.shape, witnesses.base = shape, base
    witnesses.blocks = [(_flat_of(a, g), pts) for g, pts in info["blocks"]]
    witnesses.last = {"lps": info["lps"], "hints_used": info["hints_used"]}


def _cells(a: _Audit, targets: list, res: list[dict], tindex: dict):
    """The audit's cells (one per withheld value, frame order), values failed, exact."""
    cells = []
    failed = 0
    n_exact = 0
    for i, label, obj in targets:
        r = res[tindex[obj]]
        failed += not r["ok"]
        n_exact += bool(r["exact"])
        cells.append({**a.cell(i), "measure": label, "lo": r["lo"], "hi": r["hi"], "ok": r["ok"],
                      "exact": r["exact"], "lo_bound": r["lo_bound"], "hi_bound": r["hi_bound"]})
        if not r["ok"]:
            cells[-1]["raekke"] = int(i)  # frame row, for the suppressor's search loop
    return cells, failed, n_exact


def audit_release(cells_by_cube: dict[str, pd.DataFrame], **kwargs) -> dict:
    """Audit every cube of a release (keyed by underemne, or by cube id); overall verdict."""
    by_id = {c.id: c for c in catalog.CUBES.values()}
    chosen: dict[str, tuple[Cube, pd.DataFrame]] = {}
    for key, frame in cells_by_cube.items():
        cube = catalog.CUBES.get(key) or by_id.get(key)
        if cube is None:
            raise KeyError(f"unknown cube {key!r}")
        chosen[cube.underemne] = (cube, frame)
    results = {}
    for underemne in catalog.CUBES:  # catalogue order
        if underemne in chosen:
            cube, frame = chosen[underemne]
            results[underemne] = audit(frame, cube, **kwargs)
    ok = all(r["verdict"] == PASSED for r in results.values())
    return {
        "verdict": PASSED if ok else FAILED,
        "withheld": sum(r["withheld"] for r in results.values()),
        "checked": sum(r["checked"] for r in results.values()),
        "failed": sum(r["failed"] for r in results.values()),
        "consistency_errors": sum(len(r["consistency_errors"]) for r in results.values()),
        "metode": METHOD,
        "cubes": results,
    }
