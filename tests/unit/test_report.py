"""The ministry report (rapport.html): key figures, inline SVG charts, withheld markers."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tests.unit.test_tables import (
    CUTOFF,
    RELEASE,
    _cell,
    make_published,
    months_back,
)
from transforms.catalog import AFSLAARS, CUBES, FRAFAFBRUD, FRAFVURD
from transforms.formats import danish_int, danish_pct
from transforms.publish.report import (
    INFORMATION_LOSS_ROWS,
    SOURCE_LINE,
    render_report,
    write_report,
)

G_MONTH = "[Tid].[Måned]"
G_MONTH_REASON = "[Tid].[Måned]|[Afslagsårsag].[Primær årsag]"
G_QUARTER_REGION_RISK = "[Tid].[Kvartal]|[Arbejdssted].[Region]|[Frafaldsrisiko].[Frafaldsrisiko]"


@pytest.fixture(scope="module")
def frames():
    return {
        "AFSLAARS": make_published(
            AFSLAARS,
            withhold=[
                {
                    "gruppering": G_MONTH_REASON,
                    "tid_maaned": "2026M08",
                    "primaer_aarsag": "Pladsen er besat",
                }
            ],
        ),
        "FRAFVURD": make_published(
            FRAFVURD,
            withhold=[
                {
                    "gruppering": G_QUARTER_REGION_RISK,
                    "tid_kvartal": "2026K4",
                    "region": "Region Syddanmark",
                    "frafaldsrisiko": "Høj",
                }
            ],
        ),
        "FRAFAFBRUD": make_published(FRAFAFBRUD),
    }


@pytest.fixture(scope="module")
def report(frames, tmp_path_factory):
    path = tmp_path_factory.mktemp("rel") / "rapport.html"
    write_report(path, RELEASE, CUTOFF, frames)
    return path.read_text(encoding="utf-8")


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def kpi(value: str, label: str) -> str:
    return f'<div class="kpi-value">{value}</div><div class="kpi-label">{label}'


def elements(text: str) -> list[tuple[str, dict]]:
    p = _Elements()
    p.feed(text)
    return p.tags


def test_self_contained_danish_html(report):
    assert report.startswith("<!DOCTYPE html>")
    assert '<html lang="da">' in report
    assert '<meta charset="utf-8">' in report
    tags = {t for t, _ in elements(report)}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not re.search(r"\b(src|href)\s*=", report)
    assert "http://" not in report and "https://" not in report and "@import" not in report
    assert set(re.findall(r"url\(([^)]*)\)", report)) <= {f"#hatch-{i}" for i in range(100)}
    assert SOURCE_LINE in report
    assert "Lærepladser og frafaldsrisiko på SOSU – oktober 2026" in report


def test_refusal_key_figures(report, frames):
    f = frames["AFSLAARS"]
    month = _cell(f, G_MONTH, tid_maaned="2026M10")["antal_afslag"]
    ytd = _cell(f, "[Tid].[År]", tid_aar="2026")["antal_afslag"]
    sept = _cell(f, G_MONTH, tid_maaned="2026M09")["antal_afslag"]
    assert ytd >= 1000 and "." in danish_int(ytd)
    assert kpi(danish_int(month), "Afslag i oktober 2026") in report
    assert kpi(danish_int(ytd), "Afslag i 2026 til og med oktober") in report
    assert f"september 2026: {danish_int(sept)}" in report


def test_primary_reasons_ranked_with_shares(report, frames):
    f = frames["AFSLAARS"]
    g = "[Tid].[År]|[Afslagsårsag].[Primær årsag]"
    cells = f[(f["gruppering"] == g) & (f["tid_aar"] == "2026")]
    ranked = cells.sort_values("antal_afslag", ascending=False, kind="stable")
    section = report[report.index("De mest almindelige primære afslagsårsager") :]
    table = section[section.index("<table>") : section.index("</table>")]
    rows = re.findall(
        r'<tr><td class="txt">([^<]+)</td><td class="num">([^<]+)</td>'
        r'<td class="num">([^<]+)</td></tr>',
        table,
    )
    top = ranked.iloc[0]
    assert rows[0] == (
        top["primaer_aarsag"],
        danish_int(top["antal_afslag"]),
        danish_pct(top["andel_af_afslag"]),
    )
    published = ranked[ranked["antal_afslag"].notna()]
    assert [r[0] for r in rows[: len(published)]] == list(published["primaer_aarsag"])


def test_trend_marks_withheld_month(report, frames):
    section = report[
        report.index("Udvikling i de mest almindelige primære årsager") : report.index(
            'id="vurderinger"'
        )
    ]
    row = section[section.index('<td class="txt">august 2026</td>') :]
    row = row[: row.index("</tr>")]
    assert '<span class="withheld" title="Diskretioneret">–</span>' in row
    assert "Diskretioneret: tallet vises ikke" in section
    f = frames["AFSLAARS"]
    oct_andet = _cell(f, G_MONTH_REASON, tid_maaned="2026M10", primaer_aarsag="Andet")
    assert (
        f"{danish_int(oct_andet['antal_afslag'])} ({danish_pct(oct_andet['andel_af_afslag'])})"
        in section
    )
    # the line of the trend chart is broken at the withheld month: two subpaths ("M" twice)
    paths = re.findall(r'<path class="line" d="([^"]+)"', section)
    assert any(d.count("M") == 2 for d in paths)


def test_assessment_key_figures(report, frames):
    f = frames["FRAFVURD"]
    not_assessed = _cell(
        f,
        "[Tid].[Måned]|[Frafaldsrisiko].[Frafaldsrisiko]",
        tid_maaned="2026M10",
        frafaldsrisiko="Ikke vurderet",
    )["andel_elever"]
    students = _cell(f, G_MONTH, tid_maaned="2026M10")["antal_elever"]
    fresh = _cell(
        f,
        "[Tid].[Kvartal]|[Vurdering].[Alder af vurdering]",
        tid_kvartal="2026K4",
        alder_af_vurdering="Under 3 måneder",
    )["andel_elever"]
    assert f'<div class="kpi-value">{danish_int(students)}</div>' in report
    assert kpi(danish_pct(1 - not_assessed), "Andel elever med en frafaldsvurdering") in report
    assert kpi(danish_pct(fresh), "Andel elever med en vurdering under 3 måneder gammel") in report
    assert "status pr. 31. oktober 2026" in report
    assert "Alder af vurdering, 4. kvartal 2026" in report


def test_risk_by_education_and_region(report, frames):
    f = frames["FRAFVURD"]
    cell = _cell(
        f,
        "[Tid].[Måned]|[Uddannelse].[Uddannelse]|[Frafaldsrisiko].[Frafaldsrisiko]",
        tid_maaned="2026M10",
        uddannelse="Social- og sundhedsassistent",
        frafaldsrisiko="Høj",
    )
    section = report[
        report.index("Frafaldsrisiko efter uddannelse") : report.index(
            "Frafaldsrisiko efter region"
        )
    ]
    assert danish_pct(cell["andel_elever"]) in section
    region = report[report.index("Frafaldsrisiko efter region") : report.index('id="afbrud"')]
    # the withheld segment is left out and drawn hatched; the table shows the marker
    assert 'class="withheld-area"' in region and "url(#hatch-" in region
    row = region[region.index('<td class="txt">Region Syddanmark</td>') :]
    assert '<span class="withheld"' in row[: row.index("</tr>")]


def test_dropout_by_risk(report, frames):
    f = frames["FRAFAFBRUD"]
    g = "[Tid].[Kvartal]|[Frafaldsrisiko].[Frafaldsrisiko]"
    section = report[report.index('id="afbrud"') : report.index('id="metode"')]
    assert "1. kvartal 2026" in section
    for risk in ("Lav", "Middel", "Høj", "Ikke vurderet"):
        c = _cell(f, g, tid_kvartal="2026K1", frafaldsrisiko=risk)
        row = section[section.index(f'<td class="txt">{risk}</td>') :]
        row = row[: row.index("</tr>")]
        if c["andel_afbrudt"] is None or c["andel_afbrudt"] != c["andel_afbrudt"]:
            assert '<span class="withheld"' in row
        else:
            assert danish_pct(c["andel_afbrudt"]) in row
        assert danish_int(c["antal_elever"]) in row


def test_charts_are_inline_svg_with_bars_and_lines(report):
    tags = elements(report)
    svgs = [a for t, a in tags if t == "svg"]
    assert len(svgs) >= 8
    assert all(a.get("role") == "img" and float(a["width"]) > 0 for a in svgs)
    bars = [a for t, a in tags if t == "rect" and a.get("class") == "bar"]
    assert len(bars) > 20
    assert all(float(a["height"]) > 0 and float(a["width"]) > 0 for a in bars)
    lines = [a for t, a in tags if t == "path" and a.get("class") == "line"]
    assert len(lines) >= 8
    # withheld values in charts are a visible marker, not a zero-height bar
    assert re.search(r'<text class="withheld"[^>]*>–</text>', report)


def test_method_section(report):
    method = report[report.index('id="metode"') :]
    assert "Europe/Copenhagen" in method
    assert "1-3 personer" in method
    assert "Lærepladsen.dk" in method
    assert "til og med 31. oktober 2026" in method


def test_deterministic(frames, report, tmp_path):
    again = write_report(tmp_path / "r.html", RELEASE, CUTOFF, frames).read_bytes()
    assert again.decode("utf-8") == report
    assert render_report(RELEASE, CUTOFF, frames) == report


def test_previous_release_adds_revisions(frames):
    prev = make_published(AFSLAARS, periods=months_back(12, "2026-09"), seed=5, release="2026-09")
    text = render_report(
        RELEASE, CUTOFF, frames, {"release": "2026-09", "cubes": {"AFSLAARS": prev}}
    )
    section = text[text.index('id="revisioner"') : text.index('id="metode"')]
    old = _cell(prev, G_MONTH, tid_maaned="2026M09")["antal_afslag"]
    new = _cell(frames["AFSLAARS"], G_MONTH, tid_maaned="2026M09")["antal_afslag"]
    assert "Udgivelse 2026-09" in section and "Udgivelse 2026-10" in section
    row = section[section.index("september 2026") :]
    row = row[: row.index("</tr>")]
    assert danish_int(old) in row and danish_int(new) in row
    # the plain {underemne: frame} form works too
    assert 'id="revisioner"' in render_report(RELEASE, CUTOFF, frames, {"AFSLAARS": prev})
    assert 'id="revisioner"' not in render_report(RELEASE, CUTOFF, frames)


def test_missing_cubes_give_a_readable_report(frames):
    text = render_report(RELEASE, CUTOFF, {"AFSLAARS": frames["AFSLAARS"]})
    assert "Ingen data" in text
    assert "Endnu ingen perioder" in text
    assert "Afslag i oktober 2026" in text


def test_same_report_from_frames_read_back_from_parquet(frames, report, tmp_path):
    back = {}
    for name, frame in frames.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        back[name] = pd.read_parquet(tmp_path / f"{name}.parquet")
    assert render_report(RELEASE, CUTOFF, back) == report


# --- the information lost to secondary suppression (audit.json's informationstab) ---------

#: two cubes' published blocks as transforms/infoloss.py writes them (FRAFAFBRUD has none: a
#: cube audited before the block existed is left out). The value-based figures and the views
#: are sentinels that must not reach the report (an audit.json of session 5 carried them):
#: it shows counts readable from the published cells only.
LOSS = {
    "AFSLAARS": {
        "terning": {"celler": 10440, "diskretionerede": 6144, "sekundaer_vaerdi": 918269,
                    "stoerste_sekundaere": 918267},
        "visninger": {"v1": {"navn": "maaned_uddannelse_primaer-aarsag", "celler": 918273,
                             "diskretionerede": 918272}},
    },
    "FRAFVURD": {
        "terning": {"celler": 1715, "diskretionerede": 0},
    },
}


def loss_table(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The method section's information-loss table: the cube captions of its header, and
    per row label its cells (as text)."""
    method = text[text.index('id="metode"') :]
    section = method[method.index("<h3>Informationstab</h3>") :]
    table = section[section.index("<table>") : section.index("</table>")]
    head = table[: table.index("</thead>")]
    headers = [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", head)]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>") :]):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
        rows[cells[0]] = cells[1:]
    return headers[1:], rows


