"""The release calendar: one partition per release month, from the first release
(transforms/calendar.py), in Europe/Copenhagen."""

import dagster as dg

from transforms.calendar import FIRST_RELEASE, STRFTIME, TIMEZONE

release_partitions = dg.MonthlyPartitionsDefinition(
    start_date=str(FIRST_RELEASE),
    fmt=STRFTIME,
    timezone=TIMEZONE,
    end_offset=0,
)
