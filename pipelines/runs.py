"""How a release run executes from the command line (``lpstat run``, ``lpstat demo``, backfills).

Every run is a run of the job ``monthly_release`` in the persistent Dagster instance under
``<LPSTAT_HOME>/dagster`` (or ``LPSTAT_DAGSTER_PG_URL``, see pipelines/instance.py), the one
``make dagster`` opens: the Runs page, the asset catalogue with its partitions, the
materialization metadata and the check history show every release however it was started.

One run at a time on the warehouse. A session takes ``<home>/warehouse.lock`` (an exclusive
``flock``, released by the kernel when the process ends, however it ends) before it creates a
run, and writes who holds it into the file. It also refuses while the instance shows another
run in progress on the home (a run launched by the schedule or the UI; the lpstat resource of
such a run takes the same lock, :func:`warehouse_lock`). The daemon's run queue
(``max_concurrent_runs: 1``) counts command-line runs as in progress too, so a scheduled run
queues behind them. A second command either stops at once with a message that names the
other run, or (``--wait``) waits for it; it never writes.

The console gets one line per asset step with its time and what it produced, one line for
the quality checks, and errors; the full Dagster event log, and everything the steps and
their worker processes print (solver banners), goes to ``<home>/logs/<command>.log``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = "warehouse.lock"
JOB_NAME = "monthly_release"
PARTITIONED_GROUPS = ("cubes", "disclosure", "release")
#: run tags that tie a command-line run to its home and process
TAG_COMMAND, TAG_HOME, TAG_PID, TAG_HOST, TAG_LOG = (
    "lpstat/command", "lpstat/home", "lpstat/pid", "lpstat/host", "lpstat/log")

_held: dict[str, list] = {}  # lock path -> [open file, depth]: the lock is re-entrant per process


class WarehouseBusy(Exception):
    """Another run holds the warehouse; the message names it and says what to do."""


# --- one run at a time ---------------------------------------------------------------------------


def _describe(holder: dict) -> str:
    parts = []
    if holder.get("run_id"):
        parts.append(f"run {holder['run_id']}")
    if holder.get("command"):
        parts.append(f"'{holder['command']}'")
    if holder.get("pid"):
        parts.append(f"process {holder['pid']} on {holder.get('host', '?')}")
    if holder.get("started"):
        parts.append(f"started {holder['started']}")
    return ", ".join(parts) or "another lpstat process"


def _read_holder(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def _write_holder(fh, holder: dict) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps(holder, ensure_ascii=False))
    fh.flush()


@contextmanager
def warehouse_lock(home: Path, holder: dict, *, wait: bool = False, say=None):
    """Hold ``<home>/warehouse.lock`` for the block (re-entrant within one process).

    ``wait``: block until the holder lets go (``say`` is told once whom we wait for);
    otherwise raise :class:`WarehouseBusy` naming the holder.
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    key = str(path.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        told = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                other = _read_holder(path)
                for _ in range(20):  # the holder writes its name just after it takes the lock
                    if other:
                        break
                    time.sleep(0.1)
                    other = _read_holder(path)
                if not wait:
                    raise WarehouseBusy(busy_message(home, _describe(other))) from None
                if not told and say:
                    say(f"waiting for {_describe(other)} to finish with the warehouse ...")
                    told = True
                time.sleep(2)
        _write_holder(fh, {**holder, "pid": os.getpid(), "host": socket.gethostname()})
        _held[key] = [fh, 1]
        try:
            yield
        finally:
            del _held[key]
            _write_holder(fh, {})
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def update_holder(home: Path, **info) -> None:
    """Add to what the lock file says about its holder (e.g. the run now running)."""
    key = str((Path(home) / LOCK_NAME).resolve())
    if key in _held:
        fh = _held[key][0]
        fh.seek(0)
        current = json.loads(fh.read() or "{}")
        _write_holder(fh, {**current, **info})


def busy_message(home: Path, who: str) -> str:
    return (f"the warehouse under {home} is in use by {who}. Nothing was started and nothing "
            "was written. Wait for that run to finish (follow it in the Dagster UI: make "
            "dagster, then Runs), or run the same command with --wait to queue behind it.")


def _active_runs(instance, home: Path) -> list:
    """Runs in progress on this home: those the instance shows as starting, started or
    cancelling (a command-line run says which home it is on; others count for every home)."""
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES

    runs = [r.dagster_run for r in instance.get_run_records(
        filters=RunsFilter(statuses=list(ACTIVE_RUN_STATUSES)))]
    return [r for r in runs if r.tags.get(TAG_HOME, str(home)) == str(home)]


def _settle_dead_runs(instance, home: Path, say) -> None:
    """Command-line runs left 'in progress' by a process that died (killed, machine lost):
    while we hold the lock no other command-line run on this home can be alive, so mark
    them failed (else the daemon's queue would wait for them for ever)."""
    for run in _active_runs(instance, home):
        if TAG_COMMAND in run.tags and run.tags.get(TAG_HOME) == str(home):
            instance.report_run_failed(run, message=(
                f"the lpstat process {run.tags.get(TAG_PID, '?')} on "
                f"{run.tags.get(TAG_HOST, '?')} ended without finishing this run"))
            say(f"marked run {run.run_id} failed: its lpstat process ended without finishing it")


# --- the run ------------------------------------------------------------------------------------


@dataclass
class StepLine:
    key: str
    seconds: float = 0.0
    status: str = "running"
    materialized: dict = field(default_factory=dict)  # asset key -> metadata (values)
    checks: list = field(default_factory=list)  # (asset, check, passed, severity, description)
    started: float = 0.0


@dataclass
class Outcome:
    release: str
    run_id: str
    success: bool
    seconds: float
    steps: dict
    result: object = None

    def metadata(self, asset: str) -> dict:
        for s in self.steps.values():
            if asset in s.materialized:
                return s.materialized[asset]
        return {}

    def checks(self) -> list:
        return [c for s in self.steps.values() for c in s.checks]


def checks_summary(checks: list[tuple]) -> str:
    """The console's word on a run's checks: how many passed, and which warned or failed by
    name ("1 FAILED (watermarks_current)"), so that nobody has to open the log to learn it.
    ``checks``: (asset, check, passed, severity) as the event handler records them."""
    def named(found):  # "a, b x2"
        names = [c[1] for c in found]
        return ", ".join(n + (f" x{names.count(n)}" if names.count(n) > 1 else "")
                         for n in dict.fromkeys(names))

    warned = [c for c in checks if not c[2] and c[3] != "ERROR"]
    failed = [c for c in checks if not c[2] and c[3] == "ERROR"]
    text = f"{sum(bool(c[2]) for c in checks)} passed"
    if warned:
        text += f", {len(warned)} warning{'s' if len(warned) > 1 else ''} ({named(warned)})"
    if failed:
        text += f", {len(failed)} FAILED ({named(failed)})"
    return text


def _value(v):
    return getattr(v, "value", v)


def landing_summary(tables: list[dict]) -> str:
    """Rows read, new and replaced, from the landed tables' materialization metadata (plain
    values): the incremental tables' rows are new only where they were not landed before;
    the reference tables are read and replaced in full on every run, so their rows are
    counted apart (a re-run with nothing new says 0 new, not the size of ``elev``)."""
    read = sum(int(t.get("dagster/row_count", 0)) for t in tables)
    inc = [t for t in tables if t.get("incremental", True)]
    new = sum(int(t.get("new_rows", 0)) for t in inc)
    ref = sum(int(t.get("dagster/row_count", 0)) for t in tables if not t.get("incremental", True))
    return f"{read:,} rows read, {new:,} new" + (f", {ref:,} reference rows replaced"
                                                  if len(inc) < len(tables) else "")


def _summary_of(step: StepLine) -> str:
    """What an asset step produced, in a few words (from its materialization metadata)."""
    m = step.materialized
    raw = [v for k, v in m.items() if k.startswith("raw_")]
    if raw:
        return f"{len(raw)} tables landed: {landing_summary(raw)}"
    if "karantaene" in m:
        models = [k for k in m if not k.startswith("stg_") and k != "karantaene"]
        return (f"{len(models)} models, {int(m['karantaene'].get('dagster/row_count', 0)):,} "
                "rows quarantined")
    if "elevbestand" in m:
        return f"{int(m['elevbestand'].get('dagster/row_count', 0)):,} stock rows"
    if len(m) == 1:
        (key, meta), = m.items()
        if key.startswith("cube_"):
            return f"{int(meta.get('dagster/row_count', 0)):,} cells"
        if key == "beskyttede_celler":
            return f"audit {meta.get('verdict')}, {int(meta.get('withheld', 0)):,} cells withheld"
        if key == "udgivelse":
            return f"{len(meta.get('files') or [])} files, {meta.get('revisions', 0):,} revisions"
    return ", ".join(m)


class Console:
    """The lines a person reads: on the terminal (or whatever stdout is) as it was when the
    session started, never where the run's own output goes."""

    def __init__(self, out, err, live: bool, verbose: bool):
        self.out, self.err, self.verbose = out, err, verbose
        self._progress = None
        self._task = None
        if live:
            from rich.console import Console as RichConsole
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._rich = RichConsole(file=err, force_terminal=True)
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=self._rich, transient=True)

    def line(self, text: str) -> None:
        if self._progress is not None and self._progress.live.is_started:
            self._progress.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(f"lpstat: {text}", file=self.err, flush=True)

    def event_line(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.err, flush=True)

    def doing(self, text: str | None) -> None:
        if self._progress is None:
            return
        if text is None:
            if self._progress.live.is_started:
                self._progress.stop()
            return
        if not self._progress.live.is_started:
            self._progress.start()
            self._task = self._progress.add_task(text)
        self._progress.update(self._task, description=text)


