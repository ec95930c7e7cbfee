"""Releases as the API sees them: found on disk, loaded once, queried from memory.

A release folder (``<home>/releases/<YYYY-MM>/``, see ``transforms/publish/README.md``) is
read once into numpy arrays: per cube, every attribute column as integer codes in member
order, every measure as float64 with NaN for a withheld or empty value, and the row numbers
of each grouping. A query never looks at anything else: it picks the rows of one grouping,
filters on codes, and (when a filter leaves several rows per output row) combines them.

:class:`ReleaseStore` finds the releases, follows ``releases/latest``, and notices a new or
replaced release without a restart (it looks at most once per ``check_interval`` seconds).

Every problem a client can cause raises :class:`ApiError` with a Danish message; the app turns
it into a JSON error response.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms import catalog
from transforms.formats import MONTHS, danish_int, danish_pct

log = logging.getLogger("lpstat.serving")

RELEASE_NAME = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: at most this many members are quoted back in an error message
MAX_LISTED = 25


class ApiError(Exception):
    """A request the API cannot answer; ``message`` is Danish and says what to do."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# --- number format: transforms.formats, shared with the CSV, Excel and report writers -----


def formatter(measure: catalog.Measure):
    """``1234`` → ``"1.234"``, ``0.1234`` → ``"12,3 %"``, NaN (withheld or empty) → ``""``."""
    return danish_pct if measure.kind == "share" else danish_int


def _quote(items, limit: int = MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    return shown + (f" (og {len(items) - limit} flere)" if len(items) > limit else "")


def month_name(release: str) -> str:
    """``"2026-10"`` → ``"oktober 2026"``."""
    return f"{MONTHS[int(release[5:]) - 1]} {release[:4]}"


# --- one cube of one release ----------------------------------------------------------------


class Column:
    """One attribute column: integer codes in member order (-1 = null) and the captions."""

    __slots__ = ("captions", "code_of", "codes")

    def __init__(self, array: pa.ChunkedArray, member_order: list[str]):
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        encoded = pc.dictionary_encode(array.combine_chunks())
        found = encoded.dictionary.to_pylist()
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        present = set(found)
        listed = set(member_order)
        captions = [m for m in member_order if m in present] + [f for f in found if f not in listed]
        self.code_of = {m: i for i, m in enumerate(captions)}
        remap = np.array([self.code_of[f] for f in found] + [-1], dtype=np.int64)
        self.codes = remap[indices]  # index -1 picks the trailing -1
        self.captions = np.array(captions + [""], dtype=object)  # code -1 shows as ""


class Grouping:
    """The rows of one grouping, with their codes and preformatted values (built lazily)."""

    def __init__(self, cube: CubeCells, rows: np.ndarray):
        self.cube = cube
        self.rows = rows
        self.n = len(rows)
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}
        self._text: dict[str, np.ndarray] = {}

    def codes(self, attribute: str) -> np.ndarray:
        out = self._codes.get(attribute)
        if out is None:
            out = self._codes[attribute] = self.cube.columns[attribute].codes[self.rows]
        return out

    def values(self, column: str) -> np.ndarray:
        out = self._values.get(column)
        if out is None:
            out = self._values[column] = self.cube.values[column][self.rows]
        return out

    def text(self, measure: catalog.Measure) -> np.ndarray:
        out = self._text.get(measure.column)
        if out is None:
            fmt = formatter(measure)
            out = np.array([fmt(v) for v in self.values(measure.column).tolist()], dtype=object)
            self._text[measure.column] = out
        return out


