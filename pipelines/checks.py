"""Data-quality asset checks: thin wrappers around quality/ (rules and GX suites).

Severity decides what a failure does:

- ERROR checks on the assets upstream of ``udgivelse`` are *blocking*: a failed result makes
  its step fail and Dagster skips every asset downstream, so no release is written (landed
  rows → warehouse → cubes → disclosure → release).
- WARN checks (freshness, volume, future timestamps) never block; the warning and its
  evidence stay on the asset, and the release is written.
- The release-level checks on ``udgivelse`` (audit passed, manifest checksums) are ERROR but
  not blocking: the release folder is already written atomically, and nothing is downstream.

Every result carries a summary, the count of offending rows/cells/files, what was checked,
the threshold where there is one, up to ten offending keys and, for GX suites, a link to the
run's Data Docs (``<LPSTAT_HOME>/quality/<release>/data_docs/index.html``).
"""

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from pipelines.resources import LpstatResource
from quality.rules import ERROR, RULES, RuleResult, merge
from quality.suites import RAW_KEYS, landed_suites, warehouse_suites
from transforms.catalog import CUBES, MAX_SMALL
from transforms.land import INCREMENTAL
from transforms.warehouse import read_partition

_SEVERITY = {ERROR: dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}

STG = "stg_laerepladsen__"
VOLUME_TABLES = {f"{STG}afslag": "registreret", f"{STG}frafaldsvurdering": "registreret"}
FUTURE_TABLES = {f"{STG}afslag": ("registreret", "afslag_id"),
                 f"{STG}frafaldsvurdering": ("registreret", "vurdering_id"),
                 f"{STG}uddannelsesaftale": ("aendret", "aftale_id")}
FACT_TABLES = ("fct_afslag", "fct_aftale_historik", "fct_frafaldsvurdering")


def _spec(rule: str, asset: str) -> dg.AssetCheckSpec:
    """ERROR rules block what is downstream of their asset; WARN rules never do."""
    r = RULES[rule]
    block = r.severity == ERROR
    return dg.AssetCheckSpec(
        rule, asset=asset, blocking=block,
        description=f"[{r.severity}{', blocks the release' if block else ''}] {r.description}",
        metadata={"severity": r.severity, "blocking": block})


def _suite_pairs(suites) -> list[tuple[str, str]]:
    """(rule, table) pairs a list of suites reports on, in suite order."""
    out: list[tuple[str, str]] = []
    for s in suites:
        for e in s.expectations:
            if (e.rule, s.table) not in out:
                out.append((e.rule, s.table))
    return out


def _release_of(context) -> str | None:
    """The run's release month (its partition key; the checks themselves are unpartitioned,
    and run in the partitioned run of their asset)."""
    return context.run.tags.get("dagster/partition")


def _release(context) -> str:
    release = _release_of(context)
    if release is None:
        raise dg.Failure("This check needs a release month: run it with its asset's partition.")
    return release


def _docs_url(index: Path | None) -> dict:
    if index is not None and index.exists():
        return {"data_docs": dg.MetadataValue.url(index.resolve().as_uri())}
    return {}


def _to_check(context, res: RuleResult, extra_meta: dict | None = None) -> dg.AssetCheckResult:
    rule = RULES[res.rule]
    meta: dict = {
        "summary": dg.MetadataValue.text(res.summary),
        "offending": dg.MetadataValue.int(int(res.count)),
        "examples": dg.MetadataValue.json(list(res.examples)),
    }
    if res.checked is not None:
        meta["checked"] = dg.MetadataValue.int(int(res.checked))
    if res.threshold is not None:
        meta["threshold"] = dg.MetadataValue.text(str(res.threshold))
    if res.details:
        meta["details"] = dg.MetadataValue.json(res.details)
    meta.update(extra_meta or {})
    if not res.passed:
        text = f"{res.subject} · {res.rule} [{rule.severity}]: {res.summary}"
        if res.examples:
            text += " Examples: " + "; ".join(map(str, res.examples))
        (context.log.error if rule.severity == ERROR else context.log.warning)(text)
    return dg.AssetCheckResult(
        asset_key=res.subject, check_name=res.rule, passed=res.passed,
        severity=_SEVERITY[rule.severity], description=res.summary, metadata=meta)


def _emit(context, specs: list[dg.AssetCheckSpec], results: Iterable[RuleResult],
          extra_meta: dict | None = None) -> Iterator[dg.AssetCheckResult]:
    """One check result per spec: the results for its (rule, asset) merged; a spec without
    results passes as 'nothing to check'."""
    grouped: dict[tuple[str, str], list[RuleResult]] = {}
    for r in results:
        grouped.setdefault((r.rule, r.subject), []).append(r)
    for spec in specs:
        key = (spec.name, spec.asset_key.to_user_string())
        yield _to_check(context, merge(key[0], key[1], grouped.pop(key, [])), extra_meta)
    if grouped:  # a result without a spec is a wiring error: say so rather than drop it
        raise dg.Failure(f"Quality results without an asset check: {sorted(grouped)}")


