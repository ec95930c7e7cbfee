"""Publish a release folder atomically and deterministically (contract section 4).

:func:`publish_release` publishes a release from the warehouse (the published cells and the
audit that disclosure control left there) through :func:`write_release`. Everything is
written into a fresh temporary folder beside the releases and flushed to disk; only then is
it renamed to ``versions/<YYYY-MM>.<n>`` and the month's name and ``latest`` switched to it,
each by one atomic symlink replacement (layout: ``transforms.publish.layout``). A published
version is never rewritten, and a crash at any instant leaves every published release and
``latest`` naming complete folders; what a crashed writer left behind is removed (or, for a
replaced release, kept on record) at the start of the next write. No wall-clock time, host
name or random value goes into a file, rows are in a fixed order and compression settings
are fixed, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.calendar import PATTERN, period_span
from transforms.catalog import ATTRIBUTES, CUBES, Cube
from transforms.forked import ForkedCall
from transforms.publish import layout
from transforms.publish.layout import sha256_file  # noqa: F401  (the manifest's checksums)

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 9, "use_dictionary": True,
                   "write_statistics": True, "version": "2.6"}


@dataclass
class CubeRelease:
    cube: Cube
    published: pd.DataFrame  # cells.parquet content, sorted


def arrow_cells(cube: Cube, published: pd.DataFrame) -> pa.Table:
    fields = [pa.field("gruppering", pa.string())]
    if cube.kind == "stock":
        fields.append(pa.field("statusdato", pa.date32()))
    fields += [pa.field(c, pa.string()) for c in cube.columns]
    for m in cube.measures:
        fields.append(pa.field(m.column, pa.float64() if m.kind == "share" else pa.int64()))
    fields.append(pa.field("status", pa.string()))
    schema = pa.schema(fields)
    return pa.Table.from_pandas(published[schema.names], schema=schema, preserve_index=False)


def skema(release: str, members_by_cube: dict[str, dict[str, list[str]]]) -> dict:
    """The catalogue tree as /Api/v1/skema serves it, with members (publish/README.md)."""
    omr: dict[str, dict] = {}
    for cube in CUBES.values():
        o = omr.setdefault(cube.omraade[0], {"ID": cube.omraade[0], "Name": cube.omraade[1],
                                              "emner": {}})
        e = o["emner"].setdefault(cube.emne[0], {"ID": cube.emne[0], "Name": cube.emne[1],
                                                  "underemner": []})
        members = members_by_cube[cube.underemne]
        e["underemner"].append({
            "ID": cube.underemne,
            "Name": cube.caption,
            "mappe": cube.id,
            "type": cube.kind,
            "detaljer": [
                {"name": a, "count": len(members[a]),
                 "members": [{"ID": m, "Name": m} for m in members[a]]}
                for a in cube.attributes
            ],
            "nøgletal": [f"[Measures].[{m.caption}]" for m in cube.measures],
            "rapporter": [],
            "visninger": [{"id": v.id, "navn": v.name, "detaljer": list(v.attributes)}
                          for v in cube.views],
        })
    return {"udgivelse": release, "områder": [
        {**o, "emner": list(o["emner"].values())} for o in omr.values()]}


def members_from_cells(cube: Cube, cells: pd.DataFrame) -> dict[str, list[str]]:
    """Members per attribute, in publication order (the cells are sorted by member order)."""
    out = {}
    for a in cube.attributes:
        col = ATTRIBUTES[a].column
        vals = cells[col].dropna()
        if isinstance(vals.dtype, pd.StringDtype):  # iterated in bulk: the same str values
            vals = vals.to_numpy(dtype=object)
        if ATTRIBUTES[a].hierarchy == "Tid":
            out[a] = sorted(set(vals))
        else:
            out[a] = list(dict.fromkeys(vals))
    return out


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    for d in [root, *sorted(x for x in root.rglob("*") if x.is_dir())]:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def json_bytes(obj) -> bytes:
    """``obj`` as UTF-8 JSON indented by 2, with a final newline: the standard library's bytes.

    orjson writes them (the audit runs to megabytes) when it spells every token as the
    standard library does, checked on the compact forms (same tokens, and both indent alike);
    otherwise, e.g. a float like 1e-05 (orjson: 0.00001) or a non-string key, the standard
    library writes them.
    """
    try:
        compact = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if orjson.dumps(obj) == compact:
            return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except Exception:  # the standard library below gives the answer, or the error
        pass
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def revisions(previous_dir: Path | None, cubes: list[CubeRelease]) -> bytes:
    """Cells whose published value or status changed since the previous release.

    Compared on the cells both releases have (a new period is not listed). ``art`` tells a
    revision of a period the previous release already covered in full ('revision') from a
    period that was still running then and has grown since ('løbende periode').
    """
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(["kube", "gruppering", "statusdato", "celle", "nøgletal", "forrige_værdi",
                "ny_værdi", "forrige_status", "ny_status", "art"])
    if previous_dir is not None:
        prev_month = previous_dir.name
        for cr in cubes:
            prev_path = previous_dir / cr.cube.id / "cells.parquet"
            if not prev_path.exists():
                continue
            prev = pq.read_table(prev_path).to_pandas()
            cur = cr.published.reset_index(drop=True)
            stock = cr.cube.kind == "stock"
            keys = ["gruppering"] + (["statusdato"] if stock else []) + cr.cube.columns
            left = pd.DataFrame({f"k{i}": _key(cur[c]) for i, c in enumerate(keys)})
            right = pd.DataFrame({f"k{i}": _key(prev[c]) for i, c in enumerate(keys)})
            left["_cur"] = range(len(cur))
            right["_prev"] = range(len(prev))
            both = left.merge(right, on=[f"k{i}" for i in range(len(keys))], how="inner")
            ci, pi = both["_cur"].to_numpy(), both["_prev"].to_numpy()
            # a row's values as cur.iloc[i] holds them, converted once per column
            columns = cr.cube.columns
            shown = ["gruppering", *(["statusdato"] if stock else []), *columns, "status"]
            shown += [c for c in _PERIOD_COLUMNS if c in cur.columns and c not in shown]
            vals = {c: row_values(cur[c]) for c in shown}
            parts = {c: [None if m else f"{c}={v}" for v, m in zip(vals[c], _isna(vals[c]))]
                     for c in columns}
            prev_status = row_values(prev["status"])
            for m in cr.cube.measures:
                a = prev[m.column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)[pi]
                b = cur[m.column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)[ci]
                a_na, b_na = np.isnan(a), np.isnan(b)
                differ = (a_na != b_na) | (~a_na & ~b_na & (a != b))
                for j in differ.nonzero()[0].tolist():
                    i = int(ci[j])
                    row = {c: vals[c][i] for c in shown}
                    cell = " · ".join(p for p in (parts[c][i] for c in columns) if p is not None)
                    w.writerow([cr.cube.underemne, row["gruppering"],
                                row["statusdato"] if stock else "", cell, m.caption,
                                "" if a_na[j] else _num(a[j]), "" if b_na[j] else _num(b[j]),
                                prev_status[pi[j]], row["status"],
                                "revision" if _period_end(row) <= prev_month
                                else "løbende periode"])
    return out.getvalue().encode("utf-8-sig")


def row_values(col: pd.Series) -> list:
    """A column's values as the rows of its frame hold them (``frame.iloc[i][col]``, the
    array's own scalars: ``str``/NaN of a string column, the objects of an object column),
    converted in bulk where the dtype allows it."""
    if isinstance(col.dtype, pd.StringDtype):
        return col.to_numpy(dtype=object, na_value=col.dtype.na_value).tolist()
    if col.dtype == object:
        return col.to_numpy().tolist()
    return list(map(col.array.__getitem__, range(len(col))))


def _isna(values: list) -> np.ndarray:
    """``pd.isna`` of every value, in one call."""
    return pd.isna(np.fromiter(values, dtype=object, count=len(values)))


def _key(col: pd.Series) -> pd.Series:
    if isinstance(col.dtype, pd.StringDtype):  # str values (str(v) is v) or missing
        keys = col.to_numpy(dtype=object, na_value=None)
    else:
        values = col.to_numpy(dtype=object).tolist()
        keys = [None if m else str(v) for v, m in zip(values, _isna(values))]
    # fillna stores "" here, not "\x00" (numpy drops a trailing NUL): a missing value keys
    # like an empty caption, as it always has.
    return pd.Series(keys, dtype=object).fillna("\x00")


_PERIOD_COLUMNS = ("tid_maaned", "tid_kvartal", "tid_aar")


def _period_end(row) -> str:
    """The last month ('YYYY-MM') a cell's period covers; a cell without time never ends."""
    def caption(col):
        v = row.get(col)
        return v if isinstance(v, str) else None

    for col in _PERIOD_COLUMNS:  # the finest level the cell has
        if caption(col):
            return str(period_span(caption(col))[1])
    return "9999-99"


