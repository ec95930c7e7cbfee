"""Disclosure control of one release, over the warehouse's cube tables: cube_<x> (true
cells) → suppression → published cells (pub_<x>) → independent audit (release_audit).

Kept out of the Dagster layer so that the command line, the assets and the tests share one
path. The suppressor and the audits it runs are handed in (:class:`Methods`; by default the
real ones), so a test can put stand-ins in their place. The release folder is written from
what this leaves in the warehouse (``transforms.publish.release.publish_release``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from transforms.catalog import CUBES
from transforms.disclosure.verdict import FAILED, Verdict
from transforms.publication import published_cells
from transforms.warehouse import read_partition, store_partition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Methods:
    """The disclosure-control functions a release runs; each one not given is the real one.

    ``suppress(cells, cube)``: the global suppressor's pattern (``suppress.suppress``).
    ``suppress_checked(cells, cube, check, **kw)``: the checked search, (pattern, audit of
    it) (``suppress.suppress_checked``). ``audit(published, cube, **kw)``: the independent
    audit of one cube (``audit.audit``). ``audit_series(versions, cube, **kw)``: the audit of
    a release together with every version published before it
    (``audit_series.audit_series``).
    """

    suppress: Callable | None = None
    suppress_checked: Callable | None = None
    audit: Callable | None = None
    audit_series: Callable | None = None

    def resolved(self) -> Methods:
        """These methods with the real function in place of each one not given (imported
        here, when a release is protected: they are heavy)."""
        from transforms.disclosure import audit, audit_series, suppress

        return Methods(self.suppress or suppress.suppress,
                       self.suppress_checked or suppress.suppress_checked,
                       self.audit or audit.audit,
                       self.audit_series or audit_series.audit_series)


def _series_check(history: list, cube, release: str, truth: pd.DataFrame, audit_series,
                  cache=None, chain=None):
    """The series audit of a candidate frame together with every published version. Each
    audit hands its feasible points to the next (the search's next round withholds more of
    the same frame, so they stay feasible): verdicts do not depend on them, the LPs do. The
    candidates share what does not depend on their numbers (the cells' keys, each step's
    layout: ``audit_chain.SHARED``), built at the first."""
    from transforms.disclosure.audit.series_points import SeriesPoints
    from transforms.disclosure.audit_chain import SHARED
    from transforms.disclosure.audit_series import SeriesVersion

    points = SeriesPoints()
    shared: dict = {}  # the candidates' cell keys and step layouts (audit_chain.SHARED)

    def check(published: pd.DataFrame):
        cand = SeriesVersion(f"{release} (denne)", release, published, truth)
        setattr(cand, SHARED, shared)
        res = audit_series(history + [cand], cube, cache=cache, points=points, chain=chain)
        res["rows"] = cand.rows
        failing = []
        for ver in history:
            for key, outcome in (("count_ok", False), ("outcome_ok", True)):
                idx = np.flatnonzero(~ver.rows.get(key, np.ones(len(ver.frame), bool)))
                if len(idx):
                    failing.append((ver.frame, idx, outcome))
        return Verdict.of(res).passed, res, failing

    return check


def protect_release(con: duckdb.DuckDBPyConnection, release: str,
                    releases_dir: Path | None = None, methods: Methods | None = None) -> dict:
    """Suppression and audit of every cube of a release. With ``releases_dir``, over the
    published series (contract 3.7): the pattern follows the previous publication where the
    truth is unchanged, and passes only when the series audit of this release together with
    every version under ``releases_dir`` passes. ``methods``: the suppressor and audits to
    run (default: the real ones). Returns the audit as it is stored in the warehouse table
    ``release_audit`` and published as ``audit.json`` (its ``verdict``: :class:`Verdict`)."""
    from transforms.disclosure.audit import shutdown_workers
    from transforms.disclosure.guarded import start_global

    m = (methods or Methods()).resolved()
    result = {"udgivelse": release, "cubes": {}}
    inputs = {u: (read_partition(con, f"cube_{u.lower()}", release), load_pattern_memo(con, cube))
              for u, cube in CUBES.items()}
    ahead: dict = {}
    try:
        # The global suppressor of the cubes after the first starts now, each in its own
        # process: it runs while the first cube (AFSLAARS: the checked search, one core busy
        # most of its rounds) is protected; its pattern is the same as when started later.
        for u, cube in list(CUBES.items())[1:]:
            cells, patterns = inputs[u]
            ahead[u] = start_global(cells, cube, m.suppress, patterns)
        for u, cube in CUBES.items():
            started = time.monotonic()
            entry = result["cubes"][u] = _protect_cube(con, release, releases_dir, u, cube, m,
                                                       *inputs[u], ahead.get(u))
            log.info("%s: %s, %s withheld, audit %s, in %.1f s", u, entry.get("undertrykkelse"),
                     entry.get("withheld"), entry.get("verdict"), time.monotonic() - started)
    finally:
        for run in ahead.values():
            if run is not None:
                run.cancel()  # (collected ones are stopped already; a failed step's are not)
        shutdown_workers()  # the audit's worker processes serve every cube, then go
    result["verdict"] = Verdict.over(result["cubes"].values()).text
    con.execute("CREATE TABLE IF NOT EXISTS release_audit (udgivelse VARCHAR PRIMARY KEY, "
                "audit JSON)")
    con.execute("INSERT OR REPLACE INTO release_audit VALUES (?, ?)",
                [release, json.dumps(result, ensure_ascii=False)])
    return result


def _protect_cube(con: duckdb.DuckDBPyConnection, release: str, releases_dir: Path | None,
                  u: str, cube, m: Methods, cells: pd.DataFrame, patterns, started=None) -> dict:
    """One cube: its pattern, its published cells (pub_<x>), its information loss, and the
    entry of the release's audit. ``cells``: its cube partition; ``patterns``: its
    :class:`guarded.PatternMemo`; ``started``: its global suppressor started ahead
    (``guarded.start_global``), or None."""
    from transforms.disclosure.guarded import (
        SeriesSearch, _cell_key, guarded_pattern, series_pattern,
    )
    from transforms.infoloss import information_loss, public_information_loss
    from transforms.series import candidate_truth, history, read_published, record_truth

    memo = load_audit_memo(con, cube)
    own_audit = memo.wrap(m.audit)  # a re-run's unchanged frame is not audited again
    # (and ``patterns``, loaded by the caller: nor are its unchanged cells suppressed again)
    hist, missing = (history(con, releases_dir, cube) if releases_dir is not None
                     else ([], []))
    if releases_dir is None:
        pattern, method, verdict = guarded_pattern(
            cells, cube, own_audit, suppress_fn=m.suppress, checked_fn=m.suppress_checked,
            memo=patterns, started=started)
        series = None
    else:
        truth = candidate_truth(con, cube, release, cells)
        prev = _previous_frame(releases_dir, release, cube, read_published)
        cache = load_component_cache(con, cube)
        chain = load_chain(con, cube)
        key = _cell_key(cells, cube)  # once: the search's and the carried points' keys
        search = SeriesSearch(cells, cube,
                              _series_check(hist, cube, release, truth, m.audit_series, cache,
                                            chain),
                              previous=prev, key=key)
        keys = key.to_numpy()
        carried = load_carried_points(con, cube, release, cells, keys)
        pattern, method, verdict, series = series_pattern(
            cells, cube, own_audit, search, suppress_fn=m.suppress, checked_fn=m.suppress_checked,
            memo=patterns, carried=carried, started=started)
        if method == "kontrolleret" and not memo.hits:  # the final audit's own points
            save_carried_points(con, cube, release, cells, keys, carried)
        save_component_cache(con, cube, cache)
        save_chain(con, cube, chain, series)
        c = series.get("components", {})
        series["komponenter"] = {"genbrugt": c.get("components_reused", 0),
                                 "loest": c.get("components_solved", 0),
                                 "stoerste_loeste": c.get("largest_solved", 0)}
    published = published_cells(cells, pattern, cube)
    store_partition(con, f"pub_{u.lower()}", release, published)
    save_audit_memo(con, cube, release, memo, published, m.audit)
    save_pattern_memo(con, cube, release, patterns)
    if memo.hits or patterns.hits:
        log.info("%s: reused %d own audit(s) of an unchanged frame and %d global "
                 "suppression(s) of unchanged cells", cube.underemne, memo.hits, patterns.hits)
    loss = information_loss(cells, pattern["undertrykt"].to_numpy(bool)
                            if len(pattern) else np.zeros(0, bool), cube)
    record_information_loss(con, release, cube, loss)
    entry = {**verdict, "undertrykkelse": method,
             "informationstab": public_information_loss(loss)}
    if series is not None:
        entry["serie"] = {k: series[k] for k in (
            "verdict", "versions", "unknowns", "relations", "checked", "failed",
            "per_version", "cells", "consistency_errors", "metode", "komponenter")}
        if "inkrementel" in series:
            entry["serie"]["inkrementel"] = series["inkrementel"]
        entry["serie"]["uden_sandhed"] = missing
        if not Verdict.of(series).passed:
            entry["verdict"] = FAILED
        record_truth(con, cube, release, published, truth)
    return entry


def record_information_loss(con: duckdb.DuckDBPyConnection, release: str, cube,
                            loss: dict) -> None:
    """The exact information-loss figures (per cube and view) into the warehouse table
    ``informationstab``: they say things about withheld cells' true values, so they are
    not published (``transforms/infoloss.py``)."""
    con.execute("CREATE TABLE IF NOT EXISTS informationstab (udgivelse VARCHAR, terning "
                "VARCHAR, tal JSON, PRIMARY KEY (udgivelse, terning))")
    con.execute("INSERT OR REPLACE INTO informationstab VALUES (?, ?, ?)",
                [release, cube.underemne, json.dumps(loss, ensure_ascii=False)])


def recorded_information_loss(con: duckdb.DuckDBPyConnection, release: str) -> dict:
    """Per cube the exact figures :func:`record_information_loss` kept for a release."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                         "'informationstab'").fetchall()[0][0]
    if not exists:
        return {}
    return {u: json.loads(t) for u, t in con.execute(
        "SELECT terning, tal FROM informationstab WHERE udgivelse = ?", [release]).fetchall()}