def test_information_loss_table_in_the_method_section(frames):
    text = render_report(RELEASE, CUTOFF, frames, informationstab=LOSS)
    headers, rows = loss_table(text)
    assert headers == [CUBES["AFSLAARS"].caption, CUBES["FRAFVURD"].caption]
    assert list(rows) == [label for label, _ in INFORMATION_LOSS_ROWS]
    assert rows["Celler"] == ["10.440", "1.715"]
    assert rows["Diskretionerede celler"] == ["6.144", "0"]
    assert rows["Andel af cellerne"] == ["58,9 %", "0,0 %"]
    # counts of cells only: nothing value-based, nothing of the views
    assert not re.search(r"918\.?2|91,8 %", text)
    # the rest of the report is unchanged by it
    without = render_report(RELEASE, CUTOFF, frames)
    assert "Informationstab" not in without
    start = text.index("<h3>Informationstab</h3>")
    end = text.index("</figure>", start) + len("</figure>")
    assert text[:start] + text[end:] == without


def test_information_loss_table_is_deterministic(frames, tmp_path):
    a = write_report(tmp_path / "a.html", RELEASE, CUTOFF, frames, informationstab=LOSS)
    b = write_report(tmp_path / "b.html", RELEASE, CUTOFF, frames,
                     informationstab=dict(reversed(LOSS.items())))
    assert a.read_bytes() == b.read_bytes()
    headers, _ = loss_table(a.read_text(encoding="utf-8"))
    assert headers[0] == CUBES["AFSLAARS"].caption  # catalogue order, not the mapping's
