"""Inline SVG charts for the ministry report (``rapport.html``), drawn here: vertical and
horizontal bars, lines and 100 % stacked bars. No scripts, no external assets; ids are
numbered in order of drawing, so output is deterministic and unique within the page.

A chart never draws a withheld value: a withheld bar is a ``–`` on the axis, a withheld point
breaks its line, a withheld share leaves a hatched remainder. Each chart returns its SVG
together with whether it left a withheld value out (:class:`Chart`), for the report to add
its footnote to the figure the chart is in.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from transforms.formats import danish_int, danish_pct

WITHHELD = "–"
WITHHELD_NOTE = "Diskretioneret"

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
BAR_COLOR = "#0072B2"
WITHHELD_FILL = "#D9D9D9"


@dataclass(frozen=True)
class Chart:
    """One chart: its inline SVG, and whether it leaves out a withheld value."""

    svg: str
    withheld: bool = False



def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)



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


def _grid(ticks: Sequence[float], ymax: float, share: bool, left: int, right_x: int,
          base: float, plot_h: float) -> list[str]:
    """Horizontal grid lines at the value axis' ticks, each labelled at the left."""
    out = []
    for tick in ticks:
        y = base - plot_h * tick / ymax
        out.append(
            f'<line class="grid" x1="{left}" y1="{_f(y)}" x2="{right_x}" y2="{_f(y)}" '
            f'stroke="#E0E0E0"/>'
        )
        label = _pct_tick(tick) if share else danish_int(tick)
        out.append(
            f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" fill="#555">'
            f"{_esc(label)}</text>"
        )
    return out


_FONT = 'font-family="Segoe UI, Helvetica, Arial, sans-serif"'


@dataclass
class Charts:
    """The charts of one page: each method draws one and returns it (:class:`Chart`); ids
    are numbered in order of drawing."""

    counter: int = 0

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
    ) -> Chart:
        """Vertical bars with value labels; a withheld value is a '–' on the axis."""
        width, height = 680, 280
        left, right, top, bottom = 56, 12, 24, 44
        plot_w, plot_h = width - left - right, height - top - bottom
        known = [v for v in values if v is not None]
        ymax, ticks = _axis(max(known, default=0), share)
        out, withheld = self._open(width, height, title), False
        out += _grid(ticks, ymax, share, left, width - right, top + plot_h, plot_h)
        n = max(len(values), 1)
        slot = plot_w / n
        bar_w = slot * 0.7
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            x = left + i * slot + (slot - bar_w) / 2
            cx = x + bar_w / 2
            base = top + plot_h
            if v is None:
                withheld = True
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
        return Chart("\n".join(out), withheld)

    def hbars(
        self,
        labels: Sequence[str],
        values: Sequence[float | None],
        fmt: Callable[[Any], str],
        title: str,
        share: bool = False,
        colors: Sequence[str] | None = None,
    ) -> Chart:
        """Horizontal bars (long category names); withheld values are a '–'."""
        label_w, width, row_h, top = 250, 680, 26, 8
        plot_w = width - label_w - 80
        height = top + row_h * max(len(values), 1) + 8
        known = [v for v in values if v is not None]
        xmax, _ = _axis(max(known, default=0), share)
        out, withheld = self._open(width, height, title), False
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            y = top + i * row_h
            out.append(
                f'<text x="{label_w - 8}" y="{_f(y + row_h / 2 + 4)}" text-anchor="end" '
                f'fill="#333">{_label(label, 38)}</text>'
            )
            if v is None:
                withheld = True
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
        return Chart("\n".join(out), withheld)

    def lines(
        self,
        xlabels: Sequence[str],
        series: Sequence[tuple[str, Sequence[float | None], str]],
        title: str,
        share: bool = True,
    ) -> Chart:
        """Line chart; a withheld point breaks its line (and is listed in the table)."""
        width, left, right, top, bottom = 680, 56, 12, 12, 44
        legend_rows = math.ceil(len(series) / 2)
        legend_h = 20 * legend_rows
        plot_h = 200
        height = legend_h + top + plot_h + bottom
        known = [v for _, vals, _ in series for v in vals if v is not None]
        ymax, ticks = _axis(max(known, default=0), share)
        out, withheld = self._open(width, height, title), False
        for k, (name, _, color) in enumerate(series):
            lx, ly = left + (k % 2) * 310, 14 + 20 * (k // 2)
            out.append(
                f'<rect class="legend" x="{lx}" y="{ly - 9}" width="14" height="10" '
                f'fill="{color}"/>'
            )
            out.append(f'<text x="{lx + 20}" y="{ly}" fill="#333">{_label(name, 44)}</text>')
        y0 = legend_h + top
        plot_w = width - left - right
        out += _grid(ticks, ymax, share, left, width - right, y0 + plot_h, plot_h)
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
                    withheld = True
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
        return Chart("\n".join(out), withheld)

    def stacked(
        self,
        rows: Sequence[tuple[str, Sequence[float | None]]],
        categories: Sequence[str],
        colors: Sequence[str],
        title: str,
    ) -> Chart:
        """100 % stacked horizontal bars of shares; withheld shares are left out and the
        remainder is drawn hatched."""
        label_w, width, row_h, top = 180, 680, 30, 30
        plot_w = width - label_w - 16
        height = top + row_h * max(len(rows), 1) + 10
        out, withheld = self._open(width, height, title), False
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
                    withheld = True
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
        return Chart("\n".join(out), withheld)
