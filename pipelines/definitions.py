"""The one Dagster entry point: every asset, check, job, schedule and resource."""

import dagster as dg

from pipelines.assets.cubes import cube_assets, stock_model
from pipelines.assets.ingest import extract_source
from pipelines.assets.release import beskyttede_celler, udgivelse
from pipelines.assets.warehouse import build_warehouse
from pipelines.checks import ALL_CHECKS
from pipelines.resources import LpstatResource
from pipelines.schedules import monthly_release_schedule, release_job
from pipelines.sensors import release_failure_sensor
from transforms.disclosure.protect import Methods

ALL_ASSETS = [extract_source, build_warehouse, stock_model, *cube_assets, beskyttede_celler, udgivelse]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[release_job],
    schedules=[monthly_release_schedule],
    sensors=[release_failure_sensor],
    # "disclosure": the real suppressor and audits (tests hand in stand-ins)
    resources={"lpstat": LpstatResource(), "disclosure": Methods()},
    # One DuckDB file takes one writer at a time: run steps in one process, in order.
    executor=dg.in_process_executor,
)
