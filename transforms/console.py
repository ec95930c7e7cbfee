"""The analysts' SQL console: ``lpstat sql`` and ``lpstat releases`` over
``<home>/analyse.duckdb`` (:mod:`transforms.analyse`: views over the published release files,
see docs/analysts.md).

It reads the release files only, never the store, the warehouse or the pseudonym key; it
(re)builds analyse.duckdb first when that is missing or behind the releases. It checks that a
query is one query, runs it, and writes the answer as a table (rich), CSV, JSON or Parquet.
What cannot be done raises :class:`Refused` (:class:`Empty`, :class:`Usage`, :class:`Failed`),
whose message says what to do instead; the command line turns them into exit codes
(pipelines/cli.py).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


def _err(msg: str) -> None:
    print(f"lpstat: {msg}", file=sys.stderr)



#: statement kinds `lpstat sql` runs: queries only (no COPY, ATTACH, SET, INSTALL, ...)
_QUERY_KINDS = ("SELECT", "EXPLAIN", "PRAGMA", "CALL", "MULTI")


class Refused(Exception):
    """The console cannot do what was asked; the message says what to do instead."""


class Empty(Refused):
    """Nothing to show: no releases yet, or an unknown release."""


class Usage(Refused):
    """Not one read-only query, or a query that does not parse or run."""


class Failed(Refused):
    """analyse.duckdb is missing and cannot be built here."""


@dataclass(frozen=True)
class Output:
    """Where an answer goes: ``csv``/``json`` a file or ``-`` (stdout), ``parquet`` a file;
    none of them: a table of at most ``max_rows`` rows (-1: all) on stdout."""

    csv: str | None = None
    json: str | None = None
    parquet: str | None = None
    max_rows: int = 1000


def analyst_home() -> Path:
    """LPSTAT_HOME as every command reads it; the analysts' commands need no store or key."""
    from transforms.settings import load_settings

    env = {k: v for k, v in os.environ.items()
           if k not in ("LPSTAT_SOURCE_URL", "LPSTAT_PSEUDONYM_KEY")}
    return load_settings(env).home


def open_analysis(home: Path):
    """A read-only connection to <home>/analyse.duckdb, (re)built first when it is missing,
    older than a release (releases built before it existed, or by an older lpstat) or holds
    the views of an older lpstat."""
    from transforms.analyse import (analysis_db_path, build_analysis_db, complete_releases,
                                    connect_readonly, views_current)

    releases = complete_releases(home / "releases")
    if not releases:
        raise Empty(f"no releases under {home / 'releases'} yet. Build one with "
                    "'lpstat demo --scale small' or 'lpstat run --release YYYY-MM', or set "
                    "LPSTAT_HOME to the folder that holds them.")
    db = analysis_db_path(home)
    newest = max((home / "releases" / r / "manifest.json").stat().st_mtime for r in releases)
    stale = not db.exists() or db.stat().st_mtime < newest
    if not stale:
        con = connect_readonly(home)
        try:
            known = releases_in(con) if views_current(con) else None
        except Exception:
            known = None
        if known == releases:
            return con
        con.close()
    try:
        build_analysis_db(home)
    except Exception as exc:  # an unwritable home, a damaged release file
        if not db.exists():
            raise Failed(f"cannot build {db}: {_first_line(exc)}. Whoever builds the "
                         "releases can rebuild it with 'lpstat run'.") from exc
        _err(f"warning: {db} is out of date and cannot be rebuilt here: {_first_line(exc)}")
    return connect_readonly(home)


def releases_in(con) -> list[str]:
    """The releases whose manifests the ``releases`` view reads, as DuckDB's own parser
    reads the view (reading the manifests and audits themselves would cost a parse of every
    audit.json): the texts in its parse tree that are paths ``…/<YYYY-MM>/manifest.json``."""
    import json

    from transforms.calendar import is_release

    rows = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal "
                       "AND view_name = 'releases'").fetchall()
    if not rows:
        return []
    # DuckDB keeps a view as "CREATE VIEW <name> AS <query>;": its parser takes the query
    query = rows[0][0].split(" AS ", 1)[1].rstrip().rstrip(";")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()[0][0])
    if tree.get("error"):
        raise ValueError(f"the releases view does not parse: {tree.get('error_message')}")
    found = set()
    for text in _texts(tree):
        folder, _, name = text.rpartition("/")
        release = folder.rpartition("/")[2]
        if name == "manifest.json" and is_release(release):
            found.add(release)
    return sorted(found)


