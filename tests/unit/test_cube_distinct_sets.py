"""transforms.cubes._distinct_sets: the distinct individuals per grouping set, computed
without one DISTINCT hash table per set, equal what ``GROUP BY GROUPING SETS`` gives, row
for row and type for type, on random bases with light individuals (compared pairwise), heavy
ones (more than PAIRWISE_MAX_ROWS rows, counted set by set) and both."""

from __future__ import annotations

import random

import duckdb
import pytest

from transforms import cubes

COLS = ["a", "b", "c", "d"]
SETS = [[], ["a"], ["a", "b"], ["b", "c"], ["a", "b", "c", "d"], ["d"], ["c", "a"]]
MEASURES = {"n1": "count(*)", "dd": "count(DISTINCT individ)", "n2": "count(DISTINCT individ)"}


def _base(seed: int, rows: int, individuals: int) -> duckdb.DuckDBPyConnection:
    r = random.Random(seed)
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE src (a INTEGER, b INTEGER, c INTEGER, d INTEGER, "
                "individ INTEGER)")
    def value():  # now and then missing: coded like any other value
        return None if r.random() < 0.05 else r.randint(1, r.choice([2, 5, 9]))

    con.executemany("INSERT INTO src VALUES (?, ?, ?, ?, ?)", [
        tuple(value() for _ in COLS) + (r.randint(1, individuals),) for _ in range(rows)])
    # coded as the cube build codes its base (cubes._encode): dictionaries _d_<col>, dense
    # codes from 1, and the base with every column replaced by its code
    cubes._encode(con, "src", COLS + ["individ"])
    return con


@pytest.mark.parametrize("seed,rows,individuals", [
    (0, 50, 3), (1, 500, 30), (2, 5000, 3000), (3, 5000, 30), (4, 3000, 200), (5, 40, 40),
    (6, 2000, 150), (7, 20000, 4000), (8, 300, 1), (9, 1, 1)])
def test_distinct_sets_equal_grouping_sets(seed, rows, individuals):
    con = _base(seed, rows, individuals)
    heavy = con.execute("SELECT count(*) FROM (SELECT individ FROM src_k GROUP BY individ "
                        f"HAVING count(*) > {cubes.PAIRWISE_MAX_ROWS})").fetchall()[0][0]
    assert cubes._distinct_sets(con, "src_k", COLS + ["individ"], COLS, SETS, MEASURES)
    con.execute("CREATE TEMP TABLE new AS SELECT * FROM _agg_k")
    sets = ", ".join("(" + ", ".join(s) + ")" for s in SETS)
    con.execute("CREATE TEMP TABLE old AS SELECT a, b, c, d, GROUPING(a, b, c, d) AS _gid, "
                "count(*) AS n1, count(DISTINCT individ) AS dd, count(DISTINCT individ) AS n2 "
                f"FROM src_k GROUP BY GROUPING SETS ({sets})")
    only_new, only_old, n = con.execute(
        "SELECT (SELECT count(*) FROM (SELECT * FROM new EXCEPT ALL SELECT * FROM old)), "
        "(SELECT count(*) FROM (SELECT * FROM old EXCEPT ALL SELECT * FROM new)), "
        "(SELECT count(*) FROM old)").fetchall()[0]
    assert (only_new, only_old) == (0, 0) and n > 0
    assert con.execute("DESCRIBE new").fetchall() == con.execute("DESCRIBE old").fetchall()
    if seed in (0, 3, 8):
        assert heavy > 0  # the set-by-set path was taken
    if seed == 2:
        assert heavy == 0  # only the pairwise path


def test_distinct_sets_declines_what_it_does_not_cover():
    con = _base(1, 100, 10)
    # no distinct measure: the ordinary aggregation
    assert not cubes._distinct_sets(con, "src_k", COLS + ["individ"], COLS, SETS,
                                    {"n": "count(*)"})
    # a grouping column that is not coded
    assert not cubes._distinct_sets(con, "src_k", ["a", "b", "individ"], COLS, SETS, MEASURES)
    con.execute("DELETE FROM src_k")  # no rows: GROUPING SETS' own empty grand total
    assert not cubes._distinct_sets(con, "src_k", COLS + ["individ"], COLS, SETS, MEASURES)


def test_distinct_sets_composes_sql_only_from_plain_names():
    """Only catalogue-shaped identifiers and a temporary table (or the caller's subquery)
    are spliced into its SQL; anything else goes to the ordinary GROUPING SETS aggregate."""
    con = _base(1, 100, 10)
    assert not cubes._distinct_sets(con, "src_k; DROP TABLE src", COLS + ["individ"], COLS,
                                    SETS, MEASURES)
    assert not cubes._distinct_sets(con, "src_k", COLS + ['a"; --', "individ"],
                                    COLS + ['a"; --'], SETS, MEASURES)
    assert con.execute("SELECT count(*) FROM src").fetchall()[0][0] == 100


def test_the_truth_query_composes_only_catalogue_columns():
    """series.warehouse_flow_truth composes its GROUP BY from column names: only the
    catalogue's columns (and tid_maaned) are taken, quoted; anything else is refused."""
    from transforms.series import _ident

    assert _ident("kommune") == '"kommune"' and _ident("tid_maaned") == '"tid_maaned"'
    for bad in ('kommune"; DROP TABLE fct_afslag; --', "ansoeger_pseudonym", ""):
        with pytest.raises(ValueError, match="not a column of the catalogue"):
            _ident(bad)