def format_event(event) -> str:
    """One line of the log file for one Dagster event (like Dagster's own console log)."""
    when = datetime.fromtimestamp(event.timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    kind = event.dagster_event.event_type_value if event.dagster_event else "LOG"
    message = (event.user_message or (event.dagster_event.message
                                      if event.dagster_event else "") or "").replace("\n", " | ")
    return (f"{when} {logging.getLevelName(event.level)} {event.run_id[:8]} "
            f"{event.step_key or '-'} {kind} {message}")


class Session:
    """One command's runs: the instance, the warehouse lock, the log file, the console.

    ``with Session(settings, "lpstat run --release 2026-10") as s: s.build("2026-10")``
    """

    def __init__(self, settings, command: str, *, instance=None, verbose: bool = False,
                 live: bool | None = None, wait: bool = False, tags: dict | None = None,
                 quiet_steps: bool = False):
        self.settings, self.command = settings, command
        self.home = Path(settings.home).resolve()
        self._instance, self._own_instance = instance, instance is None
        self.verbose, self.wait, self.tags = verbose, wait, dict(tags or {})
        self.quiet_steps = quiet_steps
        self._live = live
        self.log_path: Path | None = None
        self.outcomes: list[Outcome] = []

    # setup and teardown
    def __enter__(self):
        from contextlib import ExitStack

        self._stack = ExitStack()
        sys.stdout.flush()
        sys.stderr.flush()
        out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", errors="replace")
        err = os.fdopen(os.dup(sys.stderr.fileno()), "w", encoding="utf-8", errors="replace")
        self._stack.callback(out.close)
        self._stack.callback(err.close)
        live = err.isatty() if self._live is None else self._live
        self.console = Console(out, err, live=live, verbose=self.verbose)
        try:
            started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            # the first run's id is known before the lock is taken, so that a command
            # refused a moment later can name the run
            self._next_run_id = str(uuid.uuid4())
            self._stack.enter_context(warehouse_lock(
                self.home, {"run_id": self._next_run_id, "command": self.command,
                            "started": started}, wait=self.wait, say=self.console.line))
            # Great Expectations is imported by a worker process from now on, on the other
            # core while the instance opens and the run starts (quality.gx.Worker)
            from quality.gx import start_worker, stop_worker

            try:
                start_worker()
                self._stack.callback(stop_worker)
            except Exception as exc:  # noqa: BLE001 - then this process validates, as before
                logging.getLogger(__name__).warning(
                    "the Great Expectations worker did not start (%s); validating here", exc)
            if self._own_instance:
                from pipelines.instance import open_instance

                self._instance = self._stack.enter_context(open_instance(self.home))
            self._wait_for_active_runs()
            logs = self.home / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            name = "-".join(w for w in self.command.replace("--", "").split()[1:] if w)
            self.log_path = logs / f"{stamp}-{name or 'run'}.log"
            self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._stack.callback(os.close, self._log_fd)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.console.doing(None)
        self._stack.close()

    @property
    def instance(self):
        return self._instance

    def _wait_for_active_runs(self) -> None:
        _settle_dead_runs(self._instance, self.home, self.console.line)
        told = False
        while True:
            active = _active_runs(self._instance, self.home)
            if not active:
                return
            run = active[0]
            who = (f"run {run.run_id} of {run.job_name} (release "
                   f"{run.tags.get('dagster/partition', '?')}, {run.status.value.lower()})")
            if not self.wait:
                raise WarehouseBusy(busy_message(self.home, who))
            if not told:
                self.console.line(f"waiting for {who} to finish ...")
                told = True
            time.sleep(5)

    def log(self, text: str) -> None:
        os.write(self._log_fd, (text.rstrip("\n") + "\n").encode("utf-8", "replace"))

    # one run
    def build(self, release: str, with_ingest: bool = True, resources: dict | None = None,
              definitions=None, land_through: str | None = None) -> Outcome:
        """Run ``monthly_release`` for ``release`` (without ingest: only the partitioned
        groups) in the instance; print a line per asset step as it finishes. ``resources``:
        in place of the definitions' (tests: a stand-in ``disclosure``). ``land_through``:
        the newest month that this run's landing serves (a command that lands once for
        several months), whose cut-off then caps the watermarks (``TAG_LAND_THROUGH``)."""
        job, selection = _job_and_selection(with_ingest, definitions, resources)
        run_id, self._next_run_id = self._next_run_id, str(uuid.uuid4())
        update_holder(self.home, run_id=run_id, release=release)
        tags = {**self.tags, TAG_COMMAND: self.command, TAG_HOME: str(self.home),
                TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname(),
                TAG_LOG: str(self.log_path), "dagster/max_retries": "0",
                # the Runs page's "Launched by": who ran which command
                "user": f"{_user()} ({self.command.split(' --')[0]})"}
        if with_ingest and land_through and land_through != release:
            from pipelines.assets.ingest import TAG_LAND_THROUGH

            tags[TAG_LAND_THROUGH] = land_through
        steps: dict[str, StepLine] = {}
        self.log(f"=== {self.command}: release {release}, run {run_id}")
        if not self.quiet_steps:
            self.console.line(f"Building release {release} (Dagster run {run_id[:8]}) ...")
        instance = self._instance
        handle = instance.handle_new_event

        def watch(event, **kwargs):
            handle(event, **kwargs)
            try:
                self._on_event(event, steps, release)
            except Exception as exc:  # the console must never break the run
                self.log(f"(console: {type(exc).__name__}: {exc})")

        instance.handle_new_event = watch
        started = time.monotonic()
        self.console.doing(f"release {release}: starting")
        try:
            with _run_environment(self.settings), _output_to(self._log_fd), \
                    _library_log_to(self.log):
                result = job.execute_in_process(
                    instance=instance, partition_key=release, raise_on_error=False,
                    asset_selection=selection, run_id=run_id, tags=tags,
                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        finally:
            instance.handle_new_event = handle
            self.console.doing(None)
        seconds = time.monotonic() - started
        outcome = Outcome(release, run_id, bool(result.success), seconds, steps, result)
        check_steps = [s for s in steps.values() if s.checks and not s.materialized]
        if check_steps and not self.quiet_steps:
            text = checks_summary([c for s in check_steps for c in s.checks])
            self.console.line(_row(f"quality checks ({len(check_steps)} steps)",
                                   sum(s.seconds for s in check_steps), text))
        self.outcomes.append(outcome)
        self.log(f"=== run {run_id} {'succeeded' if outcome.success else 'failed'} "
                 f"in {seconds:.1f} s")
        return outcome

    def _on_event(self, event, steps: dict, release: str) -> None:
        self.log(format_event(event))
        self.console.event_line(format_event(event))
        de = event.dagster_event
        if de is None or event.step_key is None:
            return
        kind = de.event_type_value
        step = steps.setdefault(event.step_key, StepLine(event.step_key))
        if kind == "STEP_START":
            step.started = time.monotonic()
            self.console.doing(f"release {release}: {event.step_key}")
        elif kind == "ASSET_MATERIALIZATION":
            mat = de.step_materialization_data.materialization
            step.materialized[mat.asset_key.to_user_string()] = {
                k: _value(v) for k, v in mat.metadata.items()}
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = de.event_specific_data
            step.checks.append((ev.asset_key.to_user_string(), ev.check_name, ev.passed,
                                ev.severity.value, ev.description or ""))
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            step.status = kind.removeprefix("STEP_").lower()
            step.seconds = time.monotonic() - step.started if step.started else 0.0
            if step.materialized and not self.quiet_steps:
                self.console.line(_row(step.key, step.seconds, _summary_of(step)))
            elif kind == "STEP_FAILURE" and not self.quiet_steps:
                self.console.line(_row(step.key, step.seconds, "FAILED"))
        elif kind == "STEP_UP_FOR_RETRY":
            self.console.line(f"  {event.step_key}: failed, Dagster retries it ...")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return str(os.getuid())


def _row(name: str, seconds: float, text: str) -> str:
    return f"  {name:<32} {seconds:6.1f} s  {text}"


def _job_and_selection(with_ingest: bool, definitions=None, resources: dict | None = None):
    """The monthly job, and (without ingest) the keys of its partitioned groups. Tests:
    ``definitions``, a subset of the assets (e.g. without the checks); ``resources``, in
    place of the definitions' (a job binds its resources to its assets, so the job is made
    anew with them rather than handed them at run time)."""
    import dagster as dg

    from pipelines.definitions import ALL_ASSETS, ALL_CHECKS, defs
    from pipelines.schedules import release_job

    job = defs.resolve_job_def(JOB_NAME)
    if definitions is not None or resources:
        job = dg.Definitions(
            assets=ALL_ASSETS if definitions is None else definitions,
            asset_checks=ALL_CHECKS if definitions is None else None,
            jobs=[release_job if definitions is None else dg.define_asset_job(
                JOB_NAME, selection=dg.AssetSelection.all())],
            resources={**defs.resources, **(resources or {})},
            executor=dg.in_process_executor).resolve_job_def(JOB_NAME)
    if with_ingest:
        return job, None
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.groups(*PARTITIONED_GROUPS).resolve(graph)
    return job, sorted(keys, key=lambda k: k.to_user_string())


@contextmanager
def _run_environment(settings):
    """The run's settings as the lpstat resource reads them: from the environment, so that
    neither the store URL nor the pseudonym key is written into the instance (a resource's
    configured values would be stored with the job's snapshot)."""
    wanted = {"LPSTAT_HOME": str(settings.home), "LPSTAT_SOURCE_URL": settings.source_url,
              "LPSTAT_PSEUDONYM_KEY": settings.pseudonym_key}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update({k: v for k, v in wanted.items() if v is not None})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: the loggers of lpstat's own code whose INFO lines (the disclosure search's rounds, memo
#: reuse, fallbacks) go to the command's log file beside the Dagster events
LIBRARY_LOGGERS = ("transforms",)


class _LogFileHandler(logging.Handler):
    def __init__(self, write):
        super().__init__(logging.INFO)
        self.write = write
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                            "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except Exception:  # noqa: BLE001 - a log line must never break the run
            self.handleError(record)


@contextmanager
def _library_log_to(write):
    """lpstat's own loggers (:data:`LIBRARY_LOGGERS`) at INFO into the log file for the
    block; their level and handlers are put back after it."""
    handler = _LogFileHandler(write)
    saved = []
    for name in LIBRARY_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.level))
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)


