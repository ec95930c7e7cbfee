"""The solver of one connected component (steps 4 and 5 of the package docstring).

A :class:`_Component` holds the component's relations, bounds and targets; its seed LP,
goal rounds and exact LPs turn outer and inner bounds into a verdict per target.
:func:`_lp_task` and :func:`_exact_task` are the independent LPs the worker pool
(``pool.py``) may run in other processes.
"""

from __future__ import annotations

import copy
import math

import highspy
import numpy as np
import scipy.sparse as sp

from transforms.disclosure.audit.highs import _highs, _pass, _primal_hot, _run_interior, _status
from transforms.disclosure.audit.rule import TOL, _decide, _goal, probe_work

#: components with at most this many unknowns get exact intervals for every value
EXACT_MAX_VARS = 400
#: goal rounds stop when a round decides fewer than this many values
ROUND_MIN_GAIN = 25
MAX_ROUNDS = 60
#: LPs per goal round (run in parallel when workers allow; results do not depend on it)
ROUND_LPS = 2
#: exact phases with more targets than this are split into two halves (parallel if allowed)
EXACT_SPLIT_MIN = 40
#: local LPs (:meth:`_Component._local`): at most this many values open after the carried
#: points; relation hops freed around them; combined LPs at most; values then tried one by one
LOCAL_MAX_OPEN = 400
LOCAL_HOPS = 2
LOCAL_LPS = 6
LOCAL_SINGLE_MAX = 40
#: a carried point (Witnesses) is used where it meets every relation and bound within this
HINT_TOL = 1e-7


