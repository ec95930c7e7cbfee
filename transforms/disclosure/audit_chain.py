"""The series audit of a flow cube, one release at a time (contract 3.7).

The series audit (:mod:`audit_series`) solves the union of every published version at once.
For AFSLAARS that union is one linked system that grows by some 3,700 unknowns a release
(85,128 at 2023-03 of the national demo, 1,516 s to solve), because the running periods and
the totals over time of every release chain all months together. This module reaches the
same verdicts from the previous release's audit and a system of the new month alone, where
the new release adds nothing but that month. It shares no code with the suppressor.

Why that is exact
-----------------
Let ``V`` be the versions published so far, their union's feasible set ``F_V`` (every
withheld value of every version proved protected in it), ``P`` the latest of them (month
``M-1``) and ``R`` the next month's release. Write ``z(G, X)`` for the unknown true count of
month ``M`` at non-time grouping ``G`` and captions ``X``. Suppose

1. ``R`` is the month after ``P``, has the same groupings and members, and its truth is
   ``P``'s for every month before ``M`` (no late registration changed a past month);
2. every cell of ``R`` over a period that ended before ``M`` is the same number in ``P``
   (same truth), published in both with the same value or withheld in both;
3. every cell of ``R`` over a period that contains ``M`` and began before it (the running
   quarter and year, every total over time) has ``P``'s cell of the same place and caption
   (the same period, ending at ``M-1``) as its *predecessor*, and ``R`` publishes it only
   where ``P`` published the predecessor.

Each new cell is its predecessor plus ``z`` (or ``z`` alone when its period begins at
``M``). Condition 2 adds no equation; 3 turns every published new cell into ``z = v_R -
v_P``; the covers of ``R``'s new cells are the predecessors' covers (already in ``F_V``)
plus the covers of month ``M``. So the union's feasible set is ``F_V × G_M``, where ``G_M``
is month ``M`` alone: the unknowns ``z``, their covers, ``z ≥ 0`` and the published
differences. In a product, every value of ``V`` keeps its interval (its verdict stands), and
a new cell's interval is its predecessor's interval plus that of ``z``. A predecessor that
passed with an interval other than ``[0, 0]`` makes the sum pass whatever ``z`` does (adding
a non-negative interval keeps ``hi ≥ 4``, never narrows, and can only lift ``lo``); a
published predecessor is a constant; a predecessor proved ``[0, 0]`` adds nothing. So what is
left to solve is ``G_M`` with objectives ``z`` or ``v_P + z``, by the audit's own solver
(:func:`audit.solve_system`), and what the next release needs of this one is which of its
withheld cells are exactly ``[0, 0]``.

Where a condition does not hold (the first release, a re-run that changed a published month,
a late registration, new members, a running cell published after its predecessor was
withheld), the whole union is solved as before (:func:`audit_series.audit_series` without a
chain), and the chain goes on from that audit.

The state after a prefix of versions is kept by a digest of those versions' published cells
and truths (:class:`ChainStore`; the warehouse keeps the one the last release ended with, so
the next release starts from it; without it the chain is replayed from the first version,
one month's system per release).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from transforms.calendar import Release
from transforms.catalog import Cube
from transforms.disclosure.audit import FAILED, PASSED, solve_system
from transforms.disclosure.audit.frame import _num


def _texts(col: pd.Series, width: int | None = None) -> list[str]:
    """A column's values as text (``str(v)``, its first ``width`` characters), missing → "";
    string columns through Arrow (pandas' Arrow-backed strings read value by value were a
    third of a release's disclosure step at 50 releases of history)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if width is None and (pd.api.types.is_string_dtype(col.dtype)
                          and not pd.api.types.is_object_dtype(col.dtype)):
        arr = pa.array(col, from_pandas=True)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            return pc.fill_null(arr, "").to_pylist()
    obj = pd.Series(col.to_numpy(dtype=object), dtype=object)
    text = obj.astype(str)
    if width is not None:
        text = text.str[:width]
    return text.where(obj.notna().to_numpy(), "").tolist()

METHOD_STOCK = (
    " Revisionen går frem én udgivelse ad gangen: hver statusdato er sit eget system, så kun "
    "de statusdatoer, hvor den nye udgivelse ikke er identisk med den forrige (celler, tal og "
    "sandhed), løses igen, over alle versioner."
)

