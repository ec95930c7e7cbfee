"""The lpstat command line: demo, run, serve (contract section 6); sql, releases (analysts).

``demo`` and ``run`` run the schedule's job, ``monthly_release``, in-process as runs in the
persistent Dagster instance (pipelines/runs.py), so a release built from the command line is
the release the monthly run would build, recorded where the scheduled runs are. ``sql`` and
``releases`` only read ``<home>/analyse.duckdb`` (views over the published release files, see
docs/analysts.md) and never need the store or the pseudonym key.

Exit codes (scripts may rely on them; also in ``lpstat --help`` and docs/analysts.md):
0 ok, 1 a run failed (store unreachable, build or audit failed, unexpected error),
2 usage or settings error (bad arguments, missing key, bad SQL), 3 nothing to show
(unknown release, no releases yet, or a query with no rows), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from transforms.calendar import FIRST_RELEASE, Release, ReleaseError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: nothing to show: an unknown release, no releases yet, or a query without rows
EXIT_EMPTY = 3
EXIT_INTERRUPTED = 130


def _err(msg: str) -> None:
    print(f"lpstat: {msg}", file=sys.stderr)


def materialize(settings, release: str, with_ingest: bool = True,
                progress: bool | None = None, session=None) -> bool:
    """Build one release as a run of ``monthly_release`` in the persistent Dagster instance
    (pipelines/runs.py); print a line per step and, on failure, what failed and why.

    ``session``: the command's :class:`pipelines.runs.Session` (several releases in one
    command); without one, a session for this release alone. ``progress``: a live progress
    line on stderr (``None``: when stderr is a terminal).
    """
    if with_ingest:  # a store that cannot be opened: say so at once, not after retries
        from transforms.extract import SourceConnection, SourceError

        try:
            with SourceConnection(settings.source_url):
                pass
        except SourceError as exc:
            _err(f"release {release}: {exc}")
            hint = _failure_hint(type(exc).__name__, str(exc))
            if hint:
                _err(hint)
            _err("Nothing was published for this month; earlier releases and 'latest' are "
                 "unchanged.")
            return False
    if session is None:
        from pipelines.runs import Session, WarehouseBusy

        try:
            with Session(settings, f"lpstat run --release {release}", live=progress) as s:
                return materialize(settings, release, with_ingest, session=s)
        except WarehouseBusy as exc:
            _err(str(exc))
            return False
    outcome = session.build(release, with_ingest=with_ingest)
    if outcome.success:
        return True
    result = outcome.result
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None and err.cause is not None:
                err = err.cause
            message = err.message.strip() if err else "unknown error"
            if err is not None:  # "transforms.extract.SourceError: The ..." → "The ..."
                message = re.sub(rf"^[\w.]*\b{re.escape(err.cls_name)}: ", "", message)
            _err(f"release {release} failed in step {event.step_key}: {message}")
            hint = _failure_hint(err.cls_name if err else "", message)
            if hint:
                _err(hint)
    for ev in result.get_asset_check_evaluations():
        if not ev.passed and ev.severity.value == "ERROR":
            examples = ev.metadata.get("examples")
            examples = getattr(examples, "value", examples) or []
            _err(f"check {ev.check_name} on {ev.asset_key.to_user_string()} failed: "
                 f"{ev.description or ''}"
                 + (f" Examples: {'; '.join(map(str, examples))}" if examples else ""))
    _err("Nothing was published for this month; earlier releases and 'latest' are unchanged.")
    _err(f"The run's whole log: {session.log_path} (and run {outcome.run_id} in the Dagster UI).")
    return False


def _failure_hint(cls_name: str, message: str) -> str | None:
    """What to do about a failed step, for the failures people meet most."""
    if cls_name == "SourceUnavailable":
        return ("The store did not answer: check LPSTAT_SOURCE_URL and that the database is "
                "running and reachable from here, then run the same command again.")
    if cls_name == "SourceError" and "does not exist" in message:
        return ("Set LPSTAT_SOURCE_URL to the operational store, or create the demo store "
                "with: lpstat demo --scale small")
    return None


def cmd_demo(args) -> int:
    from demo.generate import generate
    from transforms.extract import latest_registration_day
    from transforms.settings import demo_store_path, load_settings

    settings = load_settings()
    if settings.is_demo_store:
        store = demo_store_path(settings.home)
        if not store.exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            scale = int(args.scale) if str(args.scale).isdigit() else args.scale
            print(f"Generating the demo store ({scale} scale, seed {args.seed}) at {store} ...")
            with _TableProgress(enabled=sys.stderr.isatty()) as bar:
                counts = generate(store, scale=scale, seed=args.seed, progress=bar.update)
            print("  " + ", ".join(f"{t}: {n:,}" for t, n in counts.items()))
    last = latest_registration_day(settings.source_url)
    if last is None:
        _err("the store has no refusals, so no month is complete yet.")
        return EXIT_FAILED
    latest = Release.newest_complete(last)
    months = [str(latest.previous()), str(latest)]
    from pipelines.runs import Session, WarehouseBusy, dagster_hint, summary_lines

    try:
        with Session(settings, "lpstat demo", verbose=args.verbose, wait=args.wait) as session:
            for i, m in enumerate(months):
                if not materialize(settings, m, with_ingest=(i == 0), session=session):
                    return EXIT_FAILED
    except WarehouseBusy as exc:
        _err(str(exc))
        return EXIT_FAILED
    rel = settings.releases_dir
    print()
    print(*summary_lines(session, session.outcomes[-1]), sep="\n")
    print(f"  report:    {rel / latest / 'rapport.html'}  (revisions since {months[0]}: "
          "revisions.csv beside it)")
    print(f"  data:      {settings.warehouse_path}, {settings.home / 'analyse.duckdb'} "
          "(SQL over every release: lpstat sql \"SHOW TABLES\")")
    print(f"  log:       {session.log_path}")
    print(dagster_hint(session))
    print("  serve:     lpstat serve   (API on http://127.0.0.1:8000/Api/v1/...)")
    return EXIT_OK


class _TableProgress:
    """One rich progress bar per table for the demo generator (stderr, terminals only)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn)

            self._progress = Progress(TextColumn("  {task.description:<22}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(stderr=True))
            self._progress.start()
        return self

    def update(self, table: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        if table not in self._tasks:
            self._tasks[table] = self._progress.add_task(table, total=max(total, 1))
        self._progress.update(self._tasks[table], completed=done if total else 1,
                              total=max(total, 1))

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()


def cmd_run(args) -> int:
    from transforms.settings import load_settings

    settings = load_settings()
    if not args.release and not (args.first and args.last):
        _err("give --release YYYY-MM, or a range with --from YYYY-MM --to YYYY-MM")
        return EXIT_USAGE
    from pipelines.runs import Session, WarehouseBusy, dagster_hint, summary_lines

    try:
        if not args.release:
            from pipelines.backfill import run_range

            return EXIT_OK if run_range(settings, args.first, args.last, verbose=args.verbose,
                                        wait=args.wait) else EXIT_FAILED
        command = f"lpstat run --release {args.release}"
        with Session(settings, command, verbose=args.verbose, wait=args.wait) as session:
            if not materialize(settings, args.release, session=session):
                return EXIT_FAILED
    except WarehouseBusy as exc:
        _err(str(exc))
        return EXIT_FAILED
    print(*summary_lines(session, session.outcomes[-1]), sep="\n")
    print(f"  log:       {session.log_path}")
    print(dagster_hint(session))
    return EXIT_OK


def cmd_serve(args) -> int:
    from serving.app import serve
    from transforms.settings import DEMO_API_TOKEN, load_settings

    settings = load_settings()
    if settings.api_tokens == (DEMO_API_TOKEN,):
        print(f"No LPSTAT_API_TOKENS set: accepting the demo token {DEMO_API_TOKEN!r}.")
    serve(settings.releases_dir.parent, args.host, args.port, list(settings.api_tokens))
    return EXIT_OK


# --- analysts: lpstat sql, lpstat releases ----------------------------------------------------

#: statement kinds `lpstat sql` runs: queries only (no COPY, ATTACH, SET, INSTALL, ...)
_QUERY_KINDS = ("SELECT", "EXPLAIN", "PRAGMA", "CALL", "MULTI")


class _Refused(Exception):
    """A command cannot do what was asked; the message says what to do instead."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _analyst_home() -> Path:
    """LPSTAT_HOME as every command reads it; the analysts' commands need no store or key."""
    from transforms.settings import load_settings

    env = {k: v for k, v in os.environ.items()
           if k not in ("LPSTAT_SOURCE_URL", "LPSTAT_PSEUDONYM_KEY")}
    return load_settings(env).home


def _open_analysis(home: Path):
    """A read-only connection to <home>/analyse.duckdb, (re)built first when it is missing,
    older than a release (releases built before it existed, or by an older lpstat) or holds
    the views of an older lpstat."""
    from transforms.analyse import (analysis_db_path, build_analysis_db, complete_releases,
                                    connect_readonly, views_current)

    releases = complete_releases(home / "releases")
    if not releases:
        raise _Refused(f"no releases under {home / 'releases'} yet. Build one with "
                       "'lpstat demo --scale small' or 'lpstat run --release YYYY-MM', or set "
                       "LPSTAT_HOME to the folder that holds them.", EXIT_EMPTY)
    db = analysis_db_path(home)
    newest = max((home / "releases" / r / "manifest.json").stat().st_mtime for r in releases)
    stale = not db.exists() or db.stat().st_mtime < newest
    if not stale:
        con = connect_readonly(home)
        try:
            known = _releases_in(con) if views_current(con) else None
        except Exception:
            known = None
        if known == releases:
            return con
        con.close()
    try:
        build_analysis_db(home)
    except Exception as exc:  # an unwritable home, a damaged release file
        if not db.exists():
            raise _Refused(f"cannot build {db}: {_first_line(exc)}. Whoever builds the "
                           "releases can rebuild it with 'lpstat run'.", EXIT_FAILED) from exc
        _err(f"warning: {db} is out of date and cannot be rebuilt here: {_first_line(exc)}")
    return connect_readonly(home)


def _releases_in(con) -> list[str]:
    """The releases analyse.duckdb's views read (from the view text: reading the manifests
    and audits themselves would cost a parse of every audit.json)."""
    sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'releases'").fetchall()
    return sorted(set(re.findall(r"/(\d{4}-\d{2})/manifest\.json'", sql[0][0] if sql else "")))


def _check_query(con, sql: str) -> None:
    try:
        statements = con.extract_statements(sql)
    except Exception as exc:
        raise _Refused(f"the SQL does not parse: {_first_line(exc)}", EXIT_USAGE) from exc
    if len(statements) != 1:
        raise _Refused(f"give exactly one query (got {len(statements)} statements).", EXIT_USAGE)
    kind = statements[0].type.name
    if kind not in _QUERY_KINDS:
        raise _Refused(f"only queries run here (SELECT, WITH, FROM, SHOW, DESCRIBE, SUMMARIZE, "
                       f"PIVOT, EXPLAIN), not {kind}: analyse.duckdb is read-only and reaches "
                       "only the release files. To save a result use --csv FILE, --json FILE "
                       "or --parquet FILE.", EXIT_USAGE)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Result:
    """A query's answer: column names, DuckDB type names and rows of Python values."""

    def __init__(self, columns: list[str], types: list[str], rows: list[tuple]):
        self.columns, self.types, self.rows = columns, types, rows


def _query(con, sql: str, params: list | None = None, arrow: bool = False):
    """Run one query: a :class:`_Result`, or an Arrow table when ``arrow`` (--parquet)."""
    import duckdb

    try:
        rel = con.sql(sql, params=params)
        if rel is None:
            return _Result([], [], [])
        if arrow:
            return rel.to_arrow_table()
        return _Result(list(rel.columns), [str(t) for t in rel.types], rel.fetchall())
    except duckdb.Error as exc:
        text = str(exc).strip()
        hint = ""
        if "does not exist" in text and ("Table" in text or "Catalog" in text):
            hint = (" The views are listed by: lpstat sql \"SHOW TABLES\"; their columns by: "
                    "lpstat sql \"DESCRIBE afslaars\" (docs/analysts.md).")
        elif "Referenced column" in text:
            hint = " A view's columns are listed by: lpstat sql \"DESCRIBE <view>\"."
        elif "file system operations are disabled" in text or "Permission Error" in text:
            hint = (" lpstat sql reads only the release files under LPSTAT_HOME/releases "
                    "(never the warehouse).")
        raise _Refused(f"the query failed: {text.splitlines()[0]}{hint}", EXIT_USAGE) from exc


def _plain(value, type_name: str = ""):
    """A JSON-friendly value (JSON columns become objects)."""
    import datetime as dt
    import decimal
    import json
    import uuid

    if value is None:
        return None
    if type_name == "JSON" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def _records(result: _Result) -> list[dict]:
    return [{c: _plain(v, t) for c, t, v in zip(result.columns, result.types, row)}
            for row in result.rows]


def _open_out(target: str):
    if target == "-":
        return sys.stdout, False
    return open(target, "w", encoding="utf-8", newline=""), True


def _text(value) -> str:
    """A value as one CSV field or table cell (nested values as JSON)."""
    import json

    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_result(con, sql: str, args, params: list | None = None, *, table=None) -> int:
    """Run the query and write its answer as --csv / --json / --parquet ask, else as a rich
    table (``table(result, max_rows)`` when given, else :func:`_print_table`); returns the
    number of rows."""
    import csv
    import json

    if args.parquet:
        import pyarrow.parquet as pq

        table = _query(con, sql, params, arrow=True)
        pq.write_table(table, args.parquet)
        _err(f"wrote {table.num_rows:,} rows to {args.parquet}")
        return table.num_rows
    result = _query(con, sql, params)
    if args.csv:
        out, close = _open_out(args.csv)
        try:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(result.columns)
            for row in _records(result):
                w.writerow([_text(v) for v in row.values()])
        finally:
            if close:
                out.close()
    elif args.json:
        out, close = _open_out(args.json)
        try:
            json.dump(_records(result), out, ensure_ascii=False, indent=1)
            out.write("\n")
        finally:
            if close:
                out.close()
    else:
        (table or _print_table)(result, args.max_rows)
    return len(result.rows)


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def _console():
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=100_000, no_color=True)


def _table():
    from rich import box
    from rich.table import Table

    return Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold")


def _print_table(result: _Result, max_rows: int, hide: tuple[str, ...] = (),
                 then=None) -> None:
    """The rows as a table (``hide``: columns left out), then ``then()`` when given, and the
    row count on stderr."""
    from rich.text import Text

    console = _console()
    view = _table()
    keep = [i for i, name in enumerate(result.columns) if name not in hide]
    for i in keep:
        name, type_name = result.columns[i], result.types[i]
        numeric = type_name.startswith(_NUMERIC)
        view.add_column(name, justify="right" if numeric else "left", overflow="fold")
    shown = result.rows if max_rows < 0 else result.rows[:max_rows]
    for raw in shown:
        cells = []
        for i in keep:
            v = _plain(raw[i], result.types[i])
            if v is None:
                cells.append(Text("NULL", style="dim"))
            elif isinstance(v, float):
                cells.append(Text(f"{v:.10g}"))
            else:
                cells.append(Text(_text(v)))
        view.add_row(*cells)
    console.print(view)
    if then is not None:
        then()
    n = len(result.rows)
    if n > len(shown):
        _err(f"... {n - len(shown):,} more rows not shown (of {n:,}): use --max-rows N, "
             "or --csv / --json / --parquet FILE for all of them.")
    else:
        _err(f"{n:,} row{'s' if n != 1 else ''}")


def cmd_sql(args) -> int:
    sql = sys.stdin.read() if args.query == "-" else args.query
    if not sql.strip():
        raise _Refused("give a query, e.g. lpstat sql \"SELECT * FROM releases\"", EXIT_USAGE)
    home = _analyst_home()
    con = _open_analysis(home)
    try:
        _check_query(con, sql)
        n = _write_result(con, sql, args)
    finally:
        con.close()
    if n == 0:
        _err("the query returned no rows.")
        return EXIT_EMPTY
    return EXIT_OK


_RELEASES_SQL = """
SELECT r.udgivelse,
       r.skaeringstidspunkt,
       r.revisionsverdikt,
       c.celler_afslaars,
       c.celler_frafvurd,
       c.celler_frafafbrud,
       c.diskretionerede,
       c.diskr_andel_afslaars,
       c.diskr_andel_frafvurd,
       c.diskr_andel_frafafbrud,
       (SELECT count(*) FROM revisions v WHERE v.udgivelse = r.udgivelse) AS revisioner,
       r.seneste,
       r.informationstab
FROM releases r LEFT JOIN (
    SELECT udgivelse,
           max(celler) FILTER (WHERE kube = 'AFSLAARS') AS celler_afslaars,
           max(celler) FILTER (WHERE kube = 'FRAFVURD') AS celler_frafvurd,
           max(celler) FILTER (WHERE kube = 'FRAFAFBRUD') AS celler_frafafbrud,
           max(diskretionerede / celler) FILTER (WHERE kube = 'AFSLAARS') AS diskr_andel_afslaars,
           max(diskretionerede / celler) FILTER (WHERE kube = 'FRAFVURD') AS diskr_andel_frafvurd,
           max(diskretionerede / celler) FILTER (WHERE kube = 'FRAFAFBRUD')
               AS diskr_andel_frafafbrud,
           CAST(sum(diskretionerede) AS BIGINT) AS diskretionerede
    FROM release_cubes GROUP BY udgivelse) c USING (udgivelse)
ORDER BY r.udgivelse
"""

_RELEASE_CUBES_SQL = """
SELECT c.kube, c.celler, c.publicerede, c.diskretionerede,
       (SELECT count(*) FROM revisions v
        WHERE v.udgivelse = c.udgivelse AND v.kube = c.kube) AS revisioner
FROM release_cubes c
WHERE c.udgivelse = ? ORDER BY c.kube
"""

#: per release and cube the share of cells withheld (from the published cells; the value
#: withheld as secondary is not published: transforms/infoloss.py): `lpstat releases` shows
#: it in a table of its own below the release table (the columns carry it in
#: --csv/--json/--parquet)
_LIST_SHARES = {"AFSLAARS": "diskr_andel_afslaars", "FRAFVURD": "diskr_andel_frafvurd",
                "FRAFAFBRUD": "diskr_andel_frafafbrud"}
#: a release without cells of a cube
NOT_RECORDED = "–"


def _pct(value) -> str:
    """A fraction as a percentage with one decimal (``0.0301`` → ``3.0 %``)."""
    return NOT_RECORDED if value is None else f"{100 * value:.1f} %"


def _print_releases(result: _Result, max_rows: int) -> None:
    """The release list, then per release the share of each cube's cells withheld."""
    def shares() -> None:
        col = {c: i for i, c in enumerate(result.columns)}
        view = _table()
        view.add_column("udgivelse")
        for u in _LIST_SHARES:
            view.add_column(u, justify="right")
        for row in result.rows if max_rows < 0 else result.rows[:max_rows]:
            view.add_row(row[col["udgivelse"]],
                         *(_pct(row[col[c]]) for c in _LIST_SHARES.values()))
        console = _console()
        console.print()
        console.print(f"withheld cells, share of each cube's cells ({NOT_RECORDED}: no cells):",
                      highlight=False, markup=False)
        console.print(view)

    _print_table(result, max_rows, hide=(*_LIST_SHARES.values(), "informationstab"),
                 then=shares)


def cmd_releases(args) -> int:
    home = _analyst_home()
    con = _open_analysis(home)
    try:
        if args.release is None:
            _write_result(con, _RELEASES_SQL, args, table=_print_releases)
            return EXIT_OK
        known = _releases_in(con)
        if args.release not in known:
            raise _Refused(f"no release {args.release} under {home / 'releases'}. Published "
                           f"releases: {', '.join(known)}. Build it with: lpstat run "
                           f"--release {args.release}", EXIT_EMPTY)
        if args.files:
            _write_result(con, "SELECT fil, sha256 FROM release_files WHERE udgivelse = ? "
                          "ORDER BY fil", args, [args.release])
            return EXIT_OK
        if not (args.csv or args.json or args.parquet):
            head = con.execute("SELECT skaeringstidspunkt, revisionsverdikt, kodeversion, "
                               "seneste FROM releases WHERE udgivelse = ?",
                               [args.release]).fetchall()[0]
            print(f"release {args.release}: cut-off {head[0]}, audit {head[1]}, "
                  f"code {head[2]}{', latest' if head[3] else ''}")
        _write_result(con, _RELEASE_CUBES_SQL, args, [args.release])
        return EXIT_OK
    finally:
        con.close()


def _add_output_options(p: argparse.ArgumentParser) -> None:
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", nargs="?", const="-", metavar="FILE",
                     help="comma-separated with a header row, to FILE or stdout ('.' decimals, "
                     "NULL as an empty field)")
    out.add_argument("--json", nargs="?", const="-", metavar="FILE",
                     help="a JSON array of objects, to FILE or stdout (NULL as null)")
    out.add_argument("--parquet", metavar="FILE", help="a Parquet file with the result's types")
    p.add_argument("--max-rows", type=int, default=1000, metavar="N",
                   help="rows shown in the table (default 1000; -1 for all); "
                   "--csv/--json/--parquet always write every row")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", action="store_true",
                   help="show the full Dagster event log live (it always goes to the log file "
                   "under LPSTAT_HOME/logs)")
    p.add_argument("--wait", action="store_true",
                   help="when another run holds the warehouse, wait for it instead of stopping")


