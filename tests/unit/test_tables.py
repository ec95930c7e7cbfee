"""CSV and Excel tables of a release, read back as a user would (csv module, openpyxl).

Also holds ``make_published``, the small published-frame builder the other tests of the
release files import (``from tests.unit.test_tables import make_published``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest

from transforms.catalog import (
    AFSLAARS,
    ATTRIBUTES,
    FRAFAFBRUD,
    FRAFVURD,
    HIERARCHIES,
    MAX_SMALL,
    Cube,
    carried_attributes,
)
from transforms.formats import danish_int, danish_pct
from transforms.publish.tables import (
    ABOUT_SHEET,
    SOURCE_LINE,
    XLSX_NAME,
    sheet_names,
    view_columns,
    view_csv_name,
    write_view_csv,
    write_xlsx,
)

CPH = ZoneInfo("Europe/Copenhagen")
RELEASE = "2026-10"
CUTOFF = datetime(2026, 11, 1, tzinfo=CPH)

# --- a small published frame, built like cells.parquet --------------------------------------

KOMMUNER = {
    "København": "Region Hovedstaden",
    "Aarhus": "Region Midtjylland",
    "Odense": "Region Syddanmark",
}
SKOLER = {"SOSU H": "101234", "SOSU Østjylland": "751234"}
TEST_MEMBERS: dict[str, list[str]] = {
    "[Uddannelse].[Uddannelse]": ["Social- og sundhedshjælper", "Social- og sundhedsassistent"],
    "[Arbejdssted].[Kommune]": list(KOMMUNER),
    "[Arbejdssted].[Region]": ["Region Hovedstaden", "Region Syddanmark", "Region Midtjylland"],
    "[Arbejdssted].[Sektor]": ["Kommunal", "Privat"],
    "[Skole].[Skole]": list(SKOLER),
    "[Elev].[Køn]": ["Kvinde", "Mand"],
    "[Elev].[Aldersgruppe]": ["Under 20 år", "20-24 år"],
    "[Afslagsårsag].[Primær årsag]": [
        "Manglende faglige kvalifikationer",
        "Pladsen er besat",
        "Manglende personlige kompetencer",
        "Andet",
    ],
    "[Afslagsårsag].[Sekundær årsag]": ["Ingen sekundær årsag", "Andet"],
    "[Frafaldsrisiko].[Frafaldsrisiko]": ["Lav", "Middel", "Høj", "Ikke vurderet"],
    "[Vurdering].[Alder af vurdering]": ["Under 3 måneder", "3-5 måneder", "Ingen vurdering"],
}


#: members with few individuals (counts divided by 10): primary suppression happens naturally
RARE = {"primaer_aarsag": "Manglende personlige kompetencer"}


def months_back(n: int, release: str = RELEASE) -> list[str]:
    y, m = (int(x) for x in release.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y}M{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _period_end(caption: str) -> date:
    if "M" in caption:
        y, m = (int(x) for x in caption.split("M"))
    elif "K" in caption:
        y, q = (int(x) for x in caption.split("K"))
        m = 3 * q
    else:
        y, m = int(caption), 12
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _finest(cube: Cube) -> list[str]:
    """The cube's finest attributes (one per hierarchy, no aliases)."""
    out = []
    for key in cube.attributes:
        a = ATTRIBUTES[key]
        if a.alias_of:
            continue
        if a.hierarchy:
            levels = [lv for lv in HIERARCHIES[a.hierarchy] if lv in cube.attributes]
            if key != levels[0]:
                continue
        out.append(key)
    return out