def _gx(context, lpstat: LpstatResource, suites, build_docs: bool | None = None,
        beside=None):
    """Run GX suites in the run's context; Data Docs are built when a suite fails, and at the
    run's last suite (``build_docs=True``). ``beside()``: read-only work done while the GX
    worker validates (quality.gx.validating); returns (GX outcome, what it returned)."""
    from quality import docs_dir
    from quality.gx import validating

    s = lpstat.settings()
    with validating(s.warehouse_path, suites, run_key=context.run.run_id,
                    docs_dir=docs_dir(s.home, _release_of(context)),
                    build_docs=build_docs) as outcome:
        extra = beside() if beside is not None else None
        out = outcome()
    context.log.info(f"Great Expectations: {len(suites)} suites in {out.seconds:.1f} s; "
                     f"Data Docs: {out.docs_index}")
    return out if beside is None else (out, extra)


def _read_only(lpstat: LpstatResource, fn):
    """``fn(con)`` on a read-only connection to the warehouse, closed again."""
    con = lpstat.warehouse(read_only=True)
    try:
        return fn(con)
    finally:
        con.close()


# --- landed rows -------------------------------------------------------------------------------

LANDED_SPECS = [_spec(rule, table) for rule, table in _suite_pairs(landed_suites())]


@dg.multi_asset_check(
    name="landed_rows_quality", specs=LANDED_SPECS,
    description="Great Expectations suite 'landed' on raw_* (allowed columns, pseudonym form) "
    "and a scan for CPR- and phone-shaped text. Blocks the warehouse on failure.")
