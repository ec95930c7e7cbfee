"""Data-quality rules as pure functions: each returns :class:`RuleResult` objects with a
severity and evidence a person can act on (counts, the threshold, up to ten offending keys).

What Great Expectations expresses well (column sets, value domains, uniqueness, ranges, rows a
query should not return) lives in :mod:`quality.suites` and runs through :mod:`quality.gx`;
this module holds the rules GX does not express: reconciliation across tables, joins, interval
histories, sums over cube margins, the disclosure rule, release files, freshness and volume.

No Dagster and no GX here: the functions take a DuckDB connection or DataFrames, so they can be
tested on small tables. ``pipelines/checks.py`` wraps them as asset checks. Evidence never
carries a source value that could identify a person: keys (ids, cell captions, file names) only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from transforms.calendar import Release
from transforms.disclosure.verdict import Verdict
from transforms.publish.layout import sha256_file
#: text shaped like a CPR number (DDMMYY-SSSS) or a Danish phone number: the landing's own
from transforms.validate import CPR_SHAPE, PHONE_SHAPE

ERROR = "ERROR"  #: blocks everything downstream (the release is not written)
WARN = "WARN"  #: reported with its evidence; the release is still written
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    description: str


#: Every rule, its severity and what it guarantees. The asset checks take their names,
#: severities and descriptions from here.
RULES: dict[str, Rule] = {r.name: r for r in [
    # landed rows (raw_*)
    Rule("no_direct_identifiers", ERROR,
         "Landed rows hold only the allowed, pseudonymised columns (no CPR number, name, "
         "address, phone number, employee name or free text), and no text value shaped like a "
         "CPR or phone number."),
    Rule("pseudonym_form", ERROR,
         "Pseudonyms are keyed hashes of the right form: 32 lowercase hex characters "
         "(transforms.pseudonymise.PSEUDONYM_PATTERN); a student always has one."),
    Rule("watermark_advanced", WARN,
         "The source watermark of an incremental table moved forward in the latest load "
         "(otherwise the store may have stopped receiving registrations)."),
    # staged rows, quarantine
    Rule("codes_in_domain", ERROR,
         "Loaded codes and captions lie in their domains (risk, termination reason, refusal "
         "reasons, educations, sex, sector, region)."),
    Rule("timestamps_in_legal_period", ERROR,
         "Loaded registrations lie in their legal period (refusals from 15 April 2021, risk "
         "assessments from 1 January 2022, Europe/Copenhagen); agreements end after they start."),
    Rule("timestamps_not_in_future", WARN,
         "No loaded registration is stamped later than the check runs (a clock or time-zone "
         "fault in the portal)."),
    Rule("volume_within_band", WARN,
         "The release month's registrations differ from the month before by no more than the "
         "configured band."),
    Rule("quarantine_reasons_known", ERROR,
         "Every quarantined row carries a reason from the known set."),
    Rule("quarantine_reconciles", ERROR,
         "Per source table: rows read = rows loaded + rows quarantined "
         "(transforms.warehouse.source_counts)."),
    # warehouse
    Rule("keys_unique_not_null", ERROR,
         "Dimension and fact keys are unique and never null."),
    Rule("facts_join_dimensions", ERROR,
         "Every fact row finds its dimension rows."),
    Rule("agreement_history_no_overlap", ERROR,
         "fct_aftale_historik: per agreement the versions [gyldig_fra, gyldig_til) follow each "
         "other without overlap or gap, and exactly one version is current."),
    # cubes
    Rule("margins_add_up", ERROR,
         "Before suppression, every published margin equals the sum of its children for the "
         "additive measures (antal_afslag, antal_elever, antal_afbrudt)."),
    Rule("stock_consistent", ERROR,
         "Stock cubes: cells with the same status date and breakdown agree across time levels "
         "(a year's status equals its December status)."),
    # disclosure, release
    Rule("no_small_cells_published", ERROR,
         "No published cell rests on 1-3 individuals, no zero is published, and FRAFAFBRUD's "
         "outcome is withheld where 1-3 had it or 0-3 did not."),
    Rule("shares_in_range", ERROR,
         "Published shares lie between 0 and 100 %."),
    Rule("audit_passed", ERROR,
         "The independent disclosure audit of the release passed (warehouse and audit.json)."),
    Rule("manifest_checksums", ERROR,
         "Every file of the release folder is listed in manifest.json with a matching sha256, "
         "and every listed file exists."),
    Rule("watermarks_current", ERROR,
         "Every source watermark reaches to within the look-back of the release's cut-off: "
         "the release holds every registration before its cut-off that the store has."),
]}


@dataclass
class RuleResult:
    """The outcome of one rule on one subject (a table, a cube, a release folder)."""

    rule: str
    subject: str
    passed: bool
    summary: str
    count: int = 0  # offending rows / cells / files
    checked: int | None = None  # rows / cells / files looked at
    threshold: Any = None
    examples: list = field(default_factory=list)  # up to MAX_EXAMPLES offending keys
    details: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity

    @property
    def description(self) -> str:
        return RULES[self.rule].description


def _result(rule: str, subject: str, count: int, ok_text: str, bad_text: str, *,
            checked: int | None = None, threshold: Any = None, examples: Iterable = (),
            details: dict | None = None) -> RuleResult:
    return RuleResult(rule=rule, subject=subject, passed=count == 0,
                      summary=ok_text if count == 0 else bad_text, count=int(count),
                      checked=checked, threshold=threshold,
                      examples=list(examples)[:MAX_EXAMPLES], details=details or {})


def merge(rule: str, subject: str, results: list[RuleResult]) -> RuleResult:
    """One result from several (e.g. a GX expectation per column and a pure rule)."""
    if not results:
        return RuleResult(rule, subject, True, "Nothing to check.")
    failed = [r for r in results if not r.passed]
    examples: list = []
    for r in failed:
        examples.extend(r.examples)
    checked = [r.checked for r in results if r.checked is not None]
    thresholds = [r.threshold for r in results if r.threshold is not None]
    return RuleResult(
        rule=rule, subject=subject, passed=not failed,
        summary=" ".join(r.summary for r in (failed or results)),
        count=sum(r.count for r in failed),
        checked=max(checked) if checked else None,
        threshold=thresholds[0] if len(thresholds) == 1 else (thresholds or None),
        examples=examples[:MAX_EXAMPLES],
        details={"parts": [{"summary": r.summary, "passed": r.passed, "count": r.count,
                            **({"details": r.details} if r.details else {})}
                           for r in results]} if len(results) > 1 else results[0].details,
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(_rows(con, "SELECT 1 FROM information_schema.tables WHERE table_name = ?", [table]))


# --- landed rows -----------------------------------------------------------------------------

def identifier_shaped_values(con: duckdb.DuckDBPyConnection, tables: dict[str, str]
                             ) -> list[RuleResult]:
    """Landed text values shaped like a CPR or phone number (``tables``: raw table → key
    column). The evidence is column and row key, never the value."""
    out = []
    for table, key in tables.items():
        if not _table_exists(con, table):
            out.append(RuleResult("no_direct_identifiers", table, False,
                                  f"{table} does not exist: nothing was landed."))
            continue
        cols = [r[0] for r in _rows(
            con, "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND data_type = 'VARCHAR' AND column_name <> '_koersel' ORDER BY ordinal_position",
            [table])]
        n = _rows(con, f'SELECT count(*) FROM "{table}"')[0][0]
        bad, examples = 0, []
        for c in cols:
            where = (f'regexp_matches("{c}", ?) OR regexp_matches("{c}", ?)')
            cnt = _rows(con, f'SELECT count(*) FROM "{table}" WHERE {where}',
                        [CPR_SHAPE, PHONE_SHAPE])[0][0]
            if cnt:
                bad += cnt
                keys = _rows(con, f'SELECT CAST("{key}" AS VARCHAR) FROM "{table}" WHERE {where} '
                             f'ORDER BY 1 LIMIT {MAX_EXAMPLES}', [CPR_SHAPE, PHONE_SHAPE])
                examples += [f"{c} @ {key}={k[0]}" for k in keys]
        out.append(_result(
            "no_direct_identifiers", table, bad,
            f"No CPR- or phone-shaped text in {len(cols)} text columns of {n} rows.",
            f"{bad} landed values in {table} are shaped like a CPR or phone number: a "
            "direct identifier may have escaped pseudonymisation. Check transforms/"
            "pseudonymise.py (RAW_COLUMNS) and the store's columns.",
            checked=n, examples=examples))
    return out


def watermark_advanced(con: duckdb.DuckDBPyConnection, incremental: dict[str, str]
                       ) -> list[RuleResult]:
    """Per incremental table (``incremental``: table → timestamp column): did the latest load
    move the watermark past everything landed before it? The first load always does."""
    out = []
    for table, col in incremental.items():
        raw = f"raw_{table}"
        wm = _rows(con, "SELECT vandmaerke, koersel FROM ingest_vandmaerke WHERE tabel = ?",
                   [table]) if _table_exists(con, "ingest_vandmaerke") else []
        if not wm or not _table_exists(con, raw):
            out.append(RuleResult("watermark_advanced", raw, False,
                                  f"No watermark for {table}: the store's {table} table was "
                                  "empty or unreadable in every load so far."))
            continue
        mark, run = wm[0]
        new_rows, before = _rows(
            con, f'SELECT count(*) FILTER (WHERE _koersel = ?), '
            f'max(TRY_CAST("{col}" AS TIMESTAMPTZ)) FILTER (WHERE _koersel <> ?) FROM "{raw}"',
            [run, run])[0]
        details = {"watermark": _iso(mark), "previous_watermark": _iso(before),
                   "rows_landed_in_latest_load": int(new_rows)}
        if before is None:
            out.append(RuleResult("watermark_advanced", raw, True,
                                  f"First load of {table}: watermark {_iso(mark)}.",
                                  details=details))
        elif mark is not None and mark > before:
            out.append(RuleResult("watermark_advanced", raw, True,
                                  f"Watermark of {table} advanced from {_iso(before)} to "
                                  f"{_iso(mark)} ({new_rows} new rows).", details=details))
        else:
            out.append(RuleResult(
                "watermark_advanced", raw, False,
                f"The watermark of {table} did not advance: it stays at {_iso(mark)} and the "
                f"latest load landed {new_rows} new rows. Check that the portal still writes "
                "to the store that LPSTAT_SOURCE_URL points at.", count=1, details=details))
    return out


def watermarks_current(con: duckdb.DuckDBPyConnection, incremental: dict[str, str],
                       cutoff: datetime, lag: timedelta = timedelta(days=3)) -> RuleResult:
    """Per incremental table, the watermark after the latest load is at most ``lag`` (the
    landing's look-back) before ``cutoff``. A table with no watermark yet (nothing registered
    before the cut-off) passes. A lagging watermark means registrations before the cut-off may
    be missing: the store stopped receiving rows, or a quarantined row without a key holds it
    back (karantaene_indlaesning)."""
    marks = dict(_rows(con, "SELECT tabel, vandmaerke FROM ingest_vandmaerke")
                 if _table_exists(con, "ingest_vandmaerke") else [])
    behind = [f"{t}: watermark {_iso(marks[t])}" for t in incremental
              if marks.get(t) is not None and marks[t] < cutoff - lag]
    return _result(
        "watermarks_current", "udgivelse", len(behind),
        f"Every watermark is within {lag} of the cut-off {cutoff.isoformat()}.",
        f"{len(behind)} source watermark(s) lag the cut-off {cutoff.isoformat()} by more than "
        f"{lag}: registrations before the cut-off may be missing from this release. Check "
        "that the portal still writes to the store and the table karantaene_indlaesning "
        "(rows without a key hold the watermark back), then run the month again.",
        checked=len(incremental), examples=behind)


def _iso(v) -> str | None:
    return v.isoformat() if v is not None else None


# --- staged rows ---------------------------------------------------------------------------

def _prev_month(d: date) -> date:
    """The first day of the month before ``d``'s."""
    return Release.of(d).previous().first_day