METHOD_SAME = (
    " Udgivelsen er identisk med den seneste version af samme måned (celler, tal og sandhed): "
    "seriens system er uændret, og dens afgørelser gælder."
)

METHOD_STEP = (
    " Revisionen går frem én udgivelse ad gangen, hvor den nye udgivelse kun tilføjer sin "
    "nye måned (ingen sen registrering, løbende perioder offentliggjort kun hvor perioden til "
    "forrige måned var offentliggjort): så er seriens system produktet af det forrige og den "
    "nye måneds system, og kun den nye måned løses."
)


@dataclass
class ChainStore:
    """States of the series audit after a prefix of versions, by the prefix's digest: the
    keys ``(G, X, time level, caption)`` of the prefix's latest version's withheld cells whose
    interval over the prefix's union is exactly ``[0, 0]``. Only states of prefixes whose
    audit passed are kept."""
    entries: dict[str, list] = field(default_factory=dict)
    used: set = field(default_factory=set)

    def get(self, digest: str):
        z = self.entries.get(digest)
        if z is not None:
            self.used.add(digest)
            return {tuple(k) for k in z}
        return None

    def put(self, digest: str, zeros: set) -> None:
        self.entries[digest] = sorted([list(k) for k in zeros], key=lambda k: [str(x) for x in k])
        self.used.add(digest)


# --- digests ----------------------------------------------------------------------------------


def _keys(ver, cube: Cube) -> pd.DataFrame:
    """The version's cells as (G, X, tid, tcap, val), cached on the version. Where the
    version carries the candidates' shared dict (:data:`SHARED`), the keys of the cells
    (all but ``val``) come from there when its cells are those they were built from (the
    columns that name a cell compared, value for value); else they are built and shared,
    and layouts built on other cells are dropped."""
    got = getattr(ver, "_chain_keys", None)
    if got is not None:
        return got
    shared = getattr(ver, SHARED, None)
    names = _cell_columns(ver.frame, cube)
    kept = shared.get("keys") if shared is not None else None
    if kept is not None and kept[0].equals(ver.frame[names]):
        got = kept[1].copy()
    else:
        from transforms.disclosure.audit_series import frame_keys

        k = frame_keys(ver.frame, cube)
        got = pd.DataFrame({"G": k["G"].to_numpy(), "X": k["X"].to_numpy(),
                            "tid": k["tid"].to_numpy(), "tcap": k["tcap"].to_numpy()})
        got["tid"] = got["tid"].where(got["tid"].notna(), "")
        got["tcap"] = got["tcap"].where(got["tcap"].notna(), "")
        if shared is not None:
            shared.clear()  # other cells: no layout built on the old ones applies
            shared["keys"] = (ver.frame[names].copy(), got.copy())
    got["val"] = _num(ver.frame[cube.value_column]) if len(ver.frame) else np.zeros(0)
    ver._chain_keys = got
    return got


def _cell_columns(frame: pd.DataFrame, cube: Cube) -> list[str]:
    """The columns that name a cell (its grouping, members and, for a stock, status date):
    what :func:`audit_series.frame_keys` reads besides the numbers."""
    from transforms.catalog import ATTRIBUTES

    cols = ["gruppering"] + [ATTRIBUTES[a].column for a in cube.attributes] + [
        "kommune", "region"]  # and the municipality -> region map the layout reads
    if cube.kind == "stock":
        cols.append("statusdato")
    seen: set = set()
    return [c for c in cols if c in frame.columns and not (c in seen or seen.add(c))]


def _outcomes(cube: Cube) -> list[str]:
    """The additive outcome counts the audit protects beside the value (FRAFAFBRUD)."""
    return [m.column for m in cube.measures if m.kind == "count" and m.outcome and m.additive
            and m.column != cube.value_column]


def _truth_rows(ver) -> pd.DataFrame:
    """The version's truth as sorted (unit, G, X, v[, o]) rows with a value ≠ 0."""
    t = ver.truth
    if t is None or not len(t):
        t = pd.DataFrame({"unit": [], "G": [], "X": [], "v": []})
    vc = [c for c in ("v", "o") if c in t.columns]
    t = t[["unit", "G", "X"] + vc].astype({**{c: np.int64 for c in vc}, "unit": str, "G": str,
                                           "X": str})
    t = t[(t[vc] != 0).any(axis=1)]
    return t.sort_values(["unit", "G", "X"]).reset_index(drop=True)


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, cols) -> bool:
    """Whether two frames hold the same rows in the same order (empty ones included)."""
    if len(a) != len(b) or any((c in a.columns) != (c in b.columns) for c in cols):
        return False
    return all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in cols if c in a.columns)


