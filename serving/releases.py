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

import functools
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms import catalog
from transforms.publish import layout
from transforms.formats import danish_int, danish_pct

log = logging.getLogger("lpstat.serving")

#: at most this many members are quoted back in an error message
MAX_LISTED = 25
_NO_TEXT = np.array([], dtype=object)


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


#: danish_int of a sum (combined rows), remembered: the same totals recur from query to query
_sum_text = functools.lru_cache(maxsize=1 << 16)(danish_int)


def sum_text(value: float) -> str:
    """:func:`danish_int` of a float, ``""`` for NaN (which is never remembered)."""
    return "" if value != value else _sum_text(value)


def _quote(items, limit: int = MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    return shown + (f" (og {len(items) - limit} flere)" if len(items) > limit else "")


# --- one cube of one release ----------------------------------------------------------------


def _members(name: str, texts: list[str], opening: bool = False) -> np.ndarray:
    """Per text, the JSON object member ``,"name":"text"`` as bytes (``{"name":"text"`` with
    ``opening``): an answer's row is its columns' members and a ``}``, without a dict per row."""
    lead = (b"{" if opening else b",") + orjson.dumps(name) + b":"
    return np.array([lead + orjson.dumps(t) for t in texts], dtype=object)


class Column:
    """One attribute column: integer codes in member order (-1 = null), the captions, and the
    JSON members ``"[Dim].[Attr].[Attr]":"caption"`` per code (opening a row, and not)."""

    __slots__ = ("captions", "code_of", "codes", "members")

    def __init__(self, array: pa.ChunkedArray, member_order: list[str], key: str):
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
        self.members = tuple(_members(key, self.captions.tolist(), first) for first in (1, 0))


class Grouping:
    """The rows of one grouping, with their codes and preformatted values (built lazily)."""

    def __init__(self, cube: CubeCells, rows: np.ndarray):
        self.cube = cube
        self.rows = rows
        self.n = len(rows)
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}
        self._text: dict[str, np.ndarray] = {}
        self._members: dict[tuple, np.ndarray] = {}
        self._nan: dict[str, np.ndarray] = {}

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

    def nan(self, measure: catalog.Measure) -> np.ndarray:
        """Where the measure is withheld or empty."""
        out = self._nan.get(measure.column)
        if out is None:
            out = self._nan[measure.column] = np.isnan(self.values(measure.column))
        return out

    def members(self, measure: catalog.Measure, opening: bool = False) -> np.ndarray:
        """:meth:`text` as JSON members ``"caption":"text"`` (see :func:`_members`)."""
        out = self._members.get((measure.column, opening))
        if out is None:
            out = _members(measure.caption, self.text(measure).tolist(), opening)
            self._members[(measure.column, opening)] = out
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
            self.columns[a] = Column(array, listed.get(a, []), _response_key(a))
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
    """The rows of a /statistik answer, ready to page.

    Each column (one per key, then per measure) is a table of strings, the same strings as
    JSON object members (:func:`_members`; the first column's open the row), and the row
    numbers into both, in output order: a page takes only its own rows, and :meth:`flat_json`
    writes them without building a dict per row.
    """

    def __init__(self, keys: list[str], measures: list[str], columns: list[tuple], n: int):
        self.keys = keys  # "[Dim].[Attr].[Attr]", detaljering order
        self.measures = measures  # captions, nøgletal order
        self.columns = columns  # (strings, JSON members, row numbers) per key, then per measure
        self.n = n

    def page(self, side: int, size: int) -> tuple[int, int]:
        start = (max(side, 1) - 1) * size
        return min(start, self.n), min(start + size, self.n)

    def _cells(self, start: int, stop: int) -> list[list[str]]:
        return [texts[idx[start:stop]].tolist() for texts, _, idx in self.columns]

    def flat(self, start: int, stop: int) -> list[dict[str, str]]:
        names = self.keys + self.measures
        return [dict(zip(names, row)) for row in zip(*self._cells(start, stop))]

    def flat_json(self, start: int, stop: int) -> bytes:
        """``orjson.dumps(self.flat(start, stop))``, the same bytes, assembled from members."""
        if stop <= start:
            return b"[]"
        out = np.empty((stop - start, len(self.columns) + 1), dtype=object)
        for i, (_, members, idx) in enumerate(self.columns):
            out[:, i] = members[idx[start:stop]]
        out[:, -1] = b"},"
        out[0, 0] = b"[" + out[0, 0]
        out[-1, -1] = b"}]"
        return b"".join(out.ravel().tolist())

    def nested(self, start: int, stop: int) -> dict:
        depth = len(self.keys)
        out: dict = {}
        for row in zip(*self._cells(start, stop)):
            node = out
            for caption in row[: depth - 1]:
                node = node.setdefault(caption, {})
            leaf = dict(zip(self.measures, row[depth:]))
            if depth:
                node[row[depth - 1]] = leaf
            else:
                out = leaf
        return out