def volume_within_band(con: duckdb.DuckDBPyConnection, tables: dict[str, str],
                       release: str | None, band: float = 0.5, min_rows: int = 30
                       ) -> list[RuleResult]:
    """Month-on-month volume of loaded registrations (``tables``: staged table → timestamp
    column): the release month against the month before. A change beyond ``band`` (0.5 =
    ±50 %) is flagged; months before with fewer than ``min_rows`` rows are too small to judge.
    Without a release, the newest month before the newest registration is used."""
    out = []
    for table, col in tables.items():
        counts = dict(_rows(
            con, f'SELECT CAST(date_trunc(\'month\', "{col}") AS DATE) AS m, count(*) '
            f'FROM "{table}" WHERE "{col}" IS NOT NULL GROUP BY 1 ORDER BY 1'))
        if release:
            month = Release.parse(release).first_day
        elif counts:
            month = _prev_month(max(counts))
        else:
            month = None
        if month is None:
            out.append(RuleResult("volume_within_band", table, True, f"{table} is empty.",
                                  threshold=band))
            continue
        prev = _prev_month(month)
        n, n_prev = counts.get(month, 0), counts.get(prev, 0)
        recent = {k.strftime("%Y-%m"): v for k, v in counts.items()
                  if _prev_month(_prev_month(prev)) <= k <= month}
        details = {"month": month.strftime("%Y-%m"), "rows": n,
                   "previous_month": prev.strftime("%Y-%m"), "previous_rows": n_prev,
                   "recent_months": recent, "band": band, "min_rows": min_rows}
        if n_prev < min_rows:
            out.append(RuleResult("volume_within_band", table, True,
                                  f"{prev:%Y-%m} has {n_prev} rows in {table}, fewer than "
                                  f"{min_rows}: too few to judge the change.",
                                  threshold=band, details=details))
            continue
        change = (n - n_prev) / n_prev
        details["change"] = round(change, 4)
        text = (f"{table}: {n} rows in {month:%Y-%m} against {n_prev} in {prev:%Y-%m} "
                f"({change:+.0%}; band ±{band:.0%}).")
        if abs(change) > band:
            out.append(RuleResult(
                "volume_within_band", table, False,
                text + " Check that the store delivered the whole month (a failed portal "
                "export, a filter) before relying on the release.",
                count=1, checked=n, threshold=band, examples=[f"{month:%Y-%m}: {n} rows",
                                                             f"{prev:%Y-%m}: {n_prev} rows"],
                details=details))
        else:
            out.append(RuleResult("volume_within_band", table, True, text, checked=n,
                                  threshold=band, details=details))
    return out


