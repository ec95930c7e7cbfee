"""Real disclosure control end to end (no stand-in): suppression, the independent audit and
the release writer on a demo store, for release 2022-06, where FRAFAFBRUD has no period yet
(its periods end at least six months before the cut-off, and assessments start 2022)."""

from __future__ import annotations

import json

import pytest

RELEASE = "2022-06"


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    from demo.generate import generate
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells, prepare_release
    from transforms.land import land_source
    from transforms.protect import protect_release, publish_release
    from transforms.warehouse import build_all, connect, store_partition

    d = tmp_path_factory.mktemp("real")
    generate(d / "store.sqlite", scale="small", seed=3)
    con = connect(d / "warehouse.duckdb")
    try:
        land_source(f"sqlite:///{d / 'store.sqlite'}", "k" * 32, con, "test")
        build_all(con)
        prepare_release(con, RELEASE)
        cells = {}
        for u, cube in CUBES.items():
            cells[u] = build_cells(con, cube, RELEASE)
            store_partition(con, f"cube_{u.lower()}", RELEASE, cells[u])
        result = protect_release(con, RELEASE)
        pub = {u: con.execute(f"SELECT * FROM pub_{u.lower()} WHERE udgivelse = ? ORDER BY _nr",
                              [RELEASE]).df() for u in CUBES}
        folder = publish_release(con, d / "releases", RELEASE, {})
    finally:
        con.close()
    return {"cells": cells, "result": result, "pub": pub, "folder": folder}


def test_every_cube_passes_the_real_audit(protected):
    r = protected["result"]
    assert r["verdict"] == "bestået"
    methods = {u: c["undertrykkelse"] for u, c in r["cubes"].items()}
    # AFSLAARS is one linked system of 10,440 cells: the checked search; FRAFVURD's systems
    # (one per status date) are small: the global suppressor
    assert methods == {"AFSLAARS": "kontrolleret", "FRAFVURD": "global", "FRAFAFBRUD": "global"}
    for u, c in r["cubes"].items():
        assert c["failed"] == 0 and c["consistency_errors"] == []
        assert c["checked"] >= c["withheld"]
        assert all(cell["ok"] for cell in c["cells"])
        assert all("raekke" not in cell for cell in c["cells"])
    assert len(protected["cells"]["AFSLAARS"]) == 10440
    assert r["cubes"]["AFSLAARS"]["withheld"] > 0 and r["cubes"]["FRAFVURD"]["withheld"] > 0


def test_nothing_small_or_empty_is_published(protected):
    from transforms.catalog import CUBES

    for u, cube in CUBES.items():
        cells, pub = protected["cells"][u], protected["pub"][u]
        assert len(cells) == len(pub)
        shown = pub[cube.value_column].notna().to_numpy()
        n = cells["n_individer"].to_numpy()
        v = cells[cube.value_column].to_numpy()
        assert not (shown & (n >= 1) & (n <= 3)).any(), u
        assert not (shown & (v == 0)).any(), u
        # published values are the true ones
        assert (pub.loc[shown, cube.value_column].astype(int).to_numpy() == v[shown]).all()


def test_a_cube_without_periods_is_released_empty(protected):
    assert len(protected["cells"]["FRAFAFBRUD"]) == 0
    assert protected["result"]["cubes"]["FRAFAFBRUD"]["withheld"] == 0
    folder = protected["folder"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["udgivelse"] == RELEASE
    audit = json.loads((folder / "audit.json").read_text())
    assert audit["verdict"] == "bestået"
    import pandas as pd

    empty = pd.read_parquet(folder / "EUD_FRAF_FRAFAFBRUD" / "cells.parquet")
    assert len(empty) == 0 and "status" in empty.columns
    assert (folder / "EUD_FRAF_FRAFAFBRUD" / "kvartal_uddannelse_frafaldsrisiko.csv").exists()
