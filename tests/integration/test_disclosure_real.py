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
    from transforms.disclosure.protect import protect_release
    from transforms.land import land_source
    from transforms.publish.release import publish_release
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
        stored = json.loads(con.execute("SELECT audit FROM release_audit WHERE udgivelse = ?",
                                        [RELEASE]).fetchall()[0][0])
        folder = publish_release(con, d / "releases", RELEASE, {})
        from transforms.disclosure.protect import recorded_information_loss

        exact_loss = recorded_information_loss(con, RELEASE)
    finally:
        con.close()
    return {"cells": cells, "result": result, "pub": pub, "folder": folder,
            "exact_loss": exact_loss, "stored": stored}


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


def test_audit_json_is_the_stored_verdict_of_the_real_audit(protected):
    """audit.json publishes the audit that disclosure control stored in the warehouse
    (release_audit), and its verdict is the real audits' of the cubes (the typed verdict:
    passed, and the counts summed over the cubes)."""
    from transforms.catalog import CUBES
    from transforms.disclosure.audit import METHOD
    from transforms.disclosure.verdict import PASSED, Verdict

    published = json.loads((protected["folder"] / "audit.json").read_text())
    stored = protected["stored"]
    assert json.dumps(published, sort_keys=True) == json.dumps(stored, sort_keys=True)
    verdict = Verdict.of(published)
    assert verdict == Verdict.of(stored) == Verdict.over(protected["result"]["cubes"].values())
    assert verdict.passed and published["verdict"] == PASSED
    assert {c["metode"] for c in published["cubes"].values()} == {METHOD}  # no stand-in
    def counts(cube) -> list[str]:  # the counts the audit checks: the value, the outcomes
        return [cube.value_column] + [m.column for m in cube.measures if m.kind == "count"
                                      and m.additive and m.outcome
                                      and m.column != cube.value_column]

    withheld = sum(int(protected["pub"][u][counts(cube)].isna().any(axis=1).sum())
                   for u, cube in CUBES.items())
    assert verdict.withheld == withheld > 0
    assert verdict.checked >= verdict.withheld and verdict.failed == 0
    assert verdict.consistency_errors == 0


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


# --- the information lost to secondary suppression: audit.json, rapport.html, lpstat --------


def _true_loss(cells, pub, cube) -> dict:
    """The cube's information loss recomputed here from the true and the published cells
    (independently of transforms/infoloss.py): secondary = withheld, non-empty, not small."""
    value = cells[cube.value_column].to_numpy()
    n = cells["n_individer"].to_numpy()
    withheld = pub[cube.value_column].isna().to_numpy()
    nonempty = value > 0
    secondary = withheld & nonempty & ~((n >= 1) & (n <= 3))
    total = int(value[nonempty].sum())
    return {"celler": len(value), "ikke_tomme": int(nonempty.sum()),
            "primaere": int((nonempty & (n >= 1) & (n <= 3)).sum()),
            "sekundaere": int(secondary.sum()), "sekundaer_vaerdi": int(value[secondary].sum()),
            "sekundaer_andel": round(int(value[secondary].sum()) / total, 6) if total else 0.0,
            "stoerste_sekundaere": int(value[secondary].max()) if secondary.any() else 0,
            "sekundaere_100": int((secondary & (value >= 100)).sum()),
            "sekundaere_1000": int((secondary & (value >= 1000)).sum())}


def test_exact_information_loss_stays_in_the_warehouse(protected):
    """The value-based figures (recomputed here from the true and published cells) are kept
    in the warehouse; audit.json publishes per cube only the cells and the withheld cells
    (readable from cells.parquet), nothing about withheld values."""
    from transforms.catalog import CUBES

    audit = json.loads((protected["folder"] / "audit.json").read_text())
    for u, cube in CUBES.items():
        exact = protected["exact_loss"][u]
        want = _true_loss(protected["cells"][u], protected["pub"][u], cube)
        assert {k: exact["terning"][k] for k in want} == want, u
        assert [v["navn"] for v in exact["visninger"].values()] == [v.name for v in cube.views]
        pub = protected["pub"][u]
        assert audit["cubes"][u]["informationstab"] == {"terning": {
            "celler": len(pub), "diskretionerede": int(pub[cube.value_column].isna().sum())}}
    text = (protected["folder"] / "audit.json").read_text()
    for figure in ("sekundaer_vaerdi", "sekundaer_andel", "stoerste_sekundaere", "primaere",
                   "ikke_tomme", "sekundaere_100"):
        assert figure not in text
    afsl = protected["exact_loss"]["AFSLAARS"]["terning"]
    assert afsl["sekundaere"] > 0 and 0 < afsl["sekundaer_andel"] < 1