def timestamps_not_in_future(con: duckdb.DuckDBPyConnection, tables: dict[str, tuple[str, str]],
                             now: datetime, tolerance: timedelta = timedelta(days=1)
                             ) -> list[RuleResult]:
    """Loaded registrations stamped after ``now`` + ``tolerance`` (``tables``: staged table →
    (timestamp column, key column))."""
    limit = now + tolerance
    out = []
    for table, (col, key) in tables.items():
        n, bad = _rows(con, f'SELECT count(*), count(*) FILTER (WHERE "{col}" > ?) '
                       f'FROM "{table}"', [limit])[0]
        keys = _rows(con, f'SELECT CAST("{key}" AS VARCHAR) FROM "{table}" WHERE "{col}" > ? '
                     f'ORDER BY "{col}" DESC LIMIT {MAX_EXAMPLES}', [limit]) if bad else []
        out.append(_result(
            "timestamps_not_in_future", table, bad,
            f"No {col} after {limit.isoformat()} among {n} rows.",
            f"{bad} rows of {table} have {col} after {limit.isoformat()} (now + "
            f"{tolerance}). They count in the release of their month once it comes; check the "
            "portal's clock and time zone.",
            checked=n, threshold=limit.isoformat(),
            examples=[f"{key}={k[0]}" for k in keys]))
    return out


