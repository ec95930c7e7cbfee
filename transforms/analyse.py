"""``<home>/analyse.duckdb``: SQL over every published release, for analysts.

The file holds views only (no data, no ATTACH, no secret): each view reads the published
release files (``cells.parquet``, ``manifest.json``, ``audit.json``, ``revisions.csv``) by
their path relative to the home, ``releases/<YYYY-MM>/…``, so a copied or moved home keeps
working. What an analyst can see is therefore
exactly what was released: withheld cells are NULL with status ``diskretioneret``, and the
warehouse (``<home>/warehouse.duckdb``, pseudonymised microdata, owner-only) is never named.

It is rebuilt after every release (``transforms.publish.release.publish_release``) and by
``lpstat sql`` / ``lpstat releases`` when missing: written to a temporary file beside it and
moved into place with ``os.replace``, so a reader never sees a half-built file. The model is
documented in ``docs/analysts.md``.

Views (one set per cube ``<u>`` = ``afslaars``, ``frafvurd``, ``frafafbrud``):

- ``<u>``: long form, one row per cell and measure: ``udgivelse``, ``gruppering``,
  (``statusdato`` for stock cubes), every attribute caption column, ``noegletal`` (the
  measure caption), ``enhed`` (``antal`` | ``andel``), ``vaerdi`` (DOUBLE, NULL if withheld
  or empty; shares as fractions 0..1), ``status`` (the cell's status as released).
- ``<u>_celler``: ``cells.parquet`` as released (wide: one column per measure) + ``udgivelse``.
- ``releases``, ``release_files``, ``release_cubes``, ``informationstab``, ``revisions``,
  ``grupperinger``, ``noegletal``.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from transforms.calendar import PATTERN, is_release
from transforms.catalog import ATTRIBUTES, CUBES, Cube
from transforms.catalog import sql_ident as _ident
from transforms.publish import layout

ANALYSIS_DB = "analyse.duckdb"

#: the generation of the views, noted as the comment of the ``releases`` view: a file whose
#: views are of another generation (built by an older lpstat: fewer views or columns) is
#: rebuilt before ``lpstat sql``/``lpstat releases`` use it. Raise it when a view changes.
VIEWS_GENERATION = "lpstat analyse.duckdb views 3"

#: JSON files can be large (audit.json lists every withheld cell): let DuckDB read them whole.
_MAX_JSON = 1 << 30


def complete_releases(releases_dir: Path) -> list[str]:
    """Release months whose current version is complete, oldest first
    (``transforms.publish.layout``, light to import: ``lpstat sql`` starts without pandas)."""
    return layout.complete_releases(releases_dir)


def analysis_db_path(home: Path) -> Path:
    return Path(home).resolve() / ANALYSIS_DB


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _paths(files: list[Path]) -> str:
    """The files as a SQL list, each relative to the home (``releases/<YYYY-MM>/…``): the views
    hold no absolute path, so a copied or moved home keeps working (the connections resolve
    them with ``file_search_path`` = the home)."""
    return "[" + ", ".join(_lit(_under_home(p)) for p in files) + "]"


def _under_home(p: Path) -> str:
    parts = p.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "releases" and is_release(parts[i + 1]):
            return Path(*parts[i:]).as_posix()
    raise ValueError(f"not a release file: {p}")


def _search_home(con: duckdb.DuckDBPyConnection, home: Path) -> None:
    """Relative paths in the views are relative to ``home``."""
    con.execute("SET file_search_path = ?", [str(Path(home).resolve())])


#: the release a file belongs to: the YYYY-MM folder right under releases/
def _release_of(files_column: str, tail: str) -> str:
    return f"regexp_extract({files_column}, '/({PATTERN})/{tail}$', 1)"


def _cells_view(cube: Cube, files: list[Path]) -> str:
    """``<u>_celler``: the cube's cells.parquet of every release, typed from the catalogue."""
    stock = cube.kind == "stock"
    cols = ["gruppering"] + (["statusdato"] if stock else []) + cube.columns
    types = {"gruppering": "VARCHAR", "statusdato": "DATE",
             **{c: "VARCHAR" for c in cube.columns},
             **{m.column: ("DOUBLE" if m.kind == "share" else "BIGINT") for m in cube.measures},
             "status": "VARCHAR"}
    cols += [m.column for m in cube.measures] + ["status"]
    if not files:  # no release yet: the same columns, no rows
        body = ", ".join(f"CAST(NULL AS {types[c]}) AS {_ident(c)}" for c in cols)
        return f"SELECT CAST(NULL AS VARCHAR) AS udgivelse, {body} WHERE false"
    body = ", ".join(f"CAST({_ident(c)} AS {types[c]}) AS {_ident(c)}" for c in cols)
    release = _release_of("filename", rf"{cube.id}/cells\.parquet")
    return (f"SELECT {release} AS udgivelse, {body} "
            f"FROM read_parquet({_paths(files)}, filename = true, union_by_name = true)")