def _num(v) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def informationstab_by_cube(audit: dict) -> dict[str, dict]:
    """Per cube, the audit's ``informationstab`` block (``transforms/infoloss.py``): what the
    report's method section shows of it. Cubes audited before the block existed have none."""
    return {u: c["informationstab"] for u, c in (audit.get("cubes") or {}).items()
            if isinstance(c, dict) and c.get("informationstab")}


def publish_release(con, releases_dir: Path, release: str, extra: dict,
                    writers: SimpleNamespace | None = None) -> Path:
    """Publish a release from the warehouse: the published cells (``pub_<x>``) and the audit
    (``release_audit``) that disclosure control left there (``transforms.disclosure.protect``),
    written by :func:`write_release`; then the analysts' views over every release. Refuses
    a release that has not passed its audit. ``writers``: the format writers (default
    :func:`format_writers`)."""
    from transforms.calendar import Release
    from transforms.disclosure.verdict import Verdict
    from transforms.warehouse import read_partition, source_counts

    rows = con.execute("SELECT audit FROM release_audit WHERE udgivelse = ?", [release]).fetchall()
    row = rows[0] if rows else None
    if row is None:
        raise LookupError(f"Release {release} has not been through disclosure control.")
    audit = json.loads(row[0])
    if not Verdict.of(audit).passed:
        raise RuntimeError(f"The disclosure audit of {release} failed; nothing is published.")
    cubes = [CubeRelease(c, read_partition(con, f"pub_{u.lower()}", release))
             for u, c in CUBES.items()]
    manifest_extra = {
        "kildevandmaerker": watermarks(con),
        "kodeversion": _code_version(),
        **extra,
        "revisionskontrol": {"verdict": audit["verdict"]},
        "sources": source_counts(con),
    }
    cutoff = Release.parse(release).cutoff
    folder = write_release(releases_dir, release, cutoff, cubes, manifest_extra, audit,
                           writers or format_writers(), previous_release(releases_dir, release))
    from transforms.analyse import build_analysis_db  # analysts' SQL views over every release

    build_analysis_db(releases_dir.parent)
    return folder