def quarantine_reconciles(counts: dict[str, dict]) -> RuleResult:
    """read = loaded + quarantined per source table, from ``source_counts``."""
    bad = []
    for table, c in counts.items():
        q = sum(c["quarantined"].values())
        if c["read"] != c["loaded"] + q:
            bad.append(f"{table}: read {c['read']} ≠ loaded {c['loaded']} + quarantined {q} "
                       f"({c['read'] - c['loaded'] - q:+d} unaccounted)")
    return _result(
        "quarantine_reconciles", "karantaene", len(bad),
        f"Every row read from {len(counts)} source tables was loaded or quarantined.",
        f"{len(bad)} source tables do not reconcile: rows were dropped or duplicated between "
        "raw_* and stg_*/karantaene. Check the staging model of the table named.",
        checked=len(counts), examples=bad,
        details={t: {"read": c["read"], "loaded": c["loaded"],
                     "quarantined": sum(c["quarantined"].values())} for t, c in counts.items()})


# --- warehouse -------------------------------------------------------------------------------

#: (fact, column, dimension, dimension column); a NULL key is not a broken join.
FACT_JOINS: tuple[tuple[str, str, str, str], ...] = (
    ("fct_afslag", "virksomhed_id", "dim_virksomhed", "virksomhed_id"),
    ("fct_afslag", "uddannelse_kode", "dim_uddannelse", "uddannelse_kode"),
    ("fct_afslag", "primaer_kode", "dim_afslagsaarsag", "begrundelse_kode"),
    ("fct_afslag", "sekundaer_kode", "dim_afslagsaarsag", "begrundelse_kode"),
    ("fct_aftale_historik", "elev_id", "dim_elev", "elev_id"),
    ("fct_aftale_historik", "virksomhed_id", "dim_virksomhed", "virksomhed_id"),
    ("fct_aftale_historik", "uddannelse_kode", "dim_uddannelse", "uddannelse_kode"),
    ("fct_frafaldsvurdering", "aftale_id", "fct_aftale_historik", "aftale_id"),
)
FACT_KEYS = {"fct_afslag": "afslag_id", "fct_aftale_historik": "aftale_id",
             "fct_frafaldsvurdering": "vurdering_id"}


