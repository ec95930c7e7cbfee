"""Danish display formats for published values (section 2.2 of the publication contract).

One place for how a number looks to a person: the API's strings, the CSV tables, the
Excel number formats and the report all use these functions, so ``1.234`` and ``12,3 %``
are spelled the same way everywhere.

- integers: ``.`` as thousands separator, no decimals: ``1234`` → ``"1.234"``;
- shares: a fraction ×100, one decimal (rounded half away from zero), ``,`` as decimal
  separator, a space and ``%``: ``0.1234`` → ``"12,3 %"``;
- no value (``None``, ``pd.NA``, ``NaN``, ``NaT``) → ``""``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from transforms.calendar import CPH, MONTHS, Release

#: Excel number format of counts. Excel stores the pattern with ',' as the grouping symbol and
#: shows the reader's locale: ``1.234`` in a Danish Excel, ``1,234`` in an English one.
EXCEL_INT_FORMAT = "#,##0"
#: Excel number format of shares (the cell holds the fraction; ``%`` multiplies by 100):
#: ``12,3 %`` in a Danish Excel.
EXCEL_PCT_FORMAT = "0.0 %"
#: Built-in Excel format 14, the reader's short date (``31-10-2026`` in a Danish Excel).
EXCEL_DATE_FORMAT_INDEX = 14


def is_missing(value: Any) -> bool:
    """True for None, pd.NA, NaN and NaT (anything that is 'no value')."""
    if value is None:
        return True
    cls = type(value)
    # The common types first, decided without the (slow) numbers ABCs; same answers.
    if cls is str or cls is int:
        return False
    if cls is float:
        return value != value
    if cls.__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(value)
    return False


def _decimal(value: Any) -> Decimal:
    if type(value) is float and value - value == 0:  # finite float, the common case
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if isinstance(value, numbers.Real):  # float, numpy floating
        value = float(value)
        if math.isinf(value):
            raise ValueError(f"not a finite number: {value!r}")
        # repr gives the shortest decimal that round-trips: 0.1235 → Decimal('0.1235'), so
        # rounding happens on the number a person sees, not on its binary approximation.
        return Decimal(repr(value))
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


#: Python ints below this size take :func:`danish_int`'s fast path; larger ones go through
#: Decimal as before (whose 28-digit context rejects them).
_INT_FAST = 10**28


def _group_thousands(digits: str) -> str:
    out = []
    while len(digits) > 3:
        out.append(digits[-3:])
        digits = digits[:-3]
    out.append(digits)
    return ".".join(reversed(out))


def danish_int(n: Any) -> str:
    """``1234`` → ``"1.234"``; ``-1234`` → ``"-1.234"``; ``None``/NA → ``""``.

    Non-integral input is rounded half away from zero.
    """
    if type(n) is int and -_INT_FAST < n < _INT_FAST:  # what the Decimal route gives
        return f"{n:,}".replace(",", ".")
    if is_missing(n):
        return ""
    d = _decimal(n).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    return sign + _group_thousands(str(abs(int(d))))


def danish_pct(fraction: Any) -> str:
    """``0.1234`` → ``"12,3 %"``; ``1`` → ``"100,0 %"``; ``None``/NA → ``""``.

    The fraction is multiplied by 100 and rounded to one decimal, half away from zero
    (``0.1235`` → ``"12,4 %"``).
    """
    if is_missing(fraction):
        return ""
    d = (_decimal(fraction) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0,0 %"
    sign = "-" if d < 0 else ""
    whole, _, decimals = f"{abs(d):f}".partition(".")
    return f"{sign}{_group_thousands(whole)},{decimals or '0'} %"


def format_each(fn: Callable[[Any], Any], values: Iterable[Any], missing: Any = "") -> list:
    """``[missing if is_missing(v) else fn(v) for v in values]``, calling ``fn`` once per
    distinct value: a column repeats its values (shares of 100 %, status dates), and equal
    values format alike. ``fn`` must give equal results for equal values."""
    cache: dict = {}
    out: list = []
    append = out.append
    for v in values:
        if is_missing(v):
            append(missing)
            continue
        try:
            result = cache[v]
        except KeyError:
            result = cache[v] = fn(v)
        except TypeError:  # unhashable: no cache
            result = fn(v)
        append(result)
    return out


def danish_values(measure: Any, values: Iterable[Any]) -> list[str]:
    """:func:`danish_value` of every value of a column (see :func:`format_each`)."""
    return format_each(danish_pct if _kind(measure) == "share" else danish_int, values)


def _kind(measure: Any) -> str:
    kind = getattr(measure, "kind", measure)
    if kind not in ("count", "share"):
        raise ValueError(f"unknown measure kind: {kind!r}")
    return kind


def danish_value(measure: Any, value: Any) -> str:
    """A measure's value as the API and the CSV files show it.

    ``measure`` is a :class:`transforms.catalog.Measure` or its kind (``"count"``/``"share"``).
    """
    return danish_pct(value) if _kind(measure) == "share" else danish_int(value)


def excel_format(measure: Any) -> str:
    """The Excel number format that displays a measure as :func:`danish_value` does."""
    return EXCEL_PCT_FORMAT if _kind(measure) == "share" else EXCEL_INT_FORMAT


# --- dates and periods in Danish ---------------------------------------------------------


def copenhagen(instant: datetime) -> datetime:
    """A tz-aware instant in Danish time (the zone every period and cut-off is stated in)."""
    return instant.astimezone(CPH)


def danish_date(d: Any) -> str:
    """``date(2026, 10, 31)`` → ``"31. oktober 2026"``."""
    return f"{d.day}. {MONTHS[d.month - 1]} {d.year}"


def period_caption(caption: str) -> str:
    """A Tid member caption in words: ``2026M10`` → ``oktober 2026``, ``2026K4`` →
    ``4. kvartal 2026``, ``2026`` → ``2026``."""
    if "M" in caption:
        return Release.from_caption(caption).name
    if "K" in caption:
        year, quarter = caption.split("K")
        return f"{quarter}. kvartal {year}"
    return caption