@contextmanager
def _output_to(fd: int):
    """Send this process's stdout and stderr (and so its children's: solver banners, library
    warnings, Dagster's own console log) to ``fd`` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


# --- the summary ---------------------------------------------------------------------------------


def summary_lines(session: Session, outcome: Outcome) -> list[str]:
    """Release, cells per cube, withheld, audit verdict, where the files and the log are."""
    from transforms.catalog import CUBES

    folder = session.settings.releases_dir / outcome.release
    audit = {}
    try:
        audit = json.loads((folder / "audit.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    cubes = []
    for u in CUBES:
        cells = outcome.metadata(f"cube_{u.lower()}").get("dagster/row_count")
        withheld = audit.get("cubes", {}).get(u, {}).get("withheld")
        if cells is not None:
            cubes.append(f"{u} {int(cells):,}" + (f" ({int(withheld):,} withheld)"
                                                  if withheld is not None else ""))
    pub = outcome.metadata("udgivelse")
    latest = session.settings.releases_dir / "latest"
    lines = [f"Release {outcome.release} published in {outcome.seconds:.1f} s "
             f"(Dagster run {outcome.run_id}):"]
    if cubes:
        lines.append("  cells:     " + ", ".join(cubes))
    lines.append(f"  audit:     {audit.get('verdict', pub.get('verdict', '?'))}")
    lines.append(f"  files:     {folder}  ({len(pub.get('files') or [])} files; latest -> "
                 f"{latest.resolve().name if latest.exists() else '-'})")
    return lines


def dagster_hint(session: Session) -> str:
    """Where the runs are recorded and how to look at them."""
    from pipelines.instance import PG_URL_ENV
    from transforms.settings import dagster_pg_url

    where = (f"the PostgreSQL instance ({PG_URL_ENV})" if dagster_pg_url()
             else f"the instance under {session.home / 'dagster'}")
    runs = ", ".join(o.run_id[:8] for o in session.outcomes)
    return (f"  Dagster:   run{'s' if len(session.outcomes) > 1 else ''} {runs} in {where}: "
            "make dagster, then http://127.0.0.1:3000/runs")
