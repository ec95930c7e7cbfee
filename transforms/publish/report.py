"""The ministry report of a release: ``rapport.html``.

One self-contained HTML file in Danish (inline CSS, charts as inline SVG drawn here, no
scripts, no external assets): key figures, trends and charts for the release month.

It reads *only published cells* (the frames written to ``cells.parquet``): every number
shown is a published value or plain arithmetic on published values, so the report cannot
show anything the tables do not. A withheld (or empty) cell is shown as ``–`` with the
footnote "Diskretioneret". The method section's table of withheld cells per cube copies the
release's ``audit.json`` ``informationstab`` block, which holds only counts readable from the
published cells too (``transforms/infoloss.py``: the value withheld as secondary is kept in
the warehouse, since it would say something about withheld values). Output is deterministic:
same input, same bytes.

No PDF is produced: the contract's release layout has ``rapport.html`` only, and the
pure-Python HTML/SVG→PDF routes need either system libraries (WeasyPrint: Pango) or a
second, hand-made layout (fpdf2, not a project dependency). The HTML prints well from a
browser (print CSS included).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transforms.calendar import Release, period_span
from transforms.catalog import CUBES, FIXED_MEMBERS, IKKE_VURDERET, MAX_SMALL, Cube, grouping_key
from transforms.formats import (
    copenhagen,
    danish_date,
    danish_int,
    danish_pct,
    is_missing,
    period_caption,
)

SOURCE_LINE = "Kilde: Lærepladsen.dk (Børne- og Undervisningsministeriet)"

#: the rows of the method section's information-loss table: label, value from the audit's
#: published ``informationstab`` block of a cube (``transforms/infoloss.py``)
INFORMATION_LOSS_ROWS = (
    ("Celler", lambda t: danish_int(t["celler"])),
    ("Diskretionerede celler", lambda t: danish_int(t["diskretionerede"])),
    ("Andel af cellerne", lambda t: danish_pct(t["diskretionerede"] / t["celler"])
     if t["celler"] else "–"),
)

WITHHELD = "–"
WITHHELD_NOTE = "Diskretioneret"

T_AAR, T_KVT, T_MD = "[Tid].[År]", "[Tid].[Kvartal]", "[Tid].[Måned]"
UDD = "[Uddannelse].[Uddannelse]"
REGION = "[Arbejdssted].[Region]"
PRIMAER = "[Afslagsårsag].[Primær årsag]"
RISIKO = "[Frafaldsrisiko].[Frafaldsrisiko]"
ALDER_VURD = "[Vurdering].[Alder af vurdering]"

RISK_COLORS = {"Lav": "#009E73", "Middel": "#E69F00", "Høj": "#D55E00", IKKE_VURDERET: "#9A9A9A"}
AGE_COLORS = {
    "Under 3 måneder": "#009E73",
    "3-5 måneder": "#56B4E9",
    "6-11 måneder": "#E69F00",
    "12 måneder og derover": "#D55E00",
    "Ingen vurdering": "#9A9A9A",
}
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
BAR_COLOR = "#0072B2"
WITHHELD_FILL = "#D9D9D9"

_COLUMN_OF = {
    T_AAR: "tid_aar",
    T_KVT: "tid_kvartal",
    T_MD: "tid_maaned",
    UDD: "uddannelse",
    REGION: "region",
    PRIMAER: "primaer_aarsag",
    RISIKO: "frafaldsrisiko",
    ALDER_VURD: "alder_af_vurdering",
}


# --- reading published cells -----------------------------------------------------------


def _value(v: Any) -> float | int | None:
    if is_missing(v):
        return None
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        return float(v)
    return int(v)


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")``, the same values, with numeric, string and nullable
    numeric columns converted in bulk (per value, pandas iterates arrow-backed strings
    slowly)."""
    if not frame.columns.is_unique:
        return frame.to_dict("records")
    columns = frame.columns.tolist()
    return [dict(zip(columns, row)) for row in zip(*(_record_values(frame, c) for c in columns))]


