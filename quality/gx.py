"""Great Expectations behind one module: the only place that imports ``great_expectations``
(it costs seconds), and only when a validation runs.

The suites of :mod:`quality.suites` run against the DuckDB warehouse in place, through GX 1.x's
SQL data source and the ``duckdb-engine`` SQLAlchemy dialect, on read-only connections. One
ephemeral GX context serves a whole Dagster run (or any other ``run_key``); each call opens its
own read-only connections and closes them before it returns, so the next asset step can open
the warehouse for writing (DuckDB refuses a read-write connection while read-only ones of the
same process are open). Data Docs (HTML) are rebuilt after each call in ``docs_dir``.

Two things GX does not do for DuckDB by itself, handled here:

- GX reads a query's rows after it has closed the SQLAlchemy connection, and closing rolls
  the DuckDB transaction back, which discards the result set. :class:`_ReadOnlyConnection`
  defers that rollback to the next ``BEGIN``; nothing is written on these connections.
- GX has no regular expressions for DuckDB; the suites use ``UnexpectedRowsExpectation``
  with DuckDB's ``regexp_matches`` instead.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from quality.rules import MAX_EXAMPLES, RuleResult
from quality.suites import Expectation, Suite

_LOCK = threading.Lock()
_STATE: dict = {"key": None, "context": None, "calls": 0}
SITE = "lpstat"


@dataclass
class Outcome:
    results: list[RuleResult] = field(default_factory=list)
    docs_index: Path | None = None
    seconds: float = 0.0


def _read_only_connector(path: str, opened: list):
    import duckdb
    from duckdb_engine import ConnectionWrapper

    class _ReadOnlyConnection(ConnectionWrapper):
        _pending_rollback = False

        def _raw(self):
            return self._ConnectionWrapper__c

        def rollback(self) -> None:  # deferred: keeps the last result set readable
            self._pending_rollback = True

        def commit(self) -> None:
            self._pending_rollback = True

        def begin(self) -> None:
            raw = self._raw()
            if self._pending_rollback:
                self._pending_rollback = False
                try:
                    raw.rollback()
                except Exception:  # no transaction open: nothing to end
                    pass
            raw.begin()

    def connect():
        raw = duckdb.connect(path, read_only=True)
        raw.execute("SET TimeZone = 'Europe/Copenhagen'")
        con = _ReadOnlyConnection(raw)
        opened.append(con)
        return con

    return connect


def _context(key: tuple[str, str | None]):
    """The run's ephemeral GX context (a new run gets a new one)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)

    if _STATE["key"] == key and _STATE["context"] is not None:
        return _STATE["context"]
    ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False)))
    # An ephemeral context has nowhere to save its project config, yet serialises all of it on
    # every added asset (a third of the validation time here): skip that.
    ctx._save_project_config = lambda: None
    docs_dir = key[1]
    if docs_dir:
        ctx.add_data_docs_site(site_name=SITE, site_config={
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": docs_dir},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    _STATE.update(key=key, context=ctx, calls=0)
    return ctx


def _expectation(gxe, exp: Expectation, value_sets: dict):
    kwargs = dict(exp.kwargs)
    if exp.value_set_query:
        kwargs["value_set"] = value_sets[exp.value_set_query]
    return getattr(gxe, exp.kind)(**kwargs, meta={"rule": exp.rule, "kind": exp.kind})


def validate(warehouse: Path | str, suites: list[Suite], *, run_key: str,
             docs_dir: Path | None = None, build_docs: bool | None = None) -> Outcome:
    """Run ``suites`` against the warehouse file (read-only); one RuleResult per expectation.

    Data Docs of every validation of the run so far are (re)built in ``docs_dir`` when
    ``build_docs`` is true, or, when it is None, when a validation failed (building them costs
    seconds, so a run that passes builds them once, at its last suite). Where a
    :class:`Worker` is started (:func:`start_worker`), it runs them; else this process."""
    with validating(warehouse, suites, run_key=run_key, docs_dir=docs_dir,
                    build_docs=build_docs) as outcome:
        return outcome()


@contextmanager
def validating(warehouse: Path | str, suites: list[Suite], *, run_key: str,
               docs_dir: Path | None = None, build_docs: bool | None = None):
    """:func:`validate` started where it can run beside the caller: yields a function that
    returns its Outcome. With a :class:`Worker`, the worker validates while the caller does
    other read-only work on the warehouse (DuckDB lets processes read a file together);
    without one, it validates here, before the block, as :func:`validate` would."""
    args = (Path(warehouse), suites, run_key, docs_dir, build_docs)
    with _LOCK:
        worker = _WORKER.get("worker")
        sent = worker is not None and worker.send(args)
        if not sent:
            if worker is not None:
                _WORKER.pop("worker", None)
            out = _validate(*args)
            yield lambda: out
            return
        pending = [True]  # the worker's answer not read yet
        got: list = []

        def result() -> Outcome:
            if pending:
                pending.clear()
                try:
                    out = worker.receive()
                except BaseException as exc:  # its error, raised here (and again if asked)
                    got.append(exc)
                    raise
                if out is None:  # the worker is gone: validate here
                    _WORKER.pop("worker", None)
                    out = _validate(*args)
                got.append(out)
            if isinstance(got[0], BaseException):
                raise got[0]
            return got[0]

        try:
            yield result
        finally:
            if pending:  # the block ended without asking: the answer is read all the same,
                try:     # before anyone else talks to the worker
                    result()
                except Exception:  # noqa: BLE001 - the block's own outcome stands
                    pass


# --- a worker process that has imported GX ------------------------------------------------

_WORKER: dict = {}


class Worker:
    """A process (spawned: a fresh interpreter) that imports ``great_expectations`` as soon
    as it starts and then runs the validations :func:`validate` hands it, one at a time,
    with the same arguments and results as in this process. Importing GX takes some 2.5 s of
    CPU; ``lpstat run`` starts the worker before its Dagster run, so the import runs on the
    other core while the run starts and lands the rows, not in the landed rows' check.

    The warehouse is opened read-only by the worker as by this process (DuckDB lets any
    number of processes read a file no process writes); each validation closes its
    connections before it answers, so the next step can write. A worker that is gone (killed,
    or failed to start) answers None and this process validates instead."""

    def __init__(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                                 name="lpstat-gx")
        self._proc.start()
        child.close()

    def send(self, args: tuple) -> bool:
        """Hand it a validation; False where the worker is gone."""
        try:
            self._conn.send(args)
        except (OSError, BrokenPipeError):
            return False
        return True

    def receive(self) -> Outcome | None:
        """The Outcome of the validation handed over last, or None where the worker is gone
        (its error, where it raised one, is raised here)."""
        try:
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            return None
        if kind == "ok":
            return value
        if isinstance(value, BaseException):
            raise value
        raise RuntimeError(f"Great Expectations failed in its worker process: {value}")

    def stop(self) -> None:
        try:
            self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()


def start_worker() -> Worker:
    """Start the GX worker for this process's validations (:class:`Worker`)."""
    with _LOCK:
        old = _WORKER.pop("worker", None)
        if old is not None:
            old.stop()
        worker = _WORKER["worker"] = Worker()
    return worker


def stop_worker() -> None:
    """Stop the worker, if any; validations run in this process again."""
    with _LOCK:
        worker = _WORKER.pop("worker", None)
    if worker is not None:
        worker.stop()


def _serve(conn) -> None:  # pragma: no cover - runs in the worker process
    import pickle
    import traceback

    import great_expectations  # noqa: F401 - the point of the worker: imported at once

    while True:
        try:
            args = conn.recv()
        except EOFError:
            args = None  # the caller is gone
        if args is None:
            # Nothing is left to write: each validation wrote its results and Data Docs
            # before it answered. Leaving at once spares the interpreter's teardown of GX's
            # modules, which the run waited for at its end (0.87 s against 0.03 s). The
            # atexit handlers still run: multiprocessing's releases the lock tqdm made for
            # GX's progress bars, which the resource tracker would otherwise report, on the
            # console, as a leaked semaphore.
            from transforms.forked import quick_exit

            conn.close()
            quick_exit(0)
        try:
            conn.send(("ok", _validate(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            try:
                pickle.dumps(exc)
                conn.send(("error", exc))
            except Exception:
                conn.send(("error", traceback.format_exc()))


def _validate(warehouse: Path, suites: list[Suite], run_key: str,
              docs_dir: Path | None, build_docs: bool | None) -> Outcome:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import sqlalchemy as sa
    from sqlalchemy.pool import StaticPool

    start = time.monotonic()
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
    ctx = _context((run_key, str(docs_dir) if docs_dir else None))
    _STATE["calls"] += 1
    opened: list = []
    ds = ctx.data_sources.add_sql(
        name=f"warehouse_{_STATE['calls']}", connection_string="duckdb:///:memory:",
        kwargs={"creator": _read_only_connector(str(warehouse), opened),
                "poolclass": StaticPool})
    outcome = Outcome()
    try:
        engine = ds.get_engine()
        queries = {e.value_set_query for s in suites for e in s.expectations if e.value_set_query}
        value_sets = {}
        with engine.connect() as con:
            for q in sorted(queries):
                value_sets[q] = [r[0] for r in con.execute(sa.text(q)).fetchall()]
        for suite in suites:
            for store in (ctx.validation_definitions, ctx.suites):
                try:
                    store.delete(suite.name)
                except Exception:  # not there yet: the usual case
                    pass
            gx_suite = ctx.suites.add(gx.ExpectationSuite(name=suite.name))
            for exp in suite.expectations:
                gx_suite.add_expectation(_expectation(gxe, exp, value_sets))
            if suite.query:
                asset = ds.add_query_asset(name=suite.table, query=suite.query)
            else:
                asset = ds.add_table_asset(name=suite.table, table_name=suite.table)
            batch = asset.add_batch_definition_whole_table("hele_tabellen")
            vd = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite))
            res = vd.run(result_format={"result_format": "SUMMARY",
                                        "partial_unexpected_count": MAX_EXAMPLES})
            for r in res.results:
                rr = _to_rule_result(suite, r)
                query = r.expectation_config.kwargs.get("unexpected_rows_query")
                if not rr.passed and query and not rr.examples and rr.count:
                    rr.examples = _unexpected_keys(engine, sa, query, suite)
                outcome.results.append(rr)
    finally:
        try:
            ds.get_engine().dispose()
        finally:
            for con in opened:
                try:
                    con.close()
                except Exception:  # already closed by the pool
                    pass
    if build_docs is None:
        build_docs = not all(r.passed for r in outcome.results)
    if docs_dir is not None and build_docs:
        ctx.build_data_docs(site_names=[SITE])
    if docs_dir is not None and (docs_dir / "index.html").exists():
        outcome.docs_index = docs_dir / "index.html"
    outcome.seconds = time.monotonic() - start
    return outcome


def _unexpected_keys(engine, sa, query: str, suite: Suite) -> list[str]:
    """Up to ten rows of a failing unexpected-rows query (the suites select keys only)."""
    batch = f"({suite.query}) AS batch" if suite.query else suite.table
    sql = f"SELECT * FROM ({query.format(batch=batch)}) AS u LIMIT {MAX_EXAMPLES}"
    try:
        with engine.connect() as con:
            res = con.execute(sa.text(sql))
            cols = list(res.keys())
            return [", ".join(f"{c}={v}" for c, v in zip(cols, row)) for row in res.fetchall()]
    except Exception:  # evidence is a courtesy; the count stands without it
        return []


# --- GX results → RuleResult -----------------------------------------------------------------

def _describe(kind: str, kw: dict) -> str:
    col = kw.get("column")
    if kind == "ExpectTableColumnsToMatchSet":
        return "columns are exactly the allowed set"
    if kind == "ExpectColumnValuesToBeInSet":
        return f"{col} lies in its domain"
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"{col} is never null"
    if kind == "ExpectColumnValuesToBeUnique":
        return f"{col} is unique"
    if kind == "ExpectCompoundColumnsToBeUnique":
        return f"({', '.join(kw.get('column_list', []))}) is unique"
    if kind == "ExpectColumnValuesToBeBetween":
        return f"{col} lies between {kw.get('min_value')} and {kw.get('max_value')}"
    if kind == "UnexpectedRowsExpectation":
        return kw.get("description") or "no row matches the query"
    return kind


def _exception(r) -> str | None:
    info = r.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return str(v.get("exception_message"))
    return None


def _to_rule_result(suite: Suite, r) -> RuleResult:
    cfg = r.expectation_config
    meta = cfg.meta or {}
    kind = meta.get("kind", cfg.type)
    kw = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
    if getattr(cfg, "description", None):
        kw.setdefault("description", cfg.description)
    rule = meta.get("rule", "unknown")
    what = _describe(kind, kw)
    res = r.result or {}
    details = {"expectation": cfg.type, "table": suite.table}
    err = _exception(r)
    if err is not None:
        return RuleResult(rule, suite.table, False,
                          f"{suite.table}: GX could not check that {what}: {err.splitlines()[0]}",
                          count=1, details=details)
    checked = res.get("element_count")
    examples: list = []
    if kind == "ExpectTableColumnsToMatchSet":
        mism = (res.get("details") or {}).get("mismatched") or {}
        extra, missing = list(mism.get("unexpected", [])), list(mism.get("missing", []))
        count = len(extra) + len(missing)
        examples = [f"landed column not allowed: {c}" for c in extra] + \
                   [f"allowed column missing: {c}" for c in missing]
        details.update(unexpected_columns=extra, missing_columns=missing)
        bad = (f"{suite.table} has columns outside the allowed set: {', '.join(extra) or '-'}"
               f" (missing: {', '.join(missing) or '-'}). A column outside transforms/"
               "pseudonymise.RAW_COLUMNS can hold a direct identifier: nothing may be published "
               "until it is removed from the warehouse")
    elif kind == "UnexpectedRowsExpectation":
        count = int(res.get("observed_value") or 0)
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        for row in rows[:MAX_EXAMPLES]:
            if isinstance(row, dict):
                examples.append(", ".join(f"{k}={v}" for k, v in row.items()))
            else:
                examples.append(", ".join(str(v) for v in row))
        bad = f"{count} rows of {suite.table} break the rule: {what.rstrip('.')}"
    else:
        count = int(res.get("unexpected_count") or 0)
        seen = []
        for v in res.get("partial_unexpected_list") or []:
            if v not in seen:
                seen.append(v)
        examples = [", ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict)
                    else f"{kw.get('column')}={v}" for v in seen]
        bad = f"{count} of {checked} rows of {suite.table} break: {what}"
        if kind == "ExpectColumnValuesToBeInSet":
            details["domain"] = list(kw.get("value_set") or [])[:50]
    if r.success:
        return RuleResult(rule, suite.table, True, f"{suite.table}: {what.rstrip('.')}.",
                          checked=checked,
                          details=details)
    return RuleResult(rule, suite.table, False, bad + ".", count=max(count, 1), checked=checked,
                      examples=examples[:MAX_EXAMPLES], details=details)
