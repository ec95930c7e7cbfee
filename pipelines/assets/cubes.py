"""Cubes: every cell of every published view, per release month (sql/marts)."""


import dagster as dg

from pipelines.assets.lineage import deps_of, sql_deps
from pipelines.partitions import release_partitions
from pipelines.resources import LpstatResource
from transforms.catalog import CUBES
from transforms.warehouse import sql_text

def cube_deps(underemne: str) -> list[str]:
    """What a cube's step reads: its base model's tables (sql/marts/cube_<underemne>.sql; the
    stock cubes read elevbestand), the dimensions of its member tables and, for the stock
    cubes, the status periods."""
    from transforms.cubes import MEMBER_SQL, members_needed
    from transforms.warehouse import tables_read

    cube = CUBES[underemne]
    tables = tables_read(sql_text("marts", f"cube_{underemne.lower()}"))
    for col in members_needed(cube) & set(MEMBER_SQL):
        tables |= {t for t in tables_read(MEMBER_SQL[col][0]) if not t.startswith("m_")}
    if cube.kind == "stock":
        tables.add("status_perioder")
    return deps_of(tables)


def _stock_spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(name, group_name="cubes", partitions_def=release_partitions,
                        deps=sql_deps("marts", name), kinds={"duckdb", "sql"},
                        owners=["team:lpstat"], description=f"{description} sql/marts/{name}.sql.")


STOCK_SPECS = [
    _stock_spec("status_perioder", "The status dates of the stock cubes for the release, per "
                "time level (month, quarter, year; the running period on the release's last "
                "day)."),
    _stock_spec("elevbestand", "The student stock as known at the release's cut-off: per "
                "status date and combination of the stock cubes' attributes, the students "
                "running and those whose agreement was broken off within six months. Built once "
                "per release and read by cube_frafvurd and cube_frafafbrud; the warehouse holds "
                "the stock of the release built last."),
]


@dg.multi_asset(
    name="stock_model", specs=STOCK_SPECS,
    description="The stock model of one release (status periods, then the student stock), in "
    "one transaction; the stock cubes read it.")
def stock_model(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.calendar import Release
    from transforms.cubes import build_stock

    release = context.partition_key
    con = lpstat.warehouse()
    try:
        rows = build_stock(con, release)
        dates = con.execute("SELECT count(DISTINCT statusdato) FROM status_perioder"
                            ).fetchall()[0][0]
    finally:
        con.close()
    yield dg.MaterializeResult(asset_key="status_perioder", metadata={
        "dagster/row_count": rows["status_perioder"], "status_dates": dates})
    yield dg.MaterializeResult(asset_key="elevbestand", metadata={
        "dagster/row_count": rows["elevbestand"],
        "cutoff": Release.parse(release).cutoff.isoformat()})


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
        deps=cube_deps(underemne),
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
        from transforms.calendar import Release
        from transforms.cubes import build_cells, member_tables, use_stock
        from transforms.warehouse import store_partition

        release = context.partition_key
        con = lpstat.warehouse()
        try:
            if cube.kind == "stock":
                use_stock(con, release)
            member_tables(con, release, cube)
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
            "cutoff": Release.parse(release).cutoff.isoformat(),
            "cells_per_grouping": dg.MetadataValue.md(
                "| grouping | cells |\n|---|---:|\n" + "\n".join(
                    f"| {g.replace('|', ' × ') or '(total)'} | {n:,} |"
                    for g, n in per_grouping.items())),
        })

    return _asset


cube_assets = [_cube_asset(u) for u in CUBES]