def format_writers() -> SimpleNamespace:
    """The writers of the release's formats: CSV and Excel per cube, the report, DCAT."""
    from transforms.publish import dcat, report, tables

    return SimpleNamespace(write_view_csv=tables.write_view_csv, write_xlsx=tables.write_xlsx,
                           write_report=report.write_report, write_dcat=dcat.write_dcat)


def watermarks(con) -> dict[str, str | None]:
    """The newest source instant seen per incremental table (deterministic for a store)."""
    out = {}
    for table, col in (("afslag", "registreret"), ("frafaldsvurdering", "registreret"),
                       ("uddannelsesaftale", "aendret")):
        v = con.execute(f"SELECT max({col}) FROM stg_laerepladsen__{table}").fetchall()[0][0]
        out[table] = v.isoformat() if v is not None else None
    return out


def _code_version() -> str:
    try:
        return version("lpstat")
    except PackageNotFoundError:
        return "0+unknown"


def write_release(releases_dir: Path, release: str, cutoff: datetime, cubes: list[CubeRelease],
                  manifest_extra: dict, audit: dict, writers, previous_dir: Path | None) -> Path:
    """Build the release in a fresh temporary folder, then publish it as a new version.

    ``writers`` is the object holding the format writers (tables, dcat, report), so this
    function owns only the atomic, deterministic frame around them; :func:`publish_folder`
    owns the switch (layout in :mod:`transforms.publish.layout`).
    """
    releases_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(releases_dir)
    tmp = releases_dir / f".tmp-{release}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    xlsx = None
    try:
        members = {}
        files_by_cube: dict[str, list[tuple[str, str, int]]] = {}
        for cr in cubes:
            (tmp / cr.cube.id).mkdir()
        # The Excel workbooks (pure-Python writing, half of this step) are written by a
        # forked process while this one writes the rest; it is waited for before anything
        # is listed, hashed or published.
        xlsx = ForkedCall(_write_workbooks, writers,
                          [(tmp / cr.cube.id / "tabeller.xlsx", cr.cube, cr.published)
                           for cr in cubes], release, cutoff)
        for cr in cubes:
            d = tmp / cr.cube.id
            pq.write_table(arrow_cells(cr.cube, cr.published), d / "cells.parquet", **PARQUET_OPTIONS)
            for view in cr.cube.views:
                writers.write_view_csv(d / f"{view.name}.csv", cr.cube, view, cr.published)
            members[cr.cube.underemne] = members_from_cells(cr.cube, cr.published)
        (tmp / "skema.json").write_bytes(json_bytes(skema(release, members)))
        (tmp / layout.AUDIT).write_bytes(json_bytes(audit))
        (tmp / "revisions.csv").write_bytes(revisions(previous_dir, cubes))
        previous = None
        if previous_dir is not None:
            previous = {"release": previous_dir.name, "cubes": {
                cr.cube.underemne: pq.read_table(previous_dir / cr.cube.id / "cells.parquet")
                .to_pandas() for cr in cubes
                if (previous_dir / cr.cube.id / "cells.parquet").exists()}}
        writers.write_report(tmp / "rapport.html", release, cutoff,
                             {cr.cube.underemne: cr.published for cr in cubes}, previous,
                             informationstab=informationstab_by_cube(audit))
        xlsx.wait()
        for cr in cubes:
            files_by_cube[cr.cube.id] = [
                (p.relative_to(tmp).as_posix(), _media_type(p), p.stat().st_size)
                for p in sorted((tmp / cr.cube.id).iterdir())]
        writers.write_dcat(tmp / "dcat.rdf", release, cutoff, files_by_cube,
                           {c.id: c.first_period for c in CUBES.values()})
        manifest = {
            "udgivelse": release,
            "skaeringstidspunkt": cutoff.isoformat(),
            **manifest_extra,
            "filer": {p.relative_to(tmp).as_posix(): sha256_file(p)
                      for p in sorted(tmp.rglob("*")) if p.is_file()},
        }
        (tmp / layout.MANIFEST).write_bytes(json_bytes(manifest))
        _fsync_tree(tmp)
        return publish_folder(releases_dir, release, tmp)
    except BaseException:
        if xlsx is not None:
            xlsx.cancel()  # before the folder goes: it must not write into a removed one
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_workbooks(writers, books: list, release: str, cutoff: datetime) -> None:
    for path, cube, published in books:
        writers.write_xlsx(path, cube, published, release, cutoff)


