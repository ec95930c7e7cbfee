"""Danish display formats (section 2.2 of the publication contract)."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from transforms.catalog import AFSLAARS, FRAFAFBRUD
from transforms.formats import (
    EXCEL_INT_FORMAT,
    EXCEL_PCT_FORMAT,
    danish_date,
    danish_int,
    danish_pct,
    danish_value,
    excel_format,
    is_missing,
    period_caption,
)


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0"),
        (7, "7"),
        (999, "999"),
        (1000, "1.000"),
        (1234, "1.234"),
        (12345, "12.345"),
        (1234567, "1.234.567"),
        (-1234, "-1.234"),
        (np.int64(4321), "4.321"),
        (2.5, "3"),  # half away from zero
        (-2.5, "-3"),
        (1234.4, "1.234"),
    ],
)
def test_danish_int(n, text):
    assert danish_int(n) == text


@pytest.mark.parametrize(
    "fraction, text",
    [
        (0.1234, "12,3 %"),
        (0.123, "12,3 %"),
        (0.1235, "12,4 %"),  # half away from zero on the decimal value, not its binary float
        (0.0005, "0,1 %"),
        (0.00049, "0,0 %"),
        (0, "0,0 %"),
        (1, "100,0 %"),
        (0.5, "50,0 %"),
        (1 / 3, "33,3 %"),
        (2 / 3, "66,7 %"),
        (12.3456, "1.234,6 %"),
        (-0.1235, "-12,4 %"),
        (-0.0001, "0,0 %"),  # no negative zero
        (np.float64(0.237179), "23,7 %"),
        (Decimal("0.0715"), "7,2 %"),
    ],
)
def test_danish_pct(fraction, text):
    assert danish_pct(fraction) == text


@pytest.mark.parametrize("missing", [None, pd.NA, float("nan"), np.nan, pd.NaT])
def test_missing_is_empty(missing):
    assert is_missing(missing)
    assert danish_int(missing) == ""
    assert danish_pct(missing) == ""
    assert danish_value("count", missing) == ""
    assert danish_value("share", missing) == ""


def test_missing_from_pandas_columns():
    counts = pd.array([1234, None], dtype="Int64")
    shares = pd.Series([0.5, None], dtype="float64")
    assert [danish_int(v) for v in counts] == ["1.234", ""]
    assert [danish_pct(v) for v in shares] == ["50,0 %", ""]
    assert not is_missing(0) and not is_missing("") and not is_missing(0.0)


def test_danish_value_by_measure():
    assert danish_value(AFSLAARS.measure("Antal afslag"), 1234) == "1.234"
    assert danish_value(AFSLAARS.measure("Andel af afslag"), 0.25) == "25,0 %"
    assert danish_value(FRAFAFBRUD.measure("Andel afbrudt inden for 6 måneder"), 0.071) == "7,1 %"
    with pytest.raises(ValueError):
        danish_value("ratio", 1)


def test_excel_formats():
    assert EXCEL_INT_FORMAT == "#,##0"
    assert EXCEL_PCT_FORMAT == "0.0 %"
    assert excel_format(AFSLAARS.measure("Antal ansøgere")) == "#,##0"
    assert excel_format(AFSLAARS.measure("Andel af afslag")) == "0.0 %"
    assert excel_format("share") == "0.0 %"


def test_infinite_is_an_error():
    with pytest.raises(ValueError):
        danish_pct(math.inf)


def test_danish_dates_and_periods():
    assert danish_date(date(2026, 10, 31)) == "31. oktober 2026"
    assert danish_date(date(2026, 5, 1)) == "1. maj 2026"
    assert period_caption("2026M03") == "marts 2026"
    assert period_caption("2026K4") == "4. kvartal 2026"
    assert period_caption("2026") == "2026"