_KEEP_TARGETS = 2000


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, cube, rows: list[tuple],
                  release: str | None = None, keep_months: int | None = None) -> None:
    """In one transaction: drop the cube's rows of ``table`` (those of ``release`` only,
    where given), insert ``rows``, then (``keep_months``) drop every release month of the
    cube but the newest ones. ``table`` is one of this module's warehouse tables."""
    where, params = "terning = ?", [cube.underemne]
    if release is not None:
        where, params = where + " AND udgivelse = ?", params + [release]
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        if keep_months is not None:
            con.execute(f"DELETE FROM {table} WHERE terning = ? AND udgivelse NOT IN (SELECT "
                        f"DISTINCT udgivelse FROM {table} WHERE terning = ? ORDER BY "
                        "udgivelse DESC LIMIT ?)", [cube.underemne, cube.underemne,
                                                    keep_months])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


_AUDIT_MEMO_DDL = ("CREATE TABLE IF NOT EXISTS audit_memo (terning VARCHAR, udgivelse VARCHAR, "
                   "digest VARCHAR, resultat JSON, PRIMARY KEY (terning, udgivelse))")


def load_audit_memo(con: duckdb.DuckDBPyConnection, cube):
    """The passing own audits of this cube's newest releases (warehouse ``audit_memo``):
    :class:`audit.memo.AuditMemo`."""
    from transforms.disclosure.audit.memo import AuditMemo

    con.execute(_AUDIT_MEMO_DDL)
    rows = con.execute("SELECT digest, resultat FROM audit_memo WHERE terning = ?",
                       [cube.underemne]).fetchall()
    return AuditMemo(dict(rows))