def _texts(node):
    """Every text in a parse tree (``json_serialize_sql``): string constants among them."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from _texts(v)


def check_query(con, sql: str) -> None:
    """One read-only query, or :class:`Usage`."""
    try:
        statements = con.extract_statements(sql)
    except Exception as exc:
        raise Usage(f"the SQL does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise Usage(f"give exactly one query (got {len(statements)} statements).")
    kind = statements[0].type.name
    if kind not in _QUERY_KINDS:
        raise Usage(f"only queries run here (SELECT, WITH, FROM, SHOW, DESCRIBE, SUMMARIZE, "
                    f"PIVOT, EXPLAIN), not {kind}: analyse.duckdb is read-only and reaches "
                    "only the release files. To save a result use --csv FILE, --json FILE "
                    "or --parquet FILE.")


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
        raise Usage(f"the query failed: {text.splitlines()[0]}{hint}") from exc


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


def write_result(con, sql: str, out: Output, params: list | None = None, *, table=None) -> int:
    """Run the query and write its answer where ``out`` says (CSV, JSON, Parquet), else as a rich
    table (``table(result, max_rows)`` when given, else :func:`_print_table`); returns the
    number of rows."""
    import csv
    import json

    if out.parquet:
        import pyarrow.parquet as pq

        arrow = _query(con, sql, params, arrow=True)
        pq.write_table(arrow, out.parquet)
        _err(f"wrote {arrow.num_rows:,} rows to {out.parquet}")
        return arrow.num_rows
    result = _query(con, sql, params)
    if out.csv:
        f, close = _open_out(out.csv)
        try:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(result.columns)
            for row in _records(result):
                w.writerow([_text(v) for v in row.values()])
        finally:
            if close:
                f.close()
    elif out.json:
        f, close = _open_out(out.json)
        try:
            json.dump(_records(result), f, ensure_ascii=False, indent=1)
            f.write("\n")
        finally:
            if close:
                f.close()
    else:
        (table or _print_table)(result, out.max_rows)
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


def run_sql(sql: str, out: Output) -> int:
    """``lpstat sql``: run one read-only query over every release; the number of rows."""
    if not sql.strip():
        raise Usage("give a query, e.g. lpstat sql \"SELECT * FROM releases\"")
    con = open_analysis(analyst_home())
    try:
        check_query(con, sql)
        return write_result(con, sql, out)
    finally:
        con.close()


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


def show_releases(release: str | None, files: bool, out: Output) -> None:
    """``lpstat releases``: every release, or one release's cubes (``files``: its files)."""
    home = analyst_home()
    con = open_analysis(home)
    try:
        if release is None:
            write_result(con, _RELEASES_SQL, out, table=_print_releases)
            return
        known = releases_in(con)
        if release not in known:
            raise Empty(f"no release {release} under {home / 'releases'}. Published "
                        f"releases: {', '.join(known)}. Build it with: lpstat run "
                        f"--release {release}")
        if files:
            write_result(con, "SELECT fil, sha256 FROM release_files WHERE udgivelse = ? "
                         "ORDER BY fil", out, [release])
            return
        if not (out.csv or out.json or out.parquet):
            head = con.execute("SELECT skaeringstidspunkt, revisionsverdikt, kodeversion, "
                               "seneste FROM releases WHERE udgivelse = ?",
                               [release]).fetchall()[0]
            print(f"release {release}: cut-off {head[0]}, audit {head[1]}, "
                  f"code {head[2]}{', latest' if head[3] else ''}")
        write_result(con, _RELEASE_CUBES_SQL, out, [release])
    finally:
        con.close()

