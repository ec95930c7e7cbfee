"""HiGHS as the audit uses it: single-threaded, deterministic, interior point with crossover
for the seed (its basis starts the exact LPs), interior point alone for the goal LPs (they
need a point, not a basis: ``component._lp_task``), hot-started primal simplex for the exact
LPs that follow."""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp


def _highs(interior: bool = False) -> highspy.Highs:
    """A single-threaded HiGHS instance. ``interior``: interior point (IPX) with crossover to
    a basic solution, some 4x faster than simplex on the seed and goal LPs of a national
    cube (their many ties make simplex pivot degenerately); the basis it ends with serves
    the hot-started simplex LPs that follow."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("simplex_scale_strategy", 0)  # the matrix is ±1: scaling only costs
    if interior:
        h.setOptionValue("solver", "ipx")
        h.setOptionValue("run_crossover", "on")
    return h


def _run_interior(h: highspy.Highs) -> str:
    """Run a model set up by ``_highs(interior=True)``; where the interior point method ends
    without an optimum (e.g. on an infeasible system) the simplex method decides."""
    h.run()
    st = _status(h)
    if st != "optimal":
        h.setOptionValue("solver", "simplex")
        h.clearSolver()
        h.run()
        st = _status(h)
    return st


def _primal_hot(h: highspy.Highs) -> None:
    """Later solves of ``h``: primal simplex from the current basis (only costs change)."""
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("presolve", "off")
    h.setOptionValue("simplex_strategy", 4)


def _pass(h: highspy.Highs, A: sp.csc_matrix, cost, lo, hi, rlo, rhi) -> None:
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = A.shape[1]
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.where(np.isinf(lo), -inf, lo).astype(float)
    lp.col_upper_ = np.where(np.isinf(hi), inf, hi).astype(float)
    lp.row_lower_ = np.where(np.isinf(rlo), -inf, rlo).astype(float)
    lp.row_upper_ = np.where(np.isinf(rhi), inf, rhi).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = A.shape[1]
    lp.a_matrix_.num_row_ = A.shape[0]
    h.passModel(lp)


def _status(h: highspy.Highs) -> str:
    st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if st == highspy.HighsModelStatus.kUnbounded:
        return "unbounded"
    if st == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    return "other"