_RESPONSE_KEYS = {a: f"{a}.[{attr.name}]" for a, attr in catalog.ATTRIBUTES.items()}


def _response_key(attribute: str) -> str:
    """``[Tid].[År]`` → ``[Tid].[År].[År]``, the key of its column in an answer."""
    return _RESPONSE_KEYS[attribute]


_GROUPINGS: dict[tuple[str, frozenset], str] = {}


def _query_grouping(cube: catalog.Cube, named) -> str:
    """:func:`catalog.query_grouping`, remembered per set of names (a cube's attributes:
    a few thousand sets at most)."""
    key = (cube.underemne, frozenset(named))
    out = _GROUPINGS.get(key)
    if out is None:
        out = _GROUPINGS[key] = catalog.query_grouping(named, cube)
    return out


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
        g = cells.grouping(_query_grouping(q.cube, named)) if cells else None
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
        key = _published_grouping(q)
        cells = self.cells(q.cube)
        keys = [_response_key(a) for a in q.detaljering]
        captions_out = [m.caption for m in q.measures]
        g = cells.grouping(key)
        if g is None or g.n == 0:
            nothing = (_NO_TEXT, _NO_TEXT, np.array([], dtype=np.int64))
            return Answer(keys, captions_out, [nothing] * (len(keys) + len(captions_out)), 0)
        sel = _filtered(cells, g, q.filtre)  # None: every row
        _check(deadline)

        # one output row per distinct combination of the detaljering captions, in member order
        # (detaljering order first): a mixed-radix key over the member codes sorts that way
        first, inverse, combined = _distinct(
            g.n if sel is None else len(sel),
            [g.codes(a) if sel is None else g.codes(a)[sel] for a in q.detaljering],
            [len(cells.columns[a].captions) for a in q.detaljering],
        )
        _check(deadline)

        if not combined:
            rows = first if sel is None else sel[first]  # rows of the grouping, output order
            if not q.tomme_raekker:  # leave out a row whose every requested value is empty
                empty = g.nan(q.measures[0])[rows]
                for m in q.measures[1:]:
                    empty &= g.nan(m)[rows]
                if empty.any():
                    rows = rows[~empty]
            values = [(g.text(m), g.members(m, not keys and j == 0), rows)
                      for j, m in enumerate(q.measures)]  # fmt: skip
        else:
            sel = np.arange(g.n) if sel is None else sel
            n_out = len(first)
            self._may_combine(q, cells, g, sel, inverse, n_out)
            totals, texts = [], []
            for m in q.measures:
                v = g.values(m.column)[sel]
                nan = np.isnan(v)
                missing = np.bincount(inverse, weights=nan, minlength=n_out)
                total = np.bincount(inverse, weights=np.where(nan, 0.0, v), minlength=n_out)
                total[missing > 0] = np.nan  # a sum is published only when every part is
                fmt = sum_text if m.kind == "count" else formatter(m)  # (only counts get here)
                totals.append(total)
                texts.append(np.array([fmt(x) for x in total.tolist()], dtype=object))
            _check(deadline)
            out = np.arange(n_out)
            if not q.tomme_raekker:
                out = out[~np.logical_and.reduce([np.isnan(t) for t in totals])]
            rows = sel[first[out]]
            values = [(t, _members(m.caption, t.tolist(), not keys and j == 0), out)
                      for j, (m, t) in enumerate(zip(q.measures, texts))]  # fmt: skip
        columns = [
            (cells.columns[a].captions, cells.columns[a].members[i > 0], g.codes(a)[rows])
            for i, a in enumerate(q.detaljering)
        ]
        return Answer(keys, captions_out, columns + values, len(rows))

    @staticmethod
    def _may_combine(q: Query, cells: CubeCells, g: Grouping, sel, inverse, n_out) -> None:
        """Refuse a combination that cannot be computed from published cells (see README)."""
        odd = [m.caption for m in q.measures if not m.additive]
        if not odd and q.cube.kind != "stock":
            return  # counts summed over a flow cube's members: always allowed
        det = set(q.detaljering)
        varying = []
        for attr in cells.cube.attributes:
            if attr in det or not (odd or catalog.ATTRIBUTES[attr].hierarchy == "Tid"):
                continue  # (without a non-additive measure, only time can refuse the sum)
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