def _long_view(cube: Cube) -> str:
    """``<u>``: one row per cell and measure."""
    stock = cube.kind == "stock"
    keep = ["udgivelse", "gruppering"] + (["statusdato"] if stock else []) + cube.columns
    structs = ", ".join(
        f"{{'noegletal': {_lit(m.caption)}, "
        f"'enhed': {_lit('andel' if m.kind == 'share' else 'antal')}, "
        f"'vaerdi': CAST({_ident(m.column)} AS DOUBLE)}}" for m in cube.measures)
    cols = ", ".join(_ident(c) for c in keep)
    return (f"SELECT {cols}, m.noegletal AS noegletal, m.enhed AS enhed, m.vaerdi AS vaerdi, "
            f"status FROM (SELECT *, unnest([{structs}]) AS m "
            f"FROM {cube.underemne.lower()}_celler)")


def _releases_view(releases_dir: Path, releases: list[str]) -> str:
    if not releases:
        return ("SELECT CAST(NULL AS VARCHAR) AS udgivelse, CAST(NULL AS VARCHAR) AS "
                "skaeringstidspunkt, CAST(NULL AS VARCHAR) AS revisionsverdikt, "
                "CAST(NULL AS BIGINT) AS tilbageholdte_celler, CAST(NULL AS VARCHAR) AS "
                "kodeversion, CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS filer, "
                "CAST(NULL AS JSON) AS kilder, CAST(NULL AS JSON) AS informationstab, "
                "CAST(NULL AS BOOLEAN) AS seneste WHERE false")
    manifests = [releases_dir / r / "manifest.json" for r in releases]
    audits = [releases_dir / r / "audit.json" for r in releases
              if (releases_dir / r / "audit.json").exists()]
    # the release is the folder's name, as in every other view (the manifest repeats it)
    release = _release_of("filename", r"manifest\.json")
    manifest = (
        f"SELECT {release} AS udgivelse, skaeringstidspunkt, "
        "kodeversion, filer, sources AS kilder "
        f"FROM read_json({_paths(manifests)}, format = 'auto', filename = true, "
        f"maximum_object_size = {_MAX_JSON}, "
        "columns = {skaeringstidspunkt: 'VARCHAR', kodeversion: 'VARCHAR', "
        "filer: 'MAP(VARCHAR, VARCHAR)', sources: 'JSON'})")
    if audits:
        per_cube = ", ".join(f"{u} STRUCT(withheld BIGINT, informationstab JSON)" for u in CUBES)
        release = _release_of("filename", r"audit\.json")
        withheld = " + ".join(f"coalesce(cubes.{u}.withheld, 0)" for u in CUBES)
        # per cube the audit's informationstab block as it is; NULL for a release audited
        # before the block existed
        loss = (f"CASE WHEN {' OR '.join(f'cubes.{u}.informationstab IS NOT NULL' for u in CUBES)} "
                "THEN CAST(json_object("
                + ", ".join(f"{_lit(u)}, cubes.{u}.informationstab" for u in CUBES)
                + ") AS JSON) END")
        audit = (
            f"SELECT {release} AS udgivelse, verdict, {withheld} AS tilbageholdte_celler, "
            f"{loss} AS informationstab "
            f"FROM read_json({_paths(audits)}, format = 'auto', filename = true, "
            f"maximum_object_size = {_MAX_JSON}, "
            f"columns = {{verdict: 'VARCHAR', cubes: 'STRUCT({per_cube})'}})")
    else:
        audit = ("SELECT CAST(NULL AS VARCHAR) AS udgivelse, CAST(NULL AS VARCHAR) AS verdict, "
                 "CAST(NULL AS BIGINT) AS tilbageholdte_celler, "
                 "CAST(NULL AS JSON) AS informationstab WHERE false")
    latest = releases[-1]
    return (f"SELECT m.udgivelse, m.skaeringstidspunkt, a.verdict AS revisionsverdikt, "
            f"a.tilbageholdte_celler, m.kodeversion, m.filer, m.kilder, a.informationstab, "
            f"m.udgivelse = {_lit(latest)} AS seneste "
            f"FROM ({manifest}) AS m LEFT JOIN ({audit}) AS a USING (udgivelse)")