def version_digest(ver, cube: Cube) -> str:
    """sha256 of a version's release month, published cells and truth, the same whether the
    frame was read from ``cells.parquet`` or built in memory."""
    got = getattr(ver, "_chain_digest", None)
    if got is not None:
        return got
    f = ver.frame
    h = hashlib.sha256(str(Release.parse(ver.release)).encode())
    cols = ["gruppering"] + (["statusdato"] if cube.kind == "stock" else []) + [
        c for c in cube.columns if c in f.columns]
    # each column as text, missing → "", in the frame's row order (the marts sort the cells,
    # and cells.parquet keeps their order; a frame in another order only costs a replay).
    # The candidates of one search have the same cells: their text is made once (SHARED),
    # and reused where the columns are equal, value for value.
    shared = getattr(ver, SHARED, None)
    kept = shared.get("digest_cells") if shared is not None else None
    if kept is not None and kept[0].equals(f[cols]):
        text = kept[1]
    else:
        text = b"".join((c + "\x1f" + "\x1e".join(
            _texts(f[c], 10 if c == "statusdato" else None))).encode() + b"\x1d" for c in cols)
        if shared is not None:
            shared["digest_cells"] = (f[cols].copy(), text)
    h.update(text)
    for m in [cube.value_column] + _outcomes(cube):
        val = _num(f[m]) if len(f) else np.zeros(0)
        h.update(np.where(np.isnan(val), -1, val).astype(np.int64).tobytes())
    t = ver.truth  # as kept in the warehouse, in the order it was built
    if t is not None and len(t):
        for c in ("unit", "G", "X"):
            h.update(("\x1e".join(_texts(t[c])) + "\x1d").encode())
        for c in ("v", "o"):
            if c in t.columns:
                h.update(t[c].to_numpy(np.int64).tobytes())
    ver._chain_digest = h.hexdigest()
    return ver._chain_digest


#: changes whenever what a kept state means changes (the rule, the steps): states kept under
#: another value are not found, and the chain replays
STATE_VERSION = "1"


def prefix_digests(versions: list, cube: Cube) -> list[str]:
    """Digest of versions[:k+1] for every k (with the rule's parameters and
    ``STATE_VERSION``: a state is valid only for the rule it was proved under)."""
    from transforms import catalog

    out = []
    h = hashlib.sha256(f"{cube.id}|{catalog.PROTECTION_UPPER}|{catalog.PROTECTION_WIDTH}|"
                       f"{STATE_VERSION}".encode())
    for ver in versions:
        h.update(version_digest(ver, cube).encode())
        out.append(h.copy().hexdigest())
    return out


# --- one step -----------------------------------------------------------------------------------


def _contains(tid: str, tcap: str, M: Release) -> bool:
    """Whether a period (time level, caption; '' = every month so far) contains month M."""
    if not tid:
        return True
    if tid == "[Tid].[Måned]":
        return tcap == M.caption
    if tid == "[Tid].[Kvartal]":
        return tcap == M.quarter_caption
    return tcap == M.year_caption


def _begins_at(tid: str, tcap: str, M: Release) -> bool:
    """Whether a period containing M begins at M."""
    if tid == "[Tid].[Måned]":
        return True
    if tid == "[Tid].[Kvartal]":
        return (M.month - 1) % 3 == 0
    if tid == "[Tid].[År]":
        return M.month == 1
    return False


class NotAStep(Exception):
    """The new version adds more than its month; the reason is the message."""


@dataclass
class StepResult:
    ok: np.ndarray          # per row of R: its withheld value passed (True for published rows)
    fails: list             # per failing row: (row, lo, hi)
    zeros: set              # R's withheld cells proved [0, 0]
    errors: list
    unknowns: int
    relations: int
    objectives: int
    lps: int


