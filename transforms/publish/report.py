"""The ministry report of a release: ``rapport.html``.

One self-contained HTML file in Danish (inline CSS, charts as inline SVG from
``transforms/publish/charts.py``, no scripts, no external assets): key figures, trends and
charts for the release month.

It reads *only published cells* (the frames written to ``cells.parquet``, looked up through
``transforms/publish/cells.py``): every number shown is a published value or plain arithmetic
on published values, so the report cannot show anything the tables do not. A withheld (or
empty) cell is shown as ``–`` with the footnote "Diskretioneret". The method section's table
of withheld cells per cube copies the release's ``audit.json`` ``informationstab`` block,
which holds only counts readable from the published cells too (``transforms/infoloss.py``:
the value withheld as secondary is kept in the warehouse, since it would say something about
withheld values). Output is deterministic: same input, same bytes.

No PDF is produced: the contract's release layout has ``rapport.html`` only, and the
pure-Python HTML/SVG→PDF routes need either system libraries (WeasyPrint: Pango) or a
second, hand-made layout (fpdf2, not a project dependency). The HTML prints well from a
browser (print CSS included).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from transforms.calendar import Release, period_span
from transforms.catalog import ATTRIBUTES, CUBES, FIXED_MEMBERS, MAX_SMALL
from transforms.formats import (
    copenhagen,
    danish_date,
    danish_int,
    danish_pct,
    period_caption,
)
from transforms.publish.cells import PublishedCells
from transforms.publish.charts import PALETTE, WITHHELD, WITHHELD_NOTE, Chart, Charts

SOURCE_LINE = "Kilde: Lærepladsen.dk (Børne- og Undervisningsministeriet)"

#: the rows of the method section's information-loss table: label, value from the audit's
#: published ``informationstab`` block of a cube (``transforms/infoloss.py``)
INFORMATION_LOSS_ROWS = (
    ("Celler", lambda t: danish_int(t["celler"])),
    ("Diskretionerede celler", lambda t: danish_int(t["diskretionerede"])),
    ("Andel af cellerne", lambda t: danish_pct(t["diskretionerede"] / t["celler"])
     if t["celler"] else "–"),
)

T_AAR, T_KVT, T_MD = "[Tid].[År]", "[Tid].[Kvartal]", "[Tid].[Måned]"
UDD = "[Uddannelse].[Uddannelse]"
REGION = "[Arbejdssted].[Region]"
PRIMAER = "[Afslagsårsag].[Primær årsag]"
RISIKO = "[Frafaldsrisiko].[Frafaldsrisiko]"
ALDER_VURD = "[Vurdering].[Alder af vurdering]"

#: the catalogue's fixed members that the report names (section 2.1 of the contract)
LAV, MIDDEL, HOEJ, IKKE_VURDERET = FIXED_MEMBERS[RISIKO]
UNDER_3_MAANEDER = FIXED_MEMBERS[ALDER_VURD][0]
#: a colour per fixed member, in the catalogue's order: green for low risk and fresh
#: assessments, through orange to red; grey for none
RISK_COLORS = dict(zip(FIXED_MEMBERS[RISIKO], ("#009E73", "#E69F00", "#D55E00", "#9A9A9A"),
                       strict=True))
AGE_COLORS = dict(zip(FIXED_MEMBERS[ALDER_VURD],
                      ("#009E73", "#56B4E9", "#E69F00", "#D55E00", "#9A9A9A"), strict=True))
DROPOUT_COLOR = RISK_COLORS[HOEJ]


# --- periods -------------------------------------------------------------------------------


def _short_month(caption: str) -> str:
    """``2026M10`` → ``okt 26`` (chart axes)."""
    return Release.from_caption(caption).short_name


def _period_key(caption: str) -> tuple[int, int]:
    """Sorts Tid captions by the last month of their period."""
    last = period_span(caption)[1]
    return last.year, last.month




# --- formatting ------------------------------------------------------------------------------


@dataclass
class _Notes:
    """Tracks whether a block shows withheld values, to add the footnote."""

    withheld: bool = False

    def show(self, value, fmt: Callable[[Any], str]) -> str:
        if value is None:
            self.withheld = True
            return f'<span class="withheld" title="{WITHHELD_NOTE}">{WITHHELD}</span>'
        return html.escape(fmt(value))

    def chart(self, chart: Chart) -> str:
        """A chart's SVG; its withheld values count for the footnote."""
        self.withheld = self.withheld or chart.withheld
        return chart.svg

    def footnote(self) -> str:
        if not self.withheld:
            return ""
        return (
            f'<p class="footnote"><span class="withheld">{WITHHELD}</span> {WITHHELD_NOTE}: '
            "tallet vises ikke, fordi det bygger på få personer, eller for at andre udeladte "
            "tal ikke kan regnes ud (se Metode).</p>"
        )


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _signed_pct(fraction: float) -> str:
    text = danish_pct(fraction)
    return text if text.startswith(("-", "0,0")) else "+" + text


