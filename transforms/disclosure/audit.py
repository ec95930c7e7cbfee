"""Independent disclosure audit (publication contract, section 3.3 and 3.6).

The audit reads what anyone can download -- a cube's published cell frame, its measures null
where withheld -- plus the declarative catalogue, rebuilds the linear system an attacker has,
and decides by linear programming (HiGHS) whether every withheld value is protected. It shares
no code with ``suppress.py`` (which chooses the pattern), so the two fail independently.

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
   ``ROUND_MIN_GAIN`` values. The extreme points these LPs find also make many intervals
   exact on the way (a value at its outer bound in some point). The seed and the goal LPs
   are solved by the interior point method with crossover to a vertex (about 4x faster than
   simplex on a national cube, whose many ties make simplex pivot degenerately; simplex
   decides where it ends without an optimum).
5. Values still undecided get exact LPs, re-solved on the seed's model from the previous
   basis (primal simplex) with only the objective changed, one side at a time and only as
   many as the verdict needs: first the side whose goal would prove the value, the other
   only if it is still open, none where points found by earlier exact LPs already decide
   it. Every value of a small component (≤ ``EXACT_MAX_VARS`` unknowns) gets both sides
   (its exact interval). ``exact=True`` computes every interval exactly (slow on national
   cubes).

*Carried points* (:class:`Witnesses`): an audit may be handed the feasible points of an
earlier audit of the same frame (the checked search audits a growing pattern round after
round; a point stays feasible when more is withheld). Each is checked against this system's
relations and bounds and, where it holds, recorded before the seed like any other point:
inner bounds only, so verdicts do not depend on them. Goal rounds then run only where at
least ``ROUND_MIN_GAIN`` values are still undecided. On the national AFSLAARS cube the
search's second audit went from 15.8 s to 2.8 s this way.

Independent LPs (those of one round; two fixed halves of a large exact phase) run in up to
``workers`` processes (default 2); the LPs solved are the same for any number of workers, so
the result is too.

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

import atexit
import copy
import math
import os
from collections import defaultdict
from functools import lru_cache

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from transforms import catalog
from transforms.catalog import ATTRIBUTES, HIERARCHIES, Cube

TOL = 1e-6  # rounding tolerance on LP values: ceil(lo - TOL), floor(hi + TOL)
_EPS = 1e-9  # exactness tolerance on integer arithmetic done in floating point
_SHARE_TOL = 5e-4 + 1e-9  # half of 0.1 percentage point: shares may be stored rounded
#: components with at most this many unknowns get exact intervals for every value
EXACT_MAX_VARS = 400
#: goal rounds stop when a round decides fewer than this many values
ROUND_MIN_GAIN = 25
MAX_ROUNDS = 60
#: LPs per goal round (run in parallel when workers allow; results do not depend on it)
ROUND_LPS = 2
#: exact phases with more targets than this are split into two halves (parallel if allowed)
EXACT_SPLIT_MIN = 40
#: a carried point (Witnesses) is used where it meets every relation and bound within this
HINT_TOL = 1e-7

PASSED = "bestået"
FAILED = "ikke bestået"

METHOD = (
    "Lineær programmering (HiGHS) over alle offentliggjorte tal i kuben: for hver "
    "diskretioneret værdi min og max under alle offentliggjorte relationer (marginer, "
    "hierarkiniveauer, samme statusdato i bestandskuber) og ikke-negativitet. "
    f"LP-grænser afrundes indad til heltal med tolerance {TOL:g}: lo = ceil(lo_lp - {TOL:g}), "
    f"hi = floor(hi_lp + {TOL:g}). Dommen bevises med mulige løsninger (lo/hi: værdier "
    "angriberen ikke kan udelukke) og beviste grænser (lo_bound/hi_bound); exact = true: "
    "intervallet er beregnet eksakt. hi/hi_bound = null: ubegrænset."
)

DIFF_SEP = "-"  # measure label of count minus outcome: "antal_elever-antal_afbrudt"


# --- small helpers ------------------------------------------------------------------------


def _iso(v) -> str | None:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, str):
        return v[:10]
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)[:10]


def _codes(values: list) -> tuple[np.ndarray, list[str]]:
    """Codes of strings in sorted order of the distinct values; None → -1."""
    uniq = sorted({v for v in values if v is not None})
    index = {v: k for k, v in enumerate(uniq)}
    return np.array([-1 if v is None else index[v] for v in values], dtype=np.int64), uniq


def _num(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _num_out(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return int(x) if x.is_integer() else x


def interval_ok(lo: int | None, hi: int | None) -> bool:
    """The contract's rule (3.3) for an integer interval; ``hi`` None = unbounded."""
    if lo is None:
        return False
    if hi is None:
        return True
    if lo > hi:
        return False
    if lo == 0 and hi == 0:
        return True
    up, width = catalog.PROTECTION_UPPER, catalog.PROTECTION_WIDTH
    return hi > lo and hi >= up and (lo >= up or hi - lo >= width)


_SPAN = catalog.PROTECTION_UPPER + catalog.PROTECTION_WIDTH + 2  # where the rule stops changing


@lru_cache(maxsize=200_000)
def _decide(L: int, a: int, b: int, U: int | None) -> bool | None:
    """The verdict if it is the same for every lo in [L, a] and hi in [b, U] (U None =
    unbounded), else None. The rule only changes near 0..PROTECTION_UPPER+WIDTH and near
    hi - lo = 0..PROTECTION_WIDTH, so a few candidates of each range suffice."""
    his = {b}
    top = max(b, a) + _SPAN
    his.update(range(b, (top if U is None else min(U, top)) + 1))
    his.add(top + 1 if U is None else U)  # beyond top the rule no longer changes
    seen = set()
    for hi in his:
        los = {L, a}
        los.update(v for v in range(max(L, 0), min(a, _SPAN) + 1))
        los.update(v for v in range(max(L, hi - _SPAN), min(a, hi) + 1))
        for lo in los:
            if L <= lo <= a:
                seen.add(interval_ok(lo, hi))
                if len(seen) > 1:
                    return None
    return seen.pop() if seen else False


def _goal(L: int, a: int, b: int, U: int | None) -> tuple[int, int] | None:
    """A move that would prove the value ok: (+1, g) = reach ≥ g, (-1, h) = reach ≤ h."""
    top = max(b, a) + _SPAN
    for g in range(b + 1, (top if U is None else min(U, top)) + 1):
        if _decide(L, a, g, U) is True:
            return (1, g)
    for h in range(a - 1, max(L, a - _SPAN) - 1, -1):
        if _decide(L, h, b, U) is True:
            return (-1, h)
    return None