class CubeCells:
    """A cube's ``cells.parquet``, held as codes and float arrays, indexed by grouping."""

    def __init__(self, cube: catalog.Cube, table: pa.Table, skema_node: dict | None):
        self.cube = cube
        listed = {
            d.get("name"): [m.get("Name") for m in d.get("members", []) if isinstance(m, dict)]
            for d in (skema_node or {}).get("detaljer", [])
            if isinstance(d, dict)
        }
        names = set(table.column_names)
        n = table.num_rows
        self.columns: dict[str, Column] = {}
        for a in cube.attributes:
            col = catalog.ATTRIBUTES[a].column
            array = (
                table.column(col) if col in names else pa.chunked_array([pa.nulls(n, pa.string())])
            )
            self.columns[a] = Column(array, listed.get(a, []))
        #: every caption a filter may name: the release's member lists and what the cells hold
        self.known: dict[str, set[str]] = {
            a: set(listed.get(a, [])) | set(self.columns[a].code_of) for a in cube.attributes
        }
        self.members: dict[str, list[str]] = {
            a: list(self.columns[a].captions[:-1]) for a in cube.attributes
        }
        self.values: dict[str, np.ndarray] = {}
        for m in cube.measures:
            if m.column in names:
                arr = table.column(m.column).cast(pa.float64()).to_numpy()
            else:
                arr = np.full(n, np.nan)
            self.values[m.column] = np.ascontiguousarray(arr, dtype=np.float64)
        g = pc.dictionary_encode(table.column("gruppering").combine_chunks().fill_null(""))
        keys = g.dictionary.to_pylist()
        idx = g.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(idx, kind="stable")
        bounds = np.searchsorted(idx[order], np.arange(len(keys) + 1))
        self._rows = {k: order[bounds[i] : bounds[i + 1]] for i, k in enumerate(keys)}
        self._groupings: dict[str, Grouping] = {}

    def grouping(self, key: str) -> Grouping | None:
        g = self._groupings.get(key)
        if g is None:
            rows = self._rows.get(key)
            if rows is None:
                return None
            g = self._groupings[key] = Grouping(self, rows)
        return g


# --- a query and its answer -----------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A /statistik request, resolved against the catalogue (names checked, deduplicated)."""

    cube: catalog.Cube
    measures: tuple[catalog.Measure, ...]
    detaljering: tuple[str, ...]  # attribute keys, in the order asked
    filtre: tuple[tuple[str, tuple[str, ...]], ...]  # attribute key, captions (non-empty)
    tomme_raekker: bool = False


class Answer:
    """The rows of a /statistik answer, as columns of strings, ready to page."""

    def __init__(self, keys: list[str], measures: list[str], columns: list[np.ndarray], n: int):
        self.keys = keys  # "[Dim].[Attr].[Attr]", detaljering order
        self.measures = measures  # captions, nøgletal order
        self.columns = columns  # one object array per key, then per measure
        self.n = n

    def page(self, side: int, size: int) -> tuple[int, int]:
        start = (max(side, 1) - 1) * size
        return min(start, self.n), min(start + size, self.n)

    def flat(self, start: int, stop: int) -> list[dict[str, str]]:
        names = self.keys + self.measures
        cols = [c[start:stop].tolist() for c in self.columns]
        return [dict(zip(names, row)) for row in zip(*cols)] if cols else []

    def nested(self, start: int, stop: int) -> dict:
        depth = len(self.keys)
        cols = [c[start:stop].tolist() for c in self.columns]
        out: dict = {}
        for row in zip(*cols):
            node = out
            for caption in row[: depth - 1]:
                node = node.setdefault(caption, {})
            leaf = dict(zip(self.measures, row[depth:]))
            if depth:
                node[row[depth - 1]] = leaf
            else:
                out = leaf
        return out


def _response_key(attribute: str) -> str:
    return f"{attribute}.[{catalog.ATTRIBUTES[attribute].name}]"


def _views_text(cube: catalog.Cube) -> str:
    views = "; ".join("(" + ", ".join(v.attributes) + ")" for v in cube.views)
    coarser = (
        "Kvartal eller År i stedet for Måned, År i stedet for Kvartal, Region i stedet for Kommune"
    )
    if cube.kind == "stock":
        rule = "Alle delmængder af en tabels detaljer, der beholder en [Tid]-detalje, kan bruges"
    else:
        rule = "Alle delmængder af en tabels detaljer kan bruges"
    return (
        f"Offentliggjorte tabeller for {cube.underemne}: {views}. {rule}, også med grovere "
        f"niveauer ({coarser}). Detaljer i filtre tæller med i kombinationen."
    )


