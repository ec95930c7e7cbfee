"""The release calendar: one partition per release month, from the first month with
refusals (2021-04), in Europe/Copenhagen."""

import dagster as dg

release_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2021-04",
    fmt="%Y-%m",
    timezone="Europe/Copenhagen",
    end_offset=0,
)