def facts_join_dimensions(con: duckdb.DuckDBPyConnection,
                          joins: tuple[tuple[str, str, str, str], ...] = FACT_JOINS
                          ) -> list[RuleResult]:
    """Fact rows whose (non-null) dimension key has no dimension row, per fact table."""
    by_fact: dict[str, list[RuleResult]] = {}
    for fact, col, dim, dcol in joins:
        key = FACT_KEYS.get(fact, col)
        where = (f'f."{col}" IS NOT NULL AND NOT EXISTS '
                 f'(SELECT 1 FROM "{dim}" d WHERE d."{dcol}" = f."{col}")')
        n, bad = _rows(con, f'SELECT count(*), count(*) FILTER (WHERE {where}) FROM "{fact}" f')[0]
        keys = _rows(con, f'SELECT DISTINCT CAST(f."{key}" AS VARCHAR), '
                     f'CAST(f."{col}" AS VARCHAR) FROM "{fact}" f WHERE {where} '
                     f'ORDER BY 1 LIMIT {MAX_EXAMPLES}') if bad else []
        by_fact.setdefault(fact, []).append(_result(
            "facts_join_dimensions", fact, bad,
            f"{fact}.{col} → {dim}.{dcol}: all {n} rows join.",
            f"{bad} rows of {fact} have a {col} missing from {dim}.{dcol}.",
            checked=n, examples=[f"{key}={k} ({col}={v})" for k, v in keys]))
    return [merge("facts_join_dimensions", fact, rs) for fact, rs in by_fact.items()]


def agreement_history_no_overlap(con: duckdb.DuckDBPyConnection,
                                 table: str = "fct_aftale_historik") -> RuleResult:
    """Per agreement: versions ordered by gyldig_fra, each ending where the next starts, none
    empty, one current (gyldig_til NULL)."""
    sql = f"""
        WITH v AS (
            SELECT aftale_id, gyldig_fra, gyldig_til,
                   lead(gyldig_fra) OVER (PARTITION BY aftale_id
                                          ORDER BY gyldig_fra, gyldig_til NULLS LAST) AS naeste,
                   count(*) FILTER (WHERE gyldig_til IS NULL) OVER (PARTITION BY aftale_id) AS aabne
            FROM "{table}"
        )
        SELECT aftale_id,
               bool_or(gyldig_til IS NOT NULL AND gyldig_til <= gyldig_fra) AS tom,
               bool_or(naeste IS NOT NULL
                       AND (gyldig_til IS NULL OR naeste < gyldig_til)) AS overlap,
               bool_or(naeste IS NOT NULL AND gyldig_til IS NOT NULL
                       AND naeste > gyldig_til) AS hul,
               max(aabne) <> 1 AS aabne_forkert
        FROM v GROUP BY aftale_id
        HAVING tom OR overlap OR hul OR aabne_forkert
        ORDER BY aftale_id"""
    bad = _rows(con, sql)
    n = _rows(con, f'SELECT count(DISTINCT aftale_id) FROM "{table}"')[0][0]
    kinds = {"empty_version": sum(r[1] for r in bad), "overlap": sum(r[2] for r in bad),
             "gap": sum(r[3] for r in bad), "not_one_current": sum(r[4] for r in bad)}
    examples = []
    for aid, tom, overlap, hul, aabne in bad[:MAX_EXAMPLES]:
        what = [w for w, f in (("empty version", tom), ("overlap", overlap), ("gap", hul),
                               ("not exactly one current version", aabne)) if f]
        examples.append(f"aftale_id={aid}: {', '.join(what)}")
    return _result(
        "agreement_history_no_overlap", table, len(bad),
        f"The version histories of {n} agreements follow each other without overlap or gap.",
        f"{len(bad)} of {n} agreements have a broken version history "
        f"({', '.join(f'{k}: {v}' for k, v in kinds.items() if v)}); a release would count "
        "such an agreement twice or not at all. Check for two versions with the same `aendret` "
        "instant in raw_uddannelsesaftale.",
        checked=n, examples=examples, details=kinds)


