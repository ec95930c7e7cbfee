"""Release partitions: only catalogue tables reach SQL text; empty and missing differ."""

import pandas as pd
import pytest

from transforms.warehouse import connect, read_partition, store_partition


def test_partitions_round_trip_and_refuse_unknown_tables():
    con = connect(":memory:")
    frame = pd.DataFrame({"gruppering": ["", "x"], "tid_aar": [None, "2024"], "antal_afslag": [5, 4]})
    store_partition(con, "pub_afslaars", "2024-11", frame)
    back = read_partition(con, "pub_afslaars", "2024-11")
    assert back["gruppering"].tolist() == ["", "x"] and back["antal_afslag"].tolist() == [5, 4]
    assert back["tid_aar"].isna().tolist() == [True, False] and back["tid_aar"][1] == "2024"
    assert len(read_partition(con, "pub_afslaars", "2024-11", limit=1)) == 1
    store_partition(con, "pub_afslaars", "2024-12", frame.iloc[:0])
    assert read_partition(con, "pub_afslaars", "2024-12").empty  # written empty
    with pytest.raises(LookupError, match="build the cubes first"):
        read_partition(con, "pub_afslaars", "2025-01")  # never written
    for bad in ("pub_afslaars; DROP TABLE x", "raw_afslag"):
        with pytest.raises(ValueError, match="not a partitioned table"):
            read_partition(con, bad, "2024-11")
        with pytest.raises(ValueError, match="not a partitioned table"):
            store_partition(con, bad, "2024-11", frame)


def test_an_empty_first_partition_still_types_the_table():
    """A backfill starts at 2021-04, when the stock cubes have no status date yet: the table
    created from that empty frame must take the later, non-empty releases."""
    from datetime import date

    con = connect(":memory:")
    empty = pd.DataFrame({"gruppering": pd.Series([], dtype=object),
                          "statusdato": pd.Series([], dtype=object),
                          "tid_aar": pd.Series([], dtype=object),
                          "antal_elever": pd.Series([], dtype="int64")})
    store_partition(con, "cube_frafvurd", "2021-04", empty)
    full = pd.DataFrame({"gruppering": ["[Tid].[År]"], "statusdato": [date(2022, 1, 31)],
                         "tid_aar": ["2022"], "antal_elever": [7]})
    store_partition(con, "cube_frafvurd", "2022-01", full)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'cube_frafvurd'").fetchall())
    assert types["statusdato"] == "DATE" and types["tid_aar"] == "VARCHAR"
    assert types["antal_elever"] == "BIGINT"
    back = read_partition(con, "cube_frafvurd", "2022-01")
    assert back["statusdato"].tolist() == [date(2022, 1, 31)] and back["antal_elever"].tolist() == [7]
    assert read_partition(con, "cube_frafvurd", "2021-04").empty