def save_audit_memo(con: duckdb.DuckDBPyConnection, cube, release: str, memo,
                    published: pd.DataFrame, audit_fn) -> None:
    """Keep the own audit of the frame this release publishes (where it passed), for a
    re-run; only the newest ``memo.KEEP_MONTHS`` release months of the cube stay."""
    from transforms.disclosure.audit.memo import KEEP_MONTHS, frame_digest

    digest = frame_digest(published, cube, audit_fn, outcome_of_withheld=False, exact=False)
    text = memo.entries.get(digest) if digest is not None else None
    rows = [(cube.underemne, release, digest, text)] if text is not None else []
    con.execute(_AUDIT_MEMO_DDL)
    _replace_rows(con, "audit_memo", cube, rows, release=release, keep_months=KEEP_MONTHS)


_CARRIED_DDL = ("CREATE TABLE IF NOT EXISTS audit_punkter (terning VARCHAR, udgivelse VARCHAR, "
                "maal JSON, punkter BLOB, PRIMARY KEY (terning, udgivelse))")


def load_carried_points(con: duckdb.DuckDBPyConnection, cube, release: str,
                        cells: pd.DataFrame, keys: np.ndarray):
    """The points the checked search's first audit of this release starts from: those the
    final audit of the cube's newest earlier release left (warehouse ``audit_punkter``),
    carried over to this frame by cell key (``audit.witnesses.carried_over``). A fresh
    :class:`audit.Witnesses` where there are none. They only spare LPs: every point is
    checked against this release's system before use, and only gives inner bounds.
    ``keys``: the cell key of each row of ``cells`` (``guarded._cell_key``).

    National AFSLAARS 2026-10 after 2026-09: in the first round's audit the largest
    component (10,997 unknowns) needed 98 LPs instead of 187 (128 points carried; all
    303 of the final audit: 104 LPs and some 110 MB more memory through the search, so
    ``audit.witnesses.CARRY_MAX_POINTS`` a block are kept); the same verdicts, pattern and
    published cells."""
    import io
    import zipfile

    from transforms.disclosure.audit import Witnesses
    from transforms.disclosure.audit.witnesses import carried_over

    con.execute(_CARRIED_DDL)
    rows = con.execute("SELECT maal, punkter FROM audit_punkter WHERE terning = ? AND "
                       "udgivelse < ? ORDER BY udgivelse DESC LIMIT 1",
                       [cube.underemne, release]).fetchall()
    if not rows:
        return Witnesses()
    try:
        measures = tuple(str(m) for m in json.loads(rows[0][0]))
        with np.load(io.BytesIO(rows[0][1]), allow_pickle=False) as npz:
            stored = {k: npz[k] for k in npz.files}
    except (OSError, TypeError, ValueError, zipfile.BadZipFile) as exc:  # start afresh
        log.warning("%s: the carried points of an earlier release are unreadable (%s); the "
                    "first audit starts without them", cube.underemne, exc)
        return Witnesses()
    if not measures or not all(m in cells.columns for m in measures):
        return Witnesses()
    w = carried_over(stored, keys,
                     {m: cells[m].to_numpy(float) for m in measures}, measures)
    return w if w is not None else Witnesses()


