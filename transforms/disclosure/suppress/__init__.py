"""Primary and global secondary suppression (contract section 3, issue 11).

``suppress(cells, cube)`` chooses which cells of a cube to withhold so that, over every view,
margin and hierarchy level of the release together, no withheld cell can be narrowed down:
its feasible interval (all cells >= 0, everything published fixed) is [0, 0], or it is wider
than one value, reaches ``PROTECTION_UPPER`` (4) and, where it starts below 4, is at least
``PROTECTION_WIDTH`` (3) wide. ``apply_pattern`` turns the result into a published frame.
``suppress_checked`` is the faster search for large linked cubes, driven by an outside
checker (``guarded.py`` hands it the independent audit).

Method
------
The attacker's system is built by ``system.py`` (parent = sum of its refining
children for every pair of published groupings; stock cubes per status date with År = Q4 =
December as one variable; FRAFAFBRUD with a second layer for the outcome count and
``y <= x``). Only groupings present in the frame take part.

1. *Primary*: ``1 <= n_individer <= 3`` withholds all measures; empty cells (value 0) are
   withheld for free. FRAFAFBRUD also withholds the outcome where ``1 <= afbrudt <= 3`` or
   ``0 <= elever - afbrudt <= 3``.
2. *Local pass* (vectorised over all equations, repeated to a fixed point): an equation with
   exactly one withheld non-zero term, or whose withheld terms all sit on one side and add up
   to 1..3, discloses them. Terms to withhold are chosen by a greedy set cover over those
   equations (price = cost / number of disclosing equations the term sits in), so one cell
   can serve a row and a column at once. This is the classic hypercube step.
3. *Propagation pass*: single-equation bound tightening (vectorised, to a fixed point) gives
   outer bounds of every withheld cell; where they already break the rule the cell fails for
   sure, and the equation that produced the binding bound gets one more withheld term.
   This pass is greedy and cascades up the margins on linked stock tables (a cell it
   withholds is often determined by another relation it sits in), so :func:`suppress`
   protects twice, with and without it (steps 4-5 then do the work), and keeps the cheaper
   pattern; the checked search keeps it (without it the audit-driven rounds, greedier
   still, withheld 3x the value on national AFSLAARS 2026-10).
4. *Global check*: the exact rule is an LP question per withheld cell, far too many LPs for
   a 40,000-cell linked table, so every withheld quantity first gets *certificates*:
   feasible points of the attacker's LP. Points where a quantity takes values ``a <= b``
   with ``b - a >= 3`` and ``b >= 4`` prove its interval passes, now and however much more
   is withheld (certificates are monotone; the rule itself is not: [4, 5] passes, [3, 5]
   does not). The attacker's LP is split into connected components, one HiGHS model each.
   a. Where a known point attains the propagated outer bounds, the interval is exact
      without an LP (e.g. zeros pinned to [0, 0], cells determined exactly).
   b. Rounds: one LP per component maximises the capped moves of all open quantities
      toward their goals at once; when conflicts stall that, rounds over *spread* subsets
      (no two targets in one equation) continue while they certify faster than single LPs.
   c. Guided LPs: max of one open quantity plus a small bonus for lifting every other open
      quantity of its component to its goal (capped there) - one LP certifies many.
   d. Only what is still open gets exact min/max LPs (primal simplex re-solved from the
      last basis with only the objective changed: a few pivots each).
5. *Repair*: for each quantity that fails exactly, a Fischetti-Salazar style LP finds the
   cheapest move ``d`` over the whole linked system (``A d = 0``, ``z + d >= 0``,
   ``y <= x``, ``q.d`` up by enough, or down where the cell is >= 4) with cost per unit =
   the cell's cost for published cells and ~0 for withheld ones; the published cells the
   move touches are withheld (secondary), and the move certifies the quantity. Steps 2-5
   repeat until every withheld quantity passes.

Intervals are read as the audit reads them: the LP interval rounded inward to integers.

Why this and not GaussSuppression alone: Gaussian elimination (Statistics Norway) finds
exactly determined cells fast but says nothing about interval width, and our rule is an
interval rule (reach 4, width 3) over *every* withheld cell (zeros and secondary cells
too, not only primary ones as in Tau-Argus), so LP checks are needed anyway; the local and
propagation passes play the role of the cheap first sweep, and the LP repair chooses
secondary cells by cost over the whole linked system, preferring few and small cells
(cost = (value + 1) x the number of cells a variable stands for; the grand total of each
system 1000x dearer, so it is withheld only when nothing else works).

Determinism: variables are numbered canonically (grouping, status date, captions), never by
frame row order, HiGHS runs single-threaded with a fixed seed, and every choice breaks ties
by (cost, canonical number). The same cells in any row order give the same pattern.

Outcome rule interpretation (FRAFAFBRUD): for an outcome-withheld cell the rule applies to
``afbrudt`` (where [0, 0], "nobody dropped out", passes as the primary rule publishes a 0
outcome) and to ``elever - afbrudt``, where [0, 0] passes only if the cell's ``elever`` is
itself known to be 0: "everyone dropped out" of a non-empty group is what the rule protects.
"""

from __future__ import annotations

from transforms.disclosure.suppress.checked import suppress_checked
from transforms.disclosure.suppress.frame import apply_pattern
from transforms.disclosure.suppress.global_method import suppress
from transforms.disclosure.suppress.rule import interval_ok

__all__ = ["suppress", "suppress_checked", "apply_pattern", "interval_ok"]