@dataclass
class _Layout:
    """What a step needs of ``P`` and of ``R``'s cells and truth, but not of the numbers
    ``R`` publishes: the same for every pattern the search audits for one release (it
    audits several, each withholding more of the same cells), so it is built once per
    release and predecessor (:func:`_layout_of`). ``error``: the NotAStep reason, where a
    condition that does not depend on ``R``'s numbers fails."""

    error: str | None = None
    #: a running period without a predecessor that does not begin at M (checked after the
    #: conditions on the ended periods, as the step always did)
    run_error: str | None = None
    pos: np.ndarray | None = None       # per row of R: its predecessor's row in P (-1: none)
    has_pred: np.ndarray | None = None
    vp: np.ndarray | None = None        # the predecessor's published value (NaN: withheld)
    pub_p: np.ndarray | None = None
    run: np.ndarray | None = None       # the row's period contains M
    keys_r: list | None = None
    zvar: np.ndarray | None = None      # the row's unknown z(G, X) of month M
    one: int = 0
    N: int = 0
    A: sp.csr_matrix | None = None      # the covers of month M
    nrel: int = 0


def _layout(P, R, cube: Cube, M: Release) -> _Layout:
    """Conditions 1 and 3's structural part and month M's system (module docstring)."""
    from transforms.disclosure.audit_series import _layout as series_layout, _region_map

    kp, kr = _keys(P, cube), _keys(R, cube)
    # 1. the same groupings and members, and no month before M changed
    if set(zip(kp["G"], kp["X"])) != set(zip(kr["G"], kr["X"])):
        return _Layout("andre grupperinger eller medlemmer")
    tr, tp = _truth_rows(R), _truth_rows(P)
    tr_old = tr[tr["unit"] != M.caption].reset_index(drop=True)
    if not _same_rows(tr_old, tp, ("unit", "G", "X", "v")):
        return _Layout("sandheden for tidligere måneder er ændret (sen registrering)")
    key_cols = ["G", "X", "tid", "tcap"]
    pidx = pd.MultiIndex.from_frame(kp[key_cols])
    if not pidx.is_unique or not pd.MultiIndex.from_frame(kr[key_cols]).is_unique:
        return _Layout("gentagne celler")
    pos = pidx.get_indexer(pd.MultiIndex.from_frame(kr[key_cols]))
    has_pred = pos >= 0
    vp = np.where(has_pred, kp["val"].to_numpy(float)[np.maximum(pos, 0)], np.nan)
    tid, tcap = kr["tid"].tolist(), kr["tcap"].tolist()
    run = np.array([_contains(t, c, M) for t, c in zip(tid, tcap)], dtype=bool)
    run_error = next(("en løbende periode uden forgænger"
                      for i in np.flatnonzero(run & ~has_pred).tolist()
                      if not _begins_at(tid[i], tcap[i], M)), None)
    G, X = kr["G"].tolist(), kr["X"].tolist()
    keys_r = list(zip(G, X, tid, tcap))

    # G_M: the month's unknowns z(G, X), their covers
    keys_df = pd.DataFrame({"G": kr["G"], "X": kr["X"], "tid": kr["tid"].replace("", None),
                            "tcap": kr["tcap"].replace("", None)})
    keys_df.attrs["region"] = _region_map(R.frame)
    by_g, covers, _ = series_layout(keys_df, cube)
    base, k = {}, 0
    for g, xs in by_g.items():
        base[g] = k
        k += len(xs)
    one = k  # a known unknown of value 1: the constant of v_P + z
    xpos = {g: {x: j for j, x in enumerate(xs)} for g, xs in by_g.items()}
    zvar = np.array([base[g] + xpos[g][x] for g, x in zip(G, X)], dtype=np.int64)
    rr, cc, dd = [], [], []
    nrel = 0
    for pk, ck, c2p in covers:
        for p in range(len(by_g[pk])):
            rr.append(nrel), cc.append(base[pk] + p), dd.append(1.0)
            for j in np.flatnonzero(c2p == p).tolist():
                rr.append(nrel), cc.append(base[ck] + j), dd.append(-1.0)
            nrel += 1
    A = sp.csr_matrix((dd, (rr, cc)), shape=(nrel, k + 1))
    return _Layout(None, run_error, pos, has_pred, vp, has_pred & ~np.isnan(vp), run, keys_r,
                   zvar, one, k + 1, A, nrel)


#: attribute of a version (:class:`audit_series.SeriesVersion`) holding a dict shared by the
#: candidate versions of one release (the series search's rounds): same cells, same truth,
#: other published numbers. Where it is set, the cells' keys and each step's layout are built
#: once and reused while the cells and the truth are the same (checked at each use).
SHARED = "chain_shared"


