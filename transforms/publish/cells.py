"""Look-ups into a cube's published cells, for the ministry report (``rapport.html``).

The report reads *only published cells* (the frames written to ``cells.parquet``); this
indexes one cube's frame by grouping and captions once, so the report's many small look-ups
stay cheap at national scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from transforms.catalog import ATTRIBUTES, Cube, grouping_key
from transforms.formats import is_missing


def _value(v: Any) -> float | int | None:
    if is_missing(v):
        return None
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        return float(v)
    return int(v)


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")``, the same values, with numeric, string and nullable
    numeric columns converted in bulk (per value, pandas iterates arrow-backed strings
    slowly)."""
    if not frame.columns.is_unique:
        return frame.to_dict("records")
    columns = frame.columns.tolist()
    return [dict(zip(columns, row)) for row in zip(*(_record_values(frame, c) for c in columns))]


def _record_values(frame: pd.DataFrame, column) -> list:
    """One column's values as ``to_dict("records")`` gives them: Python scalars, pd.NA as
    None, NaN as NaN."""
    col = frame[column]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufb":
        return col.to_numpy().tolist()
    if isinstance(col.dtype, pd.StringDtype):
        na = None if col.dtype.na_value is pd.NA else col.dtype.na_value
        return col.to_numpy(dtype=object, na_value=na).tolist()
    if isinstance(col.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return col.to_numpy(dtype=object, na_value=None).tolist()
    return [r[column] for r in frame[[column]].to_dict("records")]


class PublishedCells:
    """Look-ups into one cube's published frame by grouping and captions (indexed once).
    A value is None where it is withheld or empty, or where the look-up does not name
    exactly one cell."""

    def __init__(self, cube: Cube, frame: pd.DataFrame | None):
        self.cube = cube
        self._groups: dict[str, list[dict]] = {}
        self._index: dict[tuple, dict[tuple, list[dict]]] = {}
        if frame is not None and len(frame):
            for record in frame_records(frame):
                self._groups.setdefault(str(record["gruppering"]), []).append(record)

    @property
    def present(self) -> bool:
        return bool(self._groups)

    def records(self, attrs: Sequence[str], **where: str) -> list[dict]:
        key = grouping_key(attrs, self.cube)
        rows = self._groups.get(key, [])
        if not where:
            return rows
        cols = tuple(sorted(where))
        index = self._index.get((key, cols))
        if index is None:
            index = {}
            for r in rows:
                index.setdefault(tuple(r.get(c) for c in cols), []).append(r)
            self._index[(key, cols)] = index
        return index.get(tuple(where[c] for c in cols), [])

    def value(self, attrs: Sequence[str], measure: str, **where: str):
        rows = self.records(attrs, **where)
        if len(rows) != 1:
            return None
        return _value(rows[0][measure])

    def has(self, attrs: Sequence[str], **where: str) -> bool:
        return len(self.records(attrs, **where)) > 0

    def statusdato(self, attrs: Sequence[str], **where: str):
        rows = self.records(attrs, **where)
        if rows and not is_missing(rows[0].get("statusdato")):
            return pd.Timestamp(rows[0]["statusdato"]).date()
        return None

    def members(self, attr: str, attrs: Sequence[str], **where: str) -> list[str]:
        """Captions of ``attr`` in publication order among the cells of a grouping."""
        out: list[str] = []
        for r in self.records(attrs, **where):
            v = r[ATTRIBUTES[attr].column]
            if not is_missing(v) and v not in out:
                out.append(str(v))
        return out