def save_carried_points(con: duckdb.DuckDBPyConnection, cube, release: str,
                        cells: pd.DataFrame, keys: np.ndarray, carried) -> None:
    """Keep the final audit's points of this release's frame as deviations from the truth
    by cell key (``audit.witnesses.deviations``), for the next release's first audit; only
    the newest ``audit.memo.KEEP_MONTHS`` release months of the cube stay. Where the
    search left no points of this frame, what is stored stays. ``keys``: as for
    :func:`load_carried_points`."""
    from transforms.disclosure.audit.memo import KEEP_MONTHS
    from transforms.disclosure.audit.witnesses import deviations

    if carried is None or carried.shape is None:
        return
    measures = carried.shape[1]
    if not all(m in cells.columns for m in measures):
        return
    arrays = deviations(carried, keys,
                        {m: cells[m].to_numpy(float) for m in measures})
    if arrays is None:
        return
    con.execute(_CARRIED_DDL)
    _replace_rows(con, "audit_punkter", cube,
                  [(cube.underemne, release, json.dumps(list(measures)), npz_bytes(arrays))],
                  release=release, keep_months=KEEP_MONTHS)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as an ``.npz`` (what ``np.load`` reads), deflated at level 1: national
    AFSLAARS's points 0.19 s and 6.2 MB where ``np.savez_compressed`` (level 6) took 0.65 s
    for 5.1 MB."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, a in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


_SUPPRESSION_MEMO_DDL = ("CREATE TABLE IF NOT EXISTS suppression_memo (terning VARCHAR, "
                         "udgivelse VARCHAR, digest VARCHAR, moenster BLOB, "
                         "PRIMARY KEY (terning, udgivelse, digest))")


def load_pattern_memo(con: duckdb.DuckDBPyConnection, cube):
    """The global suppressor's outcomes for this cube's newest releases (warehouse
    ``suppression_memo``; ``moenster`` NULL: over its work budget): :class:`guarded.PatternMemo`."""
    import io

    from transforms.disclosure.guarded import PatternMemo

    con.execute(_SUPPRESSION_MEMO_DDL)
    entries = {}
    for digest, blob in con.execute("SELECT digest, moenster FROM suppression_memo WHERE "
                                    "terning = ?", [cube.underemne]).fetchall():
        if blob is None:
            entries[digest] = None
            continue
        entries[digest] = pd.read_parquet(io.BytesIO(blob))  # dtypes kept (pandas metadata)
    return PatternMemo(entries)