def landed_rows_quality(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
    from quality.rules import identifier_shaped_values

    gx, pure = _gx(context, lpstat, landed_suites(), beside=lambda: _read_only(
        lpstat, lambda con: identifier_shaped_values(con, RAW_KEYS)))
    yield from _emit(context, LANDED_SPECS, [*gx.results, *pure], _docs_url(gx.docs_index))


# --- warehouse -----------------------------------------------------------------------------------

WAREHOUSE_SPECS = [_spec(rule, table) for rule, table in _suite_pairs(warehouse_suites())] + [
    _spec("quarantine_reconciles", "karantaene"),
    *[_spec("facts_join_dimensions", f) for f in FACT_TABLES],
    _spec("agreement_history_no_overlap", "fct_aftale_historik"),
]


@dg.multi_asset_check(
    name="warehouse_quality", specs=WAREHOUSE_SPECS,
    description="Great Expectations suite 'warehouse' (code domains, legal periods, quarantine "
    "reasons, keys) and the reconciliation, join and history rules. Blocks the cubes on failure.")
def warehouse_quality(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
    from quality.rules import (agreement_history_no_overlap, facts_join_dimensions,
                               quarantine_reconciles)
    from transforms.warehouse import source_counts

    gx, pure = _gx(context, lpstat, warehouse_suites(), beside=lambda: _read_only(
        lpstat, lambda con: [quarantine_reconciles(source_counts(con)),
                             *facts_join_dimensions(con), agreement_history_no_overlap(con)]))
    yield from _emit(context, WAREHOUSE_SPECS, [*gx.results, *pure], _docs_url(gx.docs_index))


# --- freshness and volume (warnings) -------------------------------------------------------------

class FreshnessConfig(dg.Config):
    """Thresholds of the warnings (set them in the launchpad's run config)."""

    volume_band: float = 0.5  # the release month may differ ±50 % from the month before
    volume_min_rows: int = 30  # months before with fewer rows are too small to judge
    future_tolerance_hours: float = 24.0


FRESHNESS_SPECS = (
    [_spec("watermark_advanced", f"raw_{t}") for t in INCREMENTAL]
    + [_spec("volume_within_band", t) for t in VOLUME_TABLES]
    + [_spec("timestamps_not_in_future", t) for t in FUTURE_TABLES]
)


@dg.multi_asset_check(
    name="freshness_and_volume", specs=FRESHNESS_SPECS,
    description="Warnings only: source watermarks advanced, month-on-month volume within the "
    "configured band, no registration stamped in the future.")
def freshness_and_volume(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource,
                         config: FreshnessConfig):
    from quality.rules import timestamps_not_in_future, volume_within_band, watermark_advanced

    con = lpstat.warehouse(read_only=True)
    try:
        results = [
            *watermark_advanced(con, INCREMENTAL),
            *volume_within_band(con, VOLUME_TABLES, _release_of(context), config.volume_band,
                                config.volume_min_rows),
            *timestamps_not_in_future(con, FUTURE_TABLES, datetime.now(timezone.utc),
                                      timedelta(hours=config.future_tolerance_hours)),
        ]
    finally:
        con.close()
    yield from _emit(context, FRESHNESS_SPECS, results)


# --- cubes ----------------------------------------------------------------------------------------

def _cube_check(underemne: str, rule: str):
    cube = CUBES[underemne]
    asset = f"cube_{underemne.lower()}"

    @dg.asset_check(
        asset=asset, name=rule, blocking=True,
        description=f"[ERROR, blocks the release] {RULES[rule].description}",
        metadata={"severity": ERROR, "blocking": True})
    def _check(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
        from quality import rules

        con = lpstat.warehouse(read_only=True)
        try:
            cells = read_partition(con, asset, _release(context))
        finally:
            con.close()
        res = getattr(rules, rule)(cells, cube)
        return _to_check(context, res)

    return _check


CUBE_CHECKS = [_cube_check(u, "margins_add_up") for u in CUBES] + \
    [_cube_check(u, "stock_consistent") for u, c in CUBES.items() if c.kind == "stock"]


# --- disclosure ---------------------------------------------------------------------------------

@dg.asset_check(
    asset="beskyttede_celler", name="no_small_cells_published", blocking=True,
    description=f"[ERROR, blocks the release] {RULES['no_small_cells_published'].description}",
    metadata={"severity": ERROR, "blocking": True, "max_individuals_withheld": MAX_SMALL})
def no_small_cells_published(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
    from quality.rules import no_small_cells_published as rule

    release = _release(context)
    con = lpstat.warehouse(read_only=True)
    try:
        parts = [rule(read_partition(con, f"cube_{u.lower()}", release),
                      read_partition(con, f"pub_{u.lower()}", release), cube, MAX_SMALL)
                 for u, cube in CUBES.items()]
    finally:
        con.close()
    return _to_check(context, merge("no_small_cells_published", "beskyttede_celler", parts))


@dg.asset_check(
    asset="beskyttede_celler", name="shares_in_range", blocking=True,
    description=f"[ERROR, blocks the release] {RULES['shares_in_range'].description} "
    "(Great Expectations suite 'published' on pub_*).",
    metadata={"severity": ERROR, "blocking": True})
def shares_in_range(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
    from quality.suites import published_suites

    gx = _gx(context, lpstat, published_suites(_release(context)), build_docs=True)
    results = [RuleResult(r.rule, "beskyttede_celler", r.passed, r.summary, r.count, r.checked,
                          r.threshold, r.examples, r.details) for r in gx.results]
    return _to_check(context, merge("shares_in_range", "beskyttede_celler", results),
                     _docs_url(gx.docs_index))


# --- the release ------------------------------------------------------------------------------

def _release_check(rule: str):
    @dg.asset_check(
        asset="udgivelse", name=rule, blocking=False,
        description=f"[ERROR, after writing] {RULES[rule].description}",
        metadata={"severity": ERROR, "blocking": False})
    def _check(context: dg.AssetCheckExecutionContext, lpstat: LpstatResource):
        import json

        from quality import docs_dir, rules

        s = lpstat.settings()
        release = _release(context)
        folder = s.releases_dir / release
        if rule == "manifest_checksums":
            res = rules.manifest_checksums(folder)
        elif rule == "watermarks_current":
            from transforms.calendar import Release
            from transforms.land import DEFAULT_LOOKBACK, INCREMENTAL

            con = lpstat.warehouse(read_only=True)
            try:
                res = rules.watermarks_current(con, INCREMENTAL, Release.parse(release).cutoff,
                                               DEFAULT_LOOKBACK)
            finally:
                con.close()
        else:
            con = lpstat.warehouse(read_only=True)
            try:
                rows = con.execute("SELECT audit FROM release_audit WHERE udgivelse = ?",
                                   [release]).fetchall()
            finally:
                con.close()
            stored = json.loads(rows[0][0]) if rows else None
            f = folder / "audit.json"
            written = json.loads(f.read_text(encoding="utf-8")) if f.exists() else None
            res = rules.audit_passed(release, stored, written)
        return _to_check(context, res, {"folder": dg.MetadataValue.path(str(folder)),
                                        **_docs_url(docs_dir(s.home, release) / "index.html")})

    return _check


RELEASE_CHECKS = [_release_check("audit_passed"), _release_check("manifest_checksums"),
                  _release_check("watermarks_current")]

ALL_CHECKS = [landed_rows_quality, warehouse_quality, freshness_and_volume, *CUBE_CHECKS,
              no_small_cells_published, shares_in_range, *RELEASE_CHECKS]