def _release_arg(value: str) -> str:
    try:
        release = Release.parse(value)
    except ReleaseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if release < FIRST_RELEASE:
        raise argparse.ArgumentTypeError(f"the first release month is {FIRST_RELEASE}")
    return value


def _buildable_release_arg(value: str) -> str:
    """A release month that has ended (``lpstat run``): a later one has no partition yet."""
    value = _release_arg(value)
    newest = Release.newest_ended()  # the newest release partition
    if Release.parse(value) > newest:  # not over yet: no partition, no cut-off in the past
        raise argparse.ArgumentTypeError(
            f"{value} is not over yet; the newest month that can be built is {newest}")
    return value


def _settings_error() -> type:
    from transforms.settings import SettingsError

    return SettingsError


def _source_errors() -> tuple[type, ...]:
    """Imported only when an exception is being handled (the import pulls in pyarrow, which
    `lpstat sql` does not need)."""
    from transforms.extract import SourceError

    return (SourceError,)


EXIT_CODES = """exit codes:
  0    ok
  1    a run failed: the store did not answer, a step or the disclosure audit failed,
       or an unexpected error (nothing half-written is left; set LPSTAT_DEBUG=1 for details)
  2    usage or settings error: bad arguments, LPSTAT_PSEUDONYM_KEY missing, a bad
       LPSTAT_SOURCE_URL, SQL that does not parse or run
  3    nothing to show: unknown release, no releases yet, or a query without rows
  130  interrupted (Ctrl-C)"""

