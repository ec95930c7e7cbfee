"""The release calendar: a release is a calendar month, ``YYYY-MM``, in Europe/Copenhagen.

:class:`Release` is the one place a month is parsed, stepped and captioned::

    r = Release.parse("2026-10")        # ReleaseError (a ValueError) for anything else
    str(r)                              # "2026-10"   folder name, partition key, API field
    r.cutoff                            # 2026-11-01 00:00 Europe/Copenhagen
    r.previous(), r.next()              # 2026-09, 2026-11
    r.caption, r.quarter_caption, r.year_caption   # "2026M10", "2026K4", "2026"
    r.name                              # "oktober 2026"
    month_range(FIRST_RELEASE, r)            # 2021-04 .. 2026-10

The first release is the month refusals began to be registered (2021-04): the release
partitions, the backfill and the flow cubes' time members start there. A Tid member caption
(``2026M10``, ``2026K4``, ``2026``) spans the months :func:`period_span` gives.

No pandas, no Dagster: every room imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

#: the zone every release month, cut-off and schedule is stated in
TIMEZONE = "Europe/Copenhagen"
CPH = ZoneInfo(TIMEZONE)
#: a release month as text, for ``re.fullmatch`` (``strftime`` form: :data:`STRFTIME`)
PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"
STRFTIME = "%Y-%m"
_RELEASE = re.compile(PATTERN)
_MONTH_CAPTION = re.compile(r"(\d{4})M(0[1-9]|1[0-2])")
_QUARTER_CAPTION = re.compile(r"(\d{4})K([1-4])")
_YEAR_CAPTION = re.compile(r"\d{4}")

MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september",
          "oktober", "november", "december")
MONTHS_SHORT = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


class ReleaseError(ValueError):
    """Text that is not a release month (or a Tid caption); the message says the form."""


@dataclass(frozen=True, order=True)
class Release:
    """One release month. Ordered by time; ``str()`` is ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 0 <= self.year <= 9999):
            raise ReleaseError(f"no release month {self.year}-{self.month}")

    # -- from text and dates
    @classmethod
    def parse(cls, text: str | Release) -> Release:
        """``"2026-10"`` → ``Release(2026, 10)``; a Release is returned as it is."""
        if isinstance(text, Release):
            return text
        if not isinstance(text, str) or not _RELEASE.fullmatch(text):
            raise ReleaseError(f"{text!r} is not a release month: use YYYY-MM, e.g. 2026-10")
        return cls(int(text[:4]), int(text[5:]))

    @classmethod
    def of(cls, day: date) -> Release:
        """The month a day (or an instant, as it is given) falls in."""
        return cls(day.year, day.month)

    @classmethod
    def from_caption(cls, caption: str) -> Release:
        """``"2026M10"`` (a Tid month caption) → ``Release(2026, 10)``."""
        m = _MONTH_CAPTION.fullmatch(caption) if isinstance(caption, str) else None
        if not m:
            raise ReleaseError(f"{caption!r} is not a month caption: use YYYYMmm, e.g. 2026M10")
        return cls(int(m[1]), int(m[2]))

    @classmethod
    def newest_complete(cls, last_day: date, lag_days: int = 14) -> Release:
        """The newest month whose registrations are complete, given the store's last day of
        data: refusals are registered within two weeks (``lag_days``), so month M is complete
        once the store has data through M's last day + the lag."""
        d = last_day - timedelta(days=lag_days)
        month = cls.of(d)
        return month if d == month.last_day else month.previous()

    @classmethod
    def newest_ended(cls, now: datetime | None = None) -> Release:
        """The last month that has ended in Europe/Copenhagen (the newest release partition)."""
        now = datetime.now(CPH) if now is None else now.astimezone(CPH)
        return cls.of(now).previous()

    # -- text
    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def caption(self) -> str:
        """The Tid month caption: ``2026M10``."""
        return f"{self.year}M{self.month:02d}"

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    @property
    def quarter_caption(self) -> str:
        """The Tid quarter caption of the month's quarter: ``2026K4``."""
        return f"{self.year}K{self.quarter}"

    @property
    def year_caption(self) -> str:
        """The Tid year caption: ``2026``."""
        return str(self.year)

    @property
    def name(self) -> str:
        """The month in Danish: ``oktober 2026``."""
        return f"{MONTHS[self.month - 1]} {self.year}"

    @property
    def short_name(self) -> str:
        """Short, for chart axes: ``okt 26``."""
        return f"{MONTHS_SHORT[self.month - 1]} {str(self.year)[2:]}"

    # -- days and instants
    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def cutoff(self) -> datetime:
        """The release's cut-off: the first instant of the next month, Europe/Copenhagen
        (registrations before it are in the release)."""
        n = self.next()
        return datetime(n.year, n.month, 1, tzinfo=CPH)

    # -- stepping
    def shift(self, months: int) -> Release:
        """The month ``months`` later (earlier when negative)."""
        y, m = divmod(self.year * 12 + self.month - 1 + months, 12)
        return Release(y, m + 1)

    def next(self) -> Release:
        return self.shift(1)

    def previous(self) -> Release:
        return self.shift(-1)

    def back(self, n: int) -> list[Release]:
        """The ``n`` months ending with this one, oldest first."""
        return [self.shift(k) for k in range(1 - n, 1)]


#: the first release month: refusals are registered from 15 April 2021
FIRST_RELEASE = Release(2021, 4)


def is_release(text: object) -> bool:
    """``text`` is a release month, ``YYYY-MM``."""
    return isinstance(text, str) and _RELEASE.fullmatch(text) is not None


def month_range(first: str | Release, last: str | Release) -> list[Release]:
    """Every month from ``first`` through ``last``, in order (empty when first > last)."""
    a, b = Release.parse(first), Release.parse(last)
    return [a.shift(k) for k in range((b.year * 12 + b.month) - (a.year * 12 + a.month) + 1)]


def period_span(caption: str) -> tuple[Release, Release]:
    """The first and last month of a Tid member: ``2026M10`` → (2026-10, 2026-10),
    ``2026K4`` → (2026-10, 2026-12), ``2026`` → (2026-01, 2026-12)."""
    if isinstance(caption, str):
        if _MONTH_CAPTION.fullmatch(caption):
            r = Release.from_caption(caption)
            return r, r
        if m := _QUARTER_CAPTION.fullmatch(caption):
            y, q = int(m[1]), int(m[2])
            return Release(y, 3 * q - 2), Release(y, 3 * q)
        if _YEAR_CAPTION.fullmatch(caption):
            return Release(int(caption), 1), Release(int(caption), 12)
    raise ReleaseError(f"{caption!r} is not a Tid caption: use e.g. 2026M10, 2026K4 or 2026")