def make_micro(cube: Cube, periods: list[str], seed: int = 7) -> pd.DataFrame:
    """Deterministic finest-level counts: one row per combination of members."""
    keys = _finest(cube)
    lists = [periods if ATTRIBUTES[k].hierarchy == "Tid" else TEST_MEMBERS[k] for k in keys]
    rows = list(product(*lists))
    micro = pd.DataFrame(rows, columns=[ATTRIBUTES[k].column for k in keys])
    n = len(micro)
    micro["count"] = [((i + seed) * 7919 + 13 * seed) % 11 for i in range(n)]
    for col, member in RARE.items():  # a rare member, so that small cells occur naturally
        if col in micro:
            rare = micro[col] == member
            micro.loc[rare, "count"] = micro.loc[rare, "count"] // 10
    if any(m.outcome for m in cube.measures):  # dropouts: a minority of the students
        micro["count2"] = [c * ((i % 3) + 1) // 8 for i, c in enumerate(micro["count"])]
    else:  # applicants behind the refusals: most of them, at least one per refusal cell
        micro["count2"] = [(c * ((i % 3) + 2) + 3) // 4 for i, c in enumerate(micro["count"])]
    tid = ATTRIBUTES[keys[0]]
    if tid.column == "tid_maaned":
        micro["tid_kvartal"] = [f"{p[:4]}K{(int(p[5:]) - 1) // 3 + 1}" for p in micro["tid_maaned"]]
    if tid.column in ("tid_maaned", "tid_kvartal"):
        micro["tid_aar"] = [p[:4] for p in micro[tid.column]]
    if "kommune" in micro:
        micro["region"] = micro["kommune"].map(KOMMUNER)
    if "skole" in micro:
        micro["institutionsnummer"] = micro["skole"].map(SKOLER)
    return micro


def make_published(
    cube: Cube,
    periods: list[str] | None = None,
    withhold: list[dict[str, str]] = (),
    seed: int = 7,
    release: str = RELEASE,
) -> pd.DataFrame:
    """A published cell frame with the columns, dtypes and order of ``cells.parquet``.

    Counts are sums of :func:`make_micro` (stocks: the status at each period's last month),
    shares are computed as the contract defines them, cells with 0-3 individuals are
    withheld (the primary rule), and every cell matching one of ``withhold`` (column →
    caption, plus ``gruppering``) is withheld too, to stand in for secondary suppression.
    """
    if periods is None:
        periods = months_back(12) if cube is not FRAFAFBRUD else ["2025K3", "2025K4", "2026K1"]
    micro = make_micro(cube, periods, seed)
    release_month = "M".join(release.split("-"))
    stock = cube.kind == "stock"
    finest_tid = _finest(cube)[0]
    frames = []
    for g in cube.groupings:
        attrs = g.split("|") if g else []
        cols = [ATTRIBUTES[a].column for a in carried_attributes(g)]
        cols = [c for c in cube.columns if c in cols]
        src = micro
        if stock:
            tid_level = next(a for a in attrs if ATTRIBUTES[a].hierarchy == "Tid")
            tcol = ATTRIBUTES[tid_level].column
            last = micro.groupby(tcol)[ATTRIBUTES[finest_tid].column].transform("max")
            src = micro[micro[ATTRIBUTES[finest_tid].column] == last]
        if cols:
            agg = src.groupby(cols, sort=False)[["count", "count2"]].sum().reset_index()
        else:
            agg = pd.DataFrame({"count": [src["count"].sum()], "count2": [src["count2"].sum()]})
        agg["gruppering"] = g
        if stock:
            tcol = ATTRIBUTES[next(a for a in attrs if ATTRIBUTES[a].hierarchy == "Tid")].column
            # the running period is counted on the release's last day (the cut-off)
            agg["statusdato"] = [min(_period_end(p), _period_end(release_month)) for p in agg[tcol]]
        frames.append((g, attrs, cols, agg))

    by_key = {g: agg for g, _, _, agg in frames}
    out = []
    for g, attrs, cols, agg in frames:
        agg = agg.copy()
        value = cube.value_column
        agg[value] = agg["count"]
        for m in cube.measures:
            if m.kind == "count" and m.column != value:
                agg[m.column] = agg["count2"]
        for m in cube.measures:
            if m.kind != "share":
                continue
            if m.denominator_column:
                agg[m.column] = agg[m.numerator] / agg[m.denominator_column]
            else:
                rest = [a for a in attrs if a not in m.denominator_drops]
                key = "|".join(a for a in cube.attributes if a in rest)
                den = by_key[key]
                dcols = [c for c in cols if c in den.columns]
                if dcols:
                    merged = agg[dcols].merge(
                        den[dcols + ["count"]].rename(columns={"count": "_den"}),
                        on=dcols,
                        how="left",
                    )
                    agg[m.column] = agg[m.numerator].to_numpy() / merged["_den"].to_numpy()
                else:
                    agg[m.column] = agg[m.numerator] / den["count"].iloc[0]
        small = agg[cube.individuals_column] <= MAX_SMALL
        forced = pd.Series(False, index=agg.index)
        for w in withhold:
            if w.get("gruppering", g) != g:
                continue
            hit = pd.Series(True, index=agg.index)
            for col, val in w.items():
                if col != "gruppering":
                    hit &= agg[col] == val if col in agg else False
            forced |= hit
        outcome = pd.Series(False, index=agg.index)
        if any(m.outcome for m in cube.measures):
            n_out = agg["count2"]
            n_rest = agg["count"] - agg["count2"]
            outcome = n_out.between(1, MAX_SMALL) | n_rest.between(0, MAX_SMALL)
        for m in cube.measures:
            hide = small | forced | (outcome if m.outcome else False)
            agg[m.column] = agg[m.column].where(~hide)
        out.append(agg)
    frame = pd.concat(out, ignore_index=True)
    for c in cube.columns:
        if c not in frame:
            frame[c] = None
    for m in cube.measures:
        frame[m.column] = frame[m.column].astype("Int64" if m.kind == "count" else "float64")
    measures = [m.column for m in cube.measures]
    frame["status"] = [
        "publiceret" if ok else "diskretioneret" for ok in frame[measures].notna().all(axis=1)
    ]
    for c in cube.columns:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    cols = ["gruppering", *(["statusdato"] if stock else []), *cube.columns, *measures, "status"]
    return frame[cols]


def _cell(frame: pd.DataFrame, gruppering: str, **where):
    sub = frame[frame["gruppering"] == gruppering]
    for k, v in where.items():
        sub = sub[sub[k] == v]
    assert len(sub) == 1, (gruppering, where, len(sub))
    return sub.iloc[0]


# --- CSV ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def afsl():
    withhold = [
        {
            "gruppering": "[Tid].[Måned]|[Afslagsårsag].[Primær årsag]",
            "tid_maaned": "2026M08",
            "primaer_aarsag": "Pladsen er besat",
        }
    ]
    return make_published(AFSLAARS, withhold=withhold)


@pytest.fixture(scope="module")
def vurd():
    return make_published(FRAFVURD)


def read_csv(path):
    raw = path.read_bytes()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return raw, rows


def test_view_csv_header_bom_crlf_and_totals(tmp_path, afsl):
    view = AFSLAARS.views[0]  # Måned × Uddannelse × Primær årsag
    path = write_view_csv(tmp_path / view_csv_name(view), AFSLAARS, view, afsl)
    assert path.name == "maaned_uddannelse_primaer-aarsag.csv"
    raw, rows = read_csv(path)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    assert rows[0] == [
        "År",
        "Kvartal",
        "Måned",
        "Uddannelse",
        "Primær årsag",
        "Antal afslag",
        "Antal ansøgere",
        "Andel af afslag",
    ]
    margins = [g for g, vs in AFSLAARS.groupings.items() if "v1" in vs]
    assert len(rows) - 1 == int(afsl["gruppering"].isin(margins).sum())

    # grand total first: every attribute "I alt", the sum of all refusals, share 100 %
    total = make_micro(AFSLAARS, months_back(12))["count"].sum()
    assert total > 1000
    assert rows[1] == ["I alt"] * 5 + [
        danish_int(total),
        danish_int(_cell(afsl, "")["antal_ansoegere"]),
        "100,0 %",
    ]
    assert "." in rows[1][5]  # Danish thousands separator


def test_view_csv_values_and_withheld(tmp_path, afsl):
    view = AFSLAARS.views[0]
    _, rows = read_csv(write_view_csv(tmp_path / "v1.csv", AFSLAARS, view, afsl))
    body = rows[1:]
    # a month × reason margin: År and Kvartal are carried, Uddannelse is "I alt"
    g = "[Tid].[Måned]|[Afslagsårsag].[Primær årsag]"
    cell = _cell(afsl, g, tid_maaned="2026M10", primaer_aarsag="Andet")
    row = next(r for r in body if r[:5] == ["2026", "2026K4", "2026M10", "I alt", "Andet"])
    assert row[5] == danish_int(cell["antal_afslag"]) and row[5] != ""
    assert row[7] == danish_pct(cell["andel_af_afslag"]) and row[7].endswith(" %") and "," in row[7]
    # the forced (secondary) cell is empty in every measure, not 0 and no marker
    row = next(
        r for r in body if r[:5] == ["2026", "2026K3", "2026M08", "I alt", "Pladsen er besat"]
    )
    assert row[5:] == ["", "", ""]
    # primary suppression at the finest level: every withheld cell is empty
    finest = afsl[
        afsl["gruppering"]
        == "[Tid].[Måned]|[Uddannelse].[Uddannelse]|[Afslagsårsag].[Primær årsag]"
    ]
    withheld = finest[finest["status"] == "diskretioneret"]
    assert len(withheld) > 0
    w = withheld.iloc[0]
    row = next(r for r in body if r[2:5] == [w["tid_maaned"], w["uddannelse"], w["primaer_aarsag"]])
    assert row[5:] == ["", "", ""]
    # no grouping outside the view's margins (e.g. Sektor) leaks into this table
    assert all(r[3] in ("I alt", *TEST_MEMBERS["[Uddannelse].[Uddannelse]"]) for r in body)


def test_view_csv_hierarchy_and_alias_columns(tmp_path, afsl, vurd):
    v2 = AFSLAARS.views[1]  # Kvartal × Kommune × Primær årsag
    _, rows = read_csv(write_view_csv(tmp_path / "a.csv", AFSLAARS, v2, afsl))
    assert rows[0][:5] == ["År", "Kvartal", "Region", "Kommune", "Primær årsag"]
    assert ["2026", "2026K4", "Region Midtjylland", "Aarhus", "I alt"] in [r[:5] for r in rows]
    assert ["I alt", "I alt", "Region Midtjylland", "I alt", "I alt"] in [r[:5] for r in rows]

    v2 = FRAFVURD.views[1]  # Kvartal × Skole × Frafaldsrisiko: stock, with Statusdato
    _, rows = read_csv(write_view_csv(tmp_path / "b.csv", FRAFVURD, v2, vurd))
    assert rows[0] == [
        "År",
        "Kvartal",
        "Statusdato",
        "Skole",
        "Institutionsnummer",
        "Frafaldsrisiko",
        "Antal elever",
        "Andel elever",
    ]
    row = next(r for r in rows[1:] if r[1] == "2026K3" and r[3] == "SOSU H" and r[5] == "I alt")
    assert row[:5] == ["2026", "2026K3", "2026-09-30", "SOSU H", "101234"]
    cell = _cell(vurd, "[Tid].[Kvartal]|[Skole].[Skole]", tid_kvartal="2026K3", skole="SOSU H")
    assert row[6] == danish_int(cell["antal_elever"])
    assert row[7] == "100,0 %"


def test_view_columns_every_view_starts_with_hierarchies():
    for cube in (AFSLAARS, FRAFVURD, FRAFAFBRUD):
        for view in cube.views:
            headers = [c.header for c in view_columns(cube, view)]
            assert headers[-len(cube.measures) :] == [m.caption for m in cube.measures]
            if "[Tid].[Måned]" in view.attributes:
                assert headers[:3] == ["År", "Kvartal", "Måned"]


# --- Excel ------------------------------------------------------------------------------------


def test_xlsx_sheets_numbers_formats(tmp_path, afsl):
    path = write_xlsx(tmp_path / "tabeller.xlsx", AFSLAARS, afsl, RELEASE, CUTOFF)
    wb = openpyxl.load_workbook(path)
    names = sheet_names(AFSLAARS)
    assert wb.sheetnames == [names[v.id] for v in AFSLAARS.views] + [ABOUT_SHEET]
    assert all(len(n) <= 31 for n in wb.sheetnames)
    assert names["v2"] == "kvartal_kommune_primaer-aarsag"  # fits: the view name itself
    assert len(set(wb.sheetnames)) == len(wb.sheetnames)

    ws = wb[names["v1"]]
    header = [c.value for c in ws[1]]
    assert header == [
        "År",
        "Kvartal",
        "Måned",
        "Uddannelse",
        "Primær årsag",
        "Antal afslag",
        "Antal ansøgere",
        "Andel af afslag",
    ]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:H")
    assert ws.column_dimensions["E"].width >= len("Manglende faglige kvalifikationer")

    total = make_micro(AFSLAARS, months_back(12))["count"].sum()
    row2 = [c.value for c in ws[2]]
    assert row2[:5] == ["I alt"] * 5
    assert row2[5] == total and isinstance(row2[5], int)
    assert row2[7] == pytest.approx(1.0) and isinstance(row2[7], (int, float))  # a number
    assert ws.cell(2, 6).number_format == "#,##0"
    assert ws.cell(2, 8).number_format == "0.0 %"

    # a withheld cell is empty (no value), never 0
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    row = next(
        r for r in rows if r[:5] == ("2026", "2026K3", "2026M08", "I alt", "Pladsen er besat")
    )
    assert row[5:] == (None, None, None)
    # a share in the middle of the table
    cell = _cell(
        afsl,
        "[Tid].[Måned]|[Afslagsårsag].[Primær årsag]",
        tid_maaned="2026M10",
        primaer_aarsag="Andet",
    )
    row = next(r for r in rows if r[:5] == ("2026", "2026K4", "2026M10", "I alt", "Andet"))
    assert row[5] == int(cell["antal_afslag"])
    assert row[7] == pytest.approx(float(cell["andel_af_afslag"]))


def test_xlsx_about_sheet(tmp_path, afsl):
    path = write_xlsx(tmp_path / "tabeller.xlsx", AFSLAARS, afsl, RELEASE, CUTOFF)
    ws = openpyxl.load_workbook(path)[ABOUT_SHEET]
    texts = [c.value for c in ws["A"] if c.value]
    assert texts[0] == "Afslagsårsager på SOSU"
    assert AFSLAARS.description in texts
    for caption, definition in AFSLAARS.definitions.items():
        assert f"{caption}: {definition}" in texts
    assert SOURCE_LINE in texts
    assert SOURCE_LINE == "Kilde: Lærepladsen.dk (Børne- og Undervisningsministeriet)"
    joined = "\n".join(texts)
    assert "1-3 ansøgere" in joined and "trække tal fra hinanden" in joined
    assert "uden nogen ansøgere vises også som tomme celler" in joined
    assert "Udgivelse: 2026-10" in texts
    assert "1. november 2026 kl. 00.00" in joined and "til og med 31. oktober 2026" in joined


def test_xlsx_stock_cube_dates_and_long_sheet_names(tmp_path, vurd):
    path = write_xlsx(tmp_path / "t.xlsx", FRAFVURD, vurd, RELEASE, CUTOFF)
    wb = openpyxl.load_workbook(path)
    names = sheet_names(FRAFVURD)
    assert names["v4"] == "aar_uddann_koen_alders_frafal"  # 47 characters shortened
    assert all(len(n) <= 31 for n in wb.sheetnames)
    ws = wb[names["v1"]]
    assert [c.value for c in ws[1]][:4] == ["År", "Kvartal", "Måned", "Statusdato"]
    assert [c.value for c in ws[2]][:3] == ["2025", "I alt", "I alt"]  # stock: År 2025 first
    assert ws.cell(2, 4).value == datetime(2025, 12, 31)
    assert ws.cell(2, 4).is_date
    about = "\n".join(c.value for c in wb[ABOUT_SHEET]["A"] if c.value)
    assert "31. december" in about and "1-3 elever" in about


def test_xlsx_is_deterministic(tmp_path, afsl):
    a = write_xlsx(tmp_path / "a.xlsx", AFSLAARS, afsl, RELEASE, CUTOFF).read_bytes()
    b = write_xlsx(tmp_path / "b.xlsx", AFSLAARS, afsl, RELEASE, CUTOFF).read_bytes()
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2026-10-31T23:00:00Z" in core  # the cut-off, in UTC


def write_cube_tables(folder, cube: Cube, published: pd.DataFrame, release: str,
                      cutoff: datetime) -> list:
    """Every ``<view>.csv`` and ``tabeller.xlsx`` of a cube, as the release writer writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_view_csv(folder / view_csv_name(v), cube, v, published) for v in cube.views]
    paths.append(write_xlsx(folder / XLSX_NAME, cube, published, release, cutoff))
    return paths


def test_write_cube_tables(tmp_path):
    frame = make_published(FRAFAFBRUD)
    paths = write_cube_tables(tmp_path / FRAFAFBRUD.id, FRAFAFBRUD, frame, RELEASE, CUTOFF)
    assert [p.name for p in paths] == [
        "kvartal_uddannelse_frafaldsrisiko.csv",
        "aar_region_frafaldsrisiko.csv",
        "tabeller.xlsx",
    ]
    _, rows = read_csv(paths[1])
    assert rows[0] == [
        "År",
        "Region",
        "Statusdato",
        "Frafaldsrisiko",
        "Antal elever",
        "Antal afbrudt inden for 6 måneder",
        "Andel afbrudt inden for 6 måneder",
    ]
    # the outcome rule can withhold the outcome measures while Antal elever still shows
    for r in rows[1:]:
        assert (r[5] == "") == (r[6] == "")
    about = "\n".join(
        c.value for c in openpyxl.load_workbook(paths[2])[ABOUT_SHEET]["A"] if c.value
    )
    assert "0-3 elever ikke har afbrudt" in about


def test_helper_frame_has_cells_parquet_shape():
    frame = make_published(FRAFVURD, periods=months_back(2))
    assert list(frame.columns) == [
        "gruppering",
        "statusdato",
        *FRAFVURD.columns,
        "antal_elever",
        "andel_elever",
        "status",
    ]
    assert str(frame["antal_elever"].dtype) == "Int64"
    assert set(frame["gruppering"]) == set(FRAFVURD.groupings)
    assert set(frame["status"]) <= {"publiceret", "diskretioneret"}
    frame = make_published(AFSLAARS, periods=months_back(2))
    assert set(frame["status"]) == {"publiceret", "diskretioneret"}
    assert frame.loc[frame["status"] == "diskretioneret", "antal_afslag"].isna().all()


def test_same_files_from_a_frame_read_back_from_parquet(tmp_path, vurd):
    """The release writer may hand over cells.parquet as read back by pandas (counts with
    nulls then arrive as float64, dates as datetime.date, strings as str): same bytes."""
    vurd.to_parquet(tmp_path / "cells.parquet", index=False)
    back = pd.read_parquet(tmp_path / "cells.parquet")
    for name, frame in (("a", vurd), ("b", back)):
        write_cube_tables(tmp_path / name, FRAFVURD, frame, RELEASE, CUTOFF)
    for view in FRAFVURD.views:
        a = (tmp_path / "a" / view_csv_name(view)).read_bytes()
        assert a == (tmp_path / "b" / view_csv_name(view)).read_bytes()
    assert (tmp_path / "a/tabeller.xlsx").read_bytes() == (
        tmp_path / "b/tabeller.xlsx"
    ).read_bytes()


def test_view_csv_neutralises_formula_like_captions_and_leaves_numbers(tmp_path, afsl):
    """Issue 19: a caption starting with = + - @ (a school name typed as =HYPERLINK(...))
    would run as a formula in a spreadsheet; it is written with a leading '. Numbers are not."""
    view = AFSLAARS.views[0]
    plain = read_csv(write_view_csv(tmp_path / "plain.csv", AFSLAARS, view, afsl))[1]
    evil = {"Andet": '=HYPERLINK("http://x.example","Andet")', "Pladsen er besat": "-besat",
            "Manglende faglige kvalifikationer": "@SUM(A1)",
            "Manglende personlige kompetencer": "+45 kompetencer"}
    dirty = afsl.copy()
    dirty["primaer_aarsag"] = dirty["primaer_aarsag"].replace(evil)
    rows = read_csv(write_view_csv(tmp_path / "dirty.csv", AFSLAARS, view, dirty))[1]
    assert len(rows) == len(plain)
    captions = {r[4] for r in rows[1:]}
    assert {"'" + v for v in evil.values()} <= captions
    assert not [c for c in captions if c and c[0] in "=+-@"]
    for a, b in zip(plain[1:], rows[1:]):
        assert a[:4] == b[:4] and a[5:] == b[5:]  # every other cell, every number unchanged
        assert not [v for v in b[5:] if v and v[0] in "'=+-@"]
