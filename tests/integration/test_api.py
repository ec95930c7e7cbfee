"""The statistics API over real HTTP (contract section 5), against the fixture releases.

The server runs as `serving.app.serve()` in a subprocess on a free port of 127.0.0.1; the tests
call it with plain urllib.request, as public clients do, and compare with the numbers in the
release's cells.parquet (read here with pyarrow, formatted here independently).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.integration.release_fixture import point_latest, write_release, write_release_home
from transforms import catalog as c

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-7f3a9c1e5b"
WRONG = "wrong-token-0d9e8c7b6a"
STATISTIK = "/Api/v1/statistik"
SKEMA = "/Api/v1/skema"

AFSLAARS = {"område": "EUD", "emne": "AFSL", "underemne": "AFSLAARS"}
FRAFVURD = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFVURD"}
FRAFAFBRUD = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFAFBRUD"}

ASSISTENT = "Social- og sundhedsassistent"
HJAELPER = "Social- og sundhedshjælper"


# --- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(base: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return write_release_home(tmp_path_factory.mktemp("lpstat-home"))


@pytest.fixture(scope="module")
def server(home, tmp_path_factory):
    """``serve()`` in a subprocess; yields (base url, log file)."""
    port = _free_port()
    logfile = tmp_path_factory.mktemp("log") / "server.log"
    code = (
        "import os; from pathlib import Path; from serving.app import serve; "
        f"serve(Path({str(home)!r}), '127.0.0.1', {port}, os.environ['TEST_API_TOKENS'].split(','))"
    )
    env = dict(os.environ, TEST_API_TOKENS=TOKEN, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base, logfile
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[0]


def call(
    base: str,
    path: str,
    body=None,
    *,
    token: str | None = TOKEN,
    raw: bytes | None = None,
    method: str = "POST",
    headers: dict | None = None,
):
    """(status, decoded JSON body, response headers) over plain urllib."""
    data = (
        raw
        if raw is not None
        else (None if body is None else json.dumps(body, ensure_ascii=False).encode())
    )
    h = {"Content-Type": "application/json"}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read().decode("utf-8")), r.headers
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8")
        assert "Traceback" not in text
        return e.code, json.loads(text), e.headers


def ok(base: str, body: dict, path: str = STATISTIK):
    status, data, _ = call(base, path, body)
    assert status == 200, data
    return data


def refused(base: str, body, path: str = STATISTIK, status: int = 400, **kw) -> str:
    got, data, _ = call(base, path, body, **kw)
    assert got == status, data
    assert isinstance(data, dict) and isinstance(data.get("fejl"), str) and data["fejl"]
    assert "intern fejl" not in data["fejl"]
    return data["fejl"]


# --- expected values, straight from cells.parquet --------------------------------------------------


def dk_int(v) -> str:
    return "" if v is None else f"{int(v):,}".replace(",", ".")


def dk_pct(v) -> str:
    if v is None:
        return ""
    pct = (Decimal(repr(v)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{pct:f}".replace(".", ",") + " %"


def fmt(measure: c.Measure, v) -> str:
    return dk_pct(v) if measure.kind == "share" else dk_int(v)


def cells(home: Path, release: str, cube: c.Cube, grouping: str) -> list[dict]:
    table = pq.read_table(home / "releases" / release / cube.id / "cells.parquet")
    return [r for r in table.to_pylist() if r["gruppering"] == grouping]


def col(attr: str) -> str:
    return c.ATTRIBUTES[attr].column


def key(attr: str) -> str:
    return f"{attr}.[{c.ATTRIBUTES[attr].name}]"


def expected_rows(rows, cube, detaljering, measures, *, empty=False):
    out = []
    for r in rows:
        values = [fmt(cube.measure(m), r[cube.measure(m).column]) for m in measures]
        if empty or any(values):
            out.append({**{key(a): r[col(a)] for a in detaljering}, **dict(zip(measures, values))})
    return out


def body(cube_ids: dict, measures, detaljering, **extra) -> dict:
    return {**cube_ids, "nøgletal": list(measures), "detaljering": list(detaljering), **extra}


# --- /skema ----------------------------------------------------------------------------------------


def test_skema_drills_down_from_omraader_to_members(base, home):
    assert ok(base, {}, SKEMA) == [{"ID": "EUD", "Name": "Erhvervsuddannelser"}]
    assert ok(base, {"område": "EUD"}, SKEMA) == [
        {"ID": "AFSL", "Name": "Afslag på lærepladser"},
        {"ID": "FRAF", "Name": "Frafaldsrisiko"},
    ]
    assert ok(base, {"område": "EUD", "emne": "FRAF"}, SKEMA) == [
        {"ID": "FRAFVURD", "Name": "Frafaldsvurderinger på SOSU"},
        {"ID": "FRAFAFBRUD", "Name": "Frafaldsvurdering og afbrud på SOSU"},
    ]
    skema = json.loads((home / "releases" / "2026-10" / "skema.json").read_text(encoding="utf-8"))
    node = skema["områder"][0]["emner"][0]["underemner"][0]
    cube = ok(base, AFSLAARS, SKEMA)
    assert cube == {
        "detaljer": [{"name": d["name"], "count": d["count"]} for d in node["detaljer"]],
        "nøgletal": [
            "[Measures].[Antal afslag]",
            "[Measures].[Antal ansøgere]",
            "[Measures].[Andel af afslag]",
        ],
        "rapporter": [],
    }
    assert [d["name"] for d in cube["detaljer"]] == list(c.AFSLAARS.attributes)
    assert ok(base, {**AFSLAARS, "detalje": "[Uddannelse].[Uddannelse]"}, SKEMA) == [
        {"ID": HJAELPER, "Name": HJAELPER},
        {"ID": ASSISTENT, "Name": ASSISTENT},
    ]
    months = ok(base, {**AFSLAARS, "detalje": "[Tid].[Måned]"}, SKEMA)
    assert months[0] == {"ID": "2021M04", "Name": "2021M04"} and months[-1]["ID"] == "2026M10"
    assert len(months) == 67
    aar = ok(base, {**FRAFAFBRUD, "detalje": "[Tid].[År]", "udgivelse": "2026-09"}, SKEMA)
    assert [a["ID"] for a in aar] == ["2022", "2023", "2024", "2025"]


def test_skema_errors_name_the_unknown_part(base):
    assert "Området 'XX' kunne ikke findes" in refused(base, {"område": "XX"}, SKEMA)
    msg = refused(base, {"område": "EUD", "emne": "NOPE"}, SKEMA)
    assert "Emnet 'NOPE'" in msg and "'AFSL'" in msg and "'FRAF'" in msg
    msg = refused(base, {**AFSLAARS, "detalje": "[Skole].[Skole]"}, SKEMA)
    assert "Detaljen '[Skole].[Skole]' kunne ikke findes i AFSLAARS" in msg
    assert "Angiv 'område'" in refused(base, {"emne": "AFSL"}, SKEMA)


# --- /statistik: values ------------------------------------------------------------------------------


def test_flat_rows_have_exact_values_keys_and_order(base, home):
    measures = ["Antal afslag", "Antal ansøgere", "Andel af afslag"]
    det = ["[Tid].[År]", "[Uddannelse].[Uddannelse]"]
    got = ok(
        base,
        body(AFSLAARS, ["Antal afslag", "[Measures].[Antal ansøgere]", "Andel af afslag"], det),
    )
    want = expected_rows(
        cells(home, "2026-10", c.AFSLAARS, "|".join(det)), c.AFSLAARS, det, measures
    )
    assert got == want
    assert len(got) == 12
    assert [list(r) for r in got] == [
        ["[Tid].[År].[År]", "[Uddannelse].[Uddannelse].[Uddannelse]", *measures]
    ] * 12
    assert all(isinstance(v, str) for r in got for v in r.values())
    assert {r["Andel af afslag"] for r in got} == {"100,0 %"}  # no Afslagsårsag: all of it
    assert (
        got[0]["[Tid].[År].[År]"] == "2021"
        and got[0]["[Uddannelse].[Uddannelse].[Uddannelse]"] == HJAELPER
    )


def test_thousands_separator_and_percent_format(base, home):
    got = ok(base, body(AFSLAARS, ["Antal afslag"], ["[Tid].[År]"]))
    table = cells(home, "2026-10", c.AFSLAARS, "[Tid].[År]")
    assert [r["Antal afslag"] for r in got] == [dk_int(r["antal_afslag"]) for r in table]
    assert all(re.fullmatch(r"[1-9]\.\d{3}", r["Antal afslag"]) for r in got)  # 1.000-9.999 a year
    shares = ok(
        base, body(AFSLAARS, ["Andel af afslag"], ["[Tid].[År]", "[Afslagsårsag].[Primær årsag]"])
    )
    assert shares and all(re.fullmatch(r"\d{1,3},\d %", r["Andel af afslag"]) for r in shares)


def test_detaljering_order_sets_keys_and_row_order(base, home):
    det = ["[Uddannelse].[Uddannelse]", "[Tid].[År]"]
    got = ok(base, body(AFSLAARS, ["Antal afslag"], det))
    table = cells(home, "2026-10", c.AFSLAARS, "[Tid].[År]|[Uddannelse].[Uddannelse]")
    rank = {HJAELPER: 0, ASSISTENT: 1}
    table.sort(key=lambda r: (rank[r["uddannelse"]], r["tid_aar"]))
    assert got == expected_rows(table, c.AFSLAARS, det, ["Antal afslag"])
    assert list(got[0]) == [
        "[Uddannelse].[Uddannelse].[Uddannelse]",
        "[Tid].[År].[År]",
        "Antal afslag",
    ]
    assert [r["[Uddannelse].[Uddannelse].[Uddannelse]"] for r in got] == [HJAELPER] * 6 + [
        ASSISTENT
    ] * 6


def test_withheld_value_is_empty_string_in_a_row_with_other_values(base, home):
    table = cells(
        home,
        "2026-10",
        c.FRAFAFBRUD,
        "[Tid].[År]|[Arbejdssted].[Region]|[Frafaldsrisiko].[Frafaldsrisiko]",
    )
    partly = [r for r in table if r["antal_elever"] is not None and r["antal_afbrudt"] is None]
    assert partly, "the fixture should have outcome-withheld cells"
    r = partly[0]
    measures = [m.caption for m in c.FRAFAFBRUD.measures]
    got = ok(
        base,
        body(
            FRAFAFBRUD,
            measures,
            ["[Arbejdssted].[Region]", "[Frafaldsrisiko].[Frafaldsrisiko]"],
            filtre={
                "[Tid].[År]": [r["tid_aar"]],
                "[Arbejdssted].[Region]": [r["region"]],
                "[Frafaldsrisiko].[Frafaldsrisiko]": [r["frafaldsrisiko"]],
            },
        ),
    )
    assert got == [
        {
            "[Arbejdssted].[Region].[Region]": r["region"],
            "[Frafaldsrisiko].[Frafaldsrisiko].[Frafaldsrisiko]": r["frafaldsrisiko"],
            "Antal elever": dk_int(r["antal_elever"]),
            "Antal afbrudt inden for 6 måneder": "",
            "Andel afbrudt inden for 6 måneder": "",
        }
    ]


def test_rows_with_every_measure_empty_are_left_out_unless_tomme_raekker(base, home):
    det = ["[Tid].[Måned]", "[Uddannelse].[Uddannelse]", "[Afslagsårsag].[Primær årsag]"]
    filtre = {"[Tid].[År]": ["2025"]}
    table = [
        r
        for r in cells(
            home, "2026-10", c.AFSLAARS, "|".join(c.AFSLAARS.attributes[i] for i in (2, 3, 7))
        )
        if r["tid_aar"] == "2025"
    ]
    measures = ["Antal afslag", "Andel af afslag"]
    default = ok(base, body(AFSLAARS, measures, det, filtre=filtre))
    full = ok(base, body(AFSLAARS, measures, det, filtre=filtre, tomme_rækker=True))
    assert default == expected_rows(table, c.AFSLAARS, det, measures)
    assert full == expected_rows(table, c.AFSLAARS, det, measures, empty=True)
    assert len(full) == 12 * 2 * 9 and len(default) < len(full)
    blank = [r for r in full if r not in default]
    assert blank and all(r["Antal afslag"] == "" and r["Andel af afslag"] == "" for r in blank)
    assert not any(r["Antal afslag"] == "0" for r in full)  # a withheld value is never 0


def test_filtre_is_and_across_keys_or_within_a_list(base, home):
    det = ["[Tid].[Kvartal]", "[Frafaldsrisiko].[Frafaldsrisiko]"]
    got = ok(
        base,
        body(
            FRAFVURD,
            ["Antal elever", "Andel elever"],
            det,
            filtre={
                "[Tid].[Kvartal]": ["2024K2", "2024K1"],
                "[Frafaldsrisiko].[Frafaldsrisiko]": ["Høj"],
            },
        ),
    )
    table = [
        r
        for r in cells(
            home, "2026-10", c.FRAFVURD, "[Tid].[Kvartal]|[Frafaldsrisiko].[Frafaldsrisiko]"
        )
        if r["tid_kvartal"] in ("2024K1", "2024K2") and r["frafaldsrisiko"] == "Høj"
    ]
    assert len(table) == 2
    assert got == expected_rows(table, c.FRAFVURD, det, ["Antal elever", "Andel elever"])
    assert [r["[Tid].[Kvartal].[Kvartal]"] for r in got] == ["2024K1", "2024K2"]  # member order


def test_filter_on_a_coarser_level_and_on_an_attribute_outside_detaljering(base, home):
    # [Tid].[År] filters month rows (each carries its År); Uddannelse outside detaljering
    got = ok(
        base,
        body(
            AFSLAARS,
            ["Antal afslag", "Antal ansøgere", "Andel af afslag"],
            ["[Tid].[Måned]"],
            filtre={"[Tid].[År]": ["2024"], "[Uddannelse].[Uddannelse]": [ASSISTENT]},
        ),
    )
    table = [
        r
        for r in cells(home, "2026-10", c.AFSLAARS, "[Tid].[Måned]|[Uddannelse].[Uddannelse]")
        if r["tid_aar"] == "2024" and r["uddannelse"] == ASSISTENT
    ]
    assert got == expected_rows(
        table, c.AFSLAARS, ["[Tid].[Måned]"], ["Antal afslag", "Antal ansøgere", "Andel af afslag"]
    )
    assert len(got) == 12


def test_several_members_outside_detaljering_are_summed_only_when_every_part_is_published(
    base, home
):
    small = ["Manglende børne- eller straffeattest", "Ingen ledige lærepladser", "Andet"]
    got = ok(
        base,
        body(
            AFSLAARS,
            ["Antal afslag"],
            ["[Tid].[Måned]"],
            filtre={"[Afslagsårsag].[Primær årsag]": small},
            tomme_rækker=True,
        ),
    )
    parts: dict[str, list] = {}
    for r in cells(home, "2026-10", c.AFSLAARS, "[Tid].[Måned]|[Afslagsårsag].[Primær årsag]"):
        if r["primaer_aarsag"] in small:
            parts.setdefault(r["tid_maaned"], []).append(r["antal_afslag"])
    want = [
        {"[Tid].[Måned].[Måned]": m, "Antal afslag": "" if None in v else dk_int(sum(v))}
        for m, v in parts.items()
    ]
    assert got == want
    assert any(r["Antal afslag"] == "" for r in got) and any(r["Antal afslag"] for r in got)
    # without tomme_rækker, the months whose sum is unknown are left out
    default = ok(
        base,
        body(
            AFSLAARS,
            ["Antal afslag"],
            ["[Tid].[Måned]"],
            filtre={"[Afslagsårsag].[Primær årsag]": small},
        ),
    )
    assert default == [r for r in want if r["Antal afslag"]]


def test_combining_a_non_additive_measure_is_refused(base):
    filtre = {"[Arbejdssted].[Kommune]": ["København", "Frederiksberg"]}
    msg = refused(
        base, body(AFSLAARS, ["Antal afslag", "Antal ansøgere"], ["[Tid].[År]"], filtre=filtre)
    )
    assert (
        "Nøgletallet 'Antal ansøgere' kan ikke lægges sammen" in msg
        and "[Arbejdssted].[Kommune]" in msg
    )
    msg = refused(
        base,
        body(
            FRAFVURD, ["Andel elever"], ["[Tid].[År]"], filtre={"[Elev].[Køn]": ["Kvinde", "Mand"]}
        ),
    )
    assert "'Andel elever' kan ikke lægges sammen" in msg
    # one member needs no combining, so the measure is fine
    assert ok(
        base,
        body(
            AFSLAARS,
            ["Antal ansøgere"],
            ["[Tid].[År]"],
            filtre={"[Arbejdssted].[Kommune]": ["København"]},
        ),
    )


def test_stock_cubes_need_time_and_never_sum_over_it(base, home):
    msg = refused(base, body(FRAFVURD, ["Antal elever"], ["[Uddannelse].[Uddannelse]"]))
    assert "bestand kan ikke summeres over tid" in msg and "[Tid].[År]" in msg
    msg = refused(
        base,
        body(
            FRAFVURD,
            ["Antal elever"],
            ["[Uddannelse].[Uddannelse]"],
            filtre={"[Tid].[Kvartal]": ["2024K1", "2024K2"]},
        ),
    )
    assert "bestand kan ikke summeres over tid" in msg and "[Tid].[Kvartal]" in msg
    msg = refused(
        base,
        body(
            FRAFAFBRUD,
            ["Antal elever"],
            ["[Tid].[År]"],
            filtre={"[Tid].[Kvartal]": ["2024K1", "2024K2"]},
        ),
    )
    assert "bestand kan ikke summeres over tid" in msg
    # one time member in filtre is a stock on one day: allowed, and exactly the published cells
    got = ok(
        base,
        body(
            FRAFVURD,
            ["Antal elever", "Andel elever"],
            ["[Uddannelse].[Uddannelse]"],
            filtre={"[Tid].[År]": ["2024"]},
        ),
    )
    table = [
        r
        for r in cells(home, "2026-10", c.FRAFVURD, "[Tid].[År]|[Uddannelse].[Uddannelse]")
        if r["tid_aar"] == "2024"
    ]
    assert got == expected_rows(
        table, c.FRAFVURD, ["[Uddannelse].[Uddannelse]"], ["Antal elever", "Andel elever"]
    )
    # a stock summed over places (same day) is fine: additive
    got = ok(
        base,
        body(
            FRAFVURD,
            ["Antal elever"],
            ["[Tid].[Kvartal]"],
            filtre={"[Tid].[År]": ["2024"], "[Skole].[Skole]": ["SOSU H", "SOSU Fyn"]},
        ),
    )
    assert [r["[Tid].[Kvartal].[Kvartal]"] for r in got] == ["2024K1", "2024K2", "2024K3", "2024K4"]


def test_unpublished_combination_is_refused_with_the_published_views(base):
    msg = refused(
        base,
        body(AFSLAARS, ["Antal afslag"], ["[Uddannelse].[Uddannelse]", "[Arbejdssted].[Kommune]"]),
    )
    assert msg.startswith("Kombinationen af detaljer er ikke offentliggjort")
    assert "([Tid].[Måned], [Uddannelse].[Uddannelse], [Afslagsårsag].[Primær årsag])" in msg
    assert "([Tid].[Kvartal], [Arbejdssted].[Kommune], [Afslagsårsag].[Primær årsag])" in msg
    # an attribute named only in filtre counts too
    msg = refused(
        base,
        body(
            AFSLAARS,
            ["Antal afslag"],
            ["[Uddannelse].[Uddannelse]"],
            filtre={"[Arbejdssted].[Kommune]": ["København"]},
        ),
    )
    assert msg.startswith("Kombinationen af detaljer er ikke offentliggjort")


def test_unknown_names_are_refused_by_name(base):
    assert "Nøgletallet 'X' kunne ikke findes" in refused(
        base, body(AFSLAARS, ["X"], ["[Tid].[År]"])
    )
    msg = refused(base, body(AFSLAARS, ["Antal afslag"], ["[Skole].[Skole]"]))
    assert "Detaljen '[Skole].[Skole]'" in msg and "[Afslagsårsag].[Primær årsag]" in msg
    msg = refused(
        base,
        body(
            AFSLAARS,
            ["Antal afslag"],
            ["[Tid].[År]"],
            filtre={"[Tid].[År]": ["2022", "1999", "to"]},
        ),
    )
    assert "'1999', 'to'" in msg and "'2022'" in msg.split("Mulige")[1]
    assert "'2022', '1999'" not in msg
    assert "Underemnet 'NOPE'" in refused(
        base, {**AFSLAARS, "underemne": "NOPE", "nøgletal": ["X"], "detaljering": []}
    )
    assert "Angiv mindst ét nøgletal" in refused(base, body(AFSLAARS, [], ["[Tid].[År]"]))


def test_grand_total_with_empty_detaljering(base, home):
    got = ok(base, body(AFSLAARS, ["Antal afslag"], []))
    assert got == [
        {"Antal afslag": dk_int(cells(home, "2026-10", c.AFSLAARS, "")[0]["antal_afslag"])}
    ]


def test_indlejret_nests_by_member_in_detaljering_order(base):
    det = ["[Tid].[År]", "[Uddannelse].[Uddannelse]"]
    measures = ["Antal afslag", "Andel af afslag"]
    flat = ok(base, body(AFSLAARS, measures, det))
    nested = ok(base, body(AFSLAARS, measures, det, indlejret=True))
    want: dict = {}
    for r in flat:
        want.setdefault(r["[Tid].[År].[År]"], {})[r["[Uddannelse].[Uddannelse].[Uddannelse]"]] = {
            m: r[m] for m in measures
        }
    assert nested == want
    assert list(nested) == ["2021", "2022", "2023", "2024", "2025", "2026"]
    assert list(nested["2021"]) == [HJAELPER, ASSISTENT]


# --- paging ------------------------------------------------------------------------------------------


def test_pages_are_one_based_and_zero_is_the_first(base):
    q = body(AFSLAARS, ["Antal afslag"], ["[Tid].[Måned]"])
    everything = ok(base, q)
    assert len(everything) == 67
    p0 = ok(base, {**q, "side": 0, "side_størrelse": 10})
    p1 = ok(base, {**q, "side": 1, "side_størrelse": 10})
    p2 = ok(base, {**q, "side": 2, "side_størrelse": 10})
    assert p0 == p1 == everything[:10] and p2 == everything[10:20]
    assert ok(base, {**q, "side": 7, "side_størrelse": 10}) == everything[60:]
    assert ok(base, {**q, "side": 8, "side_størrelse": 10}) == []
    assert ok(base, {**q, "side": 10**12, "side_størrelse": 10}) == []
    assert ok(base, {**q, "side_størrelse": 100000}) == everything
    assert "mellem 1 og 100000" in refused(base, {**q, "side_størrelse": 100001})
    assert "side" in refused(base, {**q, "side": -1})


def test_paging_loop_as_public_clients_write_it(base):
    """The loop from public uddannelsesstatistik clients: side 0, 1, 2, ... until a short page.

    The contract treats side 0 as side 1, so such a loop gets the first page twice whenever
    a result is longer than one page (the same happens against api.uddannelsesstatistik.dk).
    A loop that starts at 1 gets every row exactly once.
    """
    q = body(
        AFSLAARS, ["Antal afslag", "Antal ansøgere"], ["[Tid].[Måned]", "[Uddannelse].[Uddannelse]"]
    )
    everything = ok(base, q)
    page = 25
    rows, side = [], 0
    while True:
        got = ok(
            base,
            {
                **q,
                "indlejret": False,
                "tomme_rækker": False,
                "formattering": "json",
                "side": side,
                "side_størrelse": page,
            },
        )
        if not got:
            break
        rows.extend(got)
        if len(got) < page:
            break
        side += 1
    assert len(everything) > page
    assert rows == everything[:page] + everything  # page 1 twice, then the rest once
    rows, side = [], 1
    while True:
        got = ok(base, {**q, "side": side, "side_størrelse": page})
        rows.extend(got)
        if len(got) < page:
            break
        side += 1
    assert rows == everything


# --- releases ----------------------------------------------------------------------------------------


def test_udgivelse_selects_a_release_and_latest_is_the_default(base, home):
    q = body(AFSLAARS, ["Antal afslag"], ["[Tid].[Måned]"], filtre={"[Tid].[År]": ["2026"]})
    latest = ok(base, q)
    assert latest == ok(base, {**q, "udgivelse": "2026-10"})
    older = ok(base, {**q, "udgivelse": "2026-09"})
    for release, got in (("2026-10", latest), ("2026-09", older)):
        table = [
            r for r in cells(home, release, c.AFSLAARS, "[Tid].[Måned]") if r["tid_aar"] == "2026"
        ]
        assert got == expected_rows(table, c.AFSLAARS, ["[Tid].[Måned]"], ["Antal afslag"])
    assert (
        latest[-1]["[Tid].[Måned].[Måned]"] == "2026M10"
        and older[-1]["[Tid].[Måned].[Måned]"] == "2026M09"
    )
    assert (
        latest[8]["Antal afslag"] != older[8]["Antal afslag"]
    )  # September revised by late registrations
    msg = refused(base, {**q, "udgivelse": "2025-01"})
    assert "Udgivelsen '2025-01' findes ikke" in msg and "'2026-09', '2026-10'" in msg
    assert "ÅÅÅÅ-MM" in refused(base, {**q, "udgivelse": "okt 2026"})
    assert "'2026M10'" in refused(
        base, {**q, "filtre": {"[Tid].[Måned]": ["2026M10"]}, "udgivelse": "2026-09"}
    )


def test_udgivelser_lists_the_releases_with_their_month(base):
    status, data, _ = call(base, "/Api/v1/udgivelser", method="GET")
    assert status == 200
    assert data == [
        {"udgivelse": "2026-09", "måned": "september 2026", "seneste": False},
        {"udgivelse": "2026-10", "måned": "oktober 2026", "seneste": True},
    ]


def test_a_new_release_is_served_without_a_restart(tmp_path):
    import uvicorn

    from serving.app import create_app

    home = write_release_home(tmp_path, releases=("2026-09",))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(home, [TOKEN]), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_ready(base)
        q = body(AFSLAARS, ["Antal afslag"], ["[Tid].[Måned]"], filtre={"[Tid].[År]": ["2026"]})
        assert ok(base, q)[-1]["[Tid].[Måned].[Måned]"] == "2026M09"
        write_release(home, "2026-10")
        point_latest(home, "2026-10")
        until = time.monotonic() + 10
        while time.monotonic() < until:
            if ok(base, q)[-1]["[Tid].[Måned].[Måned]"] == "2026M10":
                break
            time.sleep(0.2)
        assert ok(base, q)[-1]["[Tid].[Måned].[Måned]"] == "2026M10"
        assert [u["udgivelse"] for u in call(base, "/Api/v1/udgivelser", method="GET")[1]] == [
            "2026-09",
            "2026-10",
        ]
        assert ok(base, {**q, "udgivelse": "2026-09"})[-1]["[Tid].[Måned].[Måned]"] == "2026M09"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --- the HTTP surface ----------------------------------------------------------------------------------


def test_token_is_required(base):
    q = body(AFSLAARS, ["Antal afslag"], ["[Tid].[År]"])
    for kw in (
        {"token": None},
        {"token": WRONG},
        {"token": None, "headers": {"Authorization": f"Basic {TOKEN}"}},
    ):
        status, data, headers = call(base, STATISTIK, q, **kw)
        assert status == 401
        assert data == {
            "fejl": "Manglende eller ugyldig adgangsnøgle. Send headeren 'Authorization: Bearer <nøgle>'."
        }
        assert headers["WWW-Authenticate"] == "Bearer"
    assert call(base, SKEMA, {}, token=None)[0] == 401
    assert call(base, "/Api/v1/udgivelser", method="GET", token=None)[0] == 401
    assert (
        call(base, STATISTIK, q, token=None, headers={"Authorization": f"bearer {TOKEN}"})[0] == 200
    )


def test_paths_are_case_insensitive(base):
    q = body(AFSLAARS, ["Antal afslag"], ["[Tid].[År]"])
    want = ok(base, q)
    for path in ("/api/V1/STATISTIK", "/API/V1/statistik", "/Api/v1/statistik/"):
        assert call(base, path, q)[:2] == (200, want)
    assert call(base, "/api/v1/SKEMA", {})[0] == 200
    assert call(base, "/SWAGGER/V1/swagger.json", method="GET", token=None)[0] == 200


def test_escaped_keys_unknown_keys_and_unknown_headers(base):
    raw = (
        b'{"omr\\u00e5de": "EUD", "emne": "AFSL", "underemne": "AFSLAARS", '
        b'"n\\u00f8gletal": ["[Measures].[Antal afslag]"], "detaljering": ["[Tid].[\\u00c5r]"], '
        b'"tomme_r\\u00e6kker": false, "ukendt": {"x": [1, 2]}, "side_st\\u00f8rrelse": 2}'
    )
    status, data, _ = call(
        base, STATISTIK, raw=raw, headers={"X-Ukendt": "ja", "Content-Type": "text/plain"}
    )
    assert status == 200
    assert data == ok(base, body(AFSLAARS, ["Antal afslag"], ["[Tid].[År]"]))[:2]
    # decomposed å (NFD), as some systems send it, is the same key
    nfd = json.dumps(
        {
            "omra\u030ade": "EUD",
            "emne": "AFSL",
            "underemne": "AFSLAARS",
            "nøgletal": ["Antal afslag"],
            "detaljering": [],
        }
    ).encode()
    assert call(base, STATISTIK, raw=nfd)[0] == 200


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"{not json", "ikke gyldig JSON"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b'["a list"]', "JSON-objekt"),
        (b"[" * 50_000, "ikke gyldig JSON"),
        (b'{"side": 1' + b"0" * 5000 + b"}", "ikke gyldig JSON"),
    ],
)
def test_bodies_that_are_not_a_json_object(base, raw, words):
    assert words in refused(base, None, raw=raw)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"nøgletal": "Antal afslag"}, "'nøgletal' skal være en liste"),
        ({"detaljering": [1]}, "'detaljering' skal være en liste af tekster"),
        ({"område": 5}, "'område' skal være en tekst"),
        ({"område": None}, "'område' mangler"),
        ({"filtre": ["[Tid].[År]"]}, "'filtre' skal være et objekt"),
        ({"filtre": {"[Tid].[År]": "2024"}}, "skal være en liste"),
        ({"indlejret": "true"}, "'indlejret' skal være true eller false"),
        ({"side": "2"}, "'side' skal være et helt tal"),
        ({"side": 1.5}, "'side' skal være et helt tal"),
        ({"side_størrelse": True}, "'side_størrelse' skal være et helt tal"),
        ({"formattering": "xml"}, "Formatteringen 'xml' understøttes ikke"),
        ({"nøgletal": ["Antal afslag"] * 51}, "for mange elementer"),
        ({"filtre": {"[Tid].[År]": ["2024"] * 5001}}, "for mange elementer"),
        ({"underemne": "A" * 10_000}, "'underemne' er for langt"),
        ({"nøgletal": ["x" * 10_000]}, "for lang"),
    ],
)
def test_wrong_types_and_sizes_are_refused_clearly(base, change, words):
    q = {**body(AFSLAARS, ["Antal afslag"], ["[Tid].[År]"]), **change}
    assert words in refused(base, q)


def test_missing_required_fields(base):
    assert "'område' mangler" in refused(base, {})
    assert "'nøgletal' mangler" in refused(base, AFSLAARS)
    assert "'detaljering' mangler" in refused(base, {**AFSLAARS, "nøgletal": ["Antal afslag"]})


def test_a_body_over_one_megabyte_is_refused_with_413(base):
    big = json.dumps({**AFSLAARS, "padding": "x" * 1_100_000}).encode()
    assert "for stor" in refused(base, None, raw=big, status=413)


def test_unknown_path_and_wrong_method(base):
    assert "findes ikke" in refused(base, {}, path="/Api/v2/statistik", status=404)
    assert "GET" in refused(base, None, path=STATISTIK, method="GET", status=405)


def test_swagger_describes_the_api(base):
    status, spec, _ = call(base, "/swagger/v1/swagger.json", method="GET", token=None)
    assert status == 200 and spec["openapi"].startswith("3.")
    assert {"/Api/v1/statistik", "/Api/v1/skema", "/Api/v1/udgivelser"} <= set(spec["paths"])
    post = spec["paths"]["/Api/v1/statistik"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["område", "emne", "underemne", "nøgletal", "detaljering"]
    assert any("HTTPBearer" in s for s in post["security"])


def test_the_log_never_contains_a_token(base, server):
    # a token in the query string would be in the access log line: it must be masked
    call(base, f"{STATISTIK}?token={TOKEN}", body(AFSLAARS, ["Antal afslag"], []))
    call(base, STATISTIK, {}, token=WRONG)
    time.sleep(0.3)
    text = server[1].read_text(encoding="utf-8", errors="replace")
    assert "POST /Api/v1/statistik" in text  # the access log is there
    assert "token=***" in text
    assert TOKEN not in text and WRONG not in text