def _layout_of(P, R, cube: Cube, M: Release) -> _Layout:
    """:func:`_layout`, reused from the candidates' shared dict (:data:`SHARED`) where ``R``
    has the same cells (checked by :func:`_keys`) and the same truth object as the candidate
    it was built for, and the same predecessor."""
    shared = getattr(R, SHARED, None)
    if shared is None:
        return _layout(P, R, cube, M)
    _keys(R, cube)  # checks R's cells against the shared keys (and drops stale layouts)
    key = ("layout", version_digest(P, cube), str(M))
    got = shared.get(key)
    if got is not None and got[0] is R.truth:
        return got[1]
    lay = _layout(P, R, cube, M)
    shared[key] = (R.truth, lay)
    return lay


def step(P, zeros_p: set, R, cube: Cube, *, workers: int | None = None) -> StepResult:
    """The audit of ``R`` over ``F_V × G_M`` (module docstring), given that the union up to
    ``P`` passed and ``zeros_p`` are ``P``'s withheld cells proved [0, 0] there. Raises
    :class:`NotAStep` where a condition does not hold."""
    from transforms.disclosure.audit_series import _SeriesReport

    M = Release.parse(R.release)
    if Release.parse(P.release).next() != M:
        raise NotAStep(f"{R.label} følger ikke direkte efter {P.label}")
    lay = _layout_of(P, R, cube, M)
    if lay.error is not None:
        raise NotAStep(lay.error)
    has_pred, vp, pub_p, run, keys_r = lay.has_pred, lay.vp, lay.pub_p, lay.run, lay.keys_r
    vr = _num(R.frame[cube.value_column]) if len(R.frame) else np.zeros(0)
    pub_r = ~np.isnan(vr)

    n = len(vr)
    ok = np.ones(n, dtype=bool)
    fails: list = []
    zeros: set = set()
    # 2. periods that ended before M: the same numbers as in P
    old = ~run
    if (old & ~has_pred).any():
        raise NotAStep("en afsluttet periode mangler i forrige udgivelse")
    if (old & pub_r & ~pub_p).any():
        raise NotAStep("en celle diskretioneret før er offentliggjort nu")
    if (old & pub_r & pub_p & (vr != vp)).any():
        raise NotAStep("en afsluttet periode har fået en anden værdi")
    for i in np.flatnonzero(old & ~pub_r):
        if pub_p[i]:  # withheld now, published before with the same truth: known
            ok[i] = False
            fails.append((int(i), int(vp[i]), int(vp[i])))
        elif keys_r[i] in zeros_p:
            zeros.add(keys_r[i])
    # 3. running periods: predecessor + z, published only after a published predecessor
    if lay.run_error is not None:
        raise NotAStep(lay.run_error)
    if (run & has_pred & pub_r & ~pub_p).any():
        raise NotAStep("en løbende periode offentliggjort efter en diskretioneret forgænger")

    # G_M: the published differences, and the objectives
    zvar, one = lay.zvar, lay.one
    known = np.full(lay.N, np.nan)
    known[one] = 1.0
    for i in np.flatnonzero(run & pub_r):
        v = vr[i] - (vp[i] if has_pred[i] else 0.0)
        z = zvar[i]
        if not np.isnan(known[z]) and known[z] != v:
            raise NotAStep("uoverensstemmende tal for den nye måned")
        known[z] = v
    objs: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(run & ~pub_r):
        z = int(zvar[i])
        if has_pred[i] and pub_p[i]:
            obj = ((1.0, z), (float(vp[i]), one))
        elif has_pred[i] and keys_r[i] not in zeros_p:
            continue  # a predecessor that passed, not [0, 0]: the sum passes
        else:
            obj = ((1.0, z),)
        objs.setdefault(obj, []).append(int(i))
    order = sorted(objs)
    errors: list = []
    res, info = solve_system(lay.A, known, order, [], _SeriesReport(errors), workers=workers)
    for t, obj in enumerate(order):
        r = res[t]
        for i in objs[obj]:
            if not r["ok"]:
                ok[i] = False
                fails.append((i, r["lo"], r["hi"]))
            elif r["hi_bound"] == 0:
                zeros.add(keys_r[i])
    return StepResult(ok, fails, zeros, errors, lay.N, lay.nrel, len(order), info["lps"])


# --- the chain ----------------------------------------------------------------------------------