# --- cubes -----------------------------------------------------------------------------------

def additive_measures(cube) -> list[str]:
    return [m.column for m in cube.measures if m.kind == "count" and m.additive]


def _cell_label(row: pd.Series, cols: list[str]) -> str:
    parts = [str(row["gruppering"]) or "(total)"]
    if "statusdato" in row.index and not pd.isna(row.get("statusdato")):
        parts.append(str(row["statusdato"])[:10])
    parts += [f"{c}={row[c]}" for c in cols if c in row.index and isinstance(row[c], str)]
    return " · ".join(parts)


def _parent_groupings(cube, grouping: str) -> list[tuple[str, str]]:
    """(attribute removed or coarsened, parent grouping key) for each published parent."""
    from transforms.catalog import ATTRIBUTES, HIERARCHIES, grouping_key

    attrs = grouping.split("|") if grouping else []
    out = []
    for a in attrs:
        h = ATTRIBUTES[a].hierarchy
        if h == "Tid" and cube.kind == "stock":
            continue  # a stock has no sum over time (stock_consistent covers its levels)
        rest = [x for x in attrs if x != a]
        if h:
            levels = HIERARCHIES[h]
            i = levels.index(a)
            parent = rest + [levels[i + 1]] if i + 1 < len(levels) else rest
        else:
            parent = rest
        key = grouping_key(parent, cube)
        if key in cube.groupings and key != grouping:
            out.append((a, key))
    return out