#: the figures of a published ``informationstab`` block (``transforms/infoloss.py``: per cube
#: the cells and the withheld cells; the value-based figures stay in the warehouse)
INFORMATION_LOSS_COLUMNS = (("celler", "BIGINT"), ("diskretionerede", "BIGINT"))


def _information_loss_view() -> str:
    """``informationstab``: the audit's information-loss figures, one row per release × cube
    for the cube as a whole (``visning`` NULL) and one per release × cube × published view
    (``visning`` = the view's name, as its CSV file is named). Only releases whose audit has
    the block have rows."""
    def figures(block: str) -> str:
        return ", ".join(
            f"CAST(json_extract_string({block}, {_lit('$.' + c)}) AS {t}) AS {c}"
            for c, t in INFORMATION_LOSS_COLUMNS)

    parts = []
    for u in CUBES:
        cube = f"json_extract(informationstab, {_lit('$.' + u)})"
        whole = f"json_extract({cube}, '$.terning')"
        views = f"json_extract({cube}, '$.visninger')"
        parts.append(
            f"SELECT udgivelse, {_lit(u)} AS kube, CAST(NULL AS VARCHAR) AS visning, "
            f"{figures(whole)} FROM releases WHERE {whole} IS NOT NULL")
        parts.append(
            f"SELECT udgivelse, {_lit(u)} AS kube, json_extract_string(v, '$.navn') AS visning, "
            f"{figures('v')} FROM (SELECT udgivelse, "
            f"unnest(map_values(CAST({views} AS MAP(VARCHAR, JSON)))) AS v "
            f"FROM releases WHERE {views} IS NOT NULL)")
    return " UNION ALL ".join(parts)


def _release_cubes_view() -> str:
    parts = []
    for u, cube in CUBES.items():
        parts.append(
            f"SELECT udgivelse, {_lit(u)} AS kube, count(*) AS celler, "
            "count(*) FILTER (WHERE status = 'publiceret') AS publicerede, "
            "count(*) FILTER (WHERE status = 'diskretioneret') AS diskretionerede "
            f"FROM {u.lower()}_celler GROUP BY udgivelse")
    return " UNION ALL ".join(parts)


REVISION_COLUMNS = (
    ("kube", "VARCHAR"), ("gruppering", "VARCHAR"), ("statusdato", "VARCHAR"),
    ("celle", "VARCHAR"), ("noegletal", "VARCHAR"), ("forrige_vaerdi", "VARCHAR"),
    ("ny_vaerdi", "VARCHAR"), ("forrige_status", "VARCHAR"), ("ny_status", "VARCHAR"),
    ("art", "VARCHAR"),
)


def _revisions_view(releases_dir: Path, releases: list[str]) -> str:
    files = [releases_dir / r / "revisions.csv" for r in releases
             if (releases_dir / r / "revisions.csv").exists()]
    out_cols = ("udgivelse VARCHAR, forrige_udgivelse VARCHAR, kube VARCHAR, gruppering VARCHAR, "
                "statusdato DATE, celle VARCHAR, noegletal VARCHAR, forrige_vaerdi DOUBLE, "
                "ny_vaerdi DOUBLE, forrige_status VARCHAR, ny_status VARCHAR, art VARCHAR")
    if not files:
        return "SELECT " + ", ".join(
            f"CAST(NULL AS {c.split()[1]}) AS {c.split()[0]}" for c in out_cols.split(", ")
        ) + " WHERE false"
    columns = "{" + ", ".join(f"{_lit(n)}: {_lit(t)}" for n, t in REVISION_COLUMNS) + "}"
    # which release each one was compared with: the complete release before it
    previous = " UNION ALL ".join(
        f"SELECT {_lit(r)} AS udgivelse, {_lit(p) if p else 'CAST(NULL AS VARCHAR)'} AS forrige"
        for p, r in zip([None, *releases[:-1]], releases))
    release = _release_of("filename", r"revisions\.csv")
    return (
        f"SELECT r.udgivelse, p.forrige AS forrige_udgivelse, kube, coalesce(gruppering, '') "
        "AS gruppering, "
        "CAST(nullif(statusdato, '') AS DATE) AS statusdato, celle, noegletal, "
        "CAST(nullif(forrige_vaerdi, '') AS DOUBLE) AS forrige_vaerdi, "
        "CAST(nullif(ny_vaerdi, '') AS DOUBLE) AS ny_vaerdi, forrige_status, ny_status, art "
        f"FROM (SELECT {release} AS udgivelse, * EXCLUDE (filename) "
        f"FROM read_csv({_paths(files)}, delim = ';', header = true, quote = '\"', "
        f"columns = {columns}, filename = true, encoding = 'utf-8')) AS r "
        f"LEFT JOIN ({previous}) AS p USING (udgivelse)")