def publish_folder(releases_dir: Path, release: str, tmp: Path) -> Path:
    """Publish the complete, flushed folder ``tmp`` as the month's newest version.

    The folder is renamed to ``versions/<YYYY-MM>.<n+1>``; then the month's name and
    ``latest`` each move by one atomic symlink replacement, so at every instant both name a
    complete release. A legacy real folder ``<YYYY-MM>`` is swapped with the new symlink in
    one ``renameat2(RENAME_EXCHANGE)`` and then kept as ``versions/<YYYY-MM>.0``. When
    ``tmp`` publishes nothing the month's current version does not (the same data files,
    and an ``audit.json`` that says the same of the same cells: :func:`_same_release`), no
    version is added. Returns ``releases/<YYYY-MM>``.
    """
    final = releases_dir / release
    current = layout.release_path(releases_dir, release)
    if current is not None and _same_release(current, tmp):
        shutil.rmtree(tmp)
    else:
        vdir = releases_dir / layout.VERSIONS
        vdir.mkdir(exist_ok=True)
        n = 1 + max([v for m, v in layout.version_numbers(releases_dir) if m == release],
                    default=0)
        target = Path(layout.VERSIONS) / f"{release}.{n}"
        os.rename(tmp, releases_dir / target)
        _fsync_dir(vdir)
        _fsync_dir(releases_dir)
        link = releases_dir / f".tmp-{release}-{os.getpid()}.link"
        _symlink(link, target)
        if final.is_dir() and not final.is_symlink():  # a legacy folder: version 0
            old = releases_dir / f".old-{release}-{os.getpid()}"
            link.rename(old)  # the link under the name the cleanup recovers it by
            _exchange(old, final)
            _fsync_dir(releases_dir)
            _keep_legacy(releases_dir, release, old)
        else:
            os.replace(link, final)
        _fsync_dir(releases_dir)
    _move_latest(releases_dir)
    return final