def test_report_shows_the_withheld_cells_of_the_audit(protected):
    from tests.unit.test_report import loss_table
    from transforms.catalog import CUBES
    from transforms.publish.report import INFORMATION_LOSS_ROWS

    folder = protected["folder"]
    audit = json.loads((folder / "audit.json").read_text())
    headers, rows = loss_table((folder / "rapport.html").read_text(encoding="utf-8"))
    assert headers == [c.caption for c in CUBES.values()]
    for label, value in INFORMATION_LOSS_ROWS:
        assert rows[label] == [value(audit["cubes"][u]["informationstab"]["terning"])
                               for u in CUBES], label
    afsl = audit["cubes"]["AFSLAARS"]["informationstab"]["terning"]
    assert rows["Diskretionerede celler"][0] == danish(afsl["diskretionerede"])
    assert afsl["diskretionerede"] == int(protected["pub"]["AFSLAARS"]["antal_afslag"].isna().sum())


def danish(n: int) -> str:
    return f"{n:,}".replace(",", ".")


@pytest.fixture(scope="module")
def two_releases(protected, tmp_path_factory):
    """A home with the real release and a copy of it as 2022-05 whose audit.json has no
    informationstab (a release audited before the block existed)."""
    import shutil

    home = tmp_path_factory.mktemp("loss-home")
    shutil.copytree(protected["folder"].parent, home / "releases", symlinks=True)
    old = home / "releases" / "2022-05"
    shutil.copytree(home / "releases" / RELEASE, old)
    audit = json.loads((old / "audit.json").read_text())
    for c in audit["cubes"].values():
        del c["informationstab"]
    (old / "audit.json").write_text(json.dumps(audit, ensure_ascii=False), encoding="utf-8")
    return home


def test_lpstat_releases_prints_the_share_of_cells_withheld(protected, two_releases):
    from tests.integration.test_cli import OK, lpstat
    from transforms.catalog import CUBES

    share = {}  # cells with any measure withheld, as release_cubes counts them
    for u, cube in CUBES.items():
        pub = protected["pub"][u]
        share[u] = (pub["status"] == "diskretioneret").sum() / len(pub) if len(pub) else None
    p = lpstat("releases", home=two_releases)
    assert p.returncode == OK, p.stderr
    shares = p.stdout[p.stdout.index("withheld cells, share"):].splitlines()
    assert shares[1].split() == ["udgivelse", *CUBES]
    shown = [x for u in CUBES for x in (["–"] if share[u] is None
                                         else [f"{100 * share[u]:.1f}", "%"])]
    # from the published cells: the same for the copy whose audit.json has no block
    assert [ln.split() for ln in shares[3:]] == [["2022-05", *shown], [RELEASE, *shown]]
    rows = json.loads(lpstat("releases", "--json", home=two_releases).stdout)
    assert [r["udgivelse"] for r in rows] == ["2022-05", RELEASE]
    audit = json.loads((protected["folder"] / "audit.json").read_text())
    assert rows[0]["informationstab"] is None
    assert rows[1]["informationstab"] == {u: audit["cubes"][u]["informationstab"] for u in CUBES}
    for u in CUBES:
        got = rows[1][f"diskr_andel_{u.lower()}"]
        assert (got is None) if share[u] is None else got == pytest.approx(share[u])
    one = lpstat("releases", RELEASE, home=two_releases)
    assert one.returncode == OK and "sekundaer" not in one.stdout


def test_analysis_view_informationstab_is_the_audits(protected, two_releases):
    from tests.integration.test_cli import lpstat
    from transforms.analyse import connect_readonly
    from transforms.catalog import CUBES

    assert lpstat("releases", home=two_releases).returncode == 0  # builds analyse.duckdb
    audit = json.loads((protected["folder"] / "audit.json").read_text())
    con = connect_readonly(two_releases)
    try:
        rel = con.execute("SELECT * FROM informationstab ORDER BY ALL").df()
    finally:
        con.close()
    assert set(rel["udgivelse"]) == {RELEASE}
    expected = [{"kube": u, "visning": None, **audit["cubes"][u]["informationstab"]["terning"]}
                for u in CUBES]
    got = [{k: (None if v != v or v is None else v) for k, v in r.items() if k != "udgivelse"}
           for r in rel.astype(object).to_dict("records")]
    key = lambda r: r["kube"]  # noqa: E731
    assert sorted(got, key=key) == sorted(expected, key=key)