def _record_values(frame: pd.DataFrame, column) -> list:
    """One column's values as ``to_dict("records")`` gives them: Python scalars, pd.NA as
    None, NaN as NaN."""
    col = frame[column]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufb":
        return col.to_numpy().tolist()
    if isinstance(col.dtype, pd.StringDtype):
        na = None if col.dtype.na_value is pd.NA else col.dtype.na_value
        return col.to_numpy(dtype=object, na_value=na).tolist()
    if isinstance(col.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return col.to_numpy(dtype=object, na_value=None).tolist()
    return [r[column] for r in frame[[column]].to_dict("records")]


class _Cells:
    """Look-ups into one cube's published frame by grouping and captions (indexed once, so
    the many small look-ups of the report stay cheap at national scale)."""

    def __init__(self, cube: Cube, frame: pd.DataFrame | None):
        self.cube = cube
        self._groups: dict[str, list[dict]] = {}
        self._index: dict[tuple, dict[tuple, list[dict]]] = {}
        if frame is not None and len(frame):
            for record in frame_records(frame):
                self._groups.setdefault(str(record["gruppering"]), []).append(record)

    @property
    def present(self) -> bool:
        return bool(self._groups)

    def records(self, attrs: Sequence[str], **where: str) -> list[dict]:
        key = grouping_key(attrs, self.cube)
        rows = self._groups.get(key, [])
        if not where:
            return rows
        cols = tuple(sorted(where))
        index = self._index.get((key, cols))
        if index is None:
            index = {}
            for r in rows:
                index.setdefault(tuple(r.get(c) for c in cols), []).append(r)
            self._index[(key, cols)] = index
        return index.get(tuple(where[c] for c in cols), [])

    def value(self, attrs: Sequence[str], measure: str, **where: str):
        rows = self.records(attrs, **where)
        if len(rows) != 1:
            return None
        return _value(rows[0][measure])

    def has(self, attrs: Sequence[str], **where: str) -> bool:
        return len(self.records(attrs, **where)) > 0

    def statusdato(self, attrs: Sequence[str], **where: str):
        rows = self.records(attrs, **where)
        if rows and not is_missing(rows[0].get("statusdato")):
            return pd.Timestamp(rows[0]["statusdato"]).date()
        return None

    def members(self, attr: str, attrs: Sequence[str], **where: str) -> list[str]:
        """Captions of ``attr`` in publication order among the cells of a grouping."""
        out: list[str] = []
        for r in self.records(attrs, **where):
            v = r[_COLUMN_OF[attr]]
            if not is_missing(v) and v not in out:
                out.append(str(v))
        return out


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


def _pct_tick(fraction: float) -> str:
    pct = round(fraction * 100, 6)
    if abs(pct - round(pct)) < 1e-6:
        return f"{round(pct):d} %"
    return f"{pct:g}".replace(".", ",") + " %"


def _axis(value: float, share: bool) -> tuple[float, list[float]]:
    """A round axis maximum and its ticks (at most 5 steps) for data up to ``value``."""
    if value <= 0:
        value = 0.1 if share else 4.0
    steps = []
    for exp in range(-3 if share else 0, 10):
        steps += [m * 10**exp for m in (1, 2, 2.5, 5)]
    step = next(st for st in steps if math.ceil(value / st - 1e-9) <= 5)
    n = max(1, math.ceil(value / step - 1e-9))
    return step * n, [round(step * i, 10) for i in range(n + 1)]


def _label(text: str, limit: int) -> str:
    """A category name for a chart axis or legend: shortened with '…' when too long for its
    space (the full name is in the accompanying table and the element's tooltip)."""
    text = str(text)
    if len(text) <= limit:
        return _esc(text)
    return f"{_esc(text[: limit - 1].rstrip())}…<title>{_esc(text)}</title>"


def _f(x: float) -> str:
    return f"{x:.1f}"


# --- SVG charts ------------------------------------------------------------------------------

_FONT = 'font-family="Segoe UI, Helvetica, Arial, sans-serif"'


@dataclass
class _Svg:
    """Inline SVG charts, drawn here (bars, lines, stacked bars). Ids are numbered in order
    of drawing, so output is deterministic and unique within the page."""

    counter: int = 0
    notes: _Notes = field(default_factory=_Notes)

    def _open(self, width: int, height: int, title: str) -> list[str]:
        self.counter += 1
        return [
            (
                f'<svg class="chart" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" role="img" '
                f'aria-labelledby="chart-{self.counter}-title" {_FONT} font-size="12">'
            ),
            f'<title id="chart-{self.counter}-title">{_esc(title)}</title>',
        ]

    def _hatch(self) -> tuple[str, str]:
        pid = f"hatch-{self.counter}"
        defs = (
            f'<defs><pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{WITHHELD_FILL}"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#FFFFFF" stroke-width="2"/>'
            "</pattern></defs>"
        )
        return defs, f"url(#{pid})"

    def bars(
        self,
        labels: Sequence[str],
        values: Sequence[float | None],
        fmt: Callable[[Any], str],
        title: str,
        share: bool = False,
        color: str = BAR_COLOR,
    ) -> str:
        """Vertical bars with value labels; a withheld value is a '–' on the axis."""
        width, height = 680, 280
        left, right, top, bottom = 56, 12, 24, 44
        plot_w, plot_h = width - left - right, height - top - bottom
        known = [v for v in values if v is not None]
        ymax, ticks = _axis(max(known, default=0), share)
        out = self._open(width, height, title)
        for tick in ticks:
            y = top + plot_h - plot_h * tick / ymax
            out.append(
                f'<line class="grid" x1="{left}" y1="{_f(y)}" x2="{width - right}" y2="{_f(y)}" '
                f'stroke="#E0E0E0"/>'
            )
            label = _pct_tick(tick) if share else danish_int(tick)
            out.append(
                f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" fill="#555">'
                f"{_esc(label)}</text>"
            )
        n = max(len(values), 1)
        slot = plot_w / n
        bar_w = slot * 0.7
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            x = left + i * slot + (slot - bar_w) / 2
            cx = x + bar_w / 2
            base = top + plot_h
            if v is None:
                self.notes.withheld = True
                out.append(
                    f'<text class="withheld" x="{_f(cx)}" y="{_f(base - 8)}" text-anchor="middle" '
                    f'font-size="18" font-weight="bold" fill="#555">{WITHHELD}</text>'
                )
            else:
                h = plot_h * v / ymax
                out.append(
                    f'<rect class="bar" x="{_f(x)}" y="{_f(base - h)}" width="{_f(bar_w)}" '
                    f'height="{_f(h)}" fill="{color}">'
                    f"<title>{_esc(label)}: {_esc(fmt(v))}</title></rect>"
                )
                out.append(
                    f'<text x="{_f(cx)}" y="{_f(base - h - 5)}" text-anchor="middle" '
                    f'font-size="11" fill="#222">{_esc(fmt(v))}</text>'
                )
            out.append(
                f'<text x="{_f(cx)}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="#333">{_esc(label)}</text>'
            )
        out.append(
            f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
            'stroke="#333"/>'
        )
        out.append("</svg>")
        return "\n".join(out)

    def hbars(
        self,
        labels: Sequence[str],
        values: Sequence[float | None],
        fmt: Callable[[Any], str],
        title: str,
        share: bool = False,
        colors: Sequence[str] | None = None,
    ) -> str:
        """Horizontal bars (long category names); withheld values are a '–'."""
        label_w, width, row_h, top = 250, 680, 26, 8
        plot_w = width - label_w - 80
        height = top + row_h * max(len(values), 1) + 8
        known = [v for v in values if v is not None]
        xmax, _ = _axis(max(known, default=0), share)
        out = self._open(width, height, title)
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            y = top + i * row_h
            out.append(
                f'<text x="{label_w - 8}" y="{_f(y + row_h / 2 + 4)}" text-anchor="end" '
                f'fill="#333">{_label(label, 38)}</text>'
            )
            if v is None:
                self.notes.withheld = True
                out.append(
                    f'<text class="withheld" x="{label_w + 6}" y="{_f(y + row_h / 2 + 5)}" '
                    f'font-size="18" font-weight="bold" fill="#555">{WITHHELD}</text>'
                )
                continue
            w = plot_w * v / xmax
            color = colors[i] if colors else BAR_COLOR
            out.append(
                f'<rect class="bar" x="{label_w}" y="{_f(y + 4)}" width="{_f(w)}" '
                f'height="{row_h - 8}" fill="{color}">'
                f"<title>{_esc(label)}: {_esc(fmt(v))}</title></rect>"
            )
            out.append(
                f'<text x="{_f(label_w + w + 6)}" y="{_f(y + row_h / 2 + 4)}" fill="#222">'
                f"{_esc(fmt(v))}</text>"
            )
        out.append(
            f'<line x1="{label_w}" y1="{top}" x2="{label_w}" y2="{height - 8}" stroke="#333"/>'
        )
        out.append("</svg>")
        return "\n".join(out)

    def lines(
        self,
        xlabels: Sequence[str],
        series: Sequence[tuple[str, Sequence[float | None], str]],
        title: str,
        share: bool = True,
    ) -> str:
        """Line chart; a withheld point breaks its line (and is listed in the table)."""
        width, left, right, top, bottom = 680, 56, 12, 12, 44
        legend_rows = math.ceil(len(series) / 2)
        legend_h = 20 * legend_rows
        plot_h = 200
        height = legend_h + top + plot_h + bottom
        known = [v for _, vals, _ in series for v in vals if v is not None]
        ymax, ticks = _axis(max(known, default=0), share)
        out = self._open(width, height, title)
        for k, (name, _, color) in enumerate(series):
            lx, ly = left + (k % 2) * 310, 14 + 20 * (k // 2)
            out.append(
                f'<rect class="legend" x="{lx}" y="{ly - 9}" width="14" height="10" '
                f'fill="{color}"/>'
            )
            out.append(f'<text x="{lx + 20}" y="{ly}" fill="#333">{_label(name, 44)}</text>')
        y0 = legend_h + top
        plot_w = width - left - right
        for tick in ticks:
            y = y0 + plot_h - plot_h * tick / ymax
            out.append(
                f'<line class="grid" x1="{left}" y1="{_f(y)}" x2="{width - right}" y2="{_f(y)}" '
                f'stroke="#E0E0E0"/>'
            )
            label = _pct_tick(tick) if share else danish_int(tick)
            out.append(
                f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" fill="#555">'
                f"{_esc(label)}</text>"
            )
        n = max(len(xlabels), 1)
        step = plot_w / n

        def xy(i: int, v: float) -> tuple[float, float]:
            return left + step * (i + 0.5), y0 + plot_h - plot_h * v / ymax

        for i, label in enumerate(xlabels):
            x = left + step * (i + 0.5)
            out.append(
                f'<text x="{_f(x)}" y="{y0 + plot_h + 16}" text-anchor="middle" fill="#333">'
                f"{_esc(label)}</text>"
            )
        for name, vals, color in series:
            d, pen_down = [], False
            for i, v in enumerate(vals):
                if v is None:
                    self.notes.withheld = True
                    pen_down = False
                    continue
                x, y = xy(i, v)
                d.append(f"{'L' if pen_down else 'M'}{_f(x)} {_f(y)}")
                pen_down = True
            if d:
                out.append(
                    f'<path class="line" d="{" ".join(d)}" fill="none" stroke="{color}" '
                    f'stroke-width="2.5"><title>{_esc(name)}</title></path>'
                )
            for i, v in enumerate(vals):
                if v is not None:
                    x, y = xy(i, v)
                    fmt = danish_pct if share else danish_int
                    out.append(
                        f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{color}">'
                        f"<title>{_esc(name)}, {_esc(xlabels[i])}: {_esc(fmt(v))}</title></circle>"
                    )
        out.append(
            f'<line x1="{left}" y1="{y0 + plot_h}" x2="{width - right}" y2="{y0 + plot_h}" '
            'stroke="#333"/>'
        )
        out.append("</svg>")
        return "\n".join(out)

    def stacked(
        self,
        rows: Sequence[tuple[str, Sequence[float | None]]],
        categories: Sequence[str],
        colors: Sequence[str],
        title: str,
    ) -> str:
        """100 % stacked horizontal bars of shares; withheld shares are left out and the
        remainder is drawn hatched."""
        label_w, width, row_h, top = 180, 680, 30, 30
        plot_w = width - label_w - 16
        height = top + row_h * max(len(rows), 1) + 10
        out = self._open(width, height, title)
        defs, hatch = self._hatch()
        out.append(defs)
        lx = label_w
        for name, color in zip(categories, colors, strict=True):
            out.append(
                f'<rect class="legend" x="{lx}" y="6" width="14" height="10" fill="{color}"/>'
            )
            out.append(f'<text x="{lx + 18}" y="15" fill="#333">{_esc(name)}</text>')
            lx += 24 + 7 * len(name) + 10
        if any(v is None for _, vals in rows for v in vals):
            out.append(
                f'<rect class="legend" x="{lx}" y="6" width="14" height="10" fill="{hatch}"/>'
            )
            out.append(f'<text x="{lx + 18}" y="15" fill="#333">{WITHHELD_NOTE}</text>')
        for r, (label, vals) in enumerate(rows):
            y = top + r * row_h
            out.append(
                f'<text x="{label_w - 8}" y="{_f(y + row_h / 2 + 4)}" text-anchor="end" '
                f'fill="#333">{_label(label, 28)}</text>'
            )
            x = float(label_w)
            for cat, color, v in zip(categories, colors, vals, strict=True):
                if v is None:
                    self.notes.withheld = True
                    continue
                w = plot_w * max(0.0, min(1.0, v))
                out.append(
                    f'<rect class="bar" x="{_f(x)}" y="{_f(y + 4)}" width="{_f(w)}" '
                    f'height="{row_h - 8}" fill="{color}"><title>{_esc(label)}, {_esc(cat)}: '
                    f"{_esc(danish_pct(v))}</title></rect>"
                )
                if w > 44:
                    out.append(
                        f'<text x="{_f(x + w / 2)}" y="{_f(y + row_h / 2 + 4)}" '
                        'text-anchor="middle" '
                        f'fill="#FFFFFF" font-size="11">{_esc(danish_pct(v))}</text>'
                    )
                x += w
            rest = label_w + plot_w - x
            if any(v is None for v in vals) and rest > 0.5:
                out.append(
                    f'<rect class="withheld-area" x="{_f(x)}" y="{_f(y + 4)}" width="{_f(rest)}" '
                    f'height="{row_h - 8}" fill="{hatch}"><title>{WITHHELD_NOTE}</title></rect>'
                )
        out.append("</svg>")
        return "\n".join(out)


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
    head = "".join(
        f'<th class="{"num" if j >= numeric_from else "txt"}">{_esc(h)}</th>'
        for j, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if j >= numeric_from else "txt"}">{cell}</td>'
            for j, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi(value_html: str, label: str, note: str = "") -> str:
    note_html = f'<div class="kpi-note">{note}</div>' if note else ""
    return (
        f'<div class="kpi"><div class="kpi-value">{value_html}</div>'
        f'<div class="kpi-label">{_esc(label)}</div>{note_html}</div>'
    )


class _Report:
    def __init__(self, release, cutoff, published_by_cube, previous, members,
                 informationstab=None):
        self.release = release
        self.cutoff = cutoff
        self.informationstab = dict(informationstab or {})
        self.cells = {u: _Cells(CUBES[u], published_by_cube.get(u)) for u in CUBES}
        self.prev_release, prev_frames = _previous_frames(previous)
        self.prev = {u: _Cells(CUBES[u], prev_frames.get(u)) for u in CUBES}
        self.members = members or {}
        self.svg = _Svg()
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
        return (
            f"<figure><figcaption>{_esc(title)}</figcaption>{intro_html}{body}"
            f"{notes.footnote()}</figure>"
        )

    def _status(self, c: _Cells, attrs, **where) -> str:
        d = c.statusdato(attrs, **where)
        return f"status pr. {danish_date(d)}" if d else ""

    # -- sections
    def refusals(self) -> str:
        c = self.cells["AFSLAARS"]
        if not c.present:
            return '<section id="afslag"><h2>Afslag på lærepladser</h2><p>Ingen data.</p></section>'
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
        note = "<br>".join(compare)
        ytd_label = f"Afslag i {self.year} til og med {period_caption(self.month).split()[0]}"
        kpis = "".join(
            [
                _kpi(notes.show(n_month, danish_int), f"Afslag i {month_name}", note),
                _kpi(notes.show(n_appl, danish_int), f"Ansøgere med afslag i {month_name}"),
                _kpi(notes.show(n_ytd, danish_int), ytd_label),
            ]
        )
        parts = [
            '<section id="afslag"><h2>Afslag på lærepladser</h2>',
            f'<div class="kpis">{kpis}</div>{notes.footnote()}',
        ]

        # monthly refusals, last 12 months
        months = [m for m in self.months12 if c.has([T_MD], tid_maaned=m)]
        values = [c.value([T_MD], "antal_afslag", tid_maaned=m) for m in months]
        self.svg.notes = _Notes()
        chart = self.svg.bars(
            [_short_month(m) for m in months], values, danish_int, "Antal afslag pr. måned"
        )
        parts.append(
            self._block("Antal afslag pr. måned, seneste 12 måneder", "", chart, self.svg.notes)
        )

        # primary reasons this year
        reasons = c.members(PRIMAER, [T_AAR, PRIMAER], tid_aar=str(self.year))
        counts = {
            r: c.value([T_AAR, PRIMAER], "antal_afslag", tid_aar=str(self.year), primaer_aarsag=r)
            for r in reasons
        }
        shares = {
            r: c.value(
                [T_AAR, PRIMAER], "andel_af_afslag", tid_aar=str(self.year), primaer_aarsag=r
            )
            for r in reasons
        }
        ranked = sorted(
            reasons,
            key=lambda r: (counts[r] is None, -(counts[r] or 0), reasons.index(r)),
        )
        self.svg.notes = _Notes()
        chart = self.svg.hbars(
            ranked, [counts[r] for r in ranked], danish_int, f"Primære afslagsårsager {self.year}"
        )
        tnotes = self.svg.notes
        table = _table(
            ["Primær årsag", "Antal afslag", "Andel af afslag"],
            [
                [_esc(r), tnotes.show(counts[r], danish_int), tnotes.show(shares[r], danish_pct)]
                for r in ranked
            ],
        )
        parts.append(
            self._block(
                f"De mest almindelige primære afslagsårsager, {self.year} til og med {month_name}",
                "",
                chart + table,
                tnotes,
            )
        )

        # trend of the most common reasons, last 12 months
        top = [r for r in ranked if counts[r] is not None][:4]
        if top and months:
            series = []
            rows = []
            for k, r in enumerate(top):
                vals = [
                    c.value([T_MD, PRIMAER], "andel_af_afslag", tid_maaned=m, primaer_aarsag=r)
                    for m in months
                ]
                series.append((r, vals, PALETTE[k % len(PALETTE)]))
            self.svg.notes = _Notes()
            chart = self.svg.lines(
                [_short_month(m) for m in months], series, "Udvikling i de primære afslagsårsager"
            )
            tnotes = self.svg.notes
            for m in months:
                row = [_esc(period_caption(m))]
                for r in top:
                    n = c.value([T_MD, PRIMAER], "antal_afslag", tid_maaned=m, primaer_aarsag=r)
                    s = c.value([T_MD, PRIMAER], "andel_af_afslag", tid_maaned=m, primaer_aarsag=r)
                    row.append(
                        f"{tnotes.show(n, danish_int)} ({tnotes.show(s, danish_pct)})"
                        if n is not None or s is not None
                        else tnotes.show(None, danish_int)
                    )
                rows.append(row)
            table = _table(["Måned", *top], rows)
            parts.append(
                self._block(
                    "Udvikling i de mest almindelige primære årsager, seneste 12 måneder",
                    "Andel af månedens afslag; tabellen viser antal afslag (andel af afslag).",
                    chart + table,
                    tnotes,
                )
            )
        parts.append("</section>")
        return "".join(parts)

    def assessments(self) -> str:
        c = self.cells["FRAFVURD"]
        if not c.present:
            return (
                '<section id="vurderinger"><h2>Frafaldsvurderinger</h2><p>Ingen data.</p></section>'
            )
        month_name = period_caption(self.month)
        notes = _Notes()
        n_students = c.value([T_MD], "antal_elever", tid_maaned=self.month)
        status = self._status(c, [T_MD], tid_maaned=self.month)
        risk_members = self._order(RISIKO, c.members(RISIKO, [T_MD, RISIKO], tid_maaned=self.month))
        risk_share = {
            r: c.value([T_MD, RISIKO], "andel_elever", tid_maaned=self.month, frafaldsrisiko=r)
            for r in risk_members
        }
        assessed = None
        if risk_share.get(IKKE_VURDERET) is not None:
            assessed = 1 - risk_share[IKKE_VURDERET]
        elif risk_members and all(
            risk_share[r] is not None for r in risk_members if r != IKKE_VURDERET
        ):
            assessed = sum(risk_share[r] for r in risk_members if r != IKKE_VURDERET)
        # age of the assessments: the release quarter (status at the cut-off if running)
        ages_attrs = [T_KVT, ALDER_VURD]
        ages = self._order(ALDER_VURD, c.members(ALDER_VURD, ages_attrs, tid_kvartal=self.quarter))
        age_share = {
            a: c.value(ages_attrs, "andel_elever", tid_kvartal=self.quarter, alder_af_vurdering=a)
            for a in ages
        }
        age_count = {
            a: c.value(ages_attrs, "antal_elever", tid_kvartal=self.quarter, alder_af_vurdering=a)
            for a in ages
        }
        fresh = age_share.get("Under 3 måneder")
        q_status = self._status(c, ages_attrs, tid_kvartal=self.quarter)
        kpis = "".join(
            [
                _kpi(
                    notes.show(n_students, danish_int),
                    f"Elever med uddannelsesaftale, {month_name}",
                    _esc(status),
                ),
                _kpi(
                    notes.show(assessed, danish_pct),
                    "Andel elever med en frafaldsvurdering",
                    _esc(status),
                ),
                _kpi(
                    notes.show(fresh, danish_pct),
                    "Andel elever med en vurdering under 3 måneder gammel",
                    _esc(
                        f"{period_caption(self.quarter)}, {q_status}"
                        if q_status
                        else period_caption(self.quarter)
                    ),
                ),
            ]
        )
        parts = [
            '<section id="vurderinger"><h2>Frafaldsvurderinger</h2>',
            f'<div class="kpis">{kpis}</div>{notes.footnote()}',
        ]

        # age of assessments
        if ages:
            self.svg.notes = _Notes()
            chart = self.svg.hbars(
                ages,
                [age_share[a] for a in ages],
                danish_pct,
                "Alder af vurdering",
                share=True,
                colors=[AGE_COLORS.get(a, PALETTE[i % len(PALETTE)]) for i, a in enumerate(ages)],
            )
            tnotes = self.svg.notes
            table = _table(
                ["Alder af vurdering", "Antal elever", "Andel elever"],
                [
                    [
                        _esc(a),
                        tnotes.show(age_count[a], danish_int),
                        tnotes.show(age_share[a], danish_pct),
                    ]
                    for a in ages
                ],
            )
            parts.append(
                self._block(
                    f"Alder af vurdering, {period_caption(self.quarter)}"
                    + (f" ({q_status})" if q_status else ""),
                    "Hvor lang tid siden oplæringsvirksomheden sidst vurderede elevens "
                    "frafaldsrisiko.",
                    chart + table,
                    tnotes,
                )
            )

        # risk distribution over the last 12 months
        months = [m for m in self.months12 if c.has([T_MD], tid_maaned=m)]
        if months and risk_members:
            series = [
                (
                    r,
                    [
                        c.value([T_MD, RISIKO], "andel_elever", tid_maaned=m, frafaldsrisiko=r)
                        for m in months
                    ],
                    RISK_COLORS.get(r, PALETTE[k % len(PALETTE)]),
                )
                for k, r in enumerate(risk_members)
            ]
            self.svg.notes = _Notes()
            chart = self.svg.lines(
                [_short_month(m) for m in months], series, "Frafaldsrisiko pr. måned"
            )
            parts.append(
                self._block(
                    "Elever efter frafaldsrisiko, seneste 12 måneder",
                    "Andel af alle elever med uddannelsesaftale på månedens sidste dag.",
                    chart,
                    self.svg.notes,
                )
            )

        # by education (release month) and by region (release quarter)
        for attr, col, tid_attr, tid_col, period, label in (
            (UDD, "uddannelse", T_MD, "tid_maaned", self.month, "uddannelse"),
            (REGION, "region", T_KVT, "tid_kvartal", self.quarter, "region"),
        ):
            attrs = [tid_attr, attr, RISIKO]
            groups = self._order(attr, c.members(attr, attrs, **{tid_col: period}))
            if not groups:
                continue
            cats = self._order(RISIKO, c.members(RISIKO, attrs, **{tid_col: period}))
            rows = []
            table_rows = []
            self.svg.notes = _Notes()
            tnotes = self.svg.notes
            for g in groups:
                vals = [
                    c.value(attrs, "andel_elever", **{tid_col: period, col: g, "frafaldsrisiko": r})
                    for r in cats
                ]
                rows.append((g, vals))
                total = c.value([tid_attr, attr], "antal_elever", **{tid_col: period, col: g})
                table_rows.append(
                    [
                        _esc(g),
                        tnotes.show(total, danish_int),
                        *[tnotes.show(v, danish_pct) for v in vals],
                    ]
                )
            chart = self.svg.stacked(
                rows,
                cats,
                [RISK_COLORS.get(r, "#777777") for r in cats],
                f"Frafaldsrisiko efter {label}",
            )
            table = _table([label.capitalize(), "Antal elever", *cats], table_rows)
            status = self._status(c, [tid_attr], **{tid_col: period})
            parts.append(
                self._block(
                    f"Frafaldsrisiko efter {label}, {period_caption(period)}"
                    + (f" ({status})" if status else ""),
                    "Andel elever efter oplæringsvirksomhedens seneste vurdering.",
                    chart + table,
                    tnotes,
                )
            )
        parts.append("</section>")
        return "".join(parts)

    def dropouts(self) -> str:
        c = self.cells["FRAFAFBRUD"]
        head = '<section id="afbrud"><h2>Afbrud inden for seks måneder</h2>'
        quarters = sorted(c.members(T_KVT, [T_KVT]), key=_period_key) if c.present else []
        if not quarters:
            return head + (
                "<p>Endnu ingen perioder, der sluttede mindst 6 måneder før "
                "skæringstidspunktet.</p>"
                "</section>"
            )
        latest = quarters[-1]
        attrs = [T_KVT, RISIKO]
        risks = self._order(RISIKO, c.members(RISIKO, attrs, tid_kvartal=latest))
        vals = {
            r: (
                c.value(attrs, "antal_elever", tid_kvartal=latest, frafaldsrisiko=r),
                c.value(attrs, "antal_afbrudt", tid_kvartal=latest, frafaldsrisiko=r),
                c.value(attrs, "andel_afbrudt", tid_kvartal=latest, frafaldsrisiko=r),
            )
            for r in risks
        }
        notes = _Notes()
        total_share = c.value([T_KVT], "andel_afbrudt", tid_kvartal=latest)
        high = vals.get("Høj", (None, None, None))[2]
        low = vals.get("Lav", (None, None, None))[2]
        kpis = "".join(
            [
                _kpi(
                    notes.show(total_share, danish_pct),
                    f"Afbrudt inden for 6 måneder, alle elever, {latest}",
                ),
                _kpi(
                    notes.show(high, danish_pct),
                    f"Afbrudt blandt elever vurderet høj risiko, {latest}",
                ),
                _kpi(
                    notes.show(low, danish_pct),
                    f"Afbrudt blandt elever vurderet lav risiko, {latest}",
                ),
            ]
        )
        parts = [head, f'<div class="kpis">{kpis}</div>{notes.footnote()}']
        self.svg.notes = _Notes()
        chart = self.svg.bars(
            risks,
            [vals[r][2] for r in risks],
            danish_pct,
            "Andel afbrudt efter frafaldsrisiko",
            share=True,
            color="#D55E00",
        )
        tnotes = self.svg.notes
        table = _table(
            [
                "Frafaldsrisiko",
                "Antal elever",
                "Antal afbrudt inden for 6 måneder",
                "Andel afbrudt inden for 6 måneder",
            ],
            [
                [
                    _esc(r),
                    tnotes.show(vals[r][0], danish_int),
                    tnotes.show(vals[r][1], danish_int),
                    tnotes.show(vals[r][2], danish_pct),
                ]
                for r in risks
            ],
        )
        status = self._status(c, [T_KVT], tid_kvartal=latest)
        parts.append(
            self._block(
                "Andel afbrudt inden for 6 måneder efter frafaldsrisiko, elever pr. "
                f"{period_caption(latest)}" + (f" ({status})" if status else ""),
                "Elever med uddannelsesaftale på periodens sidste dag efter seneste "
                "frafaldsvurdering, og hvor stor en andel af dem, hvis aftale blev afbrudt inden "
                "for de følgende 6 måneder.",
                chart + table,
                tnotes,
            )
        )
        recent = quarters[-8:]
        if len(recent) > 1:
            series = [
                (
                    r,
                    [
                        c.value(attrs, "andel_afbrudt", tid_kvartal=q, frafaldsrisiko=r)
                        for q in recent
                    ],
                    RISK_COLORS.get(r, PALETTE[k % len(PALETTE)]),
                )
                for k, r in enumerate(risks)
            ]
            self.svg.notes = _Notes()
            chart = self.svg.lines(recent, series, "Andel afbrudt pr. kvartal efter frafaldsrisiko")
            parts.append(
                self._block(
                    "Andel afbrudt inden for 6 måneder efter frafaldsrisiko, seneste kvartaler",
                    "",
                    chart,
                    self.svg.notes,
                )
            )
        parts.append("</section>")
        return "".join(parts)

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
            diff = (
                ""
                if old is None or new is None
                else (f"+{danish_int(new - old)}" if new > old else danish_int(new - old))
            )
            rows.append(
                [
                    _esc(period_caption(m)),
                    notes.show(old, danish_int),
                    notes.show(new, danish_int),
                    _esc(diff),
                ]
            )
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


def render_report(
    release: str,
    cutoff: datetime,
    published_by_cube: Mapping[str, pd.DataFrame],
    previous: Mapping | None = None,
    *,
    members: Mapping[str, list[str]] | None = None,
    informationstab: Mapping[str, Mapping] | None = None,
) -> str:
    """The report as a string (see :func:`write_report`)."""
    return _Report(
        release, cutoff, dict(published_by_cube), previous, members, informationstab
    ).render()


def write_report(
    path: str | Path,
    release: str,
    cutoff: datetime,
    published_by_cube: Mapping[str, pd.DataFrame],
    previous: Mapping | None = None,
    *,
    members: Mapping[str, list[str]] | None = None,
    informationstab: Mapping[str, Mapping] | None = None,
) -> Path:
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