def _same_release(current: Path, tmp: Path) -> bool:
    """``tmp`` publishes nothing the month's current version does not: the same files, each
    byte for byte, except ``audit.json`` (and the manifest in that file's checksum), which
    need only say the same of the same cells (:func:`_audit_substance`).

    The data files fix the published frame, and the current version's audit was computed on
    exactly that frame, so it stays a true account of it. What a re-run's audit may say
    differently without any change in the data: its series blocks (``serie``: it also covers
    the version it would replace, so it lists one more version, with other component
    counts), and the inner bounds and exact intervals of the values (``lo``, ``hi``,
    ``lo_bound``, ``hi_bound``, ``exact``): they depend on the feasible points the search
    happened to find (carried from round to round and from the previous release), not on
    the data, while each value's verdict (``ok``) does not. Such a re-run adds no version
    (docs/runbook.md, *Re-running a month*); one more version would only repeat the data and
    join every later series audit."""
    def files(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    names = files(tmp)
    if files(current) != names:
        return False
    loose = {layout.MANIFEST, layout.AUDIT}
    if not all(sha256_file(current / f) == sha256_file(tmp / f) for f in names
               if f not in loose):
        return False
    if _audit_substance(current / layout.AUDIT) != _audit_substance(tmp / layout.AUDIT):
        return False
    try:
        a, b = (json.loads((d / layout.MANIFEST).read_bytes()) for d in (current, tmp))
    except ValueError:  # a damaged manifest: publish the new folder
        return False
    for m in (a, b):
        if isinstance(m.get("filer"), dict):
            m["filer"].pop(layout.AUDIT, None)
    return a == b


#: what of an audited value depends on the data: which value, and its verdict
_CELL_SUBSTANCE = ("gruppering", "statusdato", "members", "measure", "ok")


def _audit_substance(path: Path):
    """An ``audit.json`` without what a re-run of the same data may report differently (see
    :func:`_same_release`): the cubes' series blocks, their count of exact intervals, and
    each value's bounds; None where the file is missing or not an audit."""
    try:
        audit = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(audit, dict) and isinstance(audit.get("cubes"), dict):
        for cube in audit["cubes"].values():
            if isinstance(cube, dict):
                cube.pop("serie", None)
                cube.pop("exact", None)
                if isinstance(cube.get("cells"), list):
                    cube["cells"] = [{k: c.get(k) for k in _CELL_SUBSTANCE}
                                     if isinstance(c, dict) else c for c in cube["cells"]]
    return audit


def _symlink(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


#: renameat2's flag that swaps two names atomically (Linux, since 3.15)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap the names ``a`` and ``b`` in one step (renameat2 RENAME_EXCHANGE)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError("renameat2 is not available: cannot replace a legacy release folder "
                      "atomically on this system")
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"renameat2(RENAME_EXCHANGE) {a} <-> {b}: {os.strerror(err)}")


