"""Independent disclosure audit (publication contract, section 3.3 and 3.6).

The audit reads what anyone can download -- a cube's published cell frame, its measures null
where withheld -- plus the declarative catalogue, rebuilds the linear system an attacker has,
and decides by linear programming (HiGHS) whether every withheld value is protected. It shares
no code with ``suppress/`` (which chooses the pattern), so the two fail independently.

The attacker's system
---------------------
*Variables.* One per number of an additive count: ``cube.value_column``, and in FRAFAFBRUD
also the outcome count ``antal_afbrudt``. In flow cubes every cell is its own variable. In
stock cubes time is not additive: the cells with the same ``statusdato`` and the same non-time
captions (År 2022, 2022K4 and 2022M12) are one variable, and each status date is a system of
its own. Published values are constants.

*Relations.* Within a system, for every pair of groupings present where C refines P (adds
attributes, or a finer level of a hierarchy: Måned → Kvartal → År → total in flow cubes,
Kommune → Region → total; aliases such as Institutionsnummer ride along) with no grouping
present strictly between them, every P-cell equals the sum of the C-cells that carry its
captions. Every other refinement relation is a sum of such cover relations, so the system is
complete also where an intermediate grouping is missing (the direct relation is then itself
a cover). A P-cell without any C-cell equals 0.

*Bounds.* Every count is ≥ 0; an outcome count lies between 0 and its cell's count.

The interval of a withheld value is ``[min, max]`` of the value over this system (an LP),
rounded inward to integers: ``lo = ceil(lo_lp - 1e-6)``, ``hi = floor(hi_lp + 1e-6)`` (counts
are integers; the tolerance absorbs solver noise). For these tables LP optima are integral in
practice but not guaranteed to be (linked 3-way tables are not totally unimodular): where they
are not, an attacker with an integer solver could narrow a value a little further than the
rounded LP interval shows.

Verdict per value (``catalog.PROTECTION_UPPER`` = 4, ``catalog.PROTECTION_WIDTH`` = 3): ok iff
``[lo, hi] == [0, 0]`` (an empty combination), or ``hi > lo`` and ``hi ≥ 4`` and (``lo ≥ 4`` or
``hi - lo ≥ 3``). A cube passes (``bestået``) iff every value is ok and the published numbers
have no consistency errors.

How it is computed
------------------
A national cube has some 10,000 withheld values in one linked LP; two exact LPs each
(≈0.1 s apiece even hot-started) would take far too long, so the *verdict* is proved for every
value and the exact interval computed where it is cheap or needed:

1. Published values move to the right-hand side. A relation without unknowns must hold
   exactly (consistency check). A relation with one unknown pins it (iterated, exact).
2. Activity-based bound tightening gives every unknown *outer* bounds ``lo ≥ L``, ``hi ≤ U``
   (e.g. a cell is at most the smallest published margin around it).
3. The unknowns split into connected components; each is solved on its own.
4. Every LP solution is a feasible point; over the points found a value ranges over
   ``[a, b]``, so ``lo ≤ a`` and ``hi ≥ b`` (*inner* bounds). Where the verdict is the same
   for every ``lo ∈ [L, a]`` and ``hi ∈ [b, U]`` it is proved. (It must be checked over the
   whole box: the rule is not monotone, [4, 5] passes where [3, 5] fails.) Points come from a
   seed LP (min of the sum of the unknowns: ``lo`` is exact wherever a value is 0 there), then
   *goal rounds*: per round ``ROUND_LPS`` LPs over the component whose objective pushes every
   undecided value toward the side (up or down) that would prove it, scaled by the distance
   to that goal, with deterministic pseudo-random weights per LP so that values competing for
   the same margin win in different rounds; rounds stop when one decides fewer than
   ``ROUND_MIN_GAIN`` values. Where the system has rays (unknowns no published number
   bounds), the goal LPs run in a box that holds the seed point, or they would be
   unbounded and find nothing. The extreme points these LPs find also make many intervals
   exact on the way (a value at its outer bound in some point). The seed and the goal LPs
   are solved by the interior point method (about 4x faster than simplex on a national
   cube, whose many ties make simplex pivot degenerately; simplex decides where it ends
   without an optimum), the seed with crossover to a vertex (its basis starts the exact
   LPs), the goal LPs without: they need a point, so each is checked against every relation
   and bound before it is used, as a carried point is.
5. Values still undecided get exact LPs, re-solved on the seed's model from the previous
   basis (primal simplex) with only the objective changed, one side at a time and only as
   many as the verdict needs: first the side whose goal would prove the value, the other
   only if it is still open, none where points found by earlier exact LPs already decide
   it. Before them, a value that is one unknown whose goal lies well inside its outer
   bound (at most half of it) gets a *probe*: the goal imposed as a bound and a copy of
   the seed LP re-solved by dual simplex, as a branch-and-bound node is; a point found
   that way is recorded like any other (inner bounds only), so it can only save the exact
   LPs, never change a verdict (the empty cells of a sparse cube, which can reach 4 but
   no goal round lifted, cost a few pivots each instead of an LP to their maximum). Every value of a small component (≤ ``EXACT_MAX_VARS`` unknowns) gets both sides
   (its exact interval). ``exact=True`` computes every interval exactly (slow on national
   cubes).

*Carried points* (:class:`Witnesses`): an audit may be handed the feasible points of an
earlier audit of the same frame (the checked search audits a growing pattern round after
round; a point stays feasible when more is withheld). Each is checked against this system's
relations and bounds and, where it holds, recorded before the seed like any other point:
inner bounds only, so verdicts do not depend on them. The few values they leave open then
get *local LPs* (:meth:`component._Component._local`): the unknowns near them freed, the
rest held at a carried point, the optimum checked as a carried point is. Where the points
decide every value of a component, it runs no LP over the whole component, not even its
seed. Goal rounds run only where at least ``ROUND_MIN_GAIN`` values are still undecided, so
a later round of the search costs a fraction of the first (measured in
transforms/disclosure/README.md).

Independent LPs (those of one round; two fixed halves of a large exact phase, each started
from the seed's final basis) run in up to ``workers`` processes (default 2); the LPs solved
are the same for any number of workers, so the result is too.

Each value reports ``lo``, ``hi``, ``lo_bound``, ``hi_bound``, ``exact`` and ``ok``: its
(rounded) feasible interval ``[min, max]`` satisfies ``lo_bound ≤ min ≤ lo`` and
``hi ≤ max ≤ hi_bound``, so every value in ``[lo, hi]`` is one the attacker cannot exclude;
``exact`` means ``lo == lo_bound`` and ``hi == hi_bound`` (the interval itself). ``hi`` and
``hi_bound`` are null where the maximum is unbounded (``hi_bound`` null alone: no finite
limit was proved).

Everything is deterministic: variables are numbered canonically (status date, grouping,
captions), never by row order; HiGHS runs single-threaded; rounds stop by counts, not time.
"""

from __future__ import annotations

from transforms.disclosure.audit.cache import ComponentCache
from transforms.disclosure.audit.cube import METHOD, audit, audit_release
from transforms.disclosure.audit.pool import shutdown_workers
from transforms.disclosure.audit.rule import FAILED, PASSED, TOL, interval_ok
from transforms.disclosure.audit.solve import solve_system
from transforms.disclosure.audit.witnesses import Witnesses

__all__ = [
    "FAILED", "METHOD", "PASSED", "TOL", "ComponentCache", "Witnesses", "audit",
    "audit_release", "interval_ok", "shutdown_workers", "solve_system",
]
