"""Choosing a cube's suppression pattern: the global suppressor, or the checked search.

The global suppressor (:func:`suppress.suppress`) loses the least information (its LP repair
picks the cheapest protecting move over the whole linked system) but its own LP checks grow
too slow on the large linked flow cube (one system over every quarter x municipality x reason
combination, most of them empty), while the stock cubes split into per-date systems of a few
hundred cells (the measurements: transforms/disclosure/README.md). So:

1. Cubes whose largest linked system (:func:`system_size`) has at most
   ``LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS`` cells (default 5,000) get the global suppressor,
   in a worker process with a work budget (``LPSTAT_SUPPRESSION_BUDGET_WORK``: HiGHS
   iterations, counted, so the choice does not depend on the machine's load).
2. Larger cubes, and any cube whose global run ran out of work or (it should not) failed the
   audit, get :func:`suppress.suppress_checked`: the same primary, local and propagation
   passes, then rounds in which the independent audit names every withheld value it finds
   unprotected and each relation of such a cell gets one more withheld term. A round's
   audit starts from the feasible points the previous round's audit found (still feasible,
   as the pattern only grows; checked again before use), so only the first is a full one.
3. Should that ever run out of cells to withhold, the whole cube is withheld.

Whatever the path, the pattern returned has passed the independent audit
(:mod:`audit`), whose result on exactly that pattern is returned with it for the release.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing as mp

import numpy as np
import pandas as pd

from transforms import settings
from transforms.catalog import MAX_SMALL, Cube
from transforms.disclosure.verdict import Verdict

log = logging.getLogger(__name__)


def _budget() -> float:
    return settings.suppression_budget_seconds()


def _work_budget() -> int:
    return settings.suppression_budget_work()


def _global_max_cells() -> int:
    return settings.global_suppression_max_cells()


def system_size(cells: pd.DataFrame, cube: Cube) -> int:
    """Cells in the largest linked system: the whole cube for a flow cube, the largest
    status date for a stock cube (each status date is a system of its own)."""
    if cube.kind == "stock" and "statusdato" in cells.columns and len(cells):
        return int(cells.groupby("statusdato", dropna=False).size().max())
    return len(cells)


class SuppressionTimeout(RuntimeError):
    """The global suppressor ran past its safety time: the run stops (see global_pattern)."""


def _worker(suppress_fn, cells, cube, work):  # pragma: no cover - runs in a child process
    """("pattern", the pattern) or ("over", why): what the global suppressor gives within
    its work budget; any other failure is raised (and so reported to the parent)."""
    from transforms.disclosure.suppress import highs

    if suppress_fn is None:
        from transforms.disclosure.suppress import suppress as suppress_fn
    highs.WORK.update(done=0, limit=work)
    try:
        return "pattern", suppress_fn(cells, cube)
    except highs.WorkBudgetExceeded as exc:
        return "over", str(exc)


class PatternMemo:
    """The global suppressor's outcomes by a digest of its whole input (a re-run does not
    suppress again what it suppressed before; the audit's counterpart is
    ``audit/memo.py``, whose module docstring says why this is sound).

    The suppressor is deterministic (its budget is counted LP work, never time), so its
    outcome (a pattern, or None: over its work budget) is a function of the cells (every
    column, in row order), the cube, the work budget and its code: ``suppress/``, this
    module, the catalogue, and the numeric libraries' versions. Only the real suppressor is
    memoised (a test's stand-in may answer differently on each call). ``entries``: digest ->
    pattern (or None), loaded from the warehouse (``protect.load_pattern_memo``)."""

    def __init__(self, entries: dict | None = None):
        self.entries = dict(entries or {})
        self.hits = 0
        self.used: set[str] = set()  # the digests met by this run (what is worth keeping)

    def put(self, digest: str, pattern: pd.DataFrame | None) -> None:
        self.entries[digest] = None if pattern is None else pattern.copy()
        self.used.add(digest)

    @staticmethod
    def digest(cells: pd.DataFrame, cube: Cube, suppress_fn, work: int) -> str | None:
        import hashlib

        from transforms.disclosure.audit.memo import frame_bytes

        if not _is_real_suppressor(suppress_fn):
            return None
        data = frame_bytes(cells)
        if data is None:
            return None
        h = hashlib.sha256()
        h.update(_suppressor_fingerprint().encode())
        h.update(repr(cube).encode() + f"\0{int(work)}\0".encode())
        h.update(data)
        return h.hexdigest()

    def get(self, digest: str | None, index: pd.Index):
        """(found, pattern or None), the pattern on ``index``."""
        if digest is None or digest not in self.entries:
            return False, None
        self.hits += 1
        self.used.add(digest)
        pattern = self.entries[digest]
        if pattern is None:
            return True, None
        pattern = pattern.copy()
        pattern.index = index
        return True, pattern


def _is_real_suppressor(fn) -> bool:
    from transforms.disclosure.audit.memo import is_or_wraps
    from transforms.disclosure.suppress import suppress

    return fn is None or is_or_wraps(fn, suppress)


@functools.lru_cache(maxsize=1)
def _suppressor_fingerprint() -> str:
    from pathlib import Path

    from transforms.disclosure.audit.memo import source_fingerprint

    here = Path(__file__).resolve().parent
    return source_fingerprint(sorted((here / "suppress").glob("*.py"))
                              + [here / "guarded.py", here.parent / "catalog.py"])


#: the niceness of a global suppressor started ahead: it runs on what the first cube's
#: search leaves idle rather than slow that search down (measured on national 2026-10:
#: at the same priority the suppressors ahead slowed AFSLAARS's rounds by 2.6 s of the
#: 3.3 s they saved)
AHEAD_NICE = 19


class GlobalRun:
    """The global suppressor running on one cube's cells in a forked process
    (:class:`forked.ForkedCall`), possibly started by :func:`start_global` ahead of the step
    that needs its pattern, so that it runs while the release protects its other cubes (a
    flow cube's checked search leaves one of two cores idle most of its rounds).
    :func:`global_pattern` collects it; :meth:`cancel` stops one that is never collected."""

    def __init__(self, cells: pd.DataFrame, cube: Cube, suppress_fn, work: int,
                 ahead: bool = False):
        from transforms.forked import ForkedCall

        self.cells, self.cube, self.suppress_fn, self.work = cells, cube, suppress_fn, work
        self._call = ForkedCall(_worker, suppress_fn, cells, cube, work,
                                nice=AHEAD_NICE if ahead else 0, context=mp.get_context("fork"))
        self.proc = self._call.proc

    def serves(self, cells: pd.DataFrame, cube: Cube, suppress_fn, work: int) -> bool:
        """Whether this run is the one ``global_pattern`` would start for these arguments."""
        return (cells is self.cells and cube is self.cube and suppress_fn is self.suppress_fn
                and work == self.work and self.proc.exitcode in (None, 0))

    def wait(self, budget: float) -> tuple[str, object]:
        """Its outcome: ("pattern" | "over" | "error", value). ``budget``: the safety stop,
        counted from this call (time spent running ahead is not held against it)."""
        try:
            return self._call.result(timeout=budget)
        except TimeoutError:
            raise SuppressionTimeout(
                f"{self.cube.underemne}: the global suppressor did not finish in "
                f"{budget:.0f} s (LPSTAT_SUPPRESSION_BUDGET_SECONDS, a safety stop). The "
                "method is chosen by its work budget (LPSTAT_SUPPRESSION_BUDGET_WORK), never "
                "by the clock: run again when the machine is less busy, or raise the safety "
                "stop.") from None
        except RuntimeError as exc:
            if self.proc.exitcode not in (None, 0):  # it died: no result at all
                raise RuntimeError(f"{self.cube.underemne}: the global suppressor's process "
                                   f"ended without a result ({exc})") from None
            return "error", str(exc).splitlines()[-1]  # it raised: the last line says what
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the process (if it still runs) and reap it."""
        self._call.cancel()


def start_global(cells: pd.DataFrame, cube: Cube, suppress_fn=None,
                 memo: PatternMemo | None = None, work: int | None = None) -> GlobalRun | None:
    """The global suppressor started ahead on a cube that will ask for it
    (:func:`series_pattern` and :func:`guarded_pattern` do where its largest system is
    within ``LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS``), or None where it would not run: too
    large, the safety stop at 0, or an outcome the memo already holds. Pass the run to
    :func:`global_pattern` with the same arguments; the pattern is the same as without it
    (the suppressor is deterministic, its budget counted work, not time)."""
    if _budget() <= 0 or system_size(cells, cube) > _global_max_cells():
        return None
    work = _work_budget() if work is None else work
    if memo is not None:
        digest = PatternMemo.digest(cells, cube, suppress_fn, work)
        if digest is not None and digest in memo.entries:
            return None
    return GlobalRun(cells, cube, suppress_fn, work, ahead=True)


def global_pattern(cells: pd.DataFrame, cube: Cube, budget: float,
                   suppress_fn=None, work: int | None = None,
                   memo: PatternMemo | None = None,
                   started: GlobalRun | None = None) -> pd.DataFrame | None:
    """The global suppressor's pattern, or None where it needs more than its work budget.

    ``work`` (default ``LPSTAT_SUPPRESSION_BUDGET_WORK``): the most LP work (HiGHS
    iterations, :mod:`suppress.highs`) the suppressor may do. The budget is counted, not
    timed, so that whether a cube gets the global method or the checked search, and so the
    published pattern, does not depend on how busy the machine is (a timed budget gave
    FRAFVURD the checked search on a loaded machine and the global method on an idle one).
    ``budget`` (seconds, ``LPSTAT_SUPPRESSION_BUDGET_SECONDS``): only a safety stop for a
    run that hangs; past it the run fails (:class:`SuppressionTimeout`) rather than publish
    a pattern that depends on the clock; 0 or less skips the global suppressor.
    ``suppress_fn(cells, cube)``: the suppressor (default :func:`suppress.suppress`).
    ``memo``: outcomes of earlier runs (:class:`PatternMemo`); an outcome computed here is
    added to it. ``started``: the run :func:`start_global` began ahead for these arguments
    (collected here; one for other arguments is stopped and the suppressor started anew)."""
    if budget <= 0:
        if started is not None:
            started.cancel()
        return None
    work = _work_budget() if work is None else work
    digest = PatternMemo.digest(cells, cube, suppress_fn, work) if memo is not None else None
    if digest is not None:
        found, pattern = memo.get(digest, cells.index)
        if found:
            if started is not None:
                started.cancel()
            return pattern
    if started is not None and not started.serves(cells, cube, suppress_fn, work):
        started.cancel()
        started = None
    run = started if started is not None else GlobalRun(cells, cube, suppress_fn, work)
    kind, value = run.wait(budget)
    if kind == "pattern":
        if digest is not None:
            memo.put(digest, value)
        return value
    if kind == "over":
        log.info("%s: the global suppressor needs more than its work budget (%s); using the "
                 "checked search", cube.underemne, value)
        if digest is not None:
            memo.put(digest, None)
        return None
    log.error("%s: the global suppressor failed (%s); using the checked search",
              cube.underemne, value)
    return None


def _failing_rows(cells: pd.DataFrame, cube: Cube, result: dict) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose count (first) or outcome (second) the audit did not find ok."""
    bad = np.zeros(len(cells), bool)
    bad_out = np.zeros(len(cells), bool)
    for c in result.get("cells", []):
        if c.get("ok", True):
            continue
        row = c.get("raekke")
        if row is None:  # an audit without row positions: treat the whole grouping as open
            bad |= (cells["gruppering"] == c["gruppering"]).to_numpy()
            continue
        (bad if c["measure"] == cube.value_column else bad_out)[row] = True
    return bad, bad_out


def _every_cell(cells: pd.DataFrame, cube: Cube) -> pd.DataFrame:
    """Every cell withheld; ``aarsag`` as the suppressor gives it (tom, primær, sekundær)."""
    every = np.ones(len(cells), bool)
    n = cells["n_individer"].to_numpy()
    value = cells[cube.value_column].to_numpy()
    aarsag = np.where(value == 0, "tom",
                      np.where((n >= 1) & (n <= MAX_SMALL), "primær", "sekundær")).astype(object)
    return pd.DataFrame({"undertrykt": every, "undertrykt_udfald": every, "aarsag": aarsag},
                        index=cells.index)


def guarded_pattern(cells: pd.DataFrame, cube: Cube, audit_fn,
                    budget: float | None = None, *, suppress_fn=None,
                    checked_fn=None, memo: PatternMemo | None = None,
                    started: GlobalRun | None = None) -> tuple[pd.DataFrame, str, dict]:
    """A suppression pattern that passes ``audit_fn``: (pattern, method, audit result).

    ``audit_fn(published, cube, witnesses=...)``: :func:`audit.audit`; the checked search
    hands every round's audit the points of the round before (:class:`audit.Witnesses`).
    ``suppress_fn``, ``checked_fn``: the global suppressor and the checked search (default
    :func:`suppress.suppress` and :func:`suppress.suppress_checked`).
    method: ``global`` (the global suppressor), ``kontrolleret`` (the checked search) or
    ``alt`` (every cell withheld). The audit result is ``audit_fn``'s on the pattern.
    ``memo``: the global suppressor's earlier outcomes (:class:`PatternMemo`).
    ``started``: the global suppressor started ahead (:func:`start_global`).
    """
    from transforms.publication import published_cells

    if checked_fn is None:
        from transforms.disclosure.suppress import suppress_checked as checked_fn
    budget = _budget() if budget is None else budget
    size = system_size(cells, cube)
    if size <= _global_max_cells():
        pattern = global_pattern(cells, cube, budget, suppress_fn, memo=memo, started=started)
        if pattern is not None:
            result = audit_fn(published_cells(cells, pattern, cube), cube)
            if Verdict.of(result).passed:
                return pattern, "global", result
            log.error("%s: the global suppressor's pattern failed the audit (%s values); "
                      "using the checked search", cube.underemne, result.get("failed"))
    else:
        log.info("%s: a linked system of %d cells, more than the global suppressor's limit; "
                 "using the checked search", cube.underemne, size)

    from transforms.disclosure.audit import Witnesses

    carried = Witnesses()  # each round's audit starts from the points of the one before

    def check(pattern: pd.DataFrame):
        result = audit_fn(published_cells(cells, pattern, cube), cube, witnesses=carried)
        bad, bad_out = _failing_rows(cells, cube, result)
        return Verdict.of(result).passed, result, bad, bad_out

    try:
        pattern, result = checked_fn(cells, cube, check)
        return pattern, "kontrolleret", result
    except RuntimeError as exc:
        log.warning("%s: withholding every cell (%s)", cube.underemne, exc)
    pattern = _every_cell(cells, cube)
    return pattern, "alt", audit_fn(published_cells(cells, pattern, cube), cube)


# --- the series (contract 3.7) -------------------------------------------------------------


def _joined(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Per row the columns' values as one string, a missing value as "" (None in the
    warehouse's frames, NaN in frames read back from parquet)."""
    parts = []
    for c in cols:
        v = frame[c].to_numpy(dtype=object)
        miss = pd.isna(v)
        parts.append(["" if m else str(x)[:10] if c == "statusdato" else str(x)
                      for x, m in zip(v, miss)])
    return np.array(["\x1f".join(t) for t in zip(*parts)] if parts else [""] * len(frame),
                    dtype=object)


def _nontime_key(frame: pd.DataFrame, cube: Cube) -> pd.Series:
    """Per row: its grouping without time, and its captions there (a cell's place in every
    period)."""
    from transforms.catalog import ATTRIBUTES

    def strip(g: str) -> tuple:
        return tuple(a for a in (g.split("|") if g else []) if ATTRIBUTES[a].hierarchy != "Tid")

    g = frame["gruppering"].fillna("").astype(str)
    parsed = {k: strip(k) for k in g.unique()}
    out = pd.Series("", index=frame.index, dtype=object)
    for k, attrs in parsed.items():
        sel = (g == k).to_numpy()
        cols = [ATTRIBUTES[a].column for a in attrs]
        caps = _joined(frame.loc[sel], cols) if cols else ""
        out[sel] = "|".join(attrs) + "\x1e" + caps
    return out


def _cell_key(frame: pd.DataFrame, cube: Cube) -> pd.Series:
    cols = ["gruppering"] + (["statusdato"] if cube.kind == "stock" else []) + cube.columns
    return pd.Series(_joined(frame, cols), index=frame.index)


def _months_of(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Per row: the first and last month of its period ('' for no time)."""
    out = []
    n = len(frame)
    cols = [frame[c].tolist() if c in frame.columns else [None] * n  # lists: fast to walk
            for c in ("tid_maaned", "tid_kvartal", "tid_aar")]
    for m, k, y in zip(*cols):
        if isinstance(m, str):
            out.append((m, m))
        elif isinstance(k, str):
            q = int(k[-1])
            out.append((f"{k[:4]}M{3 * q - 2:02d}", f"{k[:4]}M{3 * q:02d}"))
        elif isinstance(y, str):
            out.append((f"{y}M01", f"{y}M12"))
        else:
            out.append(("", "9999M99"))
    return out


class SeriesSearch:
    """What the series adds to a release's pattern search (contract 3.7).

    ``previous``: the published frame the pattern follows (the month's own current version on
    a re-run, else the latest earlier release), with the true values it was built from.
    Its cells that this release has with the same true value keep their status: published
    ones are locked (never chosen as secondary: they are known), withheld ones are forced.
    ``check(published) -> (passed, result, failing)``: the series audit of the published
    frame together with everything published before; ``failing`` lists the cells it finds
    open in earlier versions (frames and row positions), mapped here onto this release's
    cells of the same place whose periods overlap them. ``key``: ``_cell_key(cells, cube)``
    where the caller has it already.
    """

    def __init__(self, cells: pd.DataFrame, cube: Cube, check,
                 previous: pd.DataFrame | None = None,
                 previous_true: pd.DataFrame | None = None, key: pd.Series | None = None):
        self.cells, self.cube, self._check = cells, cube, check
        n = len(cells)
        self.locked = np.zeros(n, dtype=bool)
        self.forced = np.zeros(n, dtype=bool)
        self.place = _nontime_key(cells, cube)
        self.span = _months_of(cells)
        if previous is not None and len(previous) and n:
            key = _cell_key(cells, cube) if key is None else key
            pkey = _cell_key(previous, cube)
            pos = pd.Series(np.arange(len(previous)), index=pkey.to_numpy())
            pos = pos[~pos.index.duplicated()]
            j = pos.reindex(key.to_numpy()).to_numpy()
            has = ~np.isnan(j)
            jj = np.where(has, j, 0).astype(np.int64)
            col = cube.value_column
            pub_val = pd.to_numeric(previous[col], errors="coerce").to_numpy(float)[jj]
            true_now = cells[col].to_numpy(float)
            if previous_true is not None and len(previous_true) == len(previous):
                true_then = previous_true[col].to_numpy(float)[jj]
            else:
                true_then = np.where(np.isnan(pub_val), true_now, pub_val)
            same = has & (true_then == true_now)
            n_ind = cells["n_individer"].to_numpy()
            small = (n_ind >= 1) & (n_ind <= MAX_SMALL)  # never published, whatever came before
            self.locked = same & ~np.isnan(pub_val) & (true_now > 0) & ~small
            self.forced = same & np.isnan(pub_val)
            if cube.kind == "flow":
                self.forced |= self._beside_increments(true_now, pub_val, has, small)

    def _beside_increments(self, true_now, pub_val, has, small) -> np.ndarray:
        """Running cells that any pattern must withhold (the floor of contract 3.7,
        ``bench/series_floor.py``): at the place of a small count over the release month
        alone (a primary cell: the month's, or the quarter's that the month opens), each cell
        over a period running into the month whose previous version was published and
        differs from it by exactly that count. Published beside its previous version it would
        give the small count away, so the series audit would name it some rounds in; forced
        from the first round, its partners are chosen with everything else (national AFSLAARS
        2026-10: 6 rounds instead of 9, and less value withheld: transforms/disclosure/
        README.md, *The series*)."""
        starts = [a for a, _ in self.span if a]
        if not starts:
            return np.zeros(len(self.cells), dtype=bool)
        month = max(starts)  # the release month: the newest month any cell starts in
        start = np.array([a for a, _ in self.span], dtype=object)
        end = np.array([b for _, b in self.span], dtype=object)
        place = self.place.to_numpy()
        primary = (start == month) & small  # the month's cell, or the quarter it opens
        if not primary.any():
            return np.zeros(len(self.cells), dtype=bool)
        increment = pd.Series(true_now[primary], index=place[primary])
        increment = increment[~increment.index.duplicated(keep="last")]  # as a dict kept it
        running = (start < month) & (end >= month)
        inc = self.place.map(increment).to_numpy(dtype=float)
        return running & has & ~np.isnan(pub_val) & (true_now - pub_val == inc)

    def held(self, pattern: pd.DataFrame) -> pd.DataFrame:
        """A pattern held to the previous publication: forced cells withheld, locked cells
        published (their outcome measures keep the pattern's status)."""
        pattern = pattern.copy()
        pattern.loc[self.forced, ["undertrykt", "undertrykt_udfald"]] = True
        pattern.loc[self.forced & pattern["aarsag"].isna().to_numpy(), "aarsag"] = "sekundær"
        unlock = self.locked & pattern["undertrykt"].to_numpy(bool)
        pattern.loc[unlock, "undertrykt"] = False
        pattern.loc[unlock & ~pattern["undertrykt_udfald"].to_numpy(bool), "aarsag"] = None
        return pattern

    def check(self, published: pd.DataFrame):
        passed, result, failing = self._check(published)
        bad = np.zeros(len(self.cells), dtype=bool)
        bad_out = np.zeros(len(self.cells), dtype=bool)
        rows = result.get("rows", {})
        bad |= ~rows.get("count_ok", np.ones(len(self.cells), bool))
        bad_out |= ~rows.get("outcome_ok", np.ones(len(self.cells), bool))
        beside = self._published_beside(published, bad | bad_out)
        for frame, idx, outcome in failing:  # open cells of earlier versions
            places = set(_nontime_key(frame.iloc[idx], self.cube))
            spans = _months_of(frame.iloc[idx])
            lo = min(a for a, _ in spans)
            hi = max(b for _, b in spans)
            hit = self.place.isin(places).to_numpy() & ~self.locked
            hit &= np.array([a <= hi and b >= lo for a, b in self.span], dtype=bool)
            (bad_out if outcome else bad)[hit] = True
        return passed, result, bad | beside, bad_out

    def _published_beside(self, published: pd.DataFrame, open_: np.ndarray) -> np.ndarray:
        """This release's published cells, not locked, at the place of an open cell of this
        release and over a period that overlaps its period: the running year and the total
        over time above a new month's cell, say. Next to an earlier release's value of the
        same place (the year or total a month ago), such a cell gives the difference away,
        and no withheld term around the open cell hides a difference of two published
        numbers; the checked search withholds these cells themselves."""
        out = np.zeros(len(self.cells), dtype=bool)
        if not open_.any():
            return out
        value = pd.to_numeric(published[self.cube.value_column], errors="coerce").to_numpy()
        candidates = ~np.isnan(value) & ~self.locked
        reach: dict[str, tuple[str, str]] = {}
        for i in np.flatnonzero(open_):
            a, b = self.span[i]
            lo, hi = reach.get(self.place.iat[i], (a, b))
            reach[self.place.iat[i]] = (min(lo, a), max(hi, b))
        for i in np.flatnonzero(candidates & self.place.isin(reach).to_numpy()):
            lo, hi = reach[self.place.iat[i]]
            a, b = self.span[i]
            out[i] = a <= hi and b >= lo
        return out


def series_pattern(cells: pd.DataFrame, cube: Cube, audit_fn, search: SeriesSearch, *,
                   suppress_fn=None, checked_fn=None, memo: PatternMemo | None = None,
                   carried=None, started: GlobalRun | None = None
                   ) -> tuple[pd.DataFrame, str, dict, dict]:
    """The checked search under the series rule: (pattern, method, audit of this release,
    series audit). A pattern passes when both the release's own audit and the series audit
    of it together with everything published before pass. The first round audits its
    pattern alone first, and the series only if that passes: its points, found from the
    previous release's, are what the later own audits start from. Every later round runs
    the series audit first and the own audit only on a pattern the series passes: by steps
    (``audit_chain``) the series audit solves the new month's system alone (0.2-0.6 s at
    national AFSLAARS, where an own audit takes 1-5 s), and in a national release the
    series names cells for five rounds after the own audit has passed; the last round's
    own audit then starts from the first round's points, which stay feasible as withholding
    grows (2.5 s instead of five own audits, 9.5 s). Either audit names the cells a failing
    round adds, so the search still ends with a pattern both pass. ``suppress_fn``,
    ``checked_fn``, ``memo``: as for :func:`guarded_pattern`. ``carried``: the points the
    search's first audit starts from (:class:`audit.Witnesses`, e.g. the previous release's
    carried over: ``audit.witnesses.carried_over``); the search leaves its last audit's
    points in it. ``started``: the global suppressor started ahead (:func:`start_global`)."""
    from transforms.disclosure.audit import Witnesses
    from transforms.publication import published_cells

    if checked_fn is None:
        from transforms.disclosure.suppress import suppress_checked as checked_fn

    # First the method a release alone would get (the global suppressor where the cube's
    # systems are small), held to the previous publication: cells it had with the same truth
    # keep their status. Where that passes both audits it is kept; the global method loses
    # less than the checked search, and a status date it has seen before comes out the same.
    if system_size(cells, cube) <= _global_max_cells():
        pattern = global_pattern(cells, cube, _budget(), suppress_fn, memo=memo,
                                 started=started)
        if pattern is not None:
            pattern = search.held(pattern)
            pub = published_cells(cells, pattern, cube)
            own = audit_fn(pub, cube)
            if Verdict.of(own).passed:
                passed_s, series, _, _ = search.check(pub)
                if passed_s:
                    return pattern, "global", own, series
            log.info("%s: the global pattern held to the published series did not pass; "
                     "using the checked search", cube.underemne)

    carried = Witnesses() if carried is None else carried
    last: dict = {}

    def check(pattern: pd.DataFrame):
        pub = published_cells(cells, pattern, cube)
        series_first = "own" in last  # the search's own points are in ``carried`` now
        if series_first:
            passed_s, series, bad_s, bad_out_s = search.check(pub)
            last["series"] = series
            if not passed_s:
                return False, None, bad_s, bad_out_s
        own = last["own"] = audit_fn(pub, cube, witnesses=carried)
        bad, bad_out = _failing_rows(cells, cube, own)
        passed = Verdict.of(own).passed
        if series_first or not passed:
            return passed, own, bad, bad_out
        passed_s, series, bad_s, bad_out_s = search.check(pub)
        last["series"] = series
        return passed_s, own, bad | bad_s, bad_out | bad_out_s

    try:
        pattern, own = checked_fn(cells, cube, check, locked=search.locked,
                                  forced=search.forced)
        return pattern, "kontrolleret", own, last["series"]
    except RuntimeError as exc:
        log.warning("%s: withholding every cell not already published (%s)", cube.underemne, exc)
    pattern = search.held(_every_cell(cells, cube))
    pub = published_cells(cells, pattern, cube)
    passed_s, series, _, _ = search.check(pub)
    return pattern, "alt", audit_fn(pub, cube), series


__all__ = ["guarded_pattern", "global_pattern", "series_pattern", "PatternMemo", "SeriesSearch"]