SETTINGS = """settings (environment):
  LPSTAT_HOME           where the warehouse and releases live (default ./lpstat-data)
  LPSTAT_SOURCE_URL     sqlite:///path.db or postgresql://user@host:port/db
                        (default: the demo store under LPSTAT_HOME)
  LPSTAT_PSEUDONYM_KEY  secret pseudonymisation key; required for any store but the demo
  LPSTAT_API_TOKENS     comma-separated bearer tokens for 'serve'"""


def _sub(sub, name: str, help: str, description: str, examples: str):
    import textwrap

    return sub.add_parser(name, help=help, description=textwrap.fill(description, 88),
                          epilog=f"examples:\n{examples}\n\n{EXIT_CODES}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lpstat", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Statistics on SOSU trainee refusals and dropout-risk assessments from "
        "Lærepladsen.dk.",
        epilog="examples:\n"
        "  lpstat demo --scale small              # a small demo store and two releases\n"
        "  lpstat run --release 2026-10           # one release from the configured store\n"
        "  lpstat releases                        # what has been published\n"
        "  lpstat sql \"SELECT * FROM releases\"    # SQL over every release (docs/analysts.md)\n"
        "  lpstat serve --port 8000               # the statistics API\n"
        "  lpstat COMMAND --help                  # more on one command\n\n"
        f"{SETTINGS}\n\n{EXIT_CODES}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = _sub(sub, "demo", "build the demo store and its two latest releases",
             "Build an embedded demo store (SQLite, under LPSTAT_HOME/demo) if missing, then "
             "the releases of its two latest complete months, so revisions show.",
             "  lpstat demo --scale small              # about a minute\n"
             "  lpstat demo                            # national scale\n"
             "  LPSTAT_HOME=/tmp/lp lpstat demo --scale small --seed 7")
    d.add_argument("--scale", default="national", help="small, national or a multiplier N")
    d.add_argument("--seed", type=int, default=1)
    _add_run_options(d)
    d.set_defaults(func=cmd_demo)
    r = _sub(sub, "run", "build one release from the configured store",
             "Build one release (YYYY-MM) from the store LPSTAT_SOURCE_URL names: extract, "
             "pseudonymise, warehouse, cubes, disclosure control, audit, release files, "
             "analyse.duckdb. A failed run publishes nothing and leaves 'latest' as it was.",
             "  lpstat run --release 2026-10                      # from the demo store\n"
             "  LPSTAT_SOURCE_URL=postgresql://etl@db:5432/portal \\\n"
             "  LPSTAT_PSEUDONYM_KEY=... lpstat run --release 2026-10\n"
             "  lpstat run --from 2026-01 --to 2026-10             # backfill a range, in order")
    r.add_argument("--release", type=_buildable_release_arg, metavar="YYYY-MM")
    r.add_argument("--from", dest="first", type=_buildable_release_arg, metavar="YYYY-MM")
    r.add_argument("--to", dest="last", type=_buildable_release_arg, metavar="YYYY-MM")
    _add_run_options(r)
    r.set_defaults(func=cmd_run)
    s = _sub(sub, "serve", "serve the releases over the statistics API",
             "Serve the releases under LPSTAT_HOME over the API of api.uddannelsesstatistik.dk "
             "(POST /Api/v1/statistik, /Api/v1/skema; see serving/README.md).",
             "  LPSTAT_API_TOKENS=secret1,secret2 lpstat serve --port 8000\n"
             "  lpstat serve --host 0.0.0.0            # on every interface")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    q = _sub(sub, "sql", "run a SQL query over every published release",
             "Run one read-only query against LPSTAT_HOME/analyse.duckdb: views over the "
             "published files of every release (afslaars, frafvurd, frafafbrud in long form, "
             "<cube>_celler as released, releases, release_files, release_cubes, revisions, "
             "grupperinger, noegletal). Withheld cells are NULL with status 'diskretioneret'. "
             "The query can read the release files and nothing else. The model and worked "
             "examples: docs/analysts.md.",
             "  lpstat sql \"SHOW TABLES\"\n"
             "  lpstat sql \"DESCRIBE afslaars\"\n"
             "  lpstat sql \"SELECT * FROM releases\" --json\n"
             "  lpstat sql \"SELECT tid_maaned, vaerdi FROM afslaars WHERE udgivelse = '2026-10'\n"
             "      AND gruppering = '[Tid].[Måned]' AND noegletal = 'Antal afslag'\" --csv\n"
             "  lpstat sql - --parquet out.parquet < query.sql")
    q.add_argument("query", metavar="QUERY", help="one SQL query, or - to read it from stdin")
    _add_output_options(q)
    q.set_defaults(func=cmd_sql)
    rl = _sub(sub, "releases", "list the published releases",
              "List the published releases: cut-off, disclosure-audit verdict, cells per cube, "
              "withheld cells and revisions, and per cube the share of its cells withheld "
              "(--csv/--json/--parquet add audit.json's informationstab block); or, with a "
              "release, its cubes with cells, published and withheld cells and revisions (or "
              "--files: its files and their sha256).",
              "  lpstat releases\n"
              "  lpstat releases 2026-10\n"
              "  lpstat releases 2026-10 --files --csv")
    rl.add_argument("release", nargs="?", type=_release_arg, metavar="YYYY-MM")
    rl.add_argument("--files", action="store_true", help="list the release's files and sha256")
    _add_output_options(rl)
    rl.set_defaults(func=cmd_releases)
    return p


def main(argv: list[str] | None = None) -> int:
    from transforms.settings import owner_only_files

    owner_only_files()  # before anything is created under LPSTAT_HOME
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _Refused as exc:
        _err(str(exc))
        return exc.code
    except (_settings_error(), *_source_errors()) as exc:
        from transforms.extract import SourceUnavailable

        _err(str(exc))
        if isinstance(exc, SourceUnavailable):
            _err("Check LPSTAT_SOURCE_URL and that the database is running and reachable from "
                 "here, then run the same command again.")
        return EXIT_USAGE if isinstance(exc, _settings_error()) else EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; releases are written atomically, so nothing half-written was left.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. lpstat sql ... | head
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("LPSTAT_DEBUG"):
            raise
        _err(f"unexpected error: {type(exc).__name__}: {_first_line(exc)}")
        _err("Set LPSTAT_DEBUG=1 to see the traceback, and please report it.")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
