"""Cubes: every cell of every published view, per release month (sql/marts)."""


import dagster as dg

from pipelines.partitions import release_partitions
from pipelines.resources import LpstatResource
from transforms.catalog import CUBES

_DEPS = {
    "AFSLAARS": ["fct_afslag", "dim_uddannelse", "dim_virksomhed", "dim_afslagsaarsag"],
    "FRAFVURD": ["fct_aftale_historik", "fct_frafaldsvurdering", "dim_elev", "dim_skole",
                 "dim_uddannelse", "dim_virksomhed"],
    "FRAFAFBRUD": ["fct_aftale_historik", "fct_frafaldsvurdering", "dim_elev",
                   "dim_uddannelse", "dim_virksomhed"],
}


def _views_text(cube) -> str:
    """'(Måned, Uddannelse, Primær årsag); (...)': the published tables, by attribute."""
    return "; ".join("(" + ", ".join(a.split("].[")[-1].rstrip("]") for a in v.attributes) + ")"
                     for v in cube.views)


def _cube_asset(underemne: str):
    cube = CUBES[underemne]

    @dg.asset(
        name=f"cube_{underemne.lower()}",
        group_name="cubes",
        partitions_def=release_partitions,
        deps=_DEPS[underemne],
        kinds={"duckdb", "sql"},
        owners=["team:lpstat"],
        description=f"{cube.caption} ({cube.id}): every cell of every view with true counts, "
        f"before disclosure control. Base model sql/marts/cube_{underemne.lower()}.sql. "
        f"Views: {_views_text(cube)}. "
        "Internal: these counts are never published as they are.",
        metadata={"cube": cube.id, "kind": cube.kind,
                  "measures": ", ".join(m.caption for m in cube.measures)},
    )
    def _asset(context: dg.AssetExecutionContext, lpstat: LpstatResource):
        from transforms.cubes import build_cells, cutoff_for, prepare_release
        from transforms.warehouse import store_partition

        release = context.partition_key
        con = lpstat.warehouse()
        try:
            prepare_release(con, release)
            cells = build_cells(con, cube, release)
            store_partition(con, f"cube_{underemne.lower()}", release, cells)
        finally:
            con.close()
        nonzero = int((cells[cube.value_column] > 0).sum())
        # Cell counts per grouping only: the true values stay out of the run history (the
        # instance may sit in another database than the warehouse).
        per_grouping = cells.groupby("gruppering", sort=False).size()
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(cells), "non_empty_cells": nonzero,
            "groupings": len(cube.groupings),
            "cutoff": cutoff_for(release).isoformat(),
            "cells_per_grouping": dg.MetadataValue.md(
                "| grouping | cells |\n|---|---:|\n" + "\n".join(
                    f"| {g.replace('|', ' × ') or '(total)'} | {n:,} |"
                    for g, n in per_grouping.items())),
        })

    return _asset


cube_assets = [_cube_asset(u) for u in CUBES]