def _keep_legacy(releases_dir: Path, release: str, old: Path) -> None:
    """Move a replaced legacy folder to ``versions/<YYYY-MM>.0`` (it stays on record)."""
    dest = releases_dir / layout.VERSIONS / f"{release}.0"
    if dest.exists():  # already on record
        shutil.rmtree(old)
        return
    (releases_dir / layout.VERSIONS).mkdir(exist_ok=True)
    os.rename(old, dest)
    _fsync_dir(dest.parent)


def remove_stale(releases_dir: Path) -> None:
    """Remove what a crashed writer left (``.tmp-*``, ``.old-*``, ``.latest-*``), except the
    entries of a writer still running. A complete ``.old-<YYYY-MM>-*`` folder is a replaced
    published release: it is kept on record as version 0 (and, where the month's name is
    missing, the month points at it again) rather than removed."""
    if not releases_dir.is_dir():
        return
    for p in sorted(releases_dir.iterdir()):
        m = _STALE.match(p.name)
        if not m or _alive(int(m.group("pid"))):
            continue
        month = m.group("month")
        if (m.group("kind") == "old" and month and not p.is_symlink()
                and layout.is_complete(p)):
            if not (releases_dir / month).exists() and not (releases_dir / month).is_symlink():
                dest = Path(layout.VERSIONS) / f"{month}.0"
                _keep_legacy(releases_dir, month, p)
                link = releases_dir / f".tmp-{month}-{os.getpid()}.link"
                _symlink(link, dest)
                os.replace(link, releases_dir / month)
            else:
                _keep_legacy(releases_dir, month, p)
        elif p.is_symlink() or p.is_file():
            p.unlink()
        else:
            shutil.rmtree(p, ignore_errors=True)
    for month, n in layout.version_numbers(releases_dir):
        current = _current_version(releases_dir, month)
        if current >= 0 and n > current:
            # renamed into versions/ by a writer killed before the month's name moved to it:
            # never published (nothing pointed at it), so not on record
            shutil.rmtree(releases_dir / layout.VERSIONS / f"{month}.{n}", ignore_errors=True)
    _fsync_dir(releases_dir)


def _current_version(releases_dir: Path, month: str) -> int:
    """The version number the month's name points at (0: a legacy folder; -1: none)."""
    p = releases_dir / month
    if not p.is_symlink():
        return 0 if p.is_dir() else -1
    version = layout.parse_version(os.path.basename(os.readlink(p)))
    return version[1] if version else -1


_STALE = re.compile(rf"^\.(?P<kind>tmp|old|latest)-(?:(?P<month>{PATTERN})-)?(?P<pid>\d+)"
                    r"(?:\.link)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers from an earlier call
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _media_type(p: Path) -> str:
    return {".parquet": "application/vnd.apache.parquet", ".csv": "text/csv",
            ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }.get(p.suffix, "application/octet-stream")


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def complete_releases(releases_dir: Path) -> list[str]:
    """Release months whose current version is complete, oldest first (layout's rule)."""
    return layout.complete_releases(releases_dir)


def _move_latest(releases_dir: Path) -> None:
    """Point ``latest`` at the newest complete release, atomically (symlink + rename)."""
    newest = layout.latest(releases_dir)
    if newest is None:
        return
    link = releases_dir / layout.LATEST
    if link.is_symlink() and os.readlink(link) == newest:
        return
    tmp_link = releases_dir / f".latest-{os.getpid()}"
    _symlink(tmp_link, Path(newest))
    os.replace(tmp_link, link)
    _fsync_dir(releases_dir)


def previous_release(releases_dir: Path, release: str) -> Path | None:
    earlier = [r for r in complete_releases(releases_dir) if r < release]
    return releases_dir / earlier[-1] if earlier else None
