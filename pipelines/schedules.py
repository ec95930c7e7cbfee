"""The monthly publication run: the release for month M is built on day 15 of month M+1 at
06:00 Europe/Copenhagen (refusals must be registered within two weeks)."""

import dagster as dg

release_job = dg.define_asset_job(
    "monthly_release",
    selection=dg.AssetSelection.all(),
    description="Extract, model, build the cubes, protect and publish one release month.",
)

monthly_release_schedule = dg.build_schedule_from_partitioned_job(
    release_job,
    name="monthly_release_schedule",
    day_of_month=15,
    hour_of_day=6,
    minute_of_hour=0,
    description="Builds the previous month's release on day 15 at 06:00 Europe/Copenhagen.",
)
