"""The release calendar (transforms/calendar.py): parsing, stepping, captions, cut-off."""

from datetime import date, datetime, timedelta, timezone

import pytest

from transforms.calendar import (
    CPH, FIRST_RELEASE, Release, ReleaseError, is_release, month_range, period_span,
)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-9", "26-10", "2026-10 ", " 2026-10",
                                  "2026M10", "2026/10", "", "oktober", "2026-10-01"])
def test_parse_refuses_what_is_not_a_month(text):
    with pytest.raises(ReleaseError, match="is not a release month: use YYYY-MM, e.g. 2026-10"):
        Release.parse(text)
    assert not is_release(text)


def test_parse_and_text():
    r = Release.parse("2026-10")
    assert (r.year, r.month) == (2026, 10)
    assert str(r) == "2026-10" and is_release("2026-10")
    assert Release.parse(r) is r
    assert str(Release(987, 1)) == "0987-01"
    assert isinstance(ReleaseError("x"), ValueError)
    with pytest.raises(ReleaseError):
        Release(2026, 13)
    with pytest.raises(ReleaseError):
        Release.parse(None)


def test_order_and_equality():
    assert Release.parse("2025-12") < Release.parse("2026-01") < Release.parse("2026-02")
    assert Release.parse("2026-01") == Release(2026, 1)
    assert len({Release(2026, 1), Release.parse("2026-01")}) == 1


def test_stepping_over_year_ends():
    assert str(Release(2025, 12).next()) == "2026-01"
    assert str(Release(2026, 1).previous()) == "2025-12"
    assert str(Release(2026, 10).shift(-22)) == "2024-12"
    assert str(Release(2026, 10).shift(15)) == "2028-01"
    assert [str(r) for r in Release(2026, 2).back(4)] == ["2025-11", "2025-12", "2026-01",
                                                          "2026-02"]


def test_months_range():
    assert [str(r) for r in month_range("2025-11", "2026-02")] == [
        "2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_range("2026-03", "2026-03") == [Release(2026, 3)]
    assert month_range("2026-04", "2026-03") == []
    assert len(month_range(FIRST_RELEASE, "2026-10")) == 67
    with pytest.raises(ReleaseError):
        month_range("2026-1", "2026-03")


def test_first_release():
    assert str(FIRST_RELEASE) == "2021-04"


def test_captions_and_names():
    r = Release(2026, 10)
    assert (r.caption, r.quarter_caption, r.year_caption) == ("2026M10", "2026K4", "2026")
    assert Release(2026, 1).caption == "2026M01" and Release(2026, 3).quarter_caption == "2026K1"
    assert Release(2026, 4).quarter == 2 and Release(2026, 12).quarter == 4
    assert r.name == "oktober 2026" and Release(2026, 1).name == "januar 2026"
    assert r.short_name == "okt 26" and Release(2005, 5).short_name == "maj 05"
    assert Release.from_caption("2021M04") == FIRST_RELEASE
    for bad in ("2021-04", "2021M4", "2021M13", "2021K2"):
        with pytest.raises(ReleaseError, match="not a month caption"):
            Release.from_caption(bad)


def test_period_span():
    assert period_span("2026M10") == (Release(2026, 10), Release(2026, 10))
    assert period_span("2026K1") == (Release(2026, 1), Release(2026, 3))
    assert period_span("2026K4") == (Release(2026, 10), Release(2026, 12))
    assert period_span("2026") == (Release(2026, 1), Release(2026, 12))
    for bad in ("2026K5", "2026-10", "", None):
        with pytest.raises(ReleaseError, match="not a Tid caption"):
            period_span(bad)


def test_days_and_cutoff():
    assert Release(2026, 2).first_day == date(2026, 2, 1)
    assert Release(2026, 2).last_day == date(2026, 2, 28)
    assert Release(2024, 2).last_day == date(2024, 2, 29)
    assert Release(2026, 12).last_day == date(2026, 12, 31)
    cut = Release(2026, 12).cutoff
    assert cut == datetime(2027, 1, 1, tzinfo=CPH)
    assert cut.isoformat() == "2027-01-01T00:00:00+01:00"
    # summer time: the instant is midnight in Copenhagen, 22:00 UTC the day before
    assert Release(2026, 9).cutoff.astimezone(timezone.utc) == datetime(2026, 9, 30, 22,
                                                                        tzinfo=timezone.utc)
    assert Release(2026, 10).cutoff.isoformat() == "2026-11-01T00:00:00+01:00"


def test_newest_complete_waits_two_weeks():
    # data through 14 November: October is complete; through 13 November it is not
    assert Release.newest_complete(date(2026, 11, 14)) == Release(2026, 10)
    assert Release.newest_complete(date(2026, 11, 13)) == Release(2026, 9)
    assert Release.newest_complete(date(2027, 1, 14)) == Release(2026, 12)
    assert Release.newest_complete(date(2026, 11, 30)) == Release(2026, 10)
    for k in range(400):  # the rule as stated, day by day
        d = date(2025, 1, 1) + timedelta(days=k)
        r = Release.newest_complete(d)
        assert r.last_day + timedelta(days=14) <= d < r.next().last_day + timedelta(days=14)


def test_newest_ended_is_in_copenhagen():
    # 31 October 23:30 UTC is already 1 November in Copenhagen: October has ended
    assert Release.newest_ended(datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc)) == \
        Release(2026, 10)
    assert Release.newest_ended(datetime(2026, 10, 31, 22, 30, tzinfo=timezone.utc)) == \
        Release(2026, 9)
    assert Release.newest_ended(datetime(2026, 1, 10, tzinfo=CPH)) == Release(2025, 12)