def audit_chain(versions: list, cube: Cube, chain: ChainStore, full, *,
                workers: int | None = None, max_cells: int = 200, **full_kw) -> dict:
    """The series audit of ``versions`` (oldest first) by steps from the latest state
    ``chain`` holds (module docstring); ``full(versions, cube, **kw)`` is the whole-union
    audit, run where a step's conditions do not hold. Returns what ``full`` returns, with
    ``inkrementel`` saying how it was reached."""
    from transforms.disclosure.audit_series import METHOD

    digs = prefix_digests(versions, cube)
    n = len(versions)
    if (n >= 2 and digs[n - 2] in chain.entries
            and version_digest(versions[-1], cube) == version_digest(versions[-2], cube)):
        # a re-run that reproduces the latest version: the union is what it was
        return _unchanged(versions, cube, chain, digs)
    if cube.kind == "stock":
        return _audit_stock_chain(versions, cube, chain, full, workers, max_cells, full_kw)
    if n < 2:
        return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    start = next((k for k in range(n - 1, 0, -1) if digs[k - 1] in chain.entries), 0)
    if start == 0:
        head = _full(versions[:1], cube, chain, digs, full, workers, max_cells, {})
        if head["verdict"] != PASSED:
            return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
        start = 1
    zeros = chain.get(digs[start - 1])
    if zeros is None:
        return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    steps, solved_full, lps, last = 0, [], 0, None
    for j in range(start, n):
        try:
            last = step(versions[j - 1], zeros, versions[j], cube, workers=workers)
        except NotAStep as e:
            solved_full.append({"udgivelse": versions[j].label, "grund": str(e)})
            res = _full(versions[:j + 1], cube, chain, digs, full, workers, max_cells,
                        full_kw if j == n - 1 else {})
            if j == n - 1 or res["verdict"] != PASSED:
                if j < n - 1:
                    return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
                res["inkrementel"] = {"fra": versions[start - 1].label, "trin": steps,
                                      "fuld_revision": solved_full}
                res["digests"] = digs
                return res
            zeros = chain.get(digs[j])
            if zeros is None:  # a whole-union audit that marks no [0, 0] cells
                return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
            last = None
            continue
        steps += 1
        lps += last.lps
        passed = bool(last.ok.all()) and not last.errors
        if passed:
            chain.put(digs[j], last.zeros)
            zeros = last.zeros
        elif j < n - 1:  # a published version that fails: the whole union says where
            return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
    R = versions[-1]
    R.rows = {"count_ok": last.ok.copy(), "outcome_ok": np.ones(len(R.frame), bool)}
    for ver in versions[:-1]:
        ver.rows = {"count_ok": np.ones(len(ver.frame), bool),
                    "outcome_ok": np.ones(len(ver.frame), bool)}
    per_version = {v.label: {"withheld": _withheld(v, cube), "failed": 0} for v in versions}
    per_version[R.label]["failed"] = len(last.fails)
    cells = []
    for i, lo, hi in last.fails[:max_cells]:
        row = R.frame.iloc[i]
        cells.append({"udgivelse": R.label, "gruppering": row["gruppering"], "statusdato": None,
                      "members": {c: row[c] for c in cube.columns
                                  if c in row.index and row[c] is not None
                                  and not (isinstance(row[c], float) and np.isnan(row[c]))},
                      "measure": cube.value_column, "lo": lo, "hi": hi})
    verdict = PASSED if not last.fails and not last.errors else FAILED
    return {"cube": cube.id, "verdict": verdict, "versions": [v.label for v in versions],
            "unknowns": last.unknowns, "relations": last.relations,
            "checked": sum(p["withheld"] for p in per_version.values()),
            "failed": len(last.fails), "per_version": per_version, "cells": cells,
            "consistency_errors": last.errors[:50], "lps": lps, "hints_used": 0,
            "components": {"components_reused": 0, "components_solved": 0,
                           "largest_solved": 0},
            "inkrementel": {"fra": versions[start - 1].label, "trin": steps,
                            "fuld_revision": solved_full},
            "metode": METHOD + METHOD_STEP, "digests": digs}


# --- stock cubes: a status date at a time ------------------------------------------------------