def _distinct(n: int, codes: list[np.ndarray], sizes: list[int]):
    """The distinct combinations of ``n`` positions in several code columns (codes
    ``-1..size-2``; no column: one combination), sorted by the first column, then the second,
    …: ``(first, inverse, combined)`` where ``first[i]`` is a position holding combination
    ``i``, ``inverse[j]`` the combination of position ``j``, and ``combined`` whether any
    combination occurs more than once."""
    if not codes:  # the grand total: every position is one combination
        return np.zeros(min(n, 1), dtype=np.int64), np.zeros(n, dtype=np.int64), n > 1
    radix = [size + 1 for size in sizes]
    if math.prod(radix) >= 2**62:  # too many combinations for one int64
        stacked = np.stack(codes, axis=1)
        _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1), len(first) < n
    key = codes[0] + 1
    for c, r in zip(codes[1:], radix[1:]):
        key = key * r + (c + 1)
    if n < 2 or bool((key[1:] > key[:-1]).all()):  # distinct and in order already
        order = np.arange(n)
        return order, order, False
    order = np.argsort(key, kind="stable")  # (stable: first[i] is the first position)
    ordered = key[order]
    starts = np.empty(n, dtype=bool)  # where a new combination starts, in key order
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse, not starts.all()


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
        """Each complete month's current version (its folder's identity: a re-run that adds a
        version changes it) and the month ``latest`` names (transforms.publish.layout)."""
        folders = {}
        for month in layout.complete_releases(self.root):
            try:
                st = os.stat(self.root / month)
            except OSError:  # switched or removed meanwhile: seen at the next scan
                continue
            folders[month] = (st.st_ino, st.st_mtime_ns)
        try:
            latest = os.path.basename(os.path.normpath(os.readlink(self.root / layout.LATEST)))
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
            # the version's own folder: a later switch of the month's name does not mix files
            release = Release(month, layout.release_path(self.root, month) or self.root / month)
            self._loaded[month] = (ident, release)
            self._loaded.move_to_end(month)
            evictable = [m for m in self._loaded if m not in (month, self._latest)]
            for old in evictable[: max(0, len(self._loaded) - self.keep_loaded)]:
                del self._loaded[old]  # least recently loaded first
        return release


def _published_grouping(q: Query) -> str:
    """The grouping that answers ``q`` (its attributes in detaljering and filtre together), or
    the 400 that says why none does."""
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
    key = _query_grouping(cube, named)
    if key not in cube.groupings:
        raise ApiError(
            "Kombinationen af detaljer er ikke offentliggjort: "
            f"{', '.join(dict.fromkeys(named))}. {_views_text(cube)}"
        )
    return key


def _filtered(cells: CubeCells, g: Grouping, filtre) -> np.ndarray | None:
    """The grouping's rows that pass the filters (a lookup table per attribute from its codes
    to wanted, AND across attributes), or None when there are no filters."""
    mask = None
    for attr, members in filtre:
        col = cells.columns[attr]
        wanted = np.zeros(len(col.captions), dtype=bool)  # the last entry is code -1
        wanted[[col.code_of[m] for m in members if m in col.code_of]] = True
        hit = wanted[g.codes(attr)]
        mask = hit if mask is None else mask & hit
    return np.flatnonzero(mask) if mask is not None else None