def save_pattern_memo(con: duckdb.DuckDBPyConnection, cube, release: str, memo) -> None:
    """Keep the global suppressor's outcomes this release met, for a re-run; only the newest
    ``audit.memo.KEEP_MONTHS`` release months of the cube stay."""
    import io

    from transforms.disclosure.audit.memo import KEEP_MONTHS

    rows = []
    for digest in sorted(memo.used):
        pattern = memo.entries[digest]
        blob = None
        if pattern is not None:
            buf = io.BytesIO()
            pattern.to_parquet(buf, index=False)
            blob = buf.getvalue()
        rows.append((cube.underemne, release, digest, blob))
    con.execute(_SUPPRESSION_MEMO_DDL)
    _replace_rows(con, "suppression_memo", cube, rows, release=release,
                  keep_months=KEEP_MONTHS)


def load_component_cache(con: duckdb.DuckDBPyConnection, cube):
    """The series audit's solved components of this cube (warehouse ``serie_komponenter``)."""
    from transforms.disclosure.audit import ComponentCache

    con.execute("CREATE TABLE IF NOT EXISTS serie_komponenter (terning VARCHAR, digest "
                "VARCHAR, resultater JSON, PRIMARY KEY (terning, digest))")
    rows = con.execute("SELECT digest, resultater FROM serie_komponenter WHERE terning = ?",
                       [cube.underemne]).fetchall()
    return ComponentCache(None, {d: json.loads(r) for d, r in rows})


def save_component_cache(con: duckdb.DuckDBPyConnection, cube, cache) -> None:
    """Keep the components the release's final series audit met (those the next release's
    audit can meet again); the rest go. Components with more than ``_KEEP_TARGETS`` targets
    are kept in memory for the release's own rounds but not stored: on the national series
    the only such one is AFSLAARS's chain of running totals, which every release changes,
    and writing its results cost 5 % of a release's disclosure step."""
    keep = [(cube.underemne, d, json.dumps(cache.entries[d])) for d in sorted(cache.used)
            if len(cache.entries[d]) <= _KEEP_TARGETS]
    _replace_rows(con, "serie_komponenter", cube, keep)


def load_chain(con: duckdb.DuckDBPyConnection, cube):
    """The series audit's chain states of this cube (warehouse ``serie_kaede``):
    :class:`audit_chain.ChainStore`."""
    from transforms.disclosure.audit_chain import ChainStore

    con.execute("CREATE TABLE IF NOT EXISTS serie_kaede (terning VARCHAR, digest VARCHAR, "
                "nuller JSON, PRIMARY KEY (terning, digest))")
    rows = con.execute("SELECT digest, nuller FROM serie_kaede WHERE terning = ?",
                       [cube.underemne]).fetchall()
    return ChainStore({d: json.loads(z) for d, z in rows})


def save_chain(con: duckdb.DuckDBPyConnection, cube, chain, series: dict | None) -> None:
    """Keep the chain state the release's final series audit ended with (the next month
    starts from it) and the one it started from (a re-run of this month starts there); the
    rest go. Nothing changes where the final audit did not pass."""
    if chain is None or series is None or series.get("verdict") is None:
        return
    from transforms.disclosure.audit import PASSED

    if series["verdict"] != PASSED or not series.get("digests"):
        return
    keep = [d for d in series["digests"][-2:] if d in chain.entries]
    _replace_rows(con, "serie_kaede", cube,
                  [(cube.underemne, d, json.dumps(chain.entries[d], ensure_ascii=False))
                   for d in keep])


def _previous_frame(releases_dir: Path, release: str, cube, read_published):
    """The publication a release's pattern follows: the month's own current version on a
    re-run, else the latest earlier release."""
    from transforms.publish.layout import complete_releases, release_path

    done = complete_releases(releases_dir)
    pick = release if release in done else max((r for r in done if r < release), default=None)
    if pick is None:
        return None
    return read_published(release_path(releases_dir, pick), cube)