def _stock_rows(ver, cube: Cube):
    """The version's cells sorted by (status date, G, X), with their published values (-1
    where withheld), and the truth the same way; each with the slice per status date."""
    got = getattr(ver, "_chain_stock", None)
    if got is None:
        from transforms.disclosure.audit_series import frame_keys

        k = frame_keys(ver.frame, cube)
        df = pd.DataFrame({"unit": k["unit"].astype(str).to_numpy(),
                           "G": k["G"].astype(str).to_numpy(), "X": k["X"].astype(str).to_numpy()})
        for j, m in enumerate([cube.value_column] + _outcomes(cube)):
            v = _num(ver.frame[m]) if len(ver.frame) else np.zeros(0)
            df[f"v{j}"] = np.where(np.isnan(v), -1, v).astype(np.int64)
        df["row"] = np.arange(len(df))
        df = df.sort_values(["unit", "G", "X"], kind="stable").reset_index(drop=True)
        got = (df, _slices(df["unit"].to_numpy()), _truth_rows(ver))
        got = got + (_slices(got[2]["unit"].to_numpy()),)
        ver._chain_stock = got
    return got


def _slices(units: np.ndarray) -> dict:
    if not len(units):
        return {}
    cut = np.flatnonzero(units[1:] != units[:-1]) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(units)]])
    return {units[a]: (int(a), int(b)) for a, b in zip(starts, ends)}


def _changed_dates(P, R, cube: Cube) -> set:
    """The status dates at which R's cells (keys, published values) or truth are not
    exactly P's: where R can add an equation to the union. At every other date R's system is
    P's, so the union there is what it was."""
    dp, sp_, tp, tsp = _stock_rows(P, cube)
    dr, sr, tr, tsr = _stock_rows(R, cube)
    cols = [c for c in dr.columns if c not in ("unit", "row")]
    tcols = [c for c in tr.columns if c != "unit"]
    out = set()
    for u, (a, b) in sr.items():
        if u not in sp_:
            out.add(u)
            continue
        c, d = sp_[u]
        if not _same_rows(dr.iloc[a:b], dp.iloc[c:d], cols):
            out.add(u)
            continue
        ta, tb = tsr.get(u, (0, 0))
        tc, td = tsp.get(u, (0, 0))
        if not _same_rows(tr.iloc[ta:tb], tp.iloc[tc:td], tcols):
            out.add(u)
    return out


def _at_dates(ver, cube: Cube, dates: set):
    """The version restricted to the status dates ``dates`` (its frame rows and truth), and
    the rows of the original frame it kept."""
    from transforms.disclosure.audit_series import SeriesVersion

    units = getattr(ver, "_chain_units", None)
    if units is None:  # the status dates alone (the whole keys are built for P and R only)
        units = ver._chain_units = np.array(_texts(ver.frame["statusdato"], 10) if len(ver.frame)
                                            else [], dtype=object)
    keep = np.flatnonzero(np.isin(units, np.array(sorted(dates), dtype=object)))
    truth = ver.truth
    if truth is not None and len(truth):
        truth = truth[truth["unit"].astype(str).isin(dates).to_numpy()].reset_index(drop=True)
    sub = SeriesVersion(ver.label, ver.release, ver.frame.iloc[keep].reset_index(drop=True),
                        truth)
    return sub, keep


def _stock_step(versions: list, cube: Cube, full, workers, max_cells, kw) -> tuple[dict, int]:
    """The union of ``versions`` given that the union of all but the last passed: the whole
    union's audit over the status dates where the last version differs from the one before.
    Marks every version's rows; returns the audit's result and the number of dates."""
    P, R = versions[-2], versions[-1]
    dates = _changed_dates(P, R, cube)
    subs, kept = [], []
    for ver in versions:
        sub, keep = _at_dates(ver, cube, dates)
        if len(keep):
            subs.append(sub)
            kept.append((ver, sub, keep))
    for ver in versions:
        ver.rows = {"count_ok": np.ones(len(ver.frame), bool),
                    "outcome_ok": np.ones(len(ver.frame), bool),
                    "zero": np.zeros(len(ver.frame), bool)}
    if subs:
        res = full(subs, cube, workers=workers, max_cells=max_cells, **kw)
        for ver, sub, keep in kept:
            for key in ("count_ok", "outcome_ok"):
                ver.rows[key][keep] = sub.rows[key]
    else:
        res = {"verdict": PASSED, "unknowns": 0, "relations": 0, "failed": 0, "cells": [],
               "consistency_errors": [], "lps": 0, "hints_used": 0, "checked": 0,
               "components": {"components_reused": 0, "components_solved": 0,
                              "largest_solved": 0}}
    per_version = {}
    for ver in versions:
        per_version[ver.label] = {"withheld": _withheld(ver, cube),
                                  "failed": int((~ver.rows["count_ok"]).sum()
                                                + (~ver.rows["outcome_ok"]).sum())}
    res = {**res, "versions": [v.label for v in versions], "per_version": per_version}
    return res, len(dates)