class Release:
    """One release: its skema and, per cube, its cells (cubes load on first use)."""

    def __init__(self, month: str, folder: Path):
        self.month = month
        self.folder = folder
        try:
            self.skema = json.loads((folder / "skema.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ApiError(f"Udgivelsen {month} kunne ikke læses ({type(e).__name__}).", 503) from e
        self._cubes: dict[str, CubeCells] = {}
        self._lock = threading.Lock()

    # -- skema ---------------------------------------------------------------------------------

    def _omraader(self) -> list[dict]:
        return [o for o in self.skema.get("områder", []) if isinstance(o, dict)]

    def _node(self, cube: catalog.Cube) -> dict | None:
        for o in self._omraader():
            if o.get("ID") == cube.omraade[0]:
                for e in o.get("emner", []):
                    if e.get("ID") == cube.emne[0]:
                        for u in e.get("underemner", []):
                            if u.get("ID") == cube.underemne:
                                return u
        return None

    def skema_answer(self, omraade=None, emne=None, underemne=None, detalje=None):
        """The /skema drill-down: områder → emner → underemner → a cube → a detalje's members."""

        def pick(items: list[dict], wanted: str, what: str, where: str) -> dict:
            for item in items:
                if item.get("ID") == wanted:
                    return item
            ids = [i.get("ID") for i in items]
            raise ApiError(
                f"{what} '{wanted}' kunne ikke findes{where}. Mulige værdier: {_quote(ids)}."
            )

        def ids(items: list[dict]) -> list[dict]:
            return [{"ID": i.get("ID"), "Name": i.get("Name")} for i in items]

        if omraade is None:
            if emne is not None or underemne is not None or detalje is not None:
                raise ApiError("Angiv 'område' for at slå emner, underemner eller detaljer op.")
            return ids(self._omraader())
        o = pick(self._omraader(), omraade, "Området", "")
        if emne is None:
            if underemne is not None or detalje is not None:
                raise ApiError("Angiv 'emne' for at slå underemner eller detaljer op.")
            return ids(o.get("emner", []))
        e = pick(o.get("emner", []), emne, "Emnet", f" under området '{omraade}'")
        if underemne is None:
            if detalje is not None:
                raise ApiError("Angiv 'underemne' for at slå en detaljes medlemmer op.")
            return ids(e.get("underemner", []))
        u = pick(e.get("underemner", []), underemne, "Underemnet", f" under emnet '{emne}'")
        detaljer = [d for d in u.get("detaljer", []) if isinstance(d, dict)]
        if detalje is None:
            return {
                "detaljer": [{"name": d.get("name"), "count": d.get("count")} for d in detaljer],
                "nøgletal": list(u.get("nøgletal", [])),
                "rapporter": list(u.get("rapporter", [])),
            }
        wanted = _attribute_key(detalje)
        for d in detaljer:
            if d.get("name") == wanted:
                return ids(d.get("members", []))
        raise ApiError(
            f"Detaljen '{detalje}' kunne ikke findes i {underemne}. "
            f"Mulige detaljer: {_quote([d.get('name') for d in detaljer])}."
        )

    # -- cells ---------------------------------------------------------------------------------

    def cells(self, cube: catalog.Cube) -> CubeCells:
        got = self._cubes.get(cube.underemne)
        if got is not None:
            return got
        with self._lock:
            got = self._cubes.get(cube.underemne)
            if got is None:
                path = self.folder / cube.id / "cells.parquet"
                if not path.exists():
                    raise ApiError(
                        f"Underemnet {cube.underemne} er ikke med i udgivelsen {self.month}."
                    )
                started = time.perf_counter()
                try:
                    with pq.ParquetFile(path) as f:  # (pq.read_table would import pandas)
                        table = f.read()
                    got = CubeCells(cube, table, self._node(cube))
                except (OSError, pa.ArrowException, KeyError) as e:
                    log.error("cannot load %s: %s", path, e)
                    raise ApiError(
                        f"Udgivelsen {self.month} kunne ikke læses for {cube.underemne}.", 503
                    ) from e
                log.info(
                    "loaded %s %s: %d cells in %.0f ms",
                    self.month, cube.id, table.num_rows, 1000 * (time.perf_counter() - started),
                )  # fmt: skip
                self._cubes[cube.underemne] = got
        return got

    def loaded(self, omraade, emne, underemne) -> bool:
        """Whether that cube's cells are in memory already (False for an unknown cube)."""
        cube = catalog.find_cube(omraade, emne, underemne)
        return cube is not None and cube.underemne in self._cubes

    def rows(self, q: Query) -> int:
        """How many cells a query starts from (its grouping's size; 0 if it has none)."""
        cells = self._cubes.get(q.cube.underemne)
        named = list(q.detaljering) + [k for k, _ in q.filtre]
        g = cells.grouping(catalog.query_grouping(named, q.cube)) if cells else None
        return g.n if g is not None else 0

    def load_all(self) -> None:
        for cube in catalog.CUBES.values():
            if (self.folder / cube.id / "cells.parquet").exists():
                self.cells(cube)

    # -- /statistik --------------------------------------------------------------------------

    def resolve(
        self, omraade, emne, underemne, noegletal, detaljering, filtre, tomme_raekker=False
    ) -> Query:
        """Check a /statistik request's names against the catalogue and this release."""
        cube = _find_cube(omraade, emne, underemne)
        measures: list[catalog.Measure] = []
        for text in noegletal:
            caption = _measure_caption(text)
            try:
                m = cube.measure(caption)
            except KeyError:
                allowed = [f"[Measures].[{m.caption}]" for m in cube.measures]
                raise ApiError(
                    f"Nøgletallet '{text}' kunne ikke findes i {cube.underemne}. "
                    f"Mulige nøgletal: {_quote(allowed)}."
                ) from None
            if m not in measures:
                measures.append(m)
        if not measures:
            raise ApiError(
                f"Angiv mindst ét nøgletal i 'nøgletal', fx '[Measures].[{cube.measures[0].caption}]'."
            )

        def attribute(text: str, field: str) -> str:
            key = _attribute_key(text)
            if key not in cube.attributes:
                raise ApiError(
                    f"Detaljen '{text}' i '{field}' kunne ikke findes i {cube.underemne}. "
                    f"Mulige detaljer: {_quote(cube.attributes)}."
                )
            return key

        det: list[str] = []
        for text in detaljering:
            key = attribute(text, "detaljering")
            if key not in det:
                det.append(key)
        cells = self.cells(cube)
        filters: dict[str, list[str]] = {}
        for text, captions in filtre:
            if not captions:
                continue  # an empty list restricts nothing
            key = attribute(text, "filtre")
            unknown = [x for x in dict.fromkeys(captions) if x not in cells.known[key]]
            if unknown:
                raise ApiError(
                    f"Filteret på {key} nævner ukendte medlemmer: {_quote(unknown, 10)}. "
                    f"Mulige medlemmer: {_quote(cells.members[key])}."
                )
            mine = filters.setdefault(key, [])
            mine.extend(x for x in captions if x not in mine)
        return Query(
            cube, tuple(measures), tuple(det),
            tuple((k, tuple(v)) for k, v in filters.items()), bool(tomme_raekker),
        )  # fmt: skip

    def answer(self, q: Query, deadline: float | None = None) -> Answer:
        """The rows of a resolved query, from this release's cells only."""
        cube = q.cube
        named = list(q.detaljering) + [k for k, _ in q.filtre]
        tid = [a for a in named if catalog.ATTRIBUTES[a].hierarchy == "Tid"]
        if cube.kind == "stock" and not tid:
            levels = ", ".join(
                a for a in cube.attributes if catalog.ATTRIBUTES[a].hierarchy == "Tid"
            )
            raise ApiError(
                f"{cube.underemne} er en bestandsopgørelse (elever på periodens sidste dag), og en "
                f"bestand kan ikke summeres over tid. Angiv en tidsdetalje ({levels}) i "
                "'detaljering' eller i 'filtre'."
            )
        key = catalog.query_grouping(named, cube)
        if key not in cube.groupings:
            raise ApiError(
                "Kombinationen af detaljer er ikke offentliggjort: "
                f"{', '.join(dict.fromkeys(named))}. {_views_text(cube)}"
            )
        cells = self.cells(cube)
        keys = [_response_key(a) for a in q.detaljering]
        captions_out = [m.caption for m in q.measures]
        g = cells.grouping(key)
        if g is None or g.n == 0:
            return Answer(
                keys,
                captions_out,
                [np.array([], dtype=object)] * (len(keys) + len(captions_out)),
                0,
            )

        mask = None
        for attr, members in q.filtre:
            col = cells.columns[attr]
            wanted = [col.code_of[m] for m in members if m in col.code_of]
            hit = np.isin(g.codes(attr), wanted)
            mask = hit if mask is None else mask & hit
        sel = np.nonzero(mask)[0] if mask is not None else np.arange(g.n)
        _check(deadline)

        # one output row per distinct combination of the detaljering captions, in member order
        # (detaljering order first): a mixed-radix key over the member codes sorts that way
        det_codes = [g.codes(a)[sel] + 1 for a in q.detaljering]
        radix = [len(cells.columns[a].captions) + 1 for a in q.detaljering]
        if det_codes and np.prod([float(r) for r in radix]) < 2**62:
            flat_key = np.zeros(len(sel), dtype=np.int64)
            for codes, r in zip(det_codes, radix):
                flat_key = flat_key * r + codes
            _, first, inverse = np.unique(flat_key, return_index=True, return_inverse=True)
        elif det_codes:
            stacked = np.stack(det_codes, axis=1)
            _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1)
        else:
            first = np.zeros(min(len(sel), 1), dtype=np.int64)
            inverse = np.zeros(len(sel), dtype=np.int64)
        n_out = len(first)
        combined = n_out < len(sel)
        _check(deadline)

        columns = [cells.columns[a].captions[g.codes(a)[sel[first]]] for a in q.detaljering]
        if not combined:
            rows = sel[first]
            values = [g.values(m.column)[rows] for m in q.measures]
            texts = [g.text(m)[rows] for m in q.measures]
        else:
            self._may_combine(q, cells, g, sel, inverse, n_out)
            values, texts = [], []
            for m in q.measures:
                v = g.values(m.column)[sel]
                missing = np.bincount(inverse, weights=np.isnan(v), minlength=n_out)
                total = np.bincount(inverse, weights=np.nan_to_num(v), minlength=n_out)
                total[missing > 0] = np.nan  # a sum is published only when every part is
                fmt = formatter(m)
                values.append(total)
                texts.append(np.array([fmt(x) for x in total.tolist()], dtype=object))
        _check(deadline)
        if not q.tomme_raekker:
            keep = ~np.all(np.isnan(np.stack(values)), axis=0)
            if not keep.all():
                columns = [c[keep] for c in columns]
                texts = [t[keep] for t in texts]
        n = len(texts[0])
        return Answer(keys, captions_out, columns + texts, n)

    @staticmethod
    def _may_combine(q: Query, cells: CubeCells, g: Grouping, sel, inverse, n_out) -> None:
        """Refuse a combination that cannot be computed from published cells (see README)."""
        det = set(q.detaljering)
        varying = []
        for attr in cells.cube.attributes:
            if attr in det:
                continue
            codes = g.codes(attr)[sel]  # all -1 where the grouping does not carry it
            pairs = np.unique(
                inverse.astype(np.int64) * (len(cells.columns[attr].captions) + 1) + codes + 1
            )
            if len(pairs) > n_out:
                varying.append(attr)
        filtered = [a for a in varying if a in dict(q.filtre)] or varying
        what = ", ".join(filtered)
        tid = [a for a in varying if catalog.ATTRIBUTES[a].hierarchy == "Tid"]
        if q.cube.kind == "stock" and tid:
            raise ApiError(
                f"En bestand kan ikke summeres over tid: filteret på {', '.join(tid)} har flere "
                f"medlemmer, der skulle lægges sammen i samme række. Tilføj {tid[0]} til "
                "'detaljering', eller vælg ét medlem i filteret."
            )
        odd = [m.caption for m in q.measures if not m.additive]
        if odd:
            noun = "Nøgletallet" if len(odd) == 1 else "Nøgletallene"
            raise ApiError(
                f"{noun} {_quote(odd)} kan ikke lægges sammen over flere medlemmer af {what} "
                "(antal personer tælles kun én gang, og andele kan ikke summeres). Tilføj "
                f"detaljen til 'detaljering', vælg ét medlem i filteret, eller udelad nøgletallet."
            )


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ApiError(
            "Forespørgslen tog for lang tid. Prøv med en mindre 'side_størrelse' eller færre detaljer.",
            503,
        )


def _find_cube(omraade: str, emne: str, underemne: str) -> catalog.Cube:
    cube = catalog.find_cube(omraade, emne, underemne)
    if cube is not None:
        return cube
    cubes = list(catalog.CUBES.values())
    omr = sorted({c.omraade[0] for c in cubes})
    if omraade not in omr:
        raise ApiError(f"Området '{omraade}' kunne ikke findes. Mulige områder: {_quote(omr)}.")
    emner = sorted({c.emne[0] for c in cubes if c.omraade[0] == omraade})
    if emne not in emner:
        raise ApiError(
            f"Emnet '{emne}' kunne ikke findes under området '{omraade}'. Mulige emner: {_quote(emner)}."
        )
    under = [c.underemne for c in cubes if c.omraade[0] == omraade and c.emne[0] == emne]
    raise ApiError(
        f"Underemnet '{underemne}' kunne ikke findes under emnet '{emne}'. "
        f"Mulige underemner: {_quote(under)}."
    )


def _measure_caption(text: str) -> str:
    """``[Measures].[Antal afslag]`` or ``Antal afslag`` → ``Antal afslag``."""
    if text[:12].lower() == "[measures].[" and text.endswith("]"):
        return text[12:-1]
    return text


def _attribute_key(text: str) -> str:
    """``[Tid].[År]``, also written ``[Tid].[År].[År]`` (the response key form)."""
    parts = text.split("].[")
    if (
        len(parts) == 3
        and text.startswith("[")
        and text.endswith("]")
        and parts[1] == parts[2][:-1]
    ):
        return f"{parts[0]}].[{parts[1]}]"
    return text


# --- the releases folder ------------------------------------------------------------------


class ReleaseStore:
    """The releases under ``<home>/releases``; loads each at most once, follows ``latest``."""

    def __init__(self, home: Path, check_interval: float = 1.0, keep_loaded: int = 3):
        self.root = Path(home) / "releases"
        self.check_interval = check_interval
        self.keep_loaded = keep_loaded
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._signature: tuple | None = None
        self._months: list[str] = []
        self._latest: str | None = None
        self._loaded: OrderedDict[str, tuple[tuple, Release]] = OrderedDict()
        self._folders: dict[str, tuple] = {}

    def _scan(self) -> tuple:
        folders = {}
        try:
            with os.scandir(self.root) as it:
                for entry in it:
                    complete = os.path.exists(os.path.join(entry.path, "skema.json"))
                    if RELEASE_NAME.match(entry.name) and complete:
                        st = entry.stat(follow_symlinks=True)
                        folders[entry.name] = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            pass
        try:
            latest = os.path.basename(os.path.normpath(os.readlink(self.root / "latest")))
        except OSError:
            latest = None
        return (tuple(sorted(folders.items())), latest)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.check_interval:
            return
        with self._lock:
            if not force and now - self._checked < self.check_interval:
                return
            self._checked = now
            signature = self._scan()
            if signature == self._signature:
                return
            folders = dict(signature[0])
            months = sorted(folders)
            latest = signature[1] if signature[1] in folders else (months[-1] if months else None)
            for month, (ident, _) in list(self._loaded.items()):
                if folders.get(month) != ident:
                    del self._loaded[month]  # gone or replaced: load again on next use
            if self._signature is not None:
                log.info("releases changed: %s, latest %s", ", ".join(months) or "none", latest)
            self._signature, self._months, self._latest, self._folders = (
                signature,
                months,
                latest,
                folders,
            )

    def months(self) -> list[str]:
        self.refresh()
        return list(self._months)

    def latest(self) -> str | None:
        self.refresh()
        return self._latest

    def get(self, month: str | None = None) -> Release:
        """The release of ``month`` (``YYYY-MM``), or the latest one."""
        self.refresh()
        if month is None:
            month = self._latest
            if month is None:
                raise ApiError("Der er endnu ingen udgivelser at vise.", 503)
        elif month not in self._folders:
            raise ApiError(
                f"Udgivelsen '{month}' findes ikke. Tilgængelige udgivelser: {_quote(self._months)}."
            )
        ident = self._folders.get(month)
        hit = self._loaded.get(month)
        if hit is not None and hit[0] == ident:
            return hit[1]
        with self._lock:
            hit = self._loaded.get(month)
            if hit is not None and hit[0] == ident:
                return hit[1]
            release = Release(month, self.root / month)
            self._loaded[month] = (ident, release)
            self._loaded.move_to_end(month)
            evictable = [m for m in self._loaded if m not in (month, self._latest)]
            for old in evictable[: max(0, len(self._loaded) - self.keep_loaded)]:
                del self._loaded[old]  # least recently loaded first
        return release