def _cells_db(cells: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the cell frame as ``cells`` (with its row number ``_row``),
    so the cube rules run set-based on any frame."""
    con = duckdb.connect()
    con.register("_frame", cells.assign(_row=range(len(cells))))
    con.execute("CREATE TABLE cells AS SELECT * FROM _frame")
    con.unregister("_frame")
    return con


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def margins_add_up(cells: pd.DataFrame, cube) -> RuleResult:
    """Every published margin equals the sum of its children (additive measures, true cells
    before suppression). Children of a grouping are the cells one attribute finer: the
    attribute dropped, or its hierarchy one level coarser (Måned → Kvartal → År, Kommune →
    Region); a stock cube is not summed over time."""
    from transforms.catalog import ATTRIBUTES, carried_attributes

    measures = additive_measures(cube)
    stock = cube.kind == "stock"
    sizes = cells["gruppering"].value_counts().to_dict()
    pairs = []  # (child grouping, attribute, parent grouping, join columns)
    for g in cube.groupings:
        if g not in sizes:
            continue
        for attr, parent in _parent_groupings(cube, g):
            if parent in sizes:
                keys = (["statusdato"] if stock else []) + \
                    [ATTRIBUTES[a].column for a in carried_attributes(parent)]
                pairs.append((g, attr, parent, list(dict.fromkeys(keys))))
    compared = sum(sizes[p] for _, _, p, _ in pairs)
    bad_rows: list[tuple] = []
    if pairs:
        parts, params = [], []
        for i, (g, attr, parent, keys) in enumerate(pairs):
            on = " AND ".join(f"p.{_q(k)} IS NOT DISTINCT FROM s.{_q(k)}" for k in keys) or "true"
            group = f" GROUP BY {', '.join(_q(k) for k in keys)}" if keys else ""
            sums = ", ".join(f"sum({_q(m)}) AS {_q(m)}" for m in measures)
            differ = " OR ".join(f"p.{_q(m)} <> coalesce(s.{_q(m)}, 0)" for m in measures)
            parts.append(
                f"SELECT {i} AS pair, p._row, "
                + ", ".join(f"p.{_q(m)} AS v{j}, coalesce(s.{_q(m)}, 0) AS s{j}"
                            for j, m in enumerate(measures))
                + f" FROM (SELECT * FROM cells WHERE gruppering = ?) p LEFT JOIN "
                f"(SELECT {', '.join([*map(_q, keys), sums])} FROM cells WHERE gruppering = ?"
                f"{group}) s ON {on} WHERE {differ}")
            params += [parent, g]
        con = _cells_db(cells)
        try:
            bad_rows = con.execute(" UNION ALL ".join(parts) + " ORDER BY pair, _row",
                                   params).fetchall()
        finally:
            con.close()
    per_measure = {m: 0 for m in measures}
    examples = []
    for row in bad_rows:
        pair, r = row[0], row[1]
        for j, m in enumerate(measures):
            v, sm = row[2 + 2 * j], row[3 + 2 * j]
            if v != sm:
                per_measure[m] += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append(f"{_cell_label(cells.iloc[r], cube.columns)}: {m}={v} but "
                                    f"its children by {pairs[pair][1]} sum to {int(sm)}")
    bad_total = sum(per_measure.values())
    return _result(
        "margins_add_up", f"cube_{cube.underemne.lower()}", bad_total,
        f"{compared} margin values equal the sums of their children ({', '.join(measures)}).",
        f"{bad_total} margin values of {cube.underemne} differ from the sum of their children: "
        "the cube's cells contradict each other, and suppression would protect the wrong "
        "totals. Check sql/marts and transforms/cubes.py.",
        checked=compared, examples=examples, details={"per_measure": per_measure})


def stock_consistent(cells: pd.DataFrame, cube) -> RuleResult:
    """Stock cubes: for one status date and one breakdown (the grouping without its time
    level), every time level carries the same values."""
    from transforms.catalog import ATTRIBUTES

    subject = f"cube_{cube.underemne.lower()}"
    if cube.kind != "stock":
        return RuleResult("stock_consistent", subject, True, f"{cube.underemne} is a flow cube.")
    measures = [m.column for m in cube.measures if m.kind == "count"]
    measures += [c for c in ("n_individer",) if c in cells.columns]
    time_cols = [a.column for a in ATTRIBUTES.values() if a.hierarchy == "Tid"]
    other = [c for c in cube.columns if c not in time_cols]

    def split(g: str) -> tuple[str, str]:
        attrs = g.split("|") if g else []
        tid = next((a for a in attrs if ATTRIBUTES[a].hierarchy == "Tid"), "")
        return "|".join(a for a in attrs if a != tid), tid.split("].[")[-1].rstrip("]")

    parts = {g: split(g) for g in cells["gruppering"].unique()}
    frame = cells.assign(_bryd=cells["gruppering"].map(lambda g: parts[g][0]),
                         _niveau=cells["gruppering"].map(lambda g: parts[g][1]))
    keys = ", ".join(_q(c) for c in ["statusdato", "_bryd", *other])
    con = _cells_db(frame)
    try:
        n_multi, = con.execute(
            f"SELECT count(*) FROM (SELECT {keys} FROM cells GROUP BY ALL "
            "HAVING count(DISTINCT _niveau) > 1)").fetchone()
        bad = con.execute(
            f"SELECT {keys}, string_agg(_niveau || ': ' || CAST({_q(measures[0])} AS VARCHAR), "
            f"', ' ORDER BY _niveau) FROM cells GROUP BY ALL "
            "HAVING count(DISTINCT _niveau) > 1 AND ("
            + " OR ".join(f"count(DISTINCT {_q(m)}) > 1" for m in measures)
            + f") ORDER BY {keys}").fetchall()
    finally:
        con.close()
    examples = []
    for row in bad[:MAX_EXAMPLES]:
        label = " · ".join([str(row[0])[:10], row[1] or "(total)"] +
                           [f"{c}={v}" for c, v in zip(other, row[2:-1]) if v is not None])
        examples.append(f"{label}: {measures[0]} differs by time level ({row[-1]})")
    return _result(
        "stock_consistent", subject, len(bad),
        f"{n_multi} status dates × breakdowns agree across time levels.",
        f"{len(bad)} status dates × breakdowns of {cube.underemne} carry different values at "
        "different time levels (e.g. a year against its December): the stock is counted "
        "differently per level. Check sql/marts/status_perioder.sql and elevbestand.sql.",
        checked=n_multi, examples=examples)


# --- disclosure and release ------------------------------------------------------------------

def no_small_cells_published(true_cells: pd.DataFrame, published: pd.DataFrame, cube,
                             max_small: int = 3) -> RuleResult:
    """The primary rule, checked on what is published: ``true_cells`` (cube_<x>, with
    n_individer) and ``published`` (pub_<x>) are the same cells in the same order."""
    subject = "beskyttede_celler"
    if len(true_cells) != len(published):
        return RuleResult("no_small_cells_published", subject, False,
                          f"{cube.underemne}: {len(published)} published cells against "
                          f"{len(true_cells)} true cells; they must be the same cells.",
                          count=abs(len(true_cells) - len(published)))
    t = true_cells.reset_index(drop=True)
    p = published.reset_index(drop=True)
    shown = p[cube.value_column].notna().to_numpy()
    n_ind = t["n_individer"].to_numpy()
    value = t[cube.value_column].to_numpy()
    small = shown & (n_ind >= 1) & (n_ind <= max_small)
    zero = shown & (value == 0)
    reasons = {"small": small, "zero": zero}
    outcome = [m for m in cube.measures if m.kind == "count" and m.outcome]
    for m in outcome:
        shown_o = p[m.column].notna().to_numpy()
        a = t[m.column].to_numpy()
        rest = value - a
        reasons[f"{m.column}_small"] = shown_o & (((a >= 1) & (a <= max_small)) |
                                                  ((rest >= 0) & (rest <= max_small)))
    bad = small | zero
    for k, v in reasons.items():
        bad = bad | v
    examples = []
    for i in bad.nonzero()[0][:MAX_EXAMPLES]:
        why = [k for k, v in reasons.items() if v[i]]
        examples.append(f"{cube.underemne} {_cell_label(t.iloc[i], cube.columns)}: "
                        f"{', '.join(why)} (n_individer={int(n_ind[i])})")
    return _result(
        "no_small_cells_published", subject, int(bad.sum()),
        f"{cube.underemne}: none of {int(shown.sum())} published cells rests on 1-"
        f"{max_small} individuals or is zero.",
        f"{cube.underemne}: {int(bad.sum())} published cells break the primary rule "
        f"({', '.join(f'{k}: {int(v.sum())}' for k, v in reasons.items() if v.any())}). "
        "Nothing may be published; check transforms/disclosure and transforms/publication.py.",
        checked=len(t), threshold=max_small, examples=examples)


def _passed(audit: dict) -> bool:
    """Whether an audit passed; a verdict that is no verdict (say, a tampered file) fails."""
    try:
        return Verdict.of(audit).passed
    except ValueError:
        return False


def audit_passed(release: str, stored: dict | None, in_folder: dict | None) -> RuleResult:
    """The audit in the warehouse (release_audit) and the one written to audit.json."""
    problems = []
    if stored is None:
        problems.append("no audit in the warehouse table release_audit")
    elif not _passed(stored):
        problems.append(f"release_audit verdict is {stored.get('verdict')!r}")
    if in_folder is None:
        problems.append("no audit.json in the release folder")
    elif not _passed(in_folder):
        problems.append(f"audit.json verdict is {in_folder.get('verdict')!r}")
    failed = {}
    for src in (stored, in_folder):
        for u, c in ((src or {}).get("cubes") or {}).items():
            if c.get("failed"):
                failed[u] = c["failed"]
    return _result(
        "audit_passed", "udgivelse", len(problems),
        f"The disclosure audit of {release} passed.",
        f"The disclosure audit of {release} did not pass: {'; '.join(problems)}. Withdraw the "
        "release folder and rebuild it.",
        examples=problems + [f"{u}: {n} withheld values can be narrowed down"
                             for u, n in failed.items()],
        details={"failed_per_cube": failed})


def manifest_checksums(folder: Path) -> RuleResult:
    """Every file in the release folder listed in manifest.json with its sha256."""
    folder = Path(folder)
    mf = folder / "manifest.json"
    if not mf.exists():
        return RuleResult("manifest_checksums", "udgivelse", False,
                          f"{folder} has no manifest.json.", count=1)
    listed: dict[str, str] = json.loads(mf.read_text(encoding="utf-8")).get("filer", {})
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    present.discard("manifest.json")
    missing = sorted(set(listed) - present)
    unlisted = sorted(present - set(listed))
    mismatch = sorted(n for n in set(listed) & present if sha256_file(folder / n) != listed[n])
    examples = ([f"checksum differs: {n}" for n in mismatch] + [f"missing: {n}" for n in missing]
                + [f"not in manifest: {n}" for n in unlisted])
    bad = len(examples)
    return _result(
        "manifest_checksums", "udgivelse", bad,
        f"All {len(listed)} files of {folder.name} match manifest.json.",
        f"{bad} files of release {folder.name} do not match manifest.json ({len(mismatch)} "
        f"changed, {len(missing)} missing, {len(unlisted)} unlisted): the folder was altered "
        "after it was written. Rebuild the release.",
        checked=len(listed), examples=examples,
        details={"changed": mismatch, "missing": missing, "unlisted": unlisted})