def _audit_stock_chain(versions, cube, chain, full, workers, max_cells, full_kw) -> dict:
    """The series audit of a stock cube from the state after all versions but the last:
    only the status dates the last version changes are solved (each status date is a system
    of its own, contract 2.2); without a state, the chain is replayed from the first version
    the same way."""
    from transforms.disclosure.audit_series import METHOD

    digs = prefix_digests(versions, cube)
    n = len(versions)
    start = next((k for k in range(n - 1, 0, -1) if digs[k - 1] in chain.entries), 0)
    if start == 0:
        head = _full(versions[:1], cube, chain, digs, full, workers, max_cells,
                     full_kw if n == 1 else {})
        if n == 1 or head["verdict"] != PASSED:
            return head if n == 1 else _full(versions, cube, chain, digs, full, workers,
                                             max_cells, full_kw)
        start = 1
    chain.get(digs[start - 1])
    steps, dates = 0, 0
    for j in range(start, n):
        res, nd = _stock_step(versions[:j + 1], cube, full, workers, max_cells,
                              full_kw if j == n - 1 else {})
        steps += 1
        dates += nd
        if res["verdict"] != PASSED:
            if j < n - 1:  # a published version that fails: the whole union says where
                return _full(versions, cube, chain, digs, full, workers, max_cells, full_kw)
            break
        chain.put(digs[j], set())
    res["inkrementel"] = {"fra": versions[start - 1].label, "trin": steps, "statusdatoer": dates,
                          "fuld_revision": []}
    res["digests"] = digs
    res["metode"] = METHOD + METHOD_STOCK
    res["cube"] = cube.id
    return res


def _withheld(ver, cube: Cube) -> int:
    """How many values of the version's value column are withheld."""
    return int(np.isnan(_num(ver.frame[cube.value_column])).sum()) if len(ver.frame) else 0


def _unchanged(versions, cube, chain, digs) -> dict:
    """The last version is the one before it, cell for cell and truth for truth (the same
    release month): every value stands as the union before it decided (passed)."""
    from transforms.disclosure.audit_series import METHOD

    chain.put(digs[-1], chain.get(digs[-2]))
    per_version = {}
    for ver in versions:
        ver.rows = {"count_ok": np.ones(len(ver.frame), bool),
                    "outcome_ok": np.ones(len(ver.frame), bool)}
        per_version[ver.label] = {"withheld": _withheld(ver, cube), "failed": 0}
    return {"cube": cube.id, "verdict": PASSED, "versions": [v.label for v in versions],
            "unknowns": 0, "relations": 0,
            "checked": sum(p["withheld"] for p in per_version.values()), "failed": 0,
            "per_version": per_version, "cells": [], "consistency_errors": [], "lps": 0,
            "hints_used": 0, "components": {"components_reused": 0, "components_solved": 0,
                                            "largest_solved": 0},
            "inkrementel": {"fra": versions[-2].label, "trin": 0, "fuld_revision": [],
                            "uaendret": True},
            "metode": METHOD + METHOD_SAME, "digests": digs}


def _full(versions, cube, chain, digs, full, workers, max_cells, kw) -> dict:
    """The whole union's audit of ``versions``; where it passes, the chain's state after it."""
    res = full(versions, cube, workers=workers, max_cells=max_cells, **kw)
    res["digests"] = digs[:len(versions)]
    if res["verdict"] == PASSED:
        last = versions[-1]
        zero = last.rows.get("zero")
        if cube.kind == "stock":
            chain.put(digs[len(versions) - 1], set())
        elif zero is not None:
            k = _keys(last, cube)
            chain.put(digs[len(versions) - 1],
                      {key for key, f in zip(zip(k["G"], k["X"], k["tid"], k["tcap"]), zero)
                       if f})
    return res


__all__ = ["ChainStore", "NotAStep", "audit_chain", "prefix_digests", "step", "version_digest"]
