"""The bulk (fast) paths of the release writers give what the per-value code gave.

Each helper is checked against a copy of the per-value code it replaced, on the column types
the release meets (arrow-backed ``str``, object with None, ``Int64``, ``Float64``, float64,
int64, dates, datetimes) and the missing values None, pd.NA, NaN and NaT.
"""

from __future__ import annotations

import json
import math
import numbers
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from tests.unit.test_tables import make_published
from transforms.catalog import AFSLAARS, FRAFAFBRUD, FRAFVURD
from transforms.publication import share_denominators
from transforms.formats import (
    danish_int,
    danish_pct,
    danish_values,
    format_each,
    is_missing,
)
from transforms.publish.release import _key, json_bytes, row_values
from transforms.publish.cells import frame_records
from transforms.publish.tables import TOTAL, attribute_texts, cell_values

# --- the per-value code the fast paths replaced ---------------------------------------------


def old_is_missing(value) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(value)
    return False


def old_danish_int(n) -> str:
    d = Decimal(int(n)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    digits, out = str(abs(int(d))), []
    while len(digits) > 3:
        out.append(digits[-3:])
        digits = digits[:-3]
    out.append(digits)
    return ("-" if d < 0 else "") + ".".join(reversed(out))


def old_key(col: pd.Series) -> pd.Series:
    return pd.Series([None if pd.isna(v) else str(v) for v in col], dtype=object).fillna("\x00")


def old_share_denominators(cells: pd.DataFrame, cube) -> pd.Series:
    from transforms.catalog import ATTRIBUTES, canonical

    share = next(m for m in cube.measures if m.kind == "share")
    drop = {canonical(a) for a in share.denominator_drops}
    drop_cols = {ATTRIBUTES[a].column for a in drop}
    keep_cols = [c for c in cube.columns if c not in drop_cols]
    key_cols = (["statusdato"] if cube.kind == "stock" else []) + keep_cols
    target_g = cells["gruppering"].map(
        lambda g: "|".join(a for a in (g.split("|") if g else []) if a not in drop))
    lookup = {}
    for pos, row in enumerate(cells[["gruppering"] + key_cols].itertuples(index=False)):
        lookup[tuple(row)] = pos
    out = [lookup.get((tg,) + tuple(row), -1)
           for tg, row in zip(target_g, cells[key_cols].itertuples(index=False))]
    return pd.Series(out, index=cells.index, dtype="int64")


MISSING = [None, pd.NA, np.nan, float("nan"), pd.NaT]
VALUES = [0, 1, -1, 1234, 10**27, 10**28, True, False, 0.0, -0.0, 0.5, 0.1235, 1e-05, 2.5,
          np.int64(7), np.float64(0.237179), np.float32(0.5), math.inf, "x", "", "nan",
          date(2026, 10, 31), datetime(2026, 10, 31, 12), pd.Timestamp("2026-10-31"),
          np.datetime64("NaT"), np.datetime64("2026-10-31")]


def _same(a, b) -> bool:
    """Same value and type; missing values compare by identity or both NaN."""
    if type(a) is not type(b):
        return False
    if a is b:
        return True
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _result(fn, v):
    try:
        return "ok", fn(v)
    except Exception as exc:  # the same error type counts as the same answer
        return "error", type(exc).__name__


# --- formats ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", MISSING + VALUES, ids=repr)
def test_is_missing_as_before(value):
    assert is_missing(value) == old_is_missing(value)


def test_danish_numbers_fast_paths_as_decimal_route():
    rng = np.random.default_rng(11)
    ints = [*rng.integers(-10**12, 10**12, 2000).tolist(), 0, -1, 10**28 - 1, -(10**28) + 1]
    for n in ints:
        assert danish_int(n) == old_danish_int(n)
    assert _result(danish_int, 10**28) == ("error", "InvalidOperation")
    floats = [*rng.uniform(-2, 2, 2000).tolist(), 0.1235, -0.1235, 0.0005, 1e-05, 12.3456]
    for x in floats:
        # the same value as a numpy float takes the general route through Decimal
        assert danish_pct(x) == danish_pct(np.float64(x))
    assert _result(danish_pct, math.inf) == ("error", "ValueError")
    assert danish_pct(float("nan")) == ""


def test_format_each_missing_and_repeats():
    calls = []

    def fmt(v):
        calls.append(v)
        return f"<{v}>"

    values = [1, None, 1, pd.NA, 2, np.nan, 1, pd.NaT, [3]]
    assert format_each(fmt, values, missing="-") == ["<1>", "-", "<1>", "-", "<2>", "-", "<1>",
                                                      "-", "<[3]>"]
    assert calls == [1, 2, [3]]  # each distinct value once; unhashable values every time
    assert danish_values("count", [1234, pd.NA, 1234.0, np.int64(5)]) == ["1.234", "", "1.234",
                                                                          "5"]
    assert danish_values("share", [0.1235, None, np.nan, 1]) == ["12,4 %", "", "", "100,0 %"]


# --- tables ---------------------------------------------------------------------------------


def _columns() -> dict[str, pd.Series]:
    return {
        "str": pd.Series(["a", None, "2026", "I alt", np.nan], dtype="str"),
        "string": pd.Series(["a", None, "b"], dtype="string"),
        "object": pd.Series(["a", None, np.nan, pd.NA, 5], dtype=object),
        "Int64": pd.Series([1234, None, 0, -5], dtype="Int64"),
        "Int64_full": pd.Series([1, 2], dtype="Int64"),
        "Float64": pd.Series([0.5, None, 1.0], dtype="Float64"),
        "float64": pd.Series([0.1235, np.nan, 1.0, -0.0], dtype="float64"),
        "int64": pd.Series([1, 2, 10**15], dtype="int64"),
        "bool": pd.Series([True, False]),
        "dates": pd.Series([date(2026, 10, 31), None, date(2026, 9, 30)], dtype=object),
        "datetime64": pd.Series([pd.Timestamp("2026-10-31"), pd.NaT]),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_attribute_texts_as_before(name):
    col = _columns()[name]
    before = [TOTAL if old_is_missing(v) else str(v) for v in col]
    assert attribute_texts(col) == before


@pytest.mark.parametrize("name", list(_columns()))
def test_cell_values_format_as_before(name):
    col = _columns()[name]
    before = list(pd.DataFrame({"v": list(col)})["v"])  # view_rows's frame, iterated
    after = cell_values(col)
    assert len(after) == len(before)
    for a, b in zip(after, before, strict=True):
        assert is_missing(a) == is_missing(b)
        if is_missing(a):
            continue
        for fn in (int, float, danish_int, danish_pct, str):
            assert _result(fn, a) == _result(fn, b), (fn, a, b)


# --- report ---------------------------------------------------------------------------------


def test_frame_records_as_to_dict():
    for cube in (AFSLAARS, FRAFVURD):
        frame = make_published(cube)
        frame = frame.astype({c: "str" for c in cube.columns})  # as the warehouse reads them
        expected = frame.to_dict("records")
        got = frame_records(frame)
        assert [list(r) for r in got] == [list(r) for r in expected]
        for r, e in zip(got, expected, strict=True):
            assert all(_same(r[k], e[k]) for k in e), (r, e)
    mixed = pd.DataFrame({k: v.reindex(range(5)) for k, v in _columns().items()})
    expected = mixed.to_dict("records")
    for r, e in zip(frame_records(mixed), expected, strict=True):
        assert all(_same(r[k], e[k]) for k in e), (r, e)


# --- release --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [{}], "d": [[]], "e": {"f": [1, 2.5, None, True, "ø"]}},
        {"float": 1e-05},  # orjson writes 0.00001: the standard library's bytes are kept
        {"floats": [0.1, 1e16, 1e22, -0.0, 5e-324, 123456789.123]},
        {1: "non-string key"},
        {"nan": float("nan")},
        {"big": 2**70},
        {"text": "æøå \u2028 \x00 \x1f \" \\ / \x7f"},
        [[[[{"deep": [{}]}]]]],
    ],
    ids=repr,
)
def test_json_bytes_as_standard_library(obj):
    expected = (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode()
    assert json_bytes(obj) == expected


def test_json_bytes_errors_as_standard_library():
    with pytest.raises(TypeError):
        json_bytes({"x": object()})


@pytest.mark.parametrize("name", list(_columns()))
def test_key_as_before(name):
    col = _columns()[name]
    pd.testing.assert_series_equal(_key(col), old_key(col))


def test_row_values_as_rows_hold_them():
    frame = pd.DataFrame({k: v.reindex(range(5)) for k, v in _columns().items()})
    for c in frame.columns:
        got = row_values(frame[c])
        assert all(_same(got[i], frame.iloc[i][c]) for i in range(len(frame))), c


# --- share denominators ---------------------------------------------------------------------


@pytest.mark.parametrize("cube", [AFSLAARS, FRAFVURD], ids=lambda c: c.underemne)
@pytest.mark.parametrize("variant", ["as built", "str", "resampled", "empty"])
def test_share_denominators_as_before(cube, variant):
    cells = make_published(cube)
    rng = np.random.default_rng(5)
    if variant == "str":
        cells = cells.astype({c: "str" for c in cube.columns})
    elif variant == "resampled":  # missing denominators, repeated keys, shuffled index
        rows = rng.choice(len(cells), size=len(cells), replace=True)
        cells = cells.iloc[rows].set_index(pd.Index(rng.permutation(len(rows)) * 2))
    elif variant == "empty":
        cells = cells.iloc[:0]
    expected = old_share_denominators(cells, cube)
    pd.testing.assert_series_equal(share_denominators(cells, cube), expected)
    if variant == "resampled":
        assert (expected < 0).any()


def test_share_denominators_within_cell():
    cells = make_published(FRAFAFBRUD)
    got = share_denominators(cells, FRAFAFBRUD)
    assert got.tolist() == list(range(len(cells)))
