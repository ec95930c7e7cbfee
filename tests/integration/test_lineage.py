"""The asset graph's dependencies match what each step reads (issue 20).

The dependencies are derived from the SQL (transforms.warehouse.tables_read, pipelines/assets/
lineage.py). This checks the derivation on known SQL, the wiring of every SQL model's asset,
and, by running them, the stock model and the cube steps: each builds from a warehouse that
holds nothing but the tables its asset depends on (so it reads nothing undeclared), with the
same result as on the whole warehouse, and fails when any one of them is missing (so every
declared dependency is read).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from transforms.catalog import CUBES
from transforms.extract import SOURCE_TABLES
from transforms.warehouse import WAREHOUSE_MODELS

RELEASE = "2026-10"


def test_tables_read_skips_ctes_and_what_the_file_creates():
    from transforms.warehouse import tables_read

    sql = """
    -- a comment FROM nowhere
    CREATE OR REPLACE TEMP TABLE _a AS
    WITH x AS (SELECT * FROM t1) SELECT * FROM x JOIN t2 USING (k);
    CREATE OR REPLACE TABLE out AS
    SELECT * FROM _a WHERE k IN (SELECT k FROM t3) AND $p > 0;
    DROP TABLE _a;
    """
    assert tables_read(sql) == {"t1", "t2", "t3"}


def _parents(key: str) -> list[str]:
    from pipelines.definitions import defs

    node = defs.resolve_asset_graph().get(dg.AssetKey(key))
    return sorted(k.to_user_string() for k in node.parent_keys)


@pytest.mark.parametrize(("layer", "name"), [
    *[("staging", f"stg_laerepladsen__{t}") for t in SOURCE_TABLES],
    *[("warehouse", m) for m in WAREHOUSE_MODELS],
    ("marts", "status_perioder"), ("marts", "elevbestand"),
])
def test_every_sql_models_asset_depends_on_what_its_sql_reads(layer, name):
    from pipelines.assets.lineage import sql_deps

    assert _parents(name) == sql_deps(layer, name)


def test_staging_reads_its_raw_table_and_the_checked_references():
    assert _parents("stg_laerepladsen__afslag") == [
        "raw_afslag", "stg_laerepladsen__afslagsbegrundelse", "stg_laerepladsen__uddannelse",
        "stg_laerepladsen__virksomhed"]
    assert _parents("dim_kommune") == []  # reads only the reference table it loads itself


# --- by running them ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    from demo.generate import generate
    from transforms.land import land_source
    from transforms.warehouse import build_all, connect

    tmp = tmp_path_factory.mktemp("lineage")
    store = tmp / "store.sqlite"
    generate(store, scale="small", seed=2)
    path = tmp / "warehouse.duckdb"
    con = connect(path)
    land_source(f"sqlite:///{store}", "lineage-key", con, "test")
    build_all(con)
    con.close()
    return path


def _only(warehouse: Path, tables: list[str], target: Path):
    """A fresh warehouse holding copies of ``tables`` and nothing else."""
    from transforms.warehouse import connect

    con = connect(target)
    con.execute("ATTACH ? AS w (READ_ONLY)", [str(warehouse)])
    for t in tables:
        con.execute(f'CREATE TABLE "{t}" AS SELECT * FROM w."{t}"')
    con.execute("DETACH w")
    return con


def _stock(con) -> dict:
    from transforms.cubes import build_stock

    rows = build_stock(con, RELEASE)
    return {**rows, "sum": con.execute("SELECT sum(antal), sum(antal_afbrudt) FROM elevbestand")
            .fetchall()[0]}


def _cube(con, underemne: str):
    from transforms.cubes import build_cells, member_tables, use_stock

    cube = CUBES[underemne]
    if cube.kind == "stock":
        use_stock(con, RELEASE)
    member_tables(con, RELEASE, cube)
    return build_cells(con, cube, RELEASE)


def test_the_stock_model_reads_exactly_its_dependencies(warehouse, tmp_path):
    deps = _parents("elevbestand")
    assert "status_perioder" in deps
    tables = [d for d in deps if d != "status_perioder"]  # built in the same step
    whole = _stock(_only(warehouse, [*WAREHOUSE_MODELS], tmp_path / "whole.duckdb"))
    assert _stock(_only(warehouse, tables, tmp_path / "only.duckdb")) == whole
    for missing in tables:
        con = _only(warehouse, [t for t in tables if t != missing], tmp_path / f"-{missing}.duckdb")
        with pytest.raises(Exception, match=missing):
            _stock(con)


@pytest.mark.parametrize("underemne", list(CUBES))
def test_each_cube_reads_exactly_its_dependencies(warehouse, tmp_path, underemne):
    import pandas as pd

    deps = _parents(f"cube_{underemne.lower()}")
    stock = {"elevbestand", "status_perioder"}
    tables = [d for d in deps if d not in stock]
    whole = _only(warehouse, [*WAREHOUSE_MODELS], tmp_path / "whole.duckdb")
    uses_stock = bool(stock & set(deps))
    if uses_stock:
        assert stock <= set(deps)
        _stock(whole)
    expected = _cube(whole, underemne)
    whole.close()

    def with_stock(con):
        """The stock model as its own step left it (it is built once, not by the cube)."""
        con.execute("ATTACH ? AS s (READ_ONLY)", [str(tmp_path / "whole.duckdb")])
        for t in (*stock, "partitioner"):
            con.execute(f"CREATE TABLE {t} AS SELECT * FROM s.{t}")
        con.execute("DETACH s")
        return con

    con = _only(warehouse, tables, tmp_path / "only.duckdb")
    pd.testing.assert_frame_equal(_cube(with_stock(con) if uses_stock else con, underemne),
                                  expected)
    for missing in tables:
        con = _only(warehouse, [t for t in tables if t != missing],
                    tmp_path / f"-{missing}.duckdb")
        with pytest.raises(Exception, match=missing):
            _cube(with_stock(con) if uses_stock else con, underemne)