def _groupings_view() -> str:
    rows = []
    for u, cube in CUBES.items():
        for key, view_ids in cube.groupings.items():
            attrs = key.split("|") if key else []
            names = [v.name for v in cube.views if v.id in view_ids]
            rows.append(
                f"({_lit(u)}, {_lit(key)}, {len(attrs)}, "
                f"[{', '.join(_lit(a) for a in attrs)}]::VARCHAR[], "
                f"[{', '.join(_lit(ATTRIBUTES[a].column) for a in attrs)}]::VARCHAR[], "
                f"[{', '.join(_lit(n) for n in names)}]::VARCHAR[])")
    return ("SELECT * FROM (VALUES " + ", ".join(rows) + ") AS g(kube, gruppering, "
            "antal_detaljer, detaljer, kolonner, visninger)")


def _measures_view() -> str:
    rows = []
    for u, cube in CUBES.items():
        for m in cube.measures:
            rows.append(f"({_lit(u)}, {_lit(m.caption)}, {_lit(m.column)}, "
                        f"{_lit('andel' if m.kind == 'share' else 'antal')}, "
                        f"{_lit(cube.definitions.get(m.caption, ''))})")
    return ("SELECT * FROM (VALUES " + ", ".join(rows) + ") AS n(kube, noegletal, kolonne, "
            "enhed, definition)")


def view_definitions(home: Path) -> dict[str, str]:
    """Every view of analyse.duckdb: name → SELECT, over the complete releases under home."""
    releases_dir = Path(home).resolve() / "releases"
    releases = complete_releases(releases_dir)
    views: dict[str, str] = {}
    for u, cube in CUBES.items():
        files = [releases_dir / r / cube.id / "cells.parquet" for r in releases
                 if (releases_dir / r / cube.id / "cells.parquet").exists()]
        views[f"{u.lower()}_celler"] = _cells_view(cube, files)
        views[u.lower()] = _long_view(cube)
    views["releases"] = _releases_view(releases_dir, releases)
    views["release_files"] = ("SELECT udgivelse, e.key AS fil, e.value AS sha256 FROM "
                              "(SELECT udgivelse, unnest(map_entries(filer)) AS e FROM releases)")
    views["release_cubes"] = _release_cubes_view()
    views["informationstab"] = _information_loss_view()
    views["revisions"] = _revisions_view(releases_dir, releases)
    views["grupperinger"] = _groupings_view()
    views["noegletal"] = _measures_view()
    return views


def build_analysis_db(home: Path) -> Path:
    """(Re)build ``<home>/analyse.duckdb`` over every complete release; returns its path.

    Every view is bound (its files' schemas read) before the file is moved into place, so a
    broken release file fails here, not in an analyst's query.
    """
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    final = home / ANALYSIS_DB
    tmp = home / f".{ANALYSIS_DB}.{os.getpid()}.tmp"
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            _search_home(con, home)
            for name, select in view_definitions(home).items():
                con.execute(f"CREATE VIEW {_ident(name)} AS {select}")
            con.execute(f"COMMENT ON VIEW releases IS {_lit(VIEWS_GENERATION)}")
            for name in view_definitions_names(con):
                con.execute(f"DESCRIBE SELECT * FROM {_ident(name)}").fetchall()
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
    return final


def views_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open analyse.duckdb has this lpstat's views (:data:`VIEWS_GENERATION`)."""
    rows = con.execute("SELECT comment FROM duckdb_views() WHERE NOT internal "
                       "AND view_name = 'releases'").fetchall()
    return bool(rows) and rows[0][0] == VIEWS_GENERATION


def view_definitions_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name").fetchall()]


def connect_readonly(home: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to analyse.duckdb that can read the release files and nothing
    else: no other file (the warehouse included) can be opened, attached or written, and
    the setting cannot be changed from SQL."""
    home = Path(home).resolve()
    releases = (home / "releases").resolve()
    con = duckdb.connect(str(home / ANALYSIS_DB), read_only=True, config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    _search_home(con, home)
    # the views' relative paths (releases/…, found through file_search_path) and the same
    # folder by its absolute path: nothing else
    con.execute("SET allowed_directories = ?", [[str(releases) + "/", "releases/"]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
