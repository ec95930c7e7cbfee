"""The lpstat command line: demo, run, serve (contract section 6); sql, releases (analysts:
transforms/console.py).

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

from transforms.calendar import FIRST_RELEASE, Release, ReleaseError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: nothing to show: an unknown release, no releases yet, or a query without rows
EXIT_EMPTY = 3
EXIT_INTERRUPTED = 130


def _err(msg: str) -> None:
    print(f"lpstat: {msg}", file=sys.stderr)


def materialize(settings, release: str, with_ingest: bool = True,
                progress: bool | None = None, session=None, resources: dict | None = None,
                land_through: str | None = None) -> bool:
    """Build one release as a run of ``monthly_release`` in the persistent Dagster instance
    (pipelines/runs.py); print a line per step and, on failure, what failed and why.

    ``session``: the command's :class:`pipelines.runs.Session` (several releases in one
    command); without one, a session for this release alone. ``progress``: a live progress
    line on stderr (``None``: when stderr is a terminal). ``resources``: Dagster resources in
    place of the definitions' (tests: a stand-in ``disclosure``). ``land_through``: the
    newest month this run's landing serves (:meth:`pipelines.runs.Session.build`).
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
                return materialize(settings, release, with_ingest, session=s,
                                   resources=resources)
        except WarehouseBusy as exc:
            _err(str(exc))
            return False
    outcome = session.build(release, with_ingest=with_ingest, resources=resources,
                            land_through=land_through)
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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    months = [str(latest.previous()), str(latest)]  # names, as folders and partitions
    from pipelines.runs import Session, WarehouseBusy, dagster_hint, summary_lines

    try:
        with Session(settings, "lpstat demo", verbose=args.verbose, wait=args.wait) as session:
            for i, m in enumerate(months):
                if not materialize(settings, m, with_ingest=(i == 0), session=session,
                                   land_through=months[-1]):
                    return EXIT_FAILED
    except WarehouseBusy as exc:
        _err(str(exc))
        return EXIT_FAILED
    rel = settings.releases_dir
    print()
    print(*summary_lines(session, session.outcomes[-1]), sep="\n")
    print(f"  report:    {rel / months[-1] / 'rapport.html'}  (revisions since {months[0]}: "
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


# --- analysts: lpstat sql, lpstat releases (transforms/console.py) ----------------------------


def _output(args):
    from transforms.console import Output

    return Output(csv=args.csv, json=args.json, parquet=args.parquet, max_rows=args.max_rows)


def cmd_sql(args) -> int:
    from transforms.console import run_sql

    sql = sys.stdin.read() if args.query == "-" else args.query
    if run_sql(sql, _output(args)) == 0:
        _err("the query returned no rows.")
        return EXIT_EMPTY
    return EXIT_OK


def cmd_releases(args) -> int:
    from transforms.console import show_releases

    show_releases(args.release, args.files, _output(args))
    return EXIT_OK


def _refused() -> type:
    """What the console raises when it cannot do what was asked (imported only when an
    exception is being handled)."""
    from transforms.console import Refused

    return Refused


def _refused_code(exc: Exception) -> int:
    from transforms.console import Empty, Usage

    return (EXIT_EMPTY if isinstance(exc, Empty)
            else EXIT_USAGE if isinstance(exc, Usage) else EXIT_FAILED)


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
    except _refused() as exc:
        _err(str(exc))
        return _refused_code(exc)
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
        from transforms.settings import debug

        if debug():
            raise
        _err(f"unexpected error: {type(exc).__name__}: {_first_line(exc)}")
        _err("Set LPSTAT_DEBUG=1 to see the traceback, and please report it.")
        return EXIT_FAILED


def entry() -> None:
    """The ``lpstat`` console script: :func:`main`, then a quick exit.

    Everything the command writes is written, flushed and closed by the time ``main``
    returns (the run's log, the warehouse, the instance and the worker processes are all
    closed by the command itself), and the ``atexit`` handlers still run here. What is
    skipped is the interpreter's teardown of the modules a run loads (Dagster, pandas,
    DuckDB, HiGHS): some 0.8 s after every ``lpstat run``, measured, with nothing left to do.
    An exception out of ``main`` (argparse's usage errors among them) exits as usual."""
    from transforms.forked import quick_exit

    quick_exit(main())


if __name__ == "__main__":
    entry()