# --- the report ------------------------------------------------------------------------------


def _previous_frames(previous: Mapping | None) -> tuple[str | None, dict[str, pd.DataFrame]]:
    """``previous`` is the previous release's published frames, either ``{underemne: frame}``
    (optionally with ``"release": "2026-09"``) or ``{"release": ..., "cubes": {...}}``."""
    if not previous:
        return None, {}
    release = previous.get("release") or previous.get("udgivelse")
    cubes = previous.get("cubes", previous)
    frames = {k: v for k, v in cubes.items() if isinstance(v, pd.DataFrame)}
    return (str(release) if release else None), frames


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    def kind(j: int) -> str:
        return "num" if j >= numeric_from else "txt"

    head = "".join(f'<th class="{kind(j)}">{_esc(h)}</th>' for j, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{kind(j)}">{cell}</td>'
                                    for j, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi(value_html: str, label: str, note: str = "") -> str:
    note_html = f'<div class="kpi-note">{note}</div>' if note else ""
    return (f'<div class="kpi"><div class="kpi-value">{value_html}</div>'
            f'<div class="kpi-label">{_esc(label)}</div>{note_html}</div>')


def _kpis(notes: _Notes, *kpis: str) -> str:
    """A row of key figures, then the footnote if any of them is withheld."""
    return f'<div class="kpis">{"".join(kpis)}</div>{notes.footnote()}'


def _no_data(section_id: str, title: str, text: str = "Ingen data.") -> str:
    return f'<section id="{section_id}"><h2>{title}</h2><p>{text}</p></section>'


class _Report:
    def __init__(self, release, cutoff, published_by_cube, previous, members,
                 informationstab=None):
        self.release = release
        self.cutoff = cutoff
        self.informationstab = dict(informationstab or {})
        self.cells = {u: PublishedCells(CUBES[u], published_by_cube.get(u)) for u in CUBES}
        self.prev_release, prev_frames = _previous_frames(previous)
        self.prev = {u: PublishedCells(CUBES[u], prev_frames.get(u)) for u in CUBES}
        self.members = members or {}
        self.charts = Charts()
        self.period = Release.parse(release)
        self.year = self.period.year
        self.month = self.period.caption
        self.quarter = self.period.quarter_caption
        self.months12 = [r.caption for r in self.period.back(12)]

    # -- helpers
    def _order(self, attr: str, found: list[str]) -> list[str]:
        ref = self.members.get(attr) or FIXED_MEMBERS.get(attr)
        if not ref:
            return found
        known = [m for m in ref if m in found]
        return known + [m for m in found if m not in known]

    def _block(self, title: str, intro: str, body: str, notes: _Notes) -> str:
        intro_html = f"<p>{intro}</p>" if intro else ""
        return (f"<figure><figcaption>{_esc(title)}</figcaption>{intro_html}{body}"
                f"{notes.footnote()}</figure>")

    def _status(self, c: PublishedCells, attrs, **where) -> str:
        d = c.statusdato(attrs, **where)
        return f"status pr. {danish_date(d)}" if d else ""

    def _months(self, c: PublishedCells) -> list[str]:
        """The last 12 months up to the release month that the cube has cells for."""
        return [m for m in self.months12 if c.has([T_MD], tid_maaned=m)]

    def _risk_lines(self, c: PublishedCells, tid_attr: str, periods: list[str],
                    xlabels: list[str], measure: str, risks: list[str], chart_title: str,
                    title: str, intro: str = "") -> str:
        """A line per risk category: ``measure`` in each period, in the category's colour."""
        tid_col = ATTRIBUTES[tid_attr].column
        series = [(r, [c.value([tid_attr, RISIKO], measure, **{tid_col: p}, frafaldsrisiko=r)
                       for p in periods], RISK_COLORS.get(r, PALETTE[k % len(PALETTE)]))
                  for k, r in enumerate(risks)]
        notes = _Notes()
        chart = notes.chart(self.charts.lines(xlabels, series, chart_title))
        return self._block(title, intro, chart, notes)

    # -- refusals (AFSLAARS)
    def refusals(self) -> str:
        c = self.cells["AFSLAARS"]
        if not c.present:
            return _no_data("afslag", "Afslag på lærepladser")
        months = self._months(c)
        year = dict(tid_aar=str(self.year))
        reasons = c.members(PRIMAER, [T_AAR, PRIMAER], **year)
        counts = {r: c.value([T_AAR, PRIMAER], "antal_afslag", **year, primaer_aarsag=r)
                  for r in reasons}
        ranked = sorted(reasons, key=lambda r: (counts[r] is None, -(counts[r] or 0),
                                                reasons.index(r)))
        top = [r for r in ranked if counts[r] is not None][:4]
        return "".join([
            '<section id="afslag"><h2>Afslag på lærepladser</h2>',
            self._refusal_kpis(c),
            self._refusals_by_month(c, months),
            self._reasons(c, ranked, counts),
            self._reason_trend(c, top, months) if top and months else "",
            "</section>",
        ])

    def _refusal_kpis(self, c: PublishedCells) -> str:
        month_name = period_caption(self.month)
        notes = _Notes()
        n_month = c.value([T_MD], "antal_afslag", tid_maaned=self.month)
        n_appl = c.value([T_MD], "antal_ansoegere", tid_maaned=self.month)
        n_ytd = c.value([T_AAR], "antal_afslag", tid_aar=str(self.year))
        compare = []
        for other in (self.period.previous().caption, self.period.shift(-12).caption):
            if not c.has([T_MD], tid_maaned=other):
                continue
            n_other = c.value([T_MD], "antal_afslag", tid_maaned=other)
            text = f"{_esc(period_caption(other))}: {notes.show(n_other, danish_int)}"
            if n_month is not None and n_other:
                text += f" ({_esc(_signed_pct((n_month - n_other) / n_other))})"
            compare.append(text)
        ytd_label = f"Afslag i {self.year} til og med {period_caption(self.month).split()[0]}"
        return _kpis(
            notes,
            _kpi(notes.show(n_month, danish_int), f"Afslag i {month_name}", "<br>".join(compare)),
            _kpi(notes.show(n_appl, danish_int), f"Ansøgere med afslag i {month_name}"),
            _kpi(notes.show(n_ytd, danish_int), ytd_label),
        )

    def _refusals_by_month(self, c: PublishedCells, months: list[str]) -> str:
        notes = _Notes()
        values = [c.value([T_MD], "antal_afslag", tid_maaned=m) for m in months]
        chart = notes.chart(self.charts.bars(
            [_short_month(m) for m in months], values, danish_int, "Antal afslag pr. måned"
        ))
        return self._block("Antal afslag pr. måned, seneste 12 måneder", "", chart, notes)

    def _reasons(self, c: PublishedCells, ranked: list[str], counts: dict) -> str:
        """The primary reasons of the year so far, the most common first."""
        year = dict(tid_aar=str(self.year))
        shares = {r: c.value([T_AAR, PRIMAER], "andel_af_afslag", **year, primaer_aarsag=r)
                  for r in ranked}
        notes = _Notes()
        chart = notes.chart(self.charts.hbars(
            ranked, [counts[r] for r in ranked], danish_int, f"Primære afslagsårsager {self.year}"
        ))
        table = _table(
            ["Primær årsag", "Antal afslag", "Andel af afslag"],
            [[_esc(r), notes.show(counts[r], danish_int), notes.show(shares[r], danish_pct)]
             for r in ranked],
        )
        return self._block(
            f"De mest almindelige primære afslagsårsager, {self.year} til og med "
            f"{period_caption(self.month)}", "", chart + table, notes,
        )

    def _reason_trend(self, c: PublishedCells, top: list[str], months: list[str]) -> str:
        """The shares of the most common primary reasons over the last 12 months."""
        def cell(measure: str, m: str, r: str):
            return c.value([T_MD, PRIMAER], measure, tid_maaned=m, primaer_aarsag=r)

        series = [(r, [cell("andel_af_afslag", m, r) for m in months], PALETTE[k % len(PALETTE)])
                  for k, r in enumerate(top)]
        notes = _Notes()
        chart = notes.chart(self.charts.lines(
            [_short_month(m) for m in months], series, "Udvikling i de primære afslagsårsager"
        ))
        rows = []
        for m in months:
            row = [_esc(period_caption(m))]
            for r in top:
                n, s = cell("antal_afslag", m, r), cell("andel_af_afslag", m, r)
                row.append(
                    f"{notes.show(n, danish_int)} ({notes.show(s, danish_pct)})"
                    if n is not None or s is not None
                    else notes.show(None, danish_int)
                )
            rows.append(row)
        return self._block(
            "Udvikling i de mest almindelige primære årsager, seneste 12 måneder",
            "Andel af månedens afslag; tabellen viser antal afslag (andel af afslag).",
            chart + _table(["Måned", *top], rows), notes,
        )

    # -- assessments (FRAFVURD)
    def assessments(self) -> str:
        c = self.cells["FRAFVURD"]
        if not c.present:
            return _no_data("vurderinger", "Frafaldsvurderinger")
        risks = self._order(RISIKO, c.members(RISIKO, [T_MD, RISIKO], tid_maaned=self.month))
        # age of the assessments: the release quarter (status at the cut-off if running)
        ages = self._order(ALDER_VURD, c.members(ALDER_VURD, [T_KVT, ALDER_VURD],
                                                 tid_kvartal=self.quarter))
        q_status = self._status(c, [T_KVT, ALDER_VURD], tid_kvartal=self.quarter)
        months = self._months(c)
        parts = ['<section id="vurderinger"><h2>Frafaldsvurderinger</h2>',
                 self._assessment_kpis(c, risks, q_status)]
        if ages:
            parts.append(self._ages(c, ages, q_status))
        if months and risks:
            parts.append(self._risk_lines(
                c, T_MD, months, [_short_month(m) for m in months], "andel_elever", risks,
                "Frafaldsrisiko pr. måned", "Elever efter frafaldsrisiko, seneste 12 måneder",
                "Andel af alle elever med uddannelsesaftale på månedens sidste dag."))
        # by education (release month) and by region (release quarter)
        parts.append(self._risk_by(c, UDD, T_MD, self.month, "uddannelse"))
        parts.append(self._risk_by(c, REGION, T_KVT, self.quarter, "region"))
        parts.append("</section>")
        return "".join(parts)

    def _assessment_kpis(self, c: PublishedCells, risks: list[str], q_status: str) -> str:
        notes = _Notes()
        n_students = c.value([T_MD], "antal_elever", tid_maaned=self.month)
        status = self._status(c, [T_MD], tid_maaned=self.month)
        risk_share = {
            r: c.value([T_MD, RISIKO], "andel_elever", tid_maaned=self.month, frafaldsrisiko=r)
            for r in risks
        }
        assessed = None
        if risk_share.get(IKKE_VURDERET) is not None:
            assessed = 1 - risk_share[IKKE_VURDERET]
        elif risks and all(risk_share[r] is not None for r in risks if r != IKKE_VURDERET):
            assessed = sum(risk_share[r] for r in risks if r != IKKE_VURDERET)
        fresh = c.value([T_KVT, ALDER_VURD], "andel_elever", tid_kvartal=self.quarter,
                        alder_af_vurdering=UNDER_3_MAANEDER)
        quarter = period_caption(self.quarter)
        return _kpis(
            notes,
            _kpi(notes.show(n_students, danish_int),
                 f"Elever med uddannelsesaftale, {period_caption(self.month)}", _esc(status)),
            _kpi(notes.show(assessed, danish_pct), "Andel elever med en frafaldsvurdering",
                 _esc(status)),
            _kpi(notes.show(fresh, danish_pct),
                 "Andel elever med en vurdering under 3 måneder gammel",
                 _esc(f"{quarter}, {q_status}" if q_status else quarter)),
        )

    def _ages(self, c: PublishedCells, ages: list[str], q_status: str) -> str:
        attrs, q = [T_KVT, ALDER_VURD], self.quarter
        share = {a: c.value(attrs, "andel_elever", tid_kvartal=q, alder_af_vurdering=a)
                 for a in ages}
        count = {a: c.value(attrs, "antal_elever", tid_kvartal=q, alder_af_vurdering=a)
                 for a in ages}
        notes = _Notes()
        chart = notes.chart(self.charts.hbars(
            ages, [share[a] for a in ages], danish_pct, "Alder af vurdering", share=True,
            colors=[AGE_COLORS.get(a, PALETTE[i % len(PALETTE)]) for i, a in enumerate(ages)],
        ))
        table = _table(
            ["Alder af vurdering", "Antal elever", "Andel elever"],
            [[_esc(a), notes.show(count[a], danish_int), notes.show(share[a], danish_pct)]
             for a in ages],
        )
        return self._block(
            f"Alder af vurdering, {period_caption(q)}" + (f" ({q_status})" if q_status else ""),
            "Hvor lang tid siden oplæringsvirksomheden sidst vurderede elevens frafaldsrisiko.",
            chart + table, notes,
        )

    def _risk_by(self, c: PublishedCells, attr: str, tid_attr: str, period: str,
                 label: str) -> str:
        """The risk distribution by ``attr`` in one period (100 % stacked bars and a table)."""
        col, tid_col = ATTRIBUTES[attr].column, ATTRIBUTES[tid_attr].column
        attrs = [tid_attr, attr, RISIKO]
        groups = self._order(attr, c.members(attr, attrs, **{tid_col: period}))
        if not groups:
            return ""
        cats = self._order(RISIKO, c.members(RISIKO, attrs, **{tid_col: period}))
        notes = _Notes()
        rows, table_rows = [], []
        for g in groups:
            vals = [c.value(attrs, "andel_elever", **{tid_col: period, col: g, "frafaldsrisiko": r})
                    for r in cats]
            rows.append((g, vals))
            total = c.value([tid_attr, attr], "antal_elever", **{tid_col: period, col: g})
            table_rows.append([_esc(g), notes.show(total, danish_int),
                               *[notes.show(v, danish_pct) for v in vals]])
        chart = notes.chart(self.charts.stacked(
            rows, cats, [RISK_COLORS.get(r, "#777777") for r in cats],
            f"Frafaldsrisiko efter {label}",
        ))
        table = _table([label.capitalize(), "Antal elever", *cats], table_rows)
        status = self._status(c, [tid_attr], **{tid_col: period})
        return self._block(
            f"Frafaldsrisiko efter {label}, {period_caption(period)}"
            + (f" ({status})" if status else ""),
            "Andel elever efter oplæringsvirksomhedens seneste vurdering.", chart + table, notes,
        )

    # -- dropouts (FRAFAFBRUD)
    def dropouts(self) -> str:
        c = self.cells["FRAFAFBRUD"]
        quarters = sorted(c.members(T_KVT, [T_KVT]), key=_period_key) if c.present else []
        if not quarters:
            return _no_data("afbrud", "Afbrud inden for seks måneder",
                            "Endnu ingen perioder, der sluttede mindst 6 måneder før "
                            "skæringstidspunktet.")
        latest = quarters[-1]
        attrs = [T_KVT, RISIKO]
        risks = self._order(RISIKO, c.members(RISIKO, attrs, tid_kvartal=latest))
        vals = {
            r: tuple(c.value(attrs, m, tid_kvartal=latest, frafaldsrisiko=r)
                     for m in ("antal_elever", "antal_afbrudt", "andel_afbrudt"))
            for r in risks
        }
        recent = quarters[-8:]
        return "".join([
            '<section id="afbrud"><h2>Afbrud inden for seks måneder</h2>',
            self._dropout_kpis(c, latest, vals),
            self._dropouts_by_risk(c, latest, risks, vals),
            self._risk_lines(
                c, T_KVT, recent, recent, "andel_afbrudt", risks,
                "Andel afbrudt pr. kvartal efter frafaldsrisiko",
                "Andel afbrudt inden for 6 måneder efter frafaldsrisiko, seneste kvartaler",
            ) if len(recent) > 1 else "",
            "</section>",
        ])

    def _dropout_kpis(self, c: PublishedCells, latest: str, vals: dict) -> str:
        notes = _Notes()
        total_share = c.value([T_KVT], "andel_afbrudt", tid_kvartal=latest)
        high = vals.get(HOEJ, (None, None, None))[2]
        low = vals.get(LAV, (None, None, None))[2]
        return _kpis(
            notes,
            _kpi(notes.show(total_share, danish_pct),
                 f"Afbrudt inden for 6 måneder, alle elever, {latest}"),
            _kpi(notes.show(high, danish_pct),
                 f"Afbrudt blandt elever vurderet høj risiko, {latest}"),
            _kpi(notes.show(low, danish_pct),
                 f"Afbrudt blandt elever vurderet lav risiko, {latest}"),
        )

    def _dropouts_by_risk(self, c: PublishedCells, latest: str, risks: list[str],
                          vals: dict) -> str:
        notes = _Notes()
        chart = notes.chart(self.charts.bars(
            risks, [vals[r][2] for r in risks], danish_pct, "Andel afbrudt efter frafaldsrisiko",
            share=True, color=DROPOUT_COLOR,
        ))
        table = _table(
            ["Frafaldsrisiko", "Antal elever", "Antal afbrudt inden for 6 måneder",
             "Andel afbrudt inden for 6 måneder"],
            [[_esc(r), notes.show(vals[r][0], danish_int), notes.show(vals[r][1], danish_int),
              notes.show(vals[r][2], danish_pct)] for r in risks],
        )
        status = self._status(c, [T_KVT], tid_kvartal=latest)
        return self._block(
            "Andel afbrudt inden for 6 måneder efter frafaldsrisiko, elever pr. "
            f"{period_caption(latest)}" + (f" ({status})" if status else ""),
            "Elever med uddannelsesaftale på periodens sidste dag efter seneste "
            "frafaldsvurdering, og hvor stor en andel af dem, hvis aftale blev afbrudt inden "
            "for de følgende 6 måneder.",
            chart + table, notes,
        )

    # -- revisions, method
    def revisions(self) -> str:
        c, p = self.cells["AFSLAARS"], self.prev["AFSLAARS"]
        if not p.present or not c.present:
            return ""
        months = [m for m in self.months12 if p.has([T_MD], tid_maaned=m)][-6:]
        if not months:
            return ""
        notes = _Notes()
        rows = []
        for m in months:
            old = p.value([T_MD], "antal_afslag", tid_maaned=m)
            new = c.value([T_MD], "antal_afslag", tid_maaned=m)
            diff = ("" if old is None or new is None
                    else f"+{danish_int(new - old)}" if new > old else danish_int(new - old))
            rows.append([_esc(period_caption(m)), notes.show(old, danish_int),
                         notes.show(new, danish_int), _esc(diff)])
        prev = self.prev_release or "forrige udgivelse"
        table = _table(["Måned", f"Udgivelse {prev}", f"Udgivelse {self.release}", "Ændring"], rows)
        return (
            '<section id="revisioner"><h2>Revisioner siden forrige udgivelse</h2>'
            "<p>Hver udgivelse genberegner alle perioder, så afslag, der registreres sent, ændrer "
            "tidligere måneders tal.</p>"
            + self._block("Antal afslag pr. måned i to udgivelser", "", table, notes)
            + "</section>"
        )

    def method(self) -> str:
        local = copenhagen(self.cutoff)
        last_day = (pd.Timestamp(local.date()) - pd.Timedelta(days=1)).date()
        return (
            '<section id="metode"><h2>Metode</h2>'
            "<h3>Kilder</h3>"
            "<p>Afslag, uddannelsesaftaler og frafaldsvurderinger registreres af "
            "oplæringsvirksomhederne på Lærepladsen.dk. Arbejdssted (kommune og region) er "
            "oplæringsvirksomhedens. Personer indgår pseudonymiseret.</p>"
            "<h3>Perioder</h3>"
            f"<p>Udgivelse {_esc(self.release)} omfatter alt registreret før "
            f"{_esc(danish_date(local.date()))} kl. {local:%H.%M} dansk tid, dvs. til og med "
            f"{_esc(danish_date(last_day))}. Alle perioder er kalenderperioder i dansk tid "
            "(Europe/Copenhagen). Afslag tælles i den periode, de er registreret. Elever og "
            "frafaldsvurderinger er en opgørelse på periodens sidste dag (for en periode, der ikke "
            "er afsluttet, på skæringstidspunktet). Afbrud inden for 6 måneder opgøres kun for "
            "perioder, der sluttede mindst 6 måneder før skæringstidspunktet. Hver udgivelse "
            "genberegner alle perioder, så sene registreringer kan ændre tidligere tal.</p>"
            "<h3>Diskretion</h3>"
            f"<p>Tal, der bygger på 1-{MAX_SMALL} personer, vises ikke, og yderligere tal er "
            "udeladt, så intet udeladt tal kan regnes ud ved at trække offentliggjorte tal fra "
            "hinanden – heller ikke på tværs af tabeller, totaler og niveauer. Kombinationer uden "
            "personer vises også som udeladte. En andel vises ikke, når dens antal er udeladt. "
            f'Udeladte tal er markeret med <span class="withheld">{WITHHELD}</span> '
            f"({WITHHELD_NOTE}). Rapporten bygger udelukkende på de offentliggjorte tal i "
            "udgivelsens tabeller; afledte tal (fx andelen med en vurdering) er beregnet af "
            "offentliggjorte tal.</p>"
            "<p>Beskyttelsen gælder alle udgivelser under ét, ikke kun denne: hvad der er "
            "offentliggjort én gang, forbliver offentligt. Et tal for en afsluttet periode, "
            "der ikke har ændret sig siden forrige udgivelse, vises eller udelades som dér. "
            "Tal for den løbende periode (indeværende kvartal og år) og totaler over hele "
            "perioden vokser med den nyeste måned; de udelades, hvor forskellen til en "
            "tidligere udgivelse ellers ville afsløre eller indkredse et udeladt tal. Sene "
            "registreringer kan ændre tidligere perioders tal: det ændrede tal er et nyt tal, "
            "ændringen står i revisions.csv, og en erstattet version af en udgivelse "
            "bevares. Revisionen (audit.json) kontrollerer udgivelsen sammen med alle "
            "tidligere offentliggjorte versioner.</p>"
            + self.information_loss()
            + f"<p>{_esc(SOURCE_LINE)}</p>"
            "</section>"
        )

    def information_loss(self) -> str:
        """The information lost to secondary suppression, a column per cube: the aggregates
        of the audit's ``informationstab`` (``transforms/infoloss.py``), nothing else."""
        cubes = [(cube, self.informationstab[u]["terning"]) for u, cube in CUBES.items()
                 if self.informationstab.get(u)]
        if not cubes:
            return ""
        rows = [[_esc(label)] + [_esc(value(t)) for _, t in cubes]
                for label, value in INFORMATION_LOSS_ROWS]
        table = _table(["", *(cube.caption for cube, _ in cubes)], rows)
        return (
            "<h3>Informationstab</h3>"
            "<p>Diskretionerede celler, opgjort over cellerne i udgivelsens tabeller, hver "
            "celle én gang (også totaler og margener): tomme celler, celler der bygger på "
            f"1-{MAX_SMALL} personer, og celler der er udeladt, for at andre udeladte tal ikke "
            "kan regnes ud. Hvor meget af værdien de sekundært udeladte celler rummer, "
            "opgøres af de sande tal og udgives ikke: sammen med de offentliggjorte tal ville "
            "det sige noget om de udeladte tal, som revisionen ikke kontrollerer.</p>"
            f'<figure class="informationstab">{table}</figure>'
        )

    def render(self) -> str:
        local = copenhagen(self.cutoff)
        title = f"Lærepladser og frafaldsrisiko på SOSU – {period_caption(self.month)}"
        sections = (self.refusals, self.assessments, self.dropouts, self.revisions, self.method)
        body = "".join(section() for section in sections)
        return (
            "<!DOCTYPE html>\n"
            '<html lang="da">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<header><h1>{_esc(title)}</h1>"
            f'<p class="meta">Udgivelse {_esc(self.release)} · Opgjort pr. '
            f"{_esc(danish_date(local.date()))} kl. {local:%H.%M} (dansk tid) · "
            f"{_esc(SOURCE_LINE)}</p></header>\n"
            f"{body}\n</main>\n</body>\n</html>\n"
        )


_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #FFFFFF; color: #1A1A1A;
  font-family: "Segoe UI", Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.45; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; color: #14365D; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid #14365D;
  color: #14365D; }
h3 { font-size: 16px; margin: 16px 0 4px; }
.meta { color: #555; margin: 0 0 8px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.kpi { flex: 1 1 220px; border: 1px solid #D0D7DE; border-left: 5px solid #0072B2;
  border-radius: 4px; padding: 10px 14px; background: #F6F8FA; }
.kpi-value { font-size: 28px; font-weight: 700; color: #14365D; }
.kpi-label { font-size: 14px; }
.kpi-note { font-size: 13px; color: #555; }
figure { margin: 20px 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 700; margin-bottom: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #E0E0E0; }
th { background: #E8EEF4; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.withheld { font-weight: 700; color: #555; }
.footnote { font-size: 13px; color: #555; margin: 4px 0; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } }
"""


def render_report(release: str, cutoff: datetime, published_by_cube: Mapping[str, pd.DataFrame],
                  previous: Mapping | None = None, *,
                  members: Mapping[str, list[str]] | None = None,
                  informationstab: Mapping[str, Mapping] | None = None) -> str:
    """The report as a string (see :func:`write_report`)."""
    return _Report(
        release, cutoff, dict(published_by_cube), previous, members, informationstab
    ).render()


def write_report(path: str | Path, release: str, cutoff: datetime,
                 published_by_cube: Mapping[str, pd.DataFrame], previous: Mapping | None = None,
                 *, members: Mapping[str, list[str]] | None = None,
                 informationstab: Mapping[str, Mapping] | None = None) -> Path:
    """Write ``rapport.html``.

    ``published_by_cube``: underemne (``AFSLAARS``, ``FRAFVURD``, ``FRAFAFBRUD``) → the
    cube's published cell frame (the columns of ``cells.parquet``); a missing cube gives a
    "no data" section. ``previous``: the previous release's published frames, as
    ``{underemne: frame}`` (optionally with ``"release": "2026-09"``) or
    ``{"release": "2026-09", "cubes": {underemne: frame}}``; adds a revisions section.
    ``members``: attribute key → member captions in order (optional; orders categories).
    ``informationstab``: underemne → the audit's ``informationstab`` block of that cube
    (``{"terning": {...}, "visninger": {...}}``, see ``transforms/infoloss.py``); adds the
    table of information lost to secondary suppression to the method section (cubes
    without a block are left out; none: no table).
    """
    path = Path(path)
    text = render_report(
        release, cutoff, published_by_cube, previous, members=members,
        informationstab=informationstab,
    )
    path.write_text(text, encoding="utf-8", newline="\n")
    return path
