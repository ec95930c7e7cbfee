"""The series audit (publication contract, section 3.7): every release published so far, together.

What was published once stays public, so an attacker holds every release at once. The audit
of one release (:func:`audit.audit`) checks a cube's withheld cells against that release's
numbers; this module checks the withheld cells of *every* published version of a cube
against the union of all their published numbers. It shares no code with the suppressor.

The attacker's system over the series
-------------------------------------
*Where the truth is unchanged, a number is one unknown in every release.* The auditor knows
the truth each version was built from (``truth``: kept privately in the warehouse, never
published), so identity is decided on the truth, as the contract states: two versions share
an unknown exactly where its true value is the same.

*Flow cubes (AFSLAARS).* Time is additive and releases publish partial periods (the running
quarter and year, and every total over time, end at the release month), so two releases'
year-to-date cells differ by exactly the newest month. The model is the attacker's true one
at month level (non-negative month counts ``x(G, X, m)`` for every non-time grouping ``G``
and caption combination ``X``, with the cover relations of the groupings in every month),
written compactly: per ``G`` one unknown per time span any version publishes and per
*segment* between the months where such spans start or end, identified by
``(G, X, span, true value)``. Each span is the sum of its largest sub-spans (down to the
segments) and the covers between groupings hold at every span of the finer grouping. For a
single release this is the single audit's system; over monthly releases the segments are
months.

*Stock cubes.* Each status date is a system of its own (as in the single audit); a cell is
identified by ``(status date, G, X, true value)`` per count, and an outcome count lies
between 0 and its cell's count.

*Distinct equations.* Complete past periods whose truth is unchanged give the same unknowns,
relations and published values in every release, so each is added once: the union grows by
what each release adds (its new month, its partial periods, revised cells), not by its size.

The rule (section 3.3) is then checked, with the solver of the single audit
(:func:`audit.solve_system`), for every value withheld in any version: a value withheld in one
version but published, with the same truth, in another is known, and fails.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms import catalog
from transforms.calendar import Release, month_range
from transforms.catalog import ATTRIBUTES, Cube
from transforms.disclosure.audit import FAILED, PASSED, interval_ok, solve_system
from transforms.disclosure.audit.frame import _covers, _iso, _num
from transforms.disclosure.audit.rule import _num_out

SEP = "\x1f"
_KOMMUNE, _REGION = "[Arbejdssted].[Kommune]", "[Arbejdssted].[Region]"
_B = np.uint64(1_000_003)  # rolling-hash base over month unknowns' ids

METHOD = (
    "Serierevision: alle offentliggjorte versioner af kuben under ét. Et tal med uændret "
    "sandhed er én ubekendt i alle udgivelser; flowkuber på månedsniveau (delperioder og "
    "totaler som summer af måneder), bestandskuber pr. statusdato. Samme regel som "
    "enkeltrevisionen for hver diskretioneret værdi i hver version."
)


@dataclass
class SeriesVersion:
    """One published version of one cube: its label (``2026-10`` or ``2026-10.2``), release
    month, published cell frame (count measures NaN where withheld), and the truth it was
    built from (:func:`truth_frame` format)."""
    label: str
    release: str
    frame: pd.DataFrame
    truth: pd.DataFrame
    rows: dict = field(default_factory=dict)


# --- captions -------------------------------------------------------------------------------


def _first_month(keys: pd.DataFrame) -> str | None:
    """The first month any period of a frame starts in ('YYYYMmm')."""
    starts = []
    for lvl, cap in set(zip(keys["tid"], keys["tcap"])):
        if not isinstance(lvl, str):
            continue
        if lvl == "[Tid].[Måned]":
            starts.append(cap)
        elif lvl == "[Tid].[Kvartal]":
            y, q = cap.split("K")
            starts.append(f"{y}M{3 * int(q) - 2:02d}")
        elif lvl == "[Tid].[År]":
            starts.append(f"{cap}M01")
    return min(starts) if starts else None


def _months(first: str, release: str) -> list[str]:
    """first .. release month as 'YYYYMmm' captions."""
    return [r.caption for r in month_range(Release.from_caption(first), release)]


def _period_months(level: str | None, caption: str | None, months: list[str]) -> tuple[int, int]:
    """Index range [a, b] of the months of a period within ``months`` (the version's)."""
    if not isinstance(level, str):
        return 0, len(months) - 1
    if level == "[Tid].[Måned]":
        k = months.index(caption)
        return k, k
    if level == "[Tid].[Kvartal]":
        y, q = caption.split("K")
        inside = [k for k, m in enumerate(months)
                  if m[:4] == y and (int(m[5:]) - 1) // 3 + 1 == int(q)]
    else:
        inside = [k for k, m in enumerate(months) if m[:4] == caption]
    return inside[0], inside[-1]


def nontime(gkey: str) -> tuple[tuple[str, ...], str | None]:
    attrs = tuple(gkey.split("|")) if gkey else ()
    tid = [a for a in attrs if ATTRIBUTES[a].hierarchy == "Tid"]
    return tuple(a for a in attrs if ATTRIBUTES[a].hierarchy != "Tid"), (tid[0] if tid else None)


def frame_keys(frame: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """Per row: ``G`` (non-time grouping key), ``X`` (its captions), time level and caption,
    unit (flow: None; stock: the status date, ISO)."""
    n = len(frame)
    g = frame["gruppering"].fillna("").astype(str).to_numpy() if n else np.array([], object)
    out = pd.DataFrame({"gruppering": g})
    parsed = {k: nontime(k) for k in set(g)}
    out["G"] = [ "|".join(parsed[k][0]) for k in g]
    out["tid"] = [parsed[k][1] for k in g]
    cols = {a: frame[ATTRIBUTES[a].column].to_numpy(dtype=object) for a in cube.attributes
            if ATTRIBUTES[a].column in frame.columns}
    xs = np.empty(n, dtype=object)
    tcap = np.empty(n, dtype=object)
    for key, (G, tid) in parsed.items():
        sel = np.flatnonzero(g == key)
        parts = [cols[a][sel].astype(str) for a in G]
        xs[sel] = [SEP.join(t) for t in zip(*parts)] if parts else [""] * len(sel)
        tcap[sel] = cols[tid][sel] if tid else None
    out["X"] = xs
    out["tcap"] = tcap
    if cube.kind == "stock":
        out["unit"] = [_iso(v) for v in frame["statusdato"].to_numpy(dtype=object)]
    else:
        out["unit"] = None
    return out


# --- the system -----------------------------------------------------------------------------


class _Builder:
    """Unknowns by identity, relations deduplicated by their terms."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.rel_seen: set[tuple] = set()
        self.rows: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
        self.pairs: set[tuple[int, int]] = set()

    def var(self, key: tuple) -> int:
        v = self.ids.get(key)
        if v is None:
            v = self.ids[key] = len(self.ids)
        return v

    def relation(self, terms: list[tuple[int, float]]) -> None:
        key = tuple(sorted(terms))
        if key in self.rel_seen:
            return
        self.rel_seen.add(key)
        self.rows.append((tuple(t for t, _ in key), tuple(c for _, c in key)))

    def vars(self, keys: np.ndarray, tag: str) -> np.ndarray:
        """Ids of many unknowns at once, by 64-bit identity keys."""
        ids = self.ids
        return np.fromiter((ids.setdefault((tag, k), len(ids)) for k in keys.tolist()),
                           dtype=np.int64, count=len(keys))

    def batch(self, keys: np.ndarray, parent: np.ndarray, child_row: np.ndarray,
              child: np.ndarray) -> None:
        """Relations ``Σ parent[r] - Σ child[child_row == r] = 0`` (``parent[r]``: one unknown
        or a row of them), those whose key is new."""
        seen = self.rel_seen
        new = np.fromiter(((("b", k) not in seen) for k in keys.tolist()), dtype=bool,
                          count=len(keys))
        if not new.any():
            return
        order = np.argsort(child_row, kind="stable")
        child_row, child = child_row[order], child[order]
        starts = np.searchsorted(child_row, np.arange(len(keys) + 1))
        for r in np.flatnonzero(new).tolist():
            k = ("b", int(keys[r]))
            if k in seen:
                continue
            seen.add(k)
            kids = child[starts[r]:starts[r + 1]].tolist()
            par = np.atleast_1d(parent[r]).tolist()
            self.rows.append((tuple(par + kids), tuple([1.0] * len(par) + [-1.0] * len(kids))))

    def matrix(self) -> sp.csr_matrix:
        lens = np.fromiter((len(ts) for ts, _ in self.rows), dtype=np.int64,
                           count=len(self.rows))
        r = np.repeat(np.arange(len(self.rows)), lens)
        c = np.fromiter((t for ts, _ in self.rows for t in ts), dtype=np.int64, count=lens.sum())
        d = np.fromiter((x for _, cs in self.rows for x in cs), dtype=float, count=lens.sum())
        return sp.csr_matrix((d, (r, c)), shape=(len(self.rows), len(self.ids)))


def _layout(keys: pd.DataFrame, cube: Cube):
    """Per non-time grouping its caption combinations (sorted), a Kommune → Region map, and
    the cover pairs between the non-time groupings with, per pair, child → parent index."""
    by_g: dict[str, list[str]] = {}
    for G, xs in keys.groupby("G", sort=True)["X"]:
        by_g[G] = sorted(set(xs))
    region_of: dict[str, str] = {}
    kr = [g for g in by_g if _KOMMUNE in g.split("|")]
    if kr and "region" in keys.attrs:
        region_of = keys.attrs["region"]
    groupings = [tuple(g.split("|")) if g else () for g in by_g]
    covers = []
    for p, c in _covers(groupings):
        pk, ck = "|".join(p), "|".join(c)
        pindex = {x: k for k, x in enumerate(by_g[pk])}
        child_to_parent = []
        for x in by_g[ck]:
            caps = dict(zip(c, x.split(SEP))) if c else {}
            if _KOMMUNE in caps:
                caps[_REGION] = region_of.get(caps[_KOMMUNE], catalog.UOPLYST)
            px = SEP.join(caps[a] for a in p)
            child_to_parent.append(pindex.get(px, -1))
        covers.append((pk, ck, np.array(child_to_parent, dtype=np.int64)))
    sig = hashlib.sha256(repr(sorted(by_g.items())).encode()).hexdigest()
    return by_g, covers, sig


def _region_map(frame: pd.DataFrame) -> dict[str, str]:
    if "kommune" not in frame.columns or "region" not in frame.columns:
        return {}
    sub = frame[["kommune", "region"]].dropna().drop_duplicates()
    return dict(zip(sub["kommune"], sub["region"]))


def _truth_blocks(truth: pd.DataFrame) -> dict:
    """unit → (state hash, {(G, X): values})."""
    out = {}
    if truth is None or not len(truth):
        return out
    vcols = [c for c in ("v", "o") if c in truth.columns]
    for unit, part in truth.groupby("unit", sort=False):
        part = part.sort_values(["G", "X"])
        vals = dict(zip(zip(part["G"], part["X"]), zip(*[part[c].astype(int) for c in vcols])))
        h = hashlib.sha256(repr(sorted(vals.items())).encode()).hexdigest()
        out[unit] = (h, vals)
    return out


def _mix(*parts) -> np.ndarray:
    """A 64-bit identity key from integer arrays (wrapping polynomial mix)."""
    h = np.full(np.broadcast(*parts).shape, 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in parts:
            h = (h ^ np.asarray(p).astype(np.uint64)) * np.uint64(0x100000001B3)
            h ^= h >> np.uint64(29)
    return h


class _Flow:
    """Flow cubes over the series: one unknown per time span and caption combination.

    ``B_G``: the months where a published period of grouping ``G`` (in any version) ends, or
    the one before where it starts, closed upward (a parent grouping has every boundary of its
    finer groupings). The segments between consecutive boundaries, and every span a version
    publishes, are unknowns identified by ``(G, X, span, true value)``: a span whose truth is
    unchanged is one unknown in every version. Each span is the sum of its largest sub-spans
    (left to right, down to the segments), and the covers between groupings hold at every
    span of the finer grouping.
    """

    def __init__(self, b: _Builder, versions, all_keys, layouts):
        self.b = b
        firsts = [f for f in (_first_month(k) for k in all_keys) if f]
        last = max((v.release for v in versions), default=None)
        self.months = _months(min(firsts), last) if firsts and last else []
        self.midx = {m: k for k, m in enumerate(self.months)}
        self.gid: dict[str, int] = {}
        self._xid: dict[str, int] = {}
        bounds: dict[str, set] = defaultdict(set)
        for ver, keys in zip(versions, all_keys):
            R = self._r(ver)
            for (G, lvl, cap) in set(zip(keys["G"], keys["tid"], keys["tcap"])):
                a, e = self._span(lvl, cap, R)
                bounds[G].add(e)
                if a > 0:
                    bounds[G].add(a - 1)
        covers = {(pk, ck) for layout in layouts for pk, ck, _ in layout[1]}
        changed = True
        while changed:  # close upward: parents carry their children's boundaries
            changed = False
            for pk, ck in covers:
                if not bounds[ck] <= bounds[pk]:
                    bounds[pk] |= bounds[ck]
                    changed = True
        self.bounds = {G: np.array(sorted(v), dtype=np.int64) for G, v in bounds.items()}
        for G in sorted(self.bounds):
            self.gid[G] = len(self.gid)

    def xids(self, xs: list[str]) -> np.ndarray:
        """Stable 64-bit ids of caption combinations (the same in every version, whatever
        members a version's layout has)."""
        out = np.empty(len(xs), dtype=np.uint64)
        for k, x in enumerate(xs):
            v = self._xid.get(x)
            if v is None:
                v = self._xid[x] = int.from_bytes(
                    hashlib.blake2b(x.encode(), digest_size=8).digest(), "little")
            out[k] = v
        return out

    def _r(self, ver) -> int:
        return self.midx[Release.parse(ver.release).caption]

    def _span(self, lvl, cap, R: int) -> tuple[int, int]:
        a, e = _period_months(lvl, cap, self.months)
        return a, min(e, R)

    def version(self, ver, keys: pd.DataFrame, layout, pos) -> np.ndarray:
        b = self.b
        by_g, covers, _ = layout
        R = self._r(ver)
        C = self._cumulative_truth(ver, by_g, pos, R + 1)
        G_arr, X_arr = keys["G"].to_numpy(), keys["X"].to_numpy()
        cell_span, spans_of = self._spans_needed(keys, by_g, covers, R)
        ids: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        for G, xs in by_g.items():
            xi = self.xids(xs)
            for a, e in sorted(spans_of[G]):
                val = C[G][:, e] - (C[G][:, a - 1] if a > 0 else 0)
                ids[(G, (a, e))] = b.vars(_mix(self.gid[G], xi, a, e, val), "s")
            # time: each span is the sum of its largest sub-spans (left to right)
            spans = sorted(spans_of[G], key=lambda t: (t[0], -t[1]))
            for a, e in spans:
                parts, at = [], a
                while at <= e:
                    nxt = [t for t in spans if t[0] == at and t[1] <= e and t != (a, e)]
                    if not nxt:
                        break
                    part = max(nxt, key=lambda t: t[1])
                    parts.append(part)
                    at = part[1] + 1
                if at <= e or not parts:
                    continue  # a segment (or no finer spans): nothing to relate
                par = ids[(G, (a, e))]
                kids = np.stack([ids[(G, t)] for t in parts], axis=1)
                keys_ = _mix(par, *[kids[:, k] for k in range(kids.shape[1])])
                rows = np.repeat(np.arange(len(par)), kids.shape[1])
                b.batch(keys_, par, rows, kids.ravel())
        for pk, ck, c2p in covers:  # at every span of the finer grouping
            ok = c2p >= 0
            rows = c2p[ok]
            for span in spans_of[ck]:
                par = ids[(pk, span)]
                kid = ids[(ck, span)][ok]
                with np.errstate(over="ignore"):
                    acc = np.zeros(len(par), dtype=np.uint64)
                    np.add.at(acc, rows, _mix(kid))
                    keys_ = _mix(par, acc, len(kid))
                b.batch(keys_, par, rows, kid)
        n = len(keys)
        cv = np.full(n, -1, dtype=np.int64)
        for i, (G, X, lvl, cap) in enumerate(zip(G_arr, X_arr, keys["tid"].to_numpy(),
                                                 keys["tcap"].to_numpy())):
            cv[i] = ids[(G, cell_span[(lvl, cap)])][pos[G][X]]
        return cv

    def _cumulative_truth(self, ver, by_g: dict, pos: dict, nm: int) -> dict:
        """Per grouping the cumulative true month values (captions x months, up to the
        version's release month)."""
        # true month values per grouping, as dense matrices (captions x months)
        V = {G: np.zeros((len(xs), nm), dtype=np.int64) for G, xs in by_g.items()}
        tv = ver.truth
        if tv is not None and len(tv):
            tm = tv["unit"].map(self.midx)
            for G, part in tv.groupby("G", sort=False):
                if G not in V:
                    continue
                xi = part["X"].map(pos[G])
                mi = tm.loc[part.index]
                ok = (xi.notna() & mi.notna()).to_numpy()
                mi_ok = mi.to_numpy()[ok].astype(np.int64)
                keep = mi_ok < nm
                V[G][xi.to_numpy()[ok].astype(np.int64)[keep], mi_ok[keep]] = \
                    part["v"].to_numpy()[ok][keep]
        return {G: np.cumsum(v, axis=1) for G, v in V.items()}  # cumulative true values

    def _spans_needed(self, keys: pd.DataFrame, by_g: dict, covers: list, R: int):
        """The spans this version needs per grouping: its cells' periods and the segments
        between the series' boundaries (shared with every other version), closed upward.
        Returns (the span of each (time level, caption), spans per grouping)."""
        cell_span = {}
        spans_of: dict[str, set] = defaultdict(set)
        for G, lvl, cap in set(zip(keys["G"].to_numpy(), keys["tid"].to_numpy(),
                                   keys["tcap"].to_numpy())):
            cell_span[(lvl, cap)] = sp_ = self._span(lvl, cap, R)
            spans_of[G].add(sp_)
        for G in by_g:
            bnd = self.bounds.get(G, np.zeros(0, dtype=np.int64))
            bnd = bnd[bnd <= R].tolist()
            spans_of[G].update(zip([0] + [x + 1 for x in bnd[:-1]], bnd))
        changed = True
        while changed:
            changed = False
            for pk, ck, _ in covers:
                if not spans_of[ck] <= spans_of[pk]:
                    spans_of[pk] |= spans_of[ck]
                    changed = True
        return cell_span, spans_of


def _identities(b: _Builder) -> np.ndarray:
    """Per unknown a 64-bit identity that is the same in every build of the series system:
    the flow key's own hash, or a hash of the stock key."""
    out = np.empty(len(b.ids), dtype=np.uint64)
    for key, v in b.ids.items():
        if key[0] == "s":
            out[v] = np.uint64(key[1])
        else:
            out[v] = np.uint64(int.from_bytes(
                hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little"))
    return out


def audit_series(versions: list[SeriesVersion], cube: Cube, *, workers: int | None = None,
                 max_cells: int = 200, cache=None, points=None, chain=None) -> dict:
    """Audit every withheld value of every version against all versions' published numbers.

    Returns ``{"cube", "verdict", "versions": [labels], "unknowns", "relations",
    "checked", "failed", "per_version": {label: {"withheld", "failed"}}, "cells": [failing
    values, at most max_cells], "consistency_errors", "metode"}``; each version's
    ``rows`` gets, per frame row, whether its count (and outcome) passed, for the checked
    search. ``cache`` (:class:`audit.ComponentCache`): components solved in an earlier series
    audit that are exactly the same system are not solved again. ``points``
    (:class:`audit.series_points.SeriesPoints`): feasible points of the previous series audit
    of the same release (the checked search's previous round), tried first as inner bounds,
    and replaced by this audit's; verdicts do not depend on them. ``chain``
    (:class:`audit_chain.ChainStore`): reach the verdict one release at a time from the state
    after the versions before (``audit_chain``: a flow cube's new month, a stock cube's
    changed status dates), solving the whole union only where a release adds more than that;
    the result says how in ``inkrementel``.
    """
    if chain is not None:
        from transforms.disclosure.audit_chain import audit_chain

        return audit_chain(versions, cube, chain, audit_series, workers=workers,
                           max_cells=max_cells, cache=cache, points=points)
    b = _Builder()
    outcome = [m.column for m in cube.measures if m.kind == "count" and m.outcome
               and m.additive and m.column != cube.value_column]
    errors: list[dict] = []
    # per version: row → (count var, outcome var or -1), published values
    row_vars = _version_unknowns(b, versions, cube, outcome)

    A = b.matrix()
    N = len(b.ids)
    known, objs, per_version = _published_and_withheld(N, versions, row_vars, cube, outcome,
                                                       errors)
    order = sorted(objs, key=lambda o: [(g, c) for c, g in o])
    ident = _identities(b) if cache is not None or points is not None else None
    if cache is not None:
        cache.ident = lambda glob: ident[glob]
        cache.begin()
    hints_for = (lambda glob: points.candidates(ident[glob])) if points else None
    res, info = solve_system(A, known, order, sorted(b.pairs), _SeriesReport(errors),
                             workers=workers, cache=cache, hints_for=hints_for,
                             keep_points=points is not None,
                             max_point_values=None if points is None else points.max_values)
    if points is not None:
        points.keep(ident, info)
    cells, failed = _failures(versions, order, objs, res, per_version, cube, max_cells)
    verdict = PASSED if failed == 0 and not errors else FAILED
    return {"cube": cube.id, "verdict": verdict,
            "versions": [v.label for v in versions],
            "unknowns": int(N), "relations": int(A.shape[0]),
            "checked": len(order), "failed": int(failed), "per_version": per_version,
            "cells": cells, "consistency_errors": errors[:50], "lps": info["lps"],
            "hints_used": info["hints_used"],
            "components": {k: info[k] for k in ("components_reused", "components_solved",
                                                "largest_solved")},
            "metode": METHOD}


def _stock_block(b: _Builder, blocks: dict, outcome: list[str], unit, layout_sig, layout,
                 truth_state) -> dict:
    """Unknowns (count and outcome) of one month / status date, in layout order."""
    h, vals = truth_state if truth_state else ("", {})
    key = (unit, h, layout_sig)
    if key in blocks:
        return blocks[key]
    by_g, covers, _ = layout
    ids: dict[str, np.ndarray] = {}
    oids: dict[str, np.ndarray] = {}
    for G, xs in by_g.items():
        v = [vals.get((G, x), (0, 0)) for x in xs]
        ids[G] = np.array([b.var(("x", unit, G, x, t[0])) for x, t in zip(xs, v)], np.int64)
        if outcome:
            oids[G] = np.array([b.var(("o", unit, G, x, t[1] if len(t) > 1 else 0))
                                for x, t in zip(xs, v)], np.int64)
            for e, o in zip(ids[G].tolist(), oids[G].tolist()):
                b.pairs.add((e, o))
    for layer in [ids] + ([oids] if outcome else []):
        for pk, ck, c2p in covers:
            kids = defaultdict(list)
            for j, p in enumerate(c2p.tolist()):
                kids[p].append(int(layer[ck][j]))
            for p, par in enumerate(layer[pk].tolist()):
                b.relation([(par, 1.0)] + [(k, -1.0) for k in kids.get(p, [])])
    blocks[key] = {"ids": ids, "oids": oids}
    return blocks[key]


def _version_unknowns(b: _Builder, versions: list[SeriesVersion], cube: Cube,
                      outcome: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Builds the series system in ``b``; per version, per frame row its count unknown and
    outcome unknown (-1: none)."""
    stock = cube.kind == "stock"
    row_vars: list[tuple[np.ndarray, np.ndarray]] = []
    blocks: dict[tuple, dict] = {}
    all_keys = [frame_keys(ver.frame, cube) for ver in versions]
    layouts = []
    for ver, keys in zip(versions, all_keys):
        keys.attrs["region"] = _region_map(ver.frame)
        layouts.append(_layout(keys, cube))
    flow = None if stock else _Flow(b, versions, all_keys, layouts)
    unit_layouts: dict[str, tuple] = {}
    for ver, keys, layout in zip(versions, all_keys, layouts):
        by_g, _, lsig = layout
        pos = {G: {x: k for k, x in enumerate(xs)} for G, xs in by_g.items()}
        truth = _truth_blocks(ver.truth)
        n = len(keys)
        cv = np.full(n, -1, dtype=np.int64)
        ov = np.full(n, -1, dtype=np.int64)
        G_arr, X_arr = keys["G"].to_numpy(), keys["X"].to_numpy()
        if stock:
            # each status date is its own system over the groupings and members published
            # at that date (as in the single audit): a grouping a version does not publish
            # at a date is no unknown there (its truth is not kept, so it has no identity)
            for unit, idx in keys.groupby("unit", sort=False).indices.items():
                sub = keys.iloc[idx]
                sig_u = hashlib.sha256("\x1e".join(sorted(set(
                    sub["G"] + SEP + sub["X"]))).encode()).hexdigest()
                if sig_u not in unit_layouts:
                    sub.attrs["region"] = keys.attrs["region"]
                    unit_layouts[sig_u] = _layout(sub, cube)
                lay = unit_layouts[sig_u]
                pos_u = {G: {x: k for k, x in enumerate(xs)} for G, xs in lay[0].items()}
                blk = _stock_block(b, blocks, outcome, unit, lay[2], lay, truth.get(unit))
                for i in idx:
                    k = pos_u[G_arr[i]][X_arr[i]]
                    cv[i] = blk["ids"][G_arr[i]][k]
                    if outcome:
                        ov[i] = blk["oids"][G_arr[i]][k]
        else:
            cv = flow.version(ver, keys, layout, pos)
        row_vars.append((cv, ov))
    return row_vars


def _published_and_withheld(N: int, versions: list[SeriesVersion], row_vars: list,
                            cube: Cube, outcome: list[str], errors: list[dict]):
    """The published value of every unknown any version publishes (NaN: none), the
    objectives of every withheld value (each with the (version, row, measure) it stands
    for), and per version its withheld rows."""
    known = np.full(N, np.nan)
    objs: dict[tuple, list[tuple[int, int, str]]] = {}
    per_version = {}
    for vi, ver in enumerate(versions):
        cv, ov = row_vars[vi]
        val = _num(ver.frame[cube.value_column]) if len(ver.frame) else np.zeros(0)
        pub = ~np.isnan(val)
        for var, x, i in zip(cv[pub].tolist(), val[pub].tolist(), np.flatnonzero(pub).tolist()):
            if not np.isnan(known[var]) and known[var] != x:
                errors.append({"type": "unequal_values", "version": ver.label,
                               "gruppering": ver.frame["gruppering"].iloc[i],
                               "values": [_num_out(known[var]), _num_out(x)]})
            known[var] = x
        for oc in outcome:
            o = _num(ver.frame[oc])
            po = ~np.isnan(o)
            for var, x in zip(ov[po].tolist(), o[po].tolist()):
                known[var] = x
        for i in np.flatnonzero(~pub):
            objs.setdefault(((1.0, int(cv[i])),), []).append((vi, int(i), cube.value_column))
        for oc in outcome:
            o = _num(ver.frame[oc])
            for i in np.flatnonzero(np.isnan(o) & pub):
                objs.setdefault(((1.0, int(ov[i])),), []).append((vi, int(i), oc))
                objs.setdefault(((1.0, int(cv[i])), (-1.0, int(ov[i]))), []).append(
                    (vi, int(i), f"{cube.value_column}-{oc}"))
        per_version[ver.label] = {"withheld": int((~pub).sum()), "failed": 0}
    return known, objs, per_version


class _SeriesReport:
    """Where :func:`solve_system` reports errors: as the series' consistency errors."""

    def __init__(self, errors: list[dict]):
        self.errors = errors

    def relation_error(self, r, kind, residual):
        self.errors.append({"type": kind, "relation": int(r), "residual": _num_out(residual)})

    def outcome_error(self, ge, ga, va, ve):
        self.errors.append({"type": "outcome_exceeds_count", "value": _num_out(va),
                            "count": _num_out(ve)})

    def infeasible(self, ts):
        self.errors.append({"type": "infeasible", "objectives": len(ts)})


def _failures(versions: list[SeriesVersion], order: list, objs: dict, res: list[dict],
              per_version: dict, cube: Cube, max_cells: int) -> tuple[list[dict], int]:
    """Marks every version's rows that failed (``ver.rows``) and counts them per version;
    returns the failing values (at most ``max_cells``) and how many failed."""
    stock = cube.kind == "stock"
    cells, failed = [], 0
    for ver in versions:
        ver.rows = {"count_ok": np.ones(len(ver.frame), bool),
                    "outcome_ok": np.ones(len(ver.frame), bool),
                    "zero": np.zeros(len(ver.frame), bool)}
    for k, obj in enumerate(order):
        r = res[k]
        if r["ok"]:
            if r["hi_bound"] == 0:  # proved [0, 0]: what the chain (audit_chain) carries
                for vi, i, label in objs[obj]:
                    if label == cube.value_column:
                        versions[vi].rows["zero"][i] = True
            continue
        failed += 1
        for vi, i, label in objs[obj]:
            ver = versions[vi]
            per_version[ver.label]["failed"] += 1
            key = "count_ok" if label == cube.value_column else "outcome_ok"
            ver.rows[key][i] = False
            if len(cells) < max_cells:
                row = ver.frame.iloc[i]
                cells.append({"udgivelse": ver.label, "gruppering": row["gruppering"],
                              "statusdato": _iso(row["statusdato"]) if stock else None,
                              "members": {c: row[c] for c in cube.columns
                                          if c in row.index and row[c] is not None
                                          and not (isinstance(row[c], float) and np.isnan(row[c]))},
                              "measure": label, "lo": r["lo"], "hi": r["hi"]})
    return cells, failed


__all__ = ["SeriesVersion", "audit_series", "frame_keys", "interval_ok"]