def _row_ids(mat: np.ndarray) -> np.ndarray:
    """Ids of the rows of an int matrix, numbered in lexicographic order of the rows."""
    if mat.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, inv = np.unique(mat, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _lookup(query: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row of `query`, the index of the first equal row of `table`, else -1."""
    out = np.full(query.shape[0], -1, dtype=np.int64)
    if query.shape[0] == 0 or table.shape[0] == 0:
        return out
    inv = _row_ids(np.vstack([table, query]))
    first = np.full(int(inv.max()) + 1, -1, dtype=np.int64)
    nt = table.shape[0]
    first[inv[:nt][::-1]] = np.arange(nt)[::-1]
    return first[inv[nt:]]


def _level(attr: str) -> tuple[str, int]:
    """(hierarchy or attribute, level index; 0 = finest)."""
    h = ATTRIBUTES[attr].hierarchy
    if h:
        return h, HIERARCHIES[h].index(attr)
    return attr, 0


def _refines(c: tuple[str, ...], p: tuple[str, ...]) -> bool:
    """Whether grouping c is at least as fine as p."""
    cl = dict(_level(x) for x in c)
    for x in p:
        h, lev = _level(x)
        if h not in cl or cl[h] > lev:
            return False
    return True


def _covers(groupings: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(P, C) pairs: C strictly refines P and no grouping present lies strictly between."""
    out = []
    for p in groupings:
        finer = [c for c in groupings if c != p and _refines(c, p)]
        for c in finer:
            if not any(d != c and _refines(c, d) for d in finer):
                out.append((p, c))
    return out


def _carried_columns(attrs: tuple[str, ...], cube: Cube) -> list[str]:
    carried = set(catalog.carried_attributes("|".join(attrs)))
    return [ATTRIBUTES[x].column for x in cube.attributes if x in carried]


# --- reading the published frame, variables and relations ---------------------------------


class _Audit:
    def __init__(self, published: pd.DataFrame, cube: Cube, outcome_of_withheld: bool):
        self.cube = cube
        self.df = published.reset_index(drop=True)
        self.n = len(self.df)
        self.outcome_of_withheld = outcome_of_withheld
        self.stock = cube.kind == "stock"
        self.value_col = cube.value_column
        self.outcome_cols = [
            m.column for m in cube.measures
            if m.kind == "count" and m.additive and m.outcome and m.column != cube.value_column
        ]
        self.measures = [self.value_col] + self.outcome_cols
        self.errors: list[dict] = []

    # -- errors and cell descriptions ----------------------------------------------------

    def members(self, i: int) -> dict:
        out = {}
        for c in self.cube.columns:
            k = self.codes[c][i]
            if k >= 0:
                out[c] = self.uniques[c][k]
        return out

    def cell(self, i: int) -> dict:
        return {"gruppering": self.grp[i], "statusdato": self.sdate[i], "members": self.members(i)}

    def error(self, kind: str, i: int | None = None, **extra) -> None:
        e = {"type": kind}
        if i is not None:
            e.update(self.cell(i))
        e.update(extra)
        self.errors.append(e)

    # -- reading -------------------------------------------------------------------------

    def read(self) -> None:
        df, cube, n = self.df, self.cube, self.n

        def strings(col) -> list:
            if col not in df.columns:
                return [None] * n
            vals = df[col].to_numpy(dtype=object)
            miss = pd.isna(vals)
            return [None if m else (v if type(v) is str else str(v)) for v, m in zip(vals, miss)]

        self.grp = [v or "" for v in strings("gruppering")]
        if self.stock and "statusdato" in df.columns:
            cache: dict = {}
            out = []
            for v in df["statusdato"].to_numpy(dtype=object):
                key = v if isinstance(v, str) or v is None else repr(v)
                if key not in cache:
                    cache[key] = _iso(v)
                out.append(cache[key])
            self.sdate = out
        else:
            self.sdate = [None] * n
        # captions as codes over the sorted distinct captions (canonical, row-order free)
        self.codes: dict[str, np.ndarray] = {}
        self.uniques: dict[str, list[str]] = {}
        for c in cube.columns:
            self.codes[c], self.uniques[c] = _codes(strings(c))
        self.values: dict[str, np.ndarray] = {}
        for m in cube.measures:
            if m.column in df.columns:
                self.values[m.column] = _num(df[m.column])
        for c in self.measures:
            self.values.setdefault(c, np.full(n, np.nan))
        self.present = [m for m in cube.measures if m.column in df.columns]
        self.status = strings("status") if "status" in df.columns else None
        self.sys, _ = _codes(self.sdate)  # -1: none (flow cubes)

    def parse_groupings(self) -> None:
        """Per distinct grouping key: attributes, system grouping, columns; per row its id."""
        cube = self.cube
        known = set(cube.groupings)
        self.gid, self.g_key = _codes(self.grp)
        self.g_attrs: list[tuple[str, ...] | None] = []
        for gi, key in enumerate(self.g_key):
            attrs = tuple(key.split("|")) if key else ()
            ok = all(x in cube.attributes and ATTRIBUTES[x].alias_of is None for x in attrs)
            ok = ok and catalog.grouping_key(attrs, cube) == key
            if ok and self.stock and not any(ATTRIBUTES[x].hierarchy == "Tid" for x in attrs):
                ok = False
            self.g_attrs.append(attrs if ok else None)
            if key not in known:
                self.error("unknown_grouping", int(np.flatnonzero(self.gid == gi)[0]))
        # system grouping (stock: without time) and its columns
        self.eg_of_g: list[tuple[str, ...] | None] = []
        for attrs in self.g_attrs:
            if attrs is None:
                self.eg_of_g.append(None)
            else:
                self.eg_of_g.append(tuple(
                    x for x in attrs if not (self.stock and ATTRIBUTES[x].hierarchy == "Tid")
                ))
        egs = sorted({e for e in self.eg_of_g if e is not None},
                     key=lambda e: catalog._gsort("|".join(e), cube))
        self.egs = egs
        self.eg_id = {e: k for k, e in enumerate(egs)}
        self.eg_cols = [_carried_columns(e, cube) for e in egs]

    def build_variables(self) -> None:
        n, cube = self.n, self.cube
        valid = np.ones(n, dtype=bool)
        row_eg = np.full(n, -1, dtype=np.int64)
        for gi, attrs in enumerate(self.g_attrs):
            rows = self.gid == gi
            if attrs is None:
                valid &= ~rows
                continue
            row_eg[rows] = self.eg_id[self.eg_of_g[gi]]
            full = _carried_columns(attrs, cube)
            miss = rows & np.logical_or.reduce([self.codes[c] < 0 for c in full] or [np.zeros(n, bool)])
            for i in np.flatnonzero(miss):
                self.error("missing_caption", int(i))
            valid &= ~miss
        if self.stock:
            nosys = valid & (self.sys < 0)
            for i in np.flatnonzero(nosys):
                self.error("missing_statusdato", int(i))
            valid &= ~nosys
        # key matrix: system, grouping, captions on the grouping's columns (else -1)
        self.col_pos = {c: 2 + k for k, c in enumerate(cube.columns)}
        key = np.full((n, 2 + len(cube.columns)), -1, dtype=np.int64)
        key[:, 0] = self.sys
        key[:, 1] = row_eg
        for k, cols in enumerate(self.eg_cols):
            rows = row_eg == k
            for c in cols:
                key[rows, self.col_pos[c]] = self.codes[c][rows]
        rows_idx = np.flatnonzero(valid)
        var = _row_ids(key[rows_idx])  # lexicographic: canonical numbering
        self.row_var = np.full(n, -1, dtype=np.int64)
        self.row_var[rows_idx] = var
        self.n_var = int(var.max()) + 1 if len(var) else 0
        first = np.full(self.n_var, n, dtype=np.int64)
        np.minimum.at(first, var, rows_idx)
        self.var_first_row = first
        self.var_key = key[first] if self.n_var else key[:0]
        self.var_sys = self.var_key[:, 0]
        self.var_eg = self.var_key[:, 1]
        # duplicates: the same variable twice in one grouping
        vg = np.stack([var, self.gid[rows_idx]], axis=1)
        if len(vg):
            _, idx, counts = np.unique(vg, axis=0, return_index=True, return_counts=True)
            for k in np.flatnonzero(counts > 1):
                same = rows_idx[(vg[:, 0] == vg[idx[k], 0]) & (vg[:, 1] == vg[idx[k], 1])]
                self.error("duplicate_cell", int(same[1]))
        # published value per variable and measure (rows of one variable must agree)
        nm = len(self.measures)
        self.known = np.full(nm * self.n_var, np.nan)
        for mi, col in enumerate(self.measures):
            vals = self.values[col][rows_idx]
            pub = ~np.isnan(vals)
            lo = np.full(self.n_var, np.nan)
            hi = np.full(self.n_var, np.nan)
            np.fmin.at(lo, var[pub], vals[pub])
            np.fmax.at(hi, var[pub], vals[pub])
            for v in np.flatnonzero(lo != hi):
                if np.isnan(lo[v]):
                    continue
                rs = [int(r) for r in rows_idx[(var == v) & pub]]
                self.error("unequal_values", rs[0], measure=col,
                           values=sorted({_num_out(self.values[col][r]) for r in rs}),
                           rows=[self.cell(r) for r in rs])
            self.known[mi * self.n_var:(mi + 1) * self.n_var] = lo

    def gkey_of_var(self, eg: int, like_var: int) -> str:
        """Grouping key of system grouping eg (stock: with the time level of like_var)."""
        e = self.egs[int(eg)]
        if not self.stock:
            return "|".join(e)
        attrs = self.g_attrs[self.gid[self.var_first_row[like_var]]] or ()
        tid = [x for x in attrs if ATTRIBUTES[x].hierarchy == "Tid"]
        return catalog.grouping_key(tuple(tid) + e, self.cube)

    def build_relations(self):
        """Sparse relation matrix (rows: P - sum C = 0 per cover pair and P-cell)."""
        vk = self.var_key
        var_ids = np.arange(self.n_var)
        by_eg = {int(k): var_ids[self.var_eg == k] for k in np.unique(self.var_eg)}
        present: dict[int, set] = defaultdict(set)
        for s_, e in zip(self.var_sys.tolist(), self.var_eg.tolist()):
            present[s_].add(e)
        sigs: dict[frozenset, list[int]] = defaultdict(list)
        for s_, egs in present.items():
            sigs[frozenset(egs)].append(s_)
        rr, cc, vv = [], [], []
        meta_parent, meta_child = [], []
        n_rel = 0
        for sig in sorted(sigs, key=lambda x: sorted(x)):
            systems = np.array(sorted(sigs[sig]), dtype=np.int64)
            single = len(sigs) == 1
            for p, c in _covers([self.egs[k] for k in sorted(sig)]):
                pk, ck = self.eg_id[p], self.eg_id[c]
                P, C = by_eg[pk], by_eg[ck]
                if not single:
                    P = P[np.isin(self.var_sys[P], systems)]
                    C = C[np.isin(self.var_sys[C], systems)]
                kpos = [0] + [self.col_pos[col] for col in self.eg_cols[pk]]
                parent = _lookup(vk[C][:, kpos], vk[P][:, kpos])  # index into P, or -1
                orphan = parent < 0
                for v in C[orphan][:1000]:
                    self.error("missing_margin_cell", int(self.var_first_row[v]),
                               margin_gruppering=self.gkey_of_var(pk, int(v)))
                prow = np.arange(n_rel, n_rel + len(P))
                rr += [prow, prow[parent[~orphan]]]
                cc += [P, C[~orphan]]
                vv += [np.ones(len(P)), -np.ones(int((~orphan).sum()))]
                meta_parent.append(P)
                meta_child.append(np.full(len(P), ck))
                n_rel += len(P)
        nm, nv = len(self.measures), self.n_var
        if n_rel:
            r = np.concatenate(rr)
            c = np.concatenate(cc)
            v = np.concatenate(vv)
            self.rel_parent = np.concatenate(meta_parent)
            self.rel_child = np.concatenate(meta_child)
        else:
            r = c = np.zeros(0, dtype=np.int64)
            v = np.zeros(0)
            self.rel_parent = self.rel_child = np.zeros(0, dtype=np.int64)
        self.n_rel = n_rel
        R = np.concatenate([r + k * n_rel for k in range(nm)])
        Cc = np.concatenate([c + k * nv for k in range(nm)])
        V = np.tile(v, nm)
        return sp.csr_matrix((V, (R, Cc)), shape=(nm * n_rel, nm * nv))

    # -- consistency checks on the published frame -----------------------------------------

    def _row_lookup(self, rows: np.ndarray, attrs: tuple[str, ...]) -> np.ndarray:
        """For each row in rows: the row of grouping `attrs` with the same status date and the
        same captions on that grouping's columns (-1 if none)."""
        key = catalog.grouping_key(attrs, self.cube)
        if key not in self.g_key:
            return np.full(len(rows), -1, dtype=np.int64)
        cols = _carried_columns(attrs, self.cube)
        table = np.flatnonzero(self.gid == self.g_key.index(key))

        def mat(r):
            return np.stack([self.sys[r]] + [self.codes[c][r] for c in cols], axis=1)

        j = _lookup(mat(rows), mat(table))
        return np.where(j >= 0, table[np.maximum(j, 0)], -1)

    def check_frame(self) -> None:
        n = self.n
        value = self.values[self.value_col]
        nulls = np.zeros((n, len(self.present)), dtype=bool)
        for k, m in enumerate(self.present):
            nulls[:, k] = np.isnan(self.values[m.column])
        anynull = nulls.any(axis=1) if len(self.present) else np.zeros(n, bool)
        if self.status is not None:
            for i in range(n):
                want = "diskretioneret" if anynull[i] else "publiceret"
                if self.status[i] != want:
                    self.error("status_mismatch", i, status=self.status[i], expected=want)
        for i in np.flatnonzero(value == 0):
            self.error("published_zero", int(i), measure=self.value_col)
        for m in self.present:
            if m.kind == "count":
                x = self.values[m.column]
                with np.errstate(invalid="ignore"):
                    bad = (x < 0) | (np.abs(x - np.round(x)) > _EPS)
                for i in np.flatnonzero(bad):
                    self.error("invalid_count", int(i), measure=m.column, value=_num_out(x[i]))
        shown = (~nulls).any(axis=1) if len(self.present) else np.zeros(n, bool)
        for i in np.flatnonzero(np.isnan(value) & shown):
            self.error("measure_without_value", int(i),
                       measures=[m.column for k, m in enumerate(self.present) if not nulls[i, k]])
        for oc in self.outcome_cols:
            o = self.values[oc]
            for i in np.flatnonzero(o > value):
                self.error("outcome_exceeds_count", int(i), measure=oc, value=_num_out(o[i]),
                           count=_num_out(value[i]))
        for m in self.present:
            if m.kind != "share":
                continue
            s = self.values[m.column]
            num = self.values.get(m.numerator, np.full(n, np.nan))
            pub = np.flatnonzero(~np.isnan(s))
            for i in pub[np.isnan(num[pub])]:
                self.error("share_without_count", int(i), measure=m.column, count=m.numerator)
            pub = pub[~np.isnan(num[pub])]
            den = np.full(len(pub), np.nan)
            desc = {}
            if m.denominator_column:
                den = self.values.get(m.denominator_column, np.full(n, np.nan))[pub]
                desc = {"denominator": m.denominator_column}
            else:
                drops = {catalog.canonical(x) for x in m.denominator_drops}
                for gi, attrs in enumerate(self.g_attrs):
                    sel = self.gid[pub] == gi
                    if attrs is None or not sel.any():
                        continue
                    dattrs = tuple(x for x in attrs if x not in drops)
                    rows = pub[sel]
                    j = self._row_lookup(rows, dattrs)
                    dkey = catalog.grouping_key(dattrs, self.cube)
                    for i in rows[j < 0]:
                        self.error("share_denominator_missing", int(i), measure=m.column,
                                   denominator_gruppering=dkey)
                    d = np.full(len(rows), np.nan)
                    d[j >= 0] = self.values[m.numerator][j[j >= 0]]
                    d[j < 0] = -1.0  # reported above
                    den[sel] = d
                    desc[gi] = dkey
            for k, i in enumerate(pub):
                d = den[k]
                if d == -1.0 and not m.denominator_column:
                    continue
                label = desc.get("denominator", desc.get(self.gid[i]))
                if np.isnan(d):
                    self.error("share_without_denominator", int(i), measure=m.column,
                               denominator=label)
                elif d <= 0 or abs(s[i] - num[i] / d) > _SHARE_TOL:
                    self.error("share_value", int(i), measure=m.column, value=float(s[i]),
                               expected=(float(num[i] / d) if d > 0 else None))

    # -- the 100 % report ------------------------------------------------------------------

    def hundred_percent(self) -> list[dict]:
        out: list[tuple[int, int, dict]] = []
        value = self.values[self.value_col]
        risk = "[Frafaldsrisiko].[Frafaldsrisiko]"
        if risk in self.cube.attributes:
            for gi, attrs in enumerate(self.g_attrs):
                if attrs is None or risk not in attrs:
                    continue
                rows = np.flatnonzero((self.gid == gi) & (value >= 1))
                if not len(rows):
                    continue
                margin = tuple(x for x in attrs if x != risk)
                mkey = catalog.grouping_key(margin, self.cube)
                j = self._row_lookup(rows, margin)
                for i, jj in zip(rows, j):
                    if jj >= 0 and value[jj] == value[i]:
                        out.append((int(i), 0, {
                            "type": "frafaldsrisiko_hele_margen", **self.cell(int(i)),
                            "measure": self.value_col, "value": _num_out(value[i]),
                            "margin_gruppering": mkey, "margin": _num_out(value[jj])}))
        for oc in self.outcome_cols:
            o = self.values[oc]
            for i in np.flatnonzero((value >= 1) & ~np.isnan(o) & ((o == value) | (o == 0))):
                kind = "alle_afbrudt" if o[i] == value[i] else "ingen_afbrudt"
                out.append((int(i), 1, {
                    "type": kind, **self.cell(int(i)), "measure": oc, "value": _num_out(o[i]),
                    self.value_col: _num_out(value[i])}))
        out.sort(key=lambda t: (t[0], t[1]))
        return [d for _, _, d in out]

    # -- targets -------------------------------------------------------------------------

    def targets(self) -> list[tuple[int, str, tuple]]:
        """(row, measure label, objective) per withheld value, in frame order. An objective is
        a tuple of (coefficient, variable index) over the measure blocks."""
        out = []
        value = self.values[self.value_col]
        nv = self.n_var
        for i in range(self.n):
            v = int(self.row_var[i])
            if v < 0:
                continue
            if np.isnan(value[i]):
                out.append((i, self.value_col, ((1.0, v),)))
                if not self.outcome_of_withheld:
                    continue
            for k, oc in enumerate(self.outcome_cols, start=1):
                if not np.isnan(self.values[oc][i]):
                    continue
                o = k * nv + v
                out.append((i, oc, ((1.0, o),)))
                out.append((i, f"{self.value_col}{DIFF_SEP}{oc}", ((1.0, v), (-1.0, o))))
        return out


# --- bound tightening ---------------------------------------------------------------------


def _tighten(A: sp.csr_matrix, b: np.ndarray, ineq: np.ndarray, lb: np.ndarray,
             ub: np.ndarray, rounds: int = 100) -> bool:
    """Activity-based bound tightening on A x = b, x[a] ≤ x[e] for (e, a) in ineq, in place.
    Returns False when infeasibility is proved."""
    C = A.tocoo()
    rows, cols, vals = C.row, C.col, C.data
    m = A.shape[0]
    pos = vals > 0
    ie, ia = (ineq[:, 0], ineq[:, 1]) if len(ineq) else (np.zeros(0, int), np.zeros(0, int))
    for _ in range(rounds):
        old_lb, old_ub = lb.copy(), ub.copy()
        if m:
            lbv, ubv = lb[cols], ub[cols]
            uinf = np.isinf(ubv)
            ubf = np.where(uinf, 0.0, ubv)
            cmin = np.where(pos, vals * lbv, vals * ubf)  # lb finite (≥ 0) throughout
            cmax = np.where(pos, vals * ubf, vals * lbv)
            imin = ((~pos) & uinf).astype(float)  # entries contributing -inf to min activity
            imax = (pos & uinf).astype(float)  # entries contributing +inf to max activity
            minact = np.bincount(rows, cmin, minlength=m)
            maxact = np.bincount(rows, cmax, minlength=m)
            nmin = np.bincount(rows, imin, minlength=m)
            nmax = np.bincount(rows, imax, minlength=m)
            minrest, maxrest = minact[rows] - cmin, maxact[rows] - cmax
            nminr = np.rint(nmin[rows] - imin)
            nmaxr = np.rint(nmax[rows] - imax)
            bb = b[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                # a x = b - rest with rest in [minrest, maxrest]
                hi = np.where(pos, np.where(nminr == 0, (bb - minrest) / vals, np.inf),
                              np.where(nmaxr == 0, (bb - maxrest) / vals, np.inf))
                lo = np.where(pos, np.where(nmaxr == 0, (bb - maxrest) / vals, -np.inf),
                              np.where(nminr == 0, (bb - minrest) / vals, -np.inf))
            np.minimum.at(ub, cols, hi)
            np.maximum.at(lb, cols, lo)
        if len(ie):
            np.minimum.at(ub, ia, ub[ie])
            np.maximum.at(lb, ie, lb[ia])
        for arr in (lb, ub):  # snap integer-valued bounds (the data are integers)
            fin = np.isfinite(arr)
            r = np.round(arr[fin])
            v = arr[fin]
            close = np.abs(v - r) < _EPS
            v[close] = r[close]
            arr[fin] = v
        np.maximum(lb, 0.0, out=lb)
        if np.any(lb > ub + _EPS):
            return False
        fin = np.isfinite(ub) & np.isfinite(old_ub)
        if not (np.any(np.abs(lb - old_lb) > _EPS) or np.any(np.abs(ub[fin] - old_ub[fin]) > _EPS)
                or np.any(np.isfinite(ub) != np.isfinite(old_ub))):
            break
    return True


# --- one connected component ---------------------------------------------------------------


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
        self.keep_points = False  # keep every feasible point recorded (for Witnesses)
        self.points: list[np.ndarray] = []
        self.hints_used = 0
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

    def use_hints(self, xs) -> None:
        """Record the candidate points that are feasible here (relations within
        ``HINT_TOL``, the a ≤ e pairs and the implied bounds within it too; then clipped into
        the bounds); the others are dropped. Only ever inner bounds: a point can show that a
        value is reachable, never that one is not."""
        for x in xs:
            x = np.asarray(x, dtype=float)
            if x.shape != (self.n,) or not np.all(np.isfinite(x)):
                continue
            r = self.M @ x
            if np.any(r < self.rlo - HINT_TOL) or np.any(r > self.rhi + HINT_TOL):
                continue
            if np.any(x < self.lb - HINT_TOL) or np.any(x > self.ub + HINT_TOL):
                continue
            self._record(np.clip(x, self.lb, self.ub))
            self.hints_used += 1

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
        self._record(np.asarray(h.getSolution().col_value, dtype=float))
        _primal_hot(h)
        return h

    def solve(self, exact_all: bool, pool, hints=()) -> bool:
        """Fills the inner/outer/exact arrays. False when the component is infeasible.
        ``hints``: candidate feasible points (see :meth:`use_hints`), recorded first."""
        self.use_hints(hints)
        h = self._seed()
        if h is None:
            return False
        exact_mode = exact_all or self.n <= EXACT_MAX_VARS
        if not exact_mode:
            self._goal_rounds(pool)
            todo = [t for t, s in enumerate(self._states()) if s[4] is None]
        else:
            todo = list(range(self.nt))
        if len(todo) <= EXACT_SPLIT_MIN:
            self._exact(h, todo, decide_only=not exact_mode)
        else:  # two fixed halves, each re-solved from the seed basis: same result anywhere
            del h
            halves = [todo[0::2], todo[1::2]]
            for half, out in zip(halves, pool.map(_exact_task, [self, self], halves,
                                                  [not exact_mode] * 2)):
                lo_lp, hi_lp, unb, amin, bmax, lps, pts = out
                self.points.extend(pts)
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
        so far (by the LPs of earlier targets too) already decide it, else first the side
        whose goal (:func:`_goal`) would prove it, the other side only if still open."""
        T = self.T
        n = self.n
        cur = np.arange(n, dtype=np.int32)  # the seed's costs (all ones) are to be cleared

        def run(idx, cost):
            nonlocal cur
            h.changeColsCost(len(cur), cur, np.zeros(len(cur)))
            idx = idx.astype(np.int32)
            h.changeColsCost(len(idx), idx, cost.astype(float))
            cur = idx
            h.run()
            self.lp_count += 1
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

        for t in todo:
            idx = T.indices[T.indptr[t]:T.indptr[t + 1]]
            coef = T.data[T.indptr[t]:T.indptr[t + 1]]
            c = self.consts[t]
            if decide_only:
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
            for x in pool.map(_lp_task, [self.M] * k, costs, [self.lb] * k, [self.ub] * k,
                              [self.rlo] * k, [self.rhi] * k):
                self.lp_count += 1
                if x is not None:
                    self._record(x)
            states = self._states()
            after = sum(1 for x in states if x[4] is None)
            if rnd > 0 and before - after < ROUND_MIN_GAIN:
                return


def _lp_task(M, cost, lo, hi, rlo, rhi):
    """Solve one LP (fresh, presolve on); the primal solution or None."""
    h = _highs(interior=True)
    _pass(h, M, cost, lo, hi, rlo, rhi)
    if _run_interior(h) != "optimal":
        return None
    return np.asarray(h.getSolution().col_value, dtype=float)


def _exact_task(comp: _Component, todo: list[int], decide_only: bool = False):
    """Exact intervals (or verdicts: ``decide_only``) of `todo` on a fresh copy of the
    component's model (seed basis)."""
    comp = copy.deepcopy(comp)  # the same starting state in this process or another
    comp.lp_count = 0
    comp.points = []
    h = comp._seed()
    if h is not None:
        comp._exact(h, todo, decide_only)
    return (comp.lo_lp, comp.hi_lp, comp.hi_unbounded, comp.amin, comp.bmax, comp.lp_count,
            comp.points[1:])  # the seed point is the caller's own


class _Pool:
    """Up to `workers` processes for independent LPs; started on first use. Results never
    depend on the number of workers (the same LPs are solved either way)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._ex = None

    def map(self, fn, *its):
        args = [list(x) for x in its]
        if self.workers <= 1 or len(args[0]) <= 1:
            return list(map(fn, *args))
        import concurrent.futures
        import multiprocessing

        try:
            if self._ex is None:
                self._ex = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
                )
            return list(self._ex.map(fn, *args))
        except (concurrent.futures.process.BrokenProcessPool, RuntimeError, OSError):
            # e.g. an unguarded __main__ under spawn: carry on in this process (same result)
            self.close()
            self.workers = 1
            return list(map(fn, *args))

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown()
            self._ex = None


_SHARED: dict[int, _Pool] = {}


def _shared_pool(workers: int) -> _Pool:
    """The process's pool of ``workers`` processes, kept between audits: a worker costs
    about half a second to start (it imports numpy, scipy, pandas and HiGHS), and a release
    audits every cube, the checked search once per round."""
    pool = _SHARED.get(workers)
    if pool is None or pool.workers != workers:  # fell back to one process: start afresh
        pool = _SHARED[workers] = _Pool(workers)
    return pool


def shutdown_workers() -> None:
    """Stop the audit's worker processes (they start again on the next audit's first use).
    Called when a release's disclosure control is done, and at exit."""
    for pool in _SHARED.values():
        pool.close()
    _SHARED.clear()


atexit.register(shutdown_workers)


# --- the audit ----------------------------------------------------------------------------


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

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def candidates(self, flat: np.ndarray) -> list[np.ndarray]:
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
        if not parts:
            return []
        out = []
        for k in range(max(len(p) for _, p in parts)):
            x = base.copy()
            for pos, pts in parts:
                x[pos] = pts[min(k, len(pts) - 1)]
            out.append(x)
        return out


class ComponentCache:
    """Results of solved components by digest (see :func:`solve_system`).

    ``ident(variables) -> uint64`` gives each system variable an identity that is the same in
    every system the cache serves (the series audit's unknown keys), so the digest does not
    depend on how a build happens to number its variables. Only components of at least
    ``min_size`` unknowns are kept (smaller ones solve faster than they hash). ``entries``:
    loaded from a persistent store (the warehouse) and added to here; ``fresh``: the digests
    added by this process; ``used``: those the last solve met (what is worth keeping)."""

    def __init__(self, ident, entries: dict | None = None, min_size: int = 64):
        self.ident = ident
        self.entries = dict(entries or {})
        self.fresh: set[str] = set()
        self.min_size = min_size
        self.hits = 0
        self.misses = 0
        self.used: set[str] = set()  # the digests the last solve met (begin() resets)

    def begin(self) -> None:
        self.used = set()

    def get(self, digest: str):
        v = self.entries.get(digest)
        if v is None:
            self.misses += 1
        else:
            self.used.add(digest)
        return v

    def put(self, digest: str, results: dict) -> None:
        self.used.add(digest)
        if digest not in self.entries:
            self.entries[digest] = results
            self.fresh.add(digest)


def _component_digest(ident: np.ndarray, comp: "_Component") -> tuple[str, list[str]]:
    """A digest of a component's whole system in a canonical form (unknowns ordered by
    identity, relations and targets by content), and per target a key of its own form."""
    import hashlib

    ident = np.asarray(ident, dtype=np.uint64)
    perm = np.argsort(ident, kind="stable")

    def canon(M: sp.csr_matrix, rhs: np.ndarray) -> list[bytes]:
        """Each row as bytes: its unknowns' identities in order, coefficients, right side."""
        C = M.tocsr()[:, perm].tocsr()
        C.sort_indices()
        rows = []
        for r in range(C.shape[0]):
            a, e = C.indptr[r], C.indptr[r + 1]
            rows.append(ident[perm[C.indices[a:e]]].tobytes() + C.data[a:e].tobytes()
                        + np.float64(rhs[r]).tobytes())
        return rows

    h = hashlib.sha256()
    h.update(ident[perm].tobytes())
    h.update(np.asarray(comp.lb, float)[perm].tobytes())
    h.update(np.where(np.isinf(comp.ub), -1.0, comp.ub)[perm].tobytes())
    for row in sorted(canon(comp.A, comp.b)):
        h.update(hashlib.blake2b(row, digest_size=16).digest())
    pairs = sorted((int(ident[e]), int(ident[a])) for e, a in np.asarray(comp.ineq).tolist())
    h.update(repr(pairs).encode())
    tk = [hashlib.blake2b(r, digest_size=16).hexdigest()
          for r in canon(comp.T, np.asarray(comp.consts, float))]
    for k in sorted(tk):
        h.update(k.encode())
    return h.hexdigest(), tk


def solve_system(A: sp.csr_matrix, known: np.ndarray, objs: list[tuple],
                 ineq_pairs, report, *, exact: bool = False, workers: int | None = None,
                 hints_for=None, keep_points: bool = False,
                 cache=None) -> tuple[list[dict], dict]:
    """Feasible intervals and verdicts of linear objectives over an attacker's system.

    ``A`` (relations x variables): every relation is ``A x = 0``; ``known`` holds the
    published value of a variable, NaN where it is withheld; every variable is ≥ 0, and for
    each ``(count, outcome)`` pair in ``ineq_pairs`` the outcome is at most the count.
    ``objs``: objectives, each a tuple of ``(coefficient, variable)``, in a canonical order.
    ``report`` receives ``relation_error(row, kind, residual)``, ``outcome_error(count,
    outcome, value, count_value)`` and ``infeasible(objective indices)``. ``hints_for(vars)``
    returns carried points over those variables (checked before use, inner bounds only).
    Returns one result dict per objective (``lo``, ``hi``, ``lo_bound``, ``hi_bound``,
    ``exact``, ``ok``) and the solve's bookkeeping (LPs, carried points used, the points
    found per component over the system's variables, and every determined value).
    Used by the frame audit (:func:`audit`) and the series audit (``audit_series``).

    ``cache`` (optional, :class:`ComponentCache`): results of components solved before, keyed
    by a digest of everything a component's results depend on (its unknowns' identities, its
    relations with their right-hand sides, bounds, outcome pairs and targets), so a component
    that is exactly the same system as one already audited is not solved again. The series
    audit uses it: its past periods with unchanged truth give the same components release
    after release.
    """
    N = A.shape[1]
    is_known = ~np.isnan(known)
    rhs = -(A @ np.where(is_known, known, 0.0))  # A_U x_U = rhs
    unknown = np.flatnonzero(~is_known)
    uindex = np.full(N, -1, dtype=np.int64)
    uindex[unknown] = np.arange(len(unknown))
    Au = A[:, unknown].tocsr()
    Au.eliminate_zeros()
    cnt = np.diff(Au.indptr).astype(np.int64)

    rel_error = report.relation_error

    # 1. relations without unknowns must hold exactly
    for r in np.flatnonzero((cnt == 0) & (np.abs(rhs) > _EPS)):
        rel_error(int(r), "margin_mismatch", -rhs[r])

    # 2. a relation with one unknown pins it (iterated)
    nu = len(unknown)
    fixed = np.full(nu, np.nan)
    bad_unknowns: set[int] = set()
    Auc = Au.tocsc()
    rhs_w = rhs.copy()
    active = cnt.copy()
    queue = sorted(np.flatnonzero(active == 1).tolist(), reverse=True)
    while queue:
        r = queue.pop()
        if active[r] != 1:
            continue
        j, coef = -1, 0.0
        for k in range(Au.indptr[r], Au.indptr[r + 1]):
            if np.isnan(fixed[Au.indices[k]]):
                j, coef = int(Au.indices[k]), float(Au.data[k])
                break
        if j < 0:
            continue
        val = rhs_w[r] / coef
        if abs(val - round(val)) < _EPS:
            val = float(round(val))
        fixed[j] = val
        if val < -_EPS:
            rel_error(r, "infeasible", val)
            bad_unknowns.add(j)
        for k in range(Auc.indptr[j], Auc.indptr[j + 1]):
            r2 = int(Auc.indices[k])
            rhs_w[r2] -= Auc.data[k] * val
            active[r2] -= 1
            if active[r2] == 1:
                queue.append(r2)
            elif active[r2] == 0 and r2 != r and abs(rhs_w[r2]) > _EPS:
                rel_error(r2, "infeasible", -rhs_w[r2])
                bad_unknowns.add(j)

    # outcome ≤ count, with published and pinned values applied
    def value_of(g: int) -> float:
        return known[g] if is_known[g] else fixed[uindex[g]]

    free = np.isnan(fixed)
    lb = np.zeros(nu)
    ub = np.full(nu, np.inf)
    ineq: list[tuple[int, int]] = []  # (e, a) unknown indices, both free
    for ge, ga in ineq_pairs:
        ue, ua = int(uindex[ge]), int(uindex[ga])
        fe = ue >= 0 and free[ue]
        fa = ua >= 0 and free[ua]
        if fe and fa:
            ineq.append((ue, ua))
        elif fa:
            ub[ua] = min(ub[ua], value_of(ge))
        elif fe:
            lb[ue] = max(lb[ue], value_of(ga))
        else:
            ve, va = value_of(ge), value_of(ga)
            if va > ve + _EPS and (ue >= 0 or ua >= 0):
                report.outcome_error(int(ge), int(ga), va, ve)
                bad_unknowns.update(u for u in (ue, ua) if u >= 0)

    # 3. the reduced system over free unknowns, its implied bounds and components; unknowns
    # whose implied bounds meet are determined: they leave the system like pinned ones (the
    # LPs get smaller and components may split), repeated until none is left
    had_free = None
    while True:
        free_idx = np.flatnonzero(free)
        nf = len(free_idx)
        fpos = np.full(nu, -1, dtype=np.int64)
        fpos[free_idx] = np.arange(nf)
        Af = Au[:, free_idx].tocsr()
        Af.eliminate_zeros()
        has_free = np.diff(Af.indptr) > 0
        live = np.flatnonzero(has_free)
        Af = Af[live]
        bf = rhs_w[live]
        ineq_f = np.array([(fpos[e], fpos[x]) for e, x in ineq if free[e] and free[x]],
                          dtype=np.int64).reshape(-1, 2)
        lbf, ubf = lb[free_idx].copy(), ub[free_idx].copy()
        # a relation left without unknowns by the last substitution must hold
        feasible = had_free is None or not np.any(had_free & ~has_free
                                                  & (np.abs(rhs_w) > 1e-6))
        had_free = has_free
        feasible = feasible and _tighten(Af, bf, ineq_f, lbf, ubf)
        if not feasible:
            break
        in_ineq = np.zeros(nf, dtype=bool)
        in_ineq[ineq_f.ravel()] = True  # outcome pairs stay (their bounds couple them)
        pin = np.flatnonzero((ubf - lbf <= _EPS) & ~in_ineq)
        if not len(pin):
            break
        u = free_idx[pin]
        fixed[u] = lbf[pin]
        free[u] = False
        rhs_w -= Au[:, u] @ lbf[pin]
    if nf:
        nr, ni = Af.shape[0], len(ineq_f)
        Ac = Af.tocoo()
        gi = np.concatenate([Ac.col, ineq_f[:, 0], ineq_f[:, 1]]).astype(np.int64)
        gj = np.concatenate([nf + Ac.row, nf + nr + np.arange(ni), nf + nr + np.arange(ni)])
        G = sp.csr_matrix((np.ones(len(gi)), (gi, gj.astype(np.int64))),
                          shape=(nf + nr + ni, nf + nr + ni))
        _, comp = connected_components(G, directed=False)
        comp = comp[:nf]
    else:
        comp = np.zeros(0, dtype=np.int64)
    comp_bad: set[int] = set()
    for j in bad_unknowns:
        if free[j]:
            comp_bad.add(int(comp[fpos[j]]))
    if not feasible:
        comp_bad.update(int(c) for c in np.unique(comp))

    # 4. targets: unique objectives in canonical order, grouped by component
    res: list[dict | None] = [None] * len(objs)
    by_comp: dict[int, list[int]] = defaultdict(list)
    tdef: dict[int, tuple[float, list[tuple[float, int]]]] = {}
    for t, obj in enumerate(objs):
        const, terms, bad = 0.0, [], False
        for coef, g in obj:
            u = uindex[g]
            if u < 0:
                const += coef * known[g]
            elif not free[u]:
                const += coef * fixed[u]
                bad = bad or int(u) in bad_unknowns
            else:
                terms.append((coef, int(fpos[u])))
        if not terms:
            if bad:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            else:
                v = _num_out(const)
                v = int(round(const)) if isinstance(v, float) else v
                res[t] = {"lo": v, "hi": v, "lo_bound": v, "hi_bound": v, "exact": True,
                          "ok": interval_ok(v, v)}
            continue
        comps = {int(comp[f]) for _, f in terms}
        if len(comps) != 1:  # cannot happen: a count and its outcome share a ≤ relation
            raise AssertionError("a target spans components")
        by_comp[comps.pop()].append(t)
        tdef[t] = (const, terms)

    rows_of: dict[int, list[int]] = defaultdict(list)
    if Af.shape[0]:
        row_comp = comp[Af.indices[Af.indptr[:-1]]]
        for r, c in enumerate(row_comp.tolist()):
            rows_of[c].append(r)
    ineq_of: dict[int, list[int]] = defaultdict(list)
    for p, e in enumerate(ineq_f[:, 0].tolist()):
        ineq_of[int(comp[e])].append(p)
    cols_of: dict[int, list[int]] = defaultdict(list)
    for f, c in enumerate(comp.tolist()):
        cols_of[c].append(f)

    lp_count = 0
    hints_used = 0
    reused, solved = 0, []  # components taken from the cache; sizes of those solved
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    pool = _shared_pool(workers)
    for c in sorted(by_comp):
        ts = by_comp[c]
        if c in comp_bad:
            for t in ts:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            continue
        cols = np.array(cols_of[c], dtype=np.int64)
        loc = np.full(nf, -1, dtype=np.int64)
        loc[cols] = np.arange(len(cols))
        rws = np.array(rows_of.get(c, []), dtype=np.int64)
        Ac_ = Af[rws][:, cols] if len(rws) else sp.csr_matrix((0, len(cols)))
        iq = ineq_f[ineq_of.get(c, [])]
        iq = loc[iq] if len(iq) else np.zeros((0, 2), dtype=np.int64)
        tr, tc, tv = [], [], []
        for k, t in enumerate(ts):
            for coef, f in tdef[t][1]:
                tr.append(k)
                tc.append(loc[f])
                tv.append(coef)
        Tm = sp.csr_matrix((tv, (tr, tc)), shape=(len(ts), len(cols)))
        comp_ = _Component(Ac_.tocsr(), bf[rws] if len(rws) else np.zeros(0), iq,
                           lbf[cols].copy(), ubf[cols].copy(), Tm,
                           np.array([tdef[t][0] for t in ts]))
        glob = unknown[free_idx[cols]]  # the system's variables of the unknowns
        digest = tkeys = None
        if cache is not None and len(cols) >= cache.min_size:
            digest, tkeys = _component_digest(cache.ident(glob), comp_)
            hit = cache.get(digest)
            if hit is not None and all(k in hit for k in tkeys):
                for t, k in zip(ts, tkeys):
                    res[t] = dict(hit[k])
                cache.hits += 1
                reused += 1
                continue
        solved.append(len(cols))
        comp_.keep_points = keep_points
        hints = hints_for(glob) if hints_for is not None else []
        feasible_c = comp_.solve(exact, pool, hints)
        lp_count += comp_.lp_count
        hints_used += comp_.hints_used
        if feasible_c and comp_.points:
            blocks.append((glob, np.array(comp_.points)))
        if not feasible_c:
            report.infeasible(ts)
            for t in ts:
                res[t] = {"lo": None, "hi": None, "lo_bound": None, "hi_bound": None,
                          "exact": False, "ok": False}
            continue
        states = comp_._states()
        for k, t in enumerate(ts):
            L, a_, b, U, d = states[k]
            if b is None:  # proved unbounded
                res[t] = {"lo": L, "hi": None, "lo_bound": L, "hi_bound": None,
                          "exact": L == a_, "ok": True}
                continue
            if d is None:  # not decided: only possible if an LP failed; be strict
                d = False
            res[t] = {"lo": a_, "hi": b, "lo_bound": L, "hi_bound": U,
                      "exact": L == a_ and U is not None and U == b, "ok": bool(d)}
        if digest is not None:
            cache.put(digest, {k: res[t] for t, k in zip(ts, tkeys)})

    full = known.copy()
    full[unknown] = fixed  # determined values; NaN where free (the blocks hold those)
    return res, {"lps": lp_count, "hints_used": hints_used, "blocks": blocks, "values": full,
                 "components_reused": reused, "components_solved": len(solved),
                 "largest_solved": max(solved, default=0)}


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
    by this audit's points on return.
    """
    a = _Audit(published, cube, outcome_of_withheld)
    a.read()
    a.parse_groupings()
    a.build_variables()
    a.check_frame()
    A = a.build_relations()
    hundred = a.hundred_percent()
    nm, nv = len(a.measures), a.n_var
    targets = a.targets()
    objs = sorted({obj for _, _, obj in targets}, key=lambda o: [(g, c) for c, g in o])
    tindex = {o: k for k, o in enumerate(objs)}
    shape = (a.n, tuple(a.measures))
    carry = witnesses is not None and witnesses.shape == shape

    def flat_of(glob: np.ndarray) -> np.ndarray:  # the frame cells of system variables
        mi_, v_ = np.divmod(glob, nv)
        return mi_ * a.n + a.var_first_row[v_]

    class Report:
        def relation_error(self, r: int, kind: str, residual: float) -> None:
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
            a.error("outcome_exceeds_count", int(a.var_first_row[ge]),
                    measure=a.measures[ga // nv], value=_num_out(va), count=_num_out(ve))

        def infeasible(self, ts: list[int]) -> None:
            row0 = min(i for i, _, obj in targets if tindex[obj] in set(ts))
            a.error("infeasible", row0, detail="the published numbers admit no non-negative "
                    "solution for this linked group of withheld cells")

    pairs = [(v, k * nv + v) for k in range(1, nm) for v in range(nv)]
    res, info = solve_system(
        A, a.known, objs, pairs, Report(), exact=exact, workers=workers,
        hints_for=(lambda glob: witnesses.candidates(flat_of(glob))) if carry else None,
        keep_points=witnesses is not None)
    lp_count, hints_used = info["lps"], info["hints_used"]
    if witnesses is not None:  # this audit's points, for the next audit of this frame
        full = info["values"]
        base = np.full((nm, a.n), np.nan)
        has_var = a.row_var >= 0
        for mi in range(nm):
            base[mi, has_var] = full[mi * nv + a.row_var[has_var]]
        witnesses.shape, witnesses.base = shape, base
        witnesses.blocks = [(flat_of(g), pts) for g, pts in info["blocks"]]
        witnesses.last = {"lps": lp_count, "hints_used": hints_used}


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
    from transforms.disclosure.verdict import Verdict

    verdict = Verdict.over(results.values())
    return {
        "verdict": verdict.text,
        "withheld": verdict.withheld,
        "checked": verdict.checked,
        "failed": verdict.failed,
        "consistency_errors": verdict.consistency_errors,
        "metode": METHOD,
        "cubes": results,
    }