class _Component:
    """Intervals of the targets (linear forms) over one connected component:
    A x = b, x[a] ≤ x[e] for (e, a) in ineq, lb ≤ x ≤ ub."""

    def __init__(self, A: sp.csr_matrix, b, ineq: np.ndarray, lb, ub, T: sp.csr_matrix, consts):
        self.A, self.b, self.ineq, self.lb, self.ub = A, b, ineq, lb, ub
        self.n = A.shape[1]
        self.T, self.consts = T, consts
        nt = T.shape[0]
        self.nt = nt
        # outer bounds of each target from the variable bounds
        Tc = T.tocoo()
        lo_c = np.where(Tc.data > 0, Tc.data * lb[Tc.col], Tc.data * ub[Tc.col])
        hi_c = np.where(Tc.data > 0, Tc.data * ub[Tc.col], Tc.data * lb[Tc.col])
        with np.errstate(invalid="ignore"):
            self.LT = consts + np.bincount(Tc.row, lo_c, minlength=nt)
            self.UT = consts + np.bincount(Tc.row, hi_c, minlength=nt)
        # count minus outcome (one +, one - term) is ≥ 0 by the a ≤ e constraint
        npos = np.bincount(Tc.row, (Tc.data > 0).astype(float), minlength=nt)
        nneg = np.bincount(Tc.row, (Tc.data < 0).astype(float), minlength=nt)
        self.LT = np.where((npos == 1) & (nneg == 1), np.maximum(self.LT, consts), self.LT)
        self.LT = np.where(np.isnan(self.LT), 0.0, self.LT)
        self.amin = np.full(nt, np.inf)  # inner bounds from feasible points
        self.bmax = np.full(nt, -np.inf)
        self.lo_lp = np.full(nt, np.nan)  # exact LP optima where solved
        self.hi_lp = np.full(nt, np.nan)
        self.hi_unbounded = np.zeros(nt, dtype=bool)
        self.lp_count = 0
        self.keep_points = False  # keep the feasible points recorded (for carried points)
        #: with keep_points, at most about this many numbers kept (None: every point); beyond
        #: it every other point is dropped, so what is kept depends only on what was found
        self.max_point_values: int | None = None
        self.points: list[np.ndarray] = []
        self.hints_used = 0
        self._base: np.ndarray | None = None  # the last carried point used
        #: simplex iterations of the probes and the exact LPs so far (:func:`_probe_pays`);
        #: the audit hands every component one dict, and a search's audits share it
        #: (``Witnesses.probe_work``)
        self.probe_work: dict = probe_work()
        self.seed_top = 0.0  # the seed point's largest value (the goal LPs' box)
        # the full constraint matrix: equalities, then x[a] - x[e] ≤ 0
        ni = len(ineq)
        Ain = sp.csr_matrix(
            (np.r_[np.ones(ni), -np.ones(ni)], (np.r_[np.arange(ni), np.arange(ni)],
                                                np.r_[ineq[:, 1], ineq[:, 0]] if ni else [])),
            shape=(ni, self.n),
        )
        self.M = sp.vstack([A, Ain]).tocsc()
        self.M.sort_indices()
        self.rlo = np.r_[b, np.full(ni, -np.inf)]
        self.rhi = np.r_[b, np.zeros(ni)]

    def __getstate__(self):  # a worker starts without this process's points
        state = self.__dict__.copy()
        state["points"] = []
        return state

    # -- points ----------------------------------------------------------------------------

    def _record(self, x: np.ndarray) -> None:
        v = self.T @ x + self.consts
        np.minimum(self.amin, v, out=self.amin)
        np.maximum(self.bmax, v, out=self.bmax)
        if self.keep_points:
            self.points.append(x)
            self._thin()

    def _thin(self) -> None:
        """Every other kept point dropped while more than twice the cap are kept."""
        if self.max_point_values is None:
            return
        cap = max(16, self.max_point_values // max(1, self.n))
        while len(self.points) > 2 * cap:
            self.points = self.points[::2]

    def use_hints(self, xs) -> None:
        """Record the candidate points that are feasible here (relations within
        ``HINT_TOL``, the a ≤ e pairs and the implied bounds within it too; then clipped into
        the bounds); the others are dropped. Only ever inner bounds: a point can show that a
        value is reachable, never that one is not."""
        for x in xs:
            x = np.asarray(x, dtype=float)
            if not self._admissible(x):
                continue
            x = np.clip(x, self.lb, self.ub)
            self._record(x)
            self.hints_used += 1
            self._base = x  # where the local LPs start (:meth:`_local`)

    def _admissible(self, x: np.ndarray) -> bool:
        """Whether ``x`` is a point of this component: finite, every relation, a ≤ e pair
        and bound met within ``HINT_TOL`` (then clipped into the bounds by the caller)."""
        if x.shape != (self.n,) or not np.all(np.isfinite(x)):
            return False
        r = self.M @ x
        return not (np.any(r < self.rlo - HINT_TOL) or np.any(r > self.rhi + HINT_TOL)
                    or np.any(x < self.lb - HINT_TOL) or np.any(x > self.ub + HINT_TOL))

    def rounded(self, idx=slice(None)):
        """(L, a, b, U) as integer arrays (U: None where unbounded/infinite), of the targets
        ``idx`` (default: all)."""
        lo_lp, hi_lp = self.lo_lp[idx], self.hi_lp[idx]
        lo_known = ~np.isnan(lo_lp)
        hi_known = ~np.isnan(hi_lp)
        L = np.ceil(np.where(lo_known, lo_lp, self.LT[idx]) - TOL)
        a = np.ceil(np.where(lo_known, lo_lp, self.amin[idx]) - TOL)
        b = np.floor(np.where(hi_known, hi_lp, self.bmax[idx]) + TOL)
        U = np.floor(np.where(hi_known, hi_lp, self.UT[idx]) + TOL)
        a = np.maximum(a, L)  # guard against solver noise across the rounding edge
        b = np.minimum(b, U)
        U = np.where(self.hi_unbounded[idx], np.inf, U)
        b = np.where(self.hi_unbounded[idx], np.inf, b)
        return L, a, b, U

    def _states(self, idx=slice(None)) -> list[tuple[int, int, int | None, int | None,
                                                     bool | None]]:
        """Per target (L, a, b, U, verdict-or-None); b, U None: proved unbounded / no limit."""
        L, a, b, U = self.rounded(idx)
        Ul = [None if math.isinf(u) else int(u) for u in U.tolist()]
        out = []
        for Lt, at, bt, Ut in zip(L.astype(np.int64).tolist(), a.astype(np.int64).tolist(),
                                  b.tolist(), Ul):
            if math.isinf(bt):
                out.append((Lt, at, None, None, True))
            else:
                bt = int(bt)
                out.append((Lt, at, bt, Ut, _decide(Lt, at, bt, Ut)))
        return out

    # -- solving ---------------------------------------------------------------------------

    def _seed(self) -> highspy.Highs | None:
        """The base model, solved for min of the sum of all unknowns (a first point, and
        lo exact for every value that is 0 there). None when infeasible."""
        h = _highs(interior=True)
        _pass(h, self.M, np.ones(self.n), self.lb, self.ub, self.rlo, self.rhi)
        self.lp_count += 1
        if _run_interior(h) != "optimal":
            return None
        self._seed_point(h)
        _primal_hot(h)
        return h

    def _seed_point(self, h: highspy.Highs) -> None:
        """Record the solved seed LP's point; its largest value bounds the goal LPs' box."""
        x = np.asarray(h.getSolution().col_value, dtype=float)
        self._record(x)
        self.seed_top = float(x.max()) if self.n else 0.0

    def _seed_ahead(self, ahead) -> highspy.Highs | None:
        """The seed from the worker that solved it ahead (:func:`_seed_task`): its final
        basis restarts the seed LP here in no iteration. Where the worker found it
        infeasible, or failed, the seed is solved here."""
        try:
            basis = ahead.result()
        except Exception:  # noqa: BLE001 - a worker lost: solve it here (the same LP)
            basis = None
        if basis is None:
            return self._seed()
        return self._reseed(basis)  # counted once: the seed LP, wherever it was solved

    def _reseed(self, basis: tuple[np.ndarray, np.ndarray]) -> highspy.Highs | None:
        """The seed LP restarted from the seed's final basis (:func:`_basis_arrays`), as
        another process gets it: an optimal basis needs no iteration, where solving the seed
        again took an interior-point solve (national AFSLAARS: some 0.6 s per half). Where it
        is not optimal there (it should be), the seed is solved afresh."""
        h = _highs()
        _pass(h, self.M, np.ones(self.n), self.lb, self.ub, self.rlo, self.rhi)
        _primal_hot(h)
        b = highspy.HighsBasis()
        b.col_status = [highspy.HighsBasisStatus(int(v)) for v in basis[0]]
        b.row_status = [highspy.HighsBasisStatus(int(v)) for v in basis[1]]
        b.valid = True
        h.setBasis(b)
        h.run()
        self.lp_count += 1
        if _status(h) != "optimal":
            return self._seed()
        self._seed_point(h)
        return h

    def solve(self, exact_all: bool, pool, hints=()) -> bool:
        """Fills the inner/outer/exact arrays. False when the component is infeasible.
        ``hints``: candidate feasible points (see :meth:`use_hints`), recorded first."""
        self.use_hints(hints)
        exact_mode = exact_all or self.n <= EXACT_MAX_VARS
        ahead = None
        if not exact_mode and self.hints_used:
            if self.n >= SEED_AHEAD_MIN_VARS and any(s[4] is None for s in self._states()):
                # the seed LP starts in a worker while the local LPs run here; where they
                # decide everything its result is not used (nothing depends on it)
                ahead = pool.submit(_seed_task, self)
            self._local()
            if all(s[4] is not None for s in self._states()):
                # the carried points (and the local LPs from them) prove the component
                # feasible and decide every value: no LP over the whole component (a later
                # round of the search, where only a few cells were withheld anew)
                if ahead is not None:
                    ahead.cancel()
                return True
        h = self._seed_ahead(ahead) if ahead is not None else self._seed()
        if h is None:
            return False
        if not exact_mode:
            self._goal_rounds(pool)
            todo = [t for t, s in enumerate(self._states()) if s[4] is None]
        else:
            todo = list(range(self.nt))
        if len(todo) <= EXACT_SPLIT_MIN:
            self._exact(h, todo, decide_only=not exact_mode)
        else:  # two fixed halves, each started from the seed's basis: same result anywhere
            basis = _basis_arrays(h)
            del h
            halves = [todo[0::2], todo[1::2]]
            for half, out in zip(halves, pool.map(_exact_task, [self, self], halves,
                                                  [not exact_mode] * 2, [basis] * 2)):
                lo_lp, hi_lp, unb, amin, bmax, lps, pts, work = out
                for k, v in work.items():  # each half started from the same counts
                    self.probe_work[k] += v
                self.points.extend(pts)
                self._thin()
                self.lo_lp[half] = lo_lp[half]
                self.hi_lp[half] = hi_lp[half]
                self.hi_unbounded[half] = unb[half]
                np.minimum(self.amin, amin, out=self.amin)
                np.maximum(self.bmax, bmax, out=self.bmax)
                self.lp_count += lps
        return True

    def _exact(self, h: highspy.Highs, todo: list[int], decide_only: bool = False) -> None:
        """Exact min and max of each target in todo (sides already attained are skipped),
        re-solving the model hot with only the objective changed.

        ``decide_only``: only as many sides as the verdict needs: none where the points found
        so far (by the LPs of earlier targets too) already decide it, else first a *probe*
        (:meth:`_probe`) for a value that is one unknown, then the side whose goal
        (:func:`_goal`) would prove it, the other side only if still open."""
        T = self.T
        n = self.n
        cur = np.arange(n, dtype=np.int32)  # the seed's costs (all ones) are to be cleared

        def run(idx, cost):
            nonlocal cur
            h.changeColsCost(len(cur), cur, np.zeros(len(cur)))
            idx = idx.astype(np.int32)
            h.changeColsCost(len(idx), idx, cost.astype(float))
            cur = idx
            h.setOptionValue("simplex_strategy", 4)  # primal: only the costs changed
            h.run()
            self.lp_count += 1
            work["exact_its"] += max(h.getInfo().simplex_iteration_count, 0)
            work["exact_lps"] += 1
            st = _status(h)
            if st == "other":  # e.g. unbounded-or-infeasible from a hot start: solve cold
                h.clearSolver()
                h.run()
                self.lp_count += 1
                st = _status(h)
            if st == "optimal":
                self._record(np.asarray(h.getSolution().col_value, dtype=float))
                return st, float(h.getInfo().objective_function_value)
            return st, None

        seed_basis = h.getBasis() if decide_only else None  # before any cost change moves it
        hp = None  # the probes' model, built at the first probe
        work = self.probe_work  # this audit's (and search's) counts so far: _probe_pays
        for t in todo:
            idx = T.indices[T.indptr[t]:T.indptr[t + 1]]
            coef = T.data[T.indptr[t]:T.indptr[t + 1]]
            c = self.consts[t]
            if decide_only:
                state = self._states([t])[0]
                if len(idx) == 1 and state[4] is None:
                    g = _goal(*state[:4])
                    if g is not None and g[0] > 0 and state[3] is not None \
                            and state[3] >= 2 * g[1] and _probe_pays(work):
                        hp = hp or self._prober(seed_basis)
                        work["probe_its"] += self._probe(hp, int(idx[0]), float(coef[0]), c,
                                                         g[1])
                        work["probes"] += 1
                self._decide_sides(t, run, idx, coef, c)
                continue
            if np.isnan(self.lo_lp[t]):
                if math.ceil(self.LT[t] - TOL) == math.ceil(self.amin[t] - TOL):
                    self.lo_lp[t] = self.LT[t]  # the outer bound is attained (after rounding)
                else:
                    st, obj = run(idx, coef)
                    if st == "optimal":
                        self.lo_lp[t] = obj + c
            if np.isnan(self.hi_lp[t]) and not self.hi_unbounded[t]:
                if np.isfinite(self.UT[t]) and (
                    math.floor(self.UT[t] + TOL) == math.floor(self.bmax[t] + TOL)
                ):
                    self.hi_lp[t] = self.UT[t]
                else:
                    st, obj = run(idx, -coef)
                    if st == "optimal":
                        self.hi_lp[t] = -obj + c
                    elif st == "unbounded":
                        self.hi_unbounded[t] = True

    def _prober(self, basis) -> highspy.Highs:
        """The model the probes re-solve: the seed LP (costs all ones) from the seed's basis,
        a copy of its own so that the exact LPs' cost changes do not move it."""
        hp = _highs()
        _pass(hp, self.M, np.ones(self.n), self.lb, self.ub, self.rlo, self.rhi)
        _primal_hot(hp)
        hp.setBasis(basis)
        return hp

    def _probe(self, hp: highspy.Highs, j: int, coef: float, c: float, goal: float) -> int:
        """A feasible point where a target ``coef * x_j + c`` reaches ``goal``, the value
        that would prove it (:func:`_goal`), if there is one: the goal imposed as a bound on
        ``x_j`` and the seed LP re-solved by dual simplex from its current basis, as a
        branch-and-bound node is: the costs do not change, so the basis stays dual feasible
        and a few pivots repair it, where the exact LP walks all the way to the value's
        maximum. The point is recorded (an inner bound, like any other) and the bound
        restored; where no such point exists nothing is concluded and the exact sides decide,
        as without the probe. :meth:`_exact` probes only goals well inside the value's
        outer bound (``U`` at least twice the goal): a goal at the edge of the feasible set is
        as far for the probe as for the exact LP, which gives the exact value too.

        Measured on the audit of a published pattern (AFSLAARS, one process per half as in
        a release): small demo store 2022-10 (7,295 withheld values, 2,189 undecided after
        the goal rounds, nearly all empty cells that can reach their outer bound of 4-55):
        18.5 s and 35 CPU s, where the exact LPs alone took 52.8 s and 99 CPU s; national
        2026-10 (17,417 values, 177 undecided, most of them goals at the outer bound): 34.8 s
        against 33.3 s, the same within the noise. The same verdicts both ways.

        Returns the simplex iterations the probe took (0 where it needed no LP), which
        :func:`_probe_pays` weighs against the exact LPs'."""
        x = (goal - c) / coef  # x_j where the value is at its goal
        lb, ub = self.lb[j], self.ub[j]
        if coef > 0:  # the value up: x_j at least x
            if x > ub + TOL:
                return 0
            hp.changeColBounds(j, max(lb, x), ub)
        else:  # the value up: x_j at most x
            if x < lb - TOL:
                return 0
            hp.changeColBounds(j, lb, min(ub, x))
        hp.setOptionValue("simplex_strategy", 1)  # dual simplex
        hp.run()
        self.lp_count += 1
        its = max(hp.getInfo().simplex_iteration_count, 0)
        if _status(hp) == "optimal":
            self._record(np.asarray(hp.getSolution().col_value, dtype=float))
        hp.changeColBounds(j, lb, ub)
        return its

    def _decide_sides(self, t: int, run, idx, coef, c: float) -> None:
        """Exact sides of target t until its verdict is decided (see :meth:`_exact`)."""
        for _ in range(2):
            (L, a, b, U, d), = self._states([t])
            if d is not None:
                return
            g = _goal(L, a, b, U)
            lo_open = np.isnan(self.lo_lp[t])
            hi_open = np.isnan(self.hi_lp[t]) and not self.hi_unbounded[t]
            up = hi_open and (g is None or g[0] > 0 or not lo_open)
            if up:
                st, obj = run(idx, -coef)
                if st == "optimal":
                    self.hi_lp[t] = -obj + c
                elif st == "unbounded":
                    self.hi_unbounded[t] = True
                else:
                    return  # undecided: judged strictly
            elif lo_open:
                st, obj = run(idx, coef)
                if st != "optimal":
                    return
                self.lo_lp[t] = obj + c
            else:
                return

    def _goal_rounds(self, pool) -> None:
        """Goal rounds: per round ROUND_LPS LPs over the component's own constraints whose
        objective pushes every undecided target toward the side that would prove it (up or
        down, scaled by the distance to its goal), each LP with its own deterministic
        pseudo-random weights (the very first with equal weights) so that targets competing
        for one margin win in different rounds. Starts only with at least
        ROUND_MIN_GAIN targets undecided; stops when a round decides fewer than that."""
        T = self.T.tocsr()
        states = self._states()
        for rnd in range(MAX_ROUNDS):
            goals = []
            for t, (L, a, b, U, d) in enumerate(states):
                if d is None:
                    g = _goal(L, a, b, U)
                    if g is not None and not (g[0] < 0 and U is None):
                        goals.append((t, g))
            before = sum(1 for x in states if x[4] is None)
            if not goals or (rnd == 0 and before < ROUND_MIN_GAIN):
                return  # none left, or too few for a round (e.g. most decided by carried points)
            tv = np.array([t for t, _ in goals], dtype=np.int64)
            up = np.array([g[0] > 0 for _, g in goals])
            goal = np.array([g[1] for _, g in goals], dtype=float)
            base = np.where(up, self.LT[tv], self.UT[tv])
            scale = np.maximum(np.abs(goal - base), 1.0)
            costs = []
            for j in range(ROUND_LPS):
                w = np.ones(len(goals)) if rnd == 0 and j == 0 else \
                    np.random.default_rng([rnd, j]).uniform(0.1, 1.0, len(goals))
                coef = np.where(up, -1.0, 1.0) * w / scale  # minimised: -T x pushes up
                costs.append(np.asarray(T[tv].T @ coef).ravel())
            k = ROUND_LPS
            ub = self._goal_box(goal)
            for x in pool.map(_lp_task, [self.M] * k, costs, [self.lb] * k, [ub] * k,
                              [self.rlo] * k, [self.rhi] * k, [False] * k):
                self.lp_count += 1
                if x is not None and self._admissible(x):  # an interior point: checked
                    self._record(np.clip(x, self.lb, self.ub))
            states = self._states()
            after = sum(1 for x in states if x[4] is None)
            if rnd > 0 and before - after < ROUND_MIN_GAIN:
                return

    def _open_goals(self) -> list[tuple[int, tuple[int, int]]]:
        """(target, goal) of every value still open that a point could prove."""
        goals = []
        for t, (L, a, b, U, d) in enumerate(self._states()):
            if d is None:
                g = _goal(L, a, b, U)
                if g is not None and not (g[0] < 0 and U is None):
                    goals.append((t, g))
        return goals

    def _local(self) -> None:
        """Local LPs: points that differ from a carried point only near the open values.

        A later round of the checked search withholds a few cells more; the carried points
        decide nearly every value again, and the few left open (cells withheld anew, which
        every carried point holds at their published value) used to cost the seed LP of the
        whole component (national AFSLAARS: 17,000 unknowns, about 1 s of interior point)
        and some exact LPs. Here the unknowns within ``LOCAL_HOPS`` relations of the open
        values are freed, every other one is held at the carried point's value, and one LP
        over the freed ones pushes the open values toward their goals (:func:`_goal`, as a
        goal round does). Every relation without a freed unknown holds as it did at the
        carried point; the others are the LP's rows. So its optimum, with the held values,
        is a point of the whole system: checked against every relation and bound as a
        carried point is, and used only as an inner bound. Verdicts never depend on it.

        Up to ``LOCAL_LPS`` such LPs (the first with equal weights, then pseudo-random ones,
        each from the last point), while they decide values; then, where at most
        ``LOCAL_SINGLE_MAX`` are open, one LP per value with ``LOCAL_HOPS`` and twice that.
        Only with at most ``LOCAL_MAX_OPEN`` open values (a first audit, with thousands,
        has goal rounds over the whole component).

        Measured on national AFSLAARS 2026-10 (rounds 1-5 of the search): 10, 125, 112, 28
        and 24 values open after the carried points, 6, 3, 3, 2 and 0 after the local LPs
        (0.06-0.6 s); the last round runs no LP over the whole component at all."""
        if self._base is None:
            return
        base = self._base
        Mr = self.M.tocsr()
        T = self.T.tocsr()
        for k in range(LOCAL_LPS):
            goals = self._open_goals()
            if not goals or len(goals) > LOCAL_MAX_OPEN:
                return
            before = len(goals)
            w = None if k == 0 else np.random.default_rng([k]).uniform(0.1, 1.0, len(goals))
            x = self._local_lp(Mr, T, base, goals, LOCAL_HOPS, w)
            if x is None:
                break
            base = x
            if len(self._open_goals()) == before:
                break
        goals = self._open_goals()
        if len(goals) > LOCAL_SINGLE_MAX:
            return
        for t, g in goals:
            for hops in (LOCAL_HOPS, 2 * LOCAL_HOPS):
                if self._states([t])[0][4] is not None:
                    break
                x = self._local_lp(Mr, T, base, [(t, g)], hops)
                if x is not None:
                    base = x

    def _local_lp(self, Mr: sp.csr_matrix, T: sp.csr_matrix, base: np.ndarray, goals: list,
                  hops: int, w: np.ndarray | None = None) -> np.ndarray | None:
        """One local LP (:meth:`_local`) from the point ``base``; the point it found (checked
        and recorded), or None."""
        tv = np.array([t for t, _ in goals], dtype=np.int64)
        up = np.array([g[0] > 0 for _, g in goals])
        goal = np.array([g[1] for _, g in goals], dtype=float)
        free = np.zeros(self.n, dtype=bool)
        free[np.unique(T[tv].indices)] = True
        for _ in range(hops):
            rows = np.unique(self.M[:, np.flatnonzero(free)].indices)
            free[np.unique(Mr[rows].indices)] = True
        cols = np.flatnonzero(free)
        rows = np.unique(self.M[:, cols].indices)
        sub = Mr[rows]
        held = sub @ np.where(free, 0.0, base)  # the held unknowns' part of each row
        scale = np.maximum(np.abs(goal - np.where(up, self.LT[tv], self.UT[tv])), 1.0)
        coef = np.where(up, -1.0, 1.0) / scale * (1.0 if w is None else w)
        cost = np.asarray(T[tv].T @ coef).ravel()[cols]
        ub = self.ub[cols]
        if np.isinf(ub).any():  # a box, as the goal rounds': a ray gives no point
            top = max(float(base.max(initial=0.0)), float(goal.max(initial=0.0)), 1.0)
            ub = np.where(np.isinf(ub), 2.0 * top + 4.0, ub)
        h = _highs()
        _pass(h, sub[:, cols].tocsc(), cost, self.lb[cols], ub, self.rlo[rows] - held,
              self.rhi[rows] - held)
        h.run()
        self.lp_count += 1
        if _status(h) != "optimal":
            return None
        x = base.copy()
        x[cols] = np.asarray(h.getSolution().col_value, dtype=float)
        if not self._admissible(x):
            return None
        x = np.clip(x, self.lb, self.ub)
        self._record(x)
        return x

    def _goal_box(self, goal: np.ndarray) -> np.ndarray:
        """Upper bounds for the goal LPs: an unknown without a finite one gets twice the
        largest of the seed point's values, the goals and the finite bounds (plus 4). The
        system may have rays (cells no published number bounds): a goal LP pushing along
        one is unbounded and returns no point, so a round would prove nothing (measured:
        the small demo store's AFSLAARS 2024-08, 6,161 of 18,066 unknowns without a finite
        bound, goal rounds deciding none of 18,066 values and 12,114 exact LPs instead).
        The box holds the seed point, so the LPs stay feasible, and a point inside it is a
        point of the system: inner bounds only, verdicts unchanged."""
        inf = np.isinf(self.ub)
        if not inf.any():
            return self.ub
        finite = self.ub[~inf]
        top = max(self.seed_top, float(goal.max(initial=0.0)),
                  float(finite.max(initial=0.0)), 1.0)
        return np.where(inf, 2.0 * top + 4.0, self.ub)


#: probes first tried before their iterations are weighed against the exact LPs' (8 until
#: session 16: on national AFSLAARS 2026-10 the first probes of each half took 1.5-2 s where
#: three show as well whether they pay)
PROBE_TRIAL = 3


def _probe_pays(work: dict) -> bool:
    """Whether the next probe is likely cheaper than the exact LPs it may spare: after
    ``PROBE_TRIAL`` probes, only while a probe has taken at most twice the simplex
    iterations of an exact LP on average (a value left open needs one or two of those).
    Iterations, not seconds: single-threaded HiGHS with a fixed seed counts the same on any
    machine and load, so which LPs run does not depend on the clock (and the verdicts do not
    depend on it at all: a probe only adds a feasible point).

    The counts are the audit's, over its components, and the search's, over its audits
    (``Witnesses.probe_work``); until session 17 each exact phase counted afresh, so the
    last audit of national AFSLAARS 2026-10 (8 values open, in this process) tried three
    probes again, 0.9 s of its 1 s of exact work, after the first audit had found that
    they do not pay on this cube. The two halves of an exact phase start from the same
    counts and their increments are added after both: the same whatever ran first.

    Measured on the first audit of national AFSLAARS 2026-10 (a home holding 2026-09): 119
    probes averaged 887 iterations (0.47 s) where an exact LP took 150 (0.06 s); on the small
    store, where the probes were made for, a probe takes a fraction of an exact LP that
    walks to an outer bound of up to 55."""
    if work["probes"] < PROBE_TRIAL or not work["exact_lps"]:
        return True
    return work["probe_its"] * work["exact_lps"] <= 2 * work["exact_its"] * work["probes"]


def _lp_task(M, cost, lo, hi, rlo, rhi, crossover: bool = True):
    """Solve one LP (fresh, presolve on); the primal solution or None. ``crossover=False``:
    the interior point as it is, not moved to a vertex; the goal rounds want a point and no
    basis, and crossover was some 40 % of their LPs' time (national AFSLAARS 2026-10: the
    search's first audit 12.5-13.5 s with it, 10.6-10.7 s without; the points met every
    relation within 1e-9, and each is checked before use)."""
    h = _highs(interior=True)
    if not crossover:
        h.setOptionValue("run_crossover", "off")
    _pass(h, M, cost, lo, hi, rlo, rhi)
    if _run_interior(h) != "optimal":
        return None
    return np.asarray(h.getSolution().col_value, dtype=float)


#: components with at least this many unknowns start their seed LP in a worker while their
#: local LPs run (:meth:`_Component.solve`)
SEED_AHEAD_MIN_VARS = 2000


def _seed_task(comp: _Component) -> tuple[np.ndarray, np.ndarray] | None:
    """The component's seed LP (by interior point, as :meth:`_Component._seed` solves it);
    its final basis, or None where it has no optimum."""
    comp = copy.deepcopy(comp)
    comp.points = []
    h = comp._seed()
    return None if h is None else _basis_arrays(h)


def _basis_arrays(h: highspy.Highs) -> tuple[np.ndarray, np.ndarray]:
    """A solved model's basis as two int arrays (HighsBasis does not pickle)."""
    b = h.getBasis()
    return (np.array([int(v) for v in b.col_status], dtype=np.int8),
            np.array([int(v) for v in b.row_status], dtype=np.int8))


def _exact_task(comp: _Component, todo: list[int], decide_only: bool = False,
                basis: tuple[np.ndarray, np.ndarray] | None = None):
    """Exact intervals (or verdicts: ``decide_only``) of `todo` on a fresh copy of the
    component's model, started from the seed's ``basis`` (else the seed solved again)."""
    comp = copy.deepcopy(comp)  # the same starting state in this process or another
    comp.lp_count = 0
    comp.points = []
    start = dict(comp.probe_work)
    h = comp._reseed(basis) if basis is not None else comp._seed()
    if h is not None:
        comp._exact(h, todo, decide_only)
    return (comp.lo_lp, comp.hi_lp, comp.hi_unbounded, comp.amin, comp.bmax, comp.lp_count,
            comp.points[1:],  # the seed point is the caller's own
            {k: v - start[k] for k, v in comp.probe_work.items()})
