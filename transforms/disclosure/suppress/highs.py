"""HiGHS as the suppressor's LPs use it: single-threaded with a fixed seed; re-solves that
change only the objective run primal simplex from the last basis.

Every solve goes through :func:`_solve`, which counts the work (simplex, interior point and
crossover iterations, plus one per solve) in ``WORK``. Iteration counts of a single-threaded
HiGHS with a fixed seed are the same on every run of the same model, so a limit on them
(``guarded.global_pattern``) is a deterministic budget: unlike a time limit, it gives the
same pattern however busy the machine is."""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp

INF = highspy.kHighsInf


def _highs(primal: bool = False) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    if primal:
        # re-solves change the objective only: the basis stays primal feasible, so primal
        # simplex from it takes a handful of iterations where dual simplex restarts
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)
    return h


def _pass(h: highspy.Highs, cost, lo, hi, A: sp.csc_matrix, rlo, rhi, maximize=False) -> None:
    lp = highspy.HighsLp()
    lp.num_col_ = A.shape[1]
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(lo, dtype=float)
    lp.col_upper_ = np.asarray(hi, dtype=float)
    lp.row_lower_ = np.asarray(rlo, dtype=float)
    lp.row_upper_ = np.asarray(rhi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = A.shape[1]
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h.passModel(lp)


class LPError(RuntimeError):
    pass


class WorkBudgetExceeded(Exception):
    """The suppressor's LPs took more than ``WORK["limit"]`` units of work. Not a
    RuntimeError: a method that fails with :class:`LPError` may give way to another, but an
    exhausted budget ends the whole suppressor run (else where it ran out would shape the
    pattern)."""


#: work done by this process's suppressor LPs, and the most it may do (None: no limit)
WORK: dict = {"done": 0, "limit": None}


def _solve(h: highspy.Highs) -> None:
    """``h.run()``, counted in ``WORK``; raises :class:`WorkBudgetExceeded` past the limit."""
    h.run()
    info = h.getInfo()
    WORK["done"] += 1 + max(0, info.simplex_iteration_count) + max(0, info.ipm_iteration_count) \
        + max(0, info.crossover_iteration_count)
    if WORK["limit"] is not None and WORK["done"] > WORK["limit"]:
        raise WorkBudgetExceeded(f"{WORK['done']} units of LP work, limit {WORK['limit']}")


def _run(h: highspy.Highs) -> str:
    _solve(h)
    st = h.getModelStatus()
    bad = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
    if st in bad:
        # the attacker's LP always contains the true values; retry from scratch once
        h.clearSolver()
        _solve(h)
        st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if st == highspy.HighsModelStatus.kUnbounded:
        return "unbounded"
    raise LPError(f"HiGHS: {h.modelStatusToString(st)}")
