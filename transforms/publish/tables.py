"""Human-readable tables of a release: one CSV per view and one Excel workbook per cube.

Both are written from a cube's *published* cell frame (the columns of ``cells.parquet``, in
publication order), so they hold exactly the published values: a withheld or empty cell is
an empty field, never a 0 or a marker.

- ``<view.name>.csv``: ``;``-separated, UTF-8 with BOM, CRLF line ends, Danish number format
  (``1.234``, ``12,3 %``), so a double click opens it correctly in a Danish Excel.
- ``tabeller.xlsx``: one sheet per view with real numbers in Danish display formats, plus the
  sheet ``Om tallene``. Byte-identical for identical input (fixed creation date derived from
  the cut-off, zip entries stamped 1980-01-01 by xlsxwriter's in-memory mode).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from transforms.catalog import ATTRIBUTES, HIERARCHIES, MAX_SMALL, Cube, View
from transforms.formats import (
    EXCEL_DATE_FORMAT_INDEX,
    copenhagen,
    danish_date,
    danish_values,
    excel_format,
    format_each,
    is_missing,
)

TOTAL = "I alt"
SOURCE_LINE = "Kilde: Lærepladsen.dk (Børne- og Undervisningsministeriet)"
ABOUT_SHEET = "Om tallene"
XLSX_NAME = "tabeller.xlsx"
STATUSDATO_HEADER = "Statusdato"
EXCEL_MAX_ROWS = 1_048_576
SHEET_NAME_MAX = 31


# --- layout of a view table --------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    column: str  # column of the published frame
    kind: str  # "attribute" | "date" | "count" | "share"


def view_csv_name(view: View) -> str:
    """File name of a view's CSV inside the cube folder: ``<view.name>.csv``."""
    return f"{view.name}.csv"


def view_columns(cube: Cube, view: View) -> list[Column]:
    """The columns of a view's table, in order.

    Every hierarchy of the view from its coarsest level down to the view's level (År,
    Kvartal, Måned; Region, Kommune), then ``Statusdato`` for stock cubes, then the other
    attributes (each followed by its aliases, e.g. Skole, Institutionsnummer), then the
    cube's measures. Headers are the attribute names and the measure captions.
    """
    hier: list[Column] = []
    other: list[Column] = []
    for key in view.attributes:
        attr = ATTRIBUTES[key]
        if attr.hierarchy:
            levels = HIERARCHIES[attr.hierarchy]
            chain = list(reversed(levels[levels.index(key) :]))
        else:
            chain = [key]
        chain += [k for k, a in ATTRIBUTES.items() if a.alias_of == key and k in cube.attributes]
        target = hier if attr.hierarchy else other
        target.extend(Column(ATTRIBUTES[k].name, ATTRIBUTES[k].column, "attribute") for k in chain)
    dates = [Column(STATUSDATO_HEADER, "statusdato", "date")] if cube.kind == "stock" else []
    measures = [Column(m.caption, m.column, m.kind) for m in cube.measures]
    return hier + dates + other + measures


def _view_cells(
    cube: Cube, view: View, published: pd.DataFrame
) -> tuple[list[Column], pd.DataFrame]:
    """The columns of a view's table and the published rows it shows (see :func:`view_rows`)."""
    keys = [g for g, views in cube.groupings.items() if view.id in views]
    cols = view_columns(cube, view)
    rows = published.loc[published["gruppering"].isin(keys)]
    for c in cols:
        if c.column not in rows.columns:
            raise KeyError(f"{cube.id}: published frame lacks column {c.column!r}")
    return cols, rows


def attribute_texts(values: pd.Series) -> list[str]:
    """An attribute column as the tables show it: ``I alt`` for a missing value (the grouping
    aggregates the attribute), else ``str(value)``. A string column is converted in bulk."""
    if isinstance(values.dtype, pd.StringDtype):  # str or the dtype's NA: nothing else
        return values.to_numpy(dtype=object, na_value=TOTAL).tolist()
    return [TOTAL if is_missing(v) else str(v) for v in values]


#: what a spreadsheet reads as the start of a formula (OWASP, "CSV injection")
FORMULA_START = ("=", "+", "-", "@")


def csv_safe(texts: list[str]) -> list[str]:
    """Text cells for a CSV: one that starts like a formula (``=HYPERLINK(...``) gets a
    leading ``'``, which spreadsheet tools show as text and do not evaluate. Only attribute
    captions pass here; numbers (never negative) are formatted elsewhere and never change."""
    return ["'" + t if t.startswith(FORMULA_START) else t for t in texts]


def cell_values(values: pd.Series) -> list:
    """A measure or date column's values as :func:`view_rows` holds them, for formatting (a
    number may come as a Python instead of a numpy scalar; a missing value stays missing).
    Numeric columns are converted in bulk; others take the way through a frame that
    :func:`view_rows` takes."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iufb":
        return values.to_numpy().tolist()
    if isinstance(values.array, pd.arrays.IntegerArray | pd.arrays.FloatingArray):
        return values.to_numpy(dtype=object, na_value=pd.NA).tolist()
    return list(pd.DataFrame({"v": list(values)})["v"])


def view_rows(cube: Cube, view: View, published: pd.DataFrame) -> pd.DataFrame:
    """The published cells of every grouping that is a margin of ``view``, in publication
    order, with exactly the columns of :func:`view_columns` (attribute captions, ``I alt``
    where the grouping aggregates the attribute)."""
    cols, rows = _view_cells(cube, view, published)
    out = {}
    for c in cols:
        if c.kind == "attribute":
            out[c.column] = attribute_texts(rows[c.column])
        else:
            out[c.column] = list(rows[c.column])
    return pd.DataFrame(out, columns=[c.column for c in cols], index=rows.index)


# --- CSV ----------------------------------------------------------------------------------


def _date_text(value) -> str:
    return pd.Timestamp(value).date().isoformat()


def write_view_csv(path: str | Path, cube: Cube, view: View, published: pd.DataFrame) -> Path:
    """Write one view's table as a Danish-Excel-friendly CSV; returns the path."""
    path = Path(path)
    cols, rows = _view_cells(cube, view, published)
    fields = []
    for c in cols:
        values = rows[c.column]
        if c.kind == "attribute":
            fields.append(csv_safe(attribute_texts(values)))
        elif c.kind == "date":
            fields.append(format_each(_date_text, cell_values(values)))
        else:
            fields.append(danish_values(c.kind, cell_values(values)))
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([c.header for c in cols])
        writer.writerows(zip(*fields, strict=True))
    return path


# --- Excel ---------------------------------------------------------------------------------


def sheet_names(cube: Cube) -> dict[str, str]:
    """view id → sheet name: the view name, shortened to Excel's 31 characters where needed
    by cutting every part of the name to the same length; unique within the workbook."""
    out: dict[str, str] = {}
    for view in cube.views:
        name = view.name
        if len(name) > SHEET_NAME_MAX:
            parts = name.split("_")
            for n in range(max(len(p) for p in parts), 0, -1):
                short = "_".join(p[:n].rstrip("-") for p in parts)
                if len(short) <= SHEET_NAME_MAX:
                    name = short
                    break
        if name in out.values() or name == ABOUT_SHEET:
            name = f"{name[: SHEET_NAME_MAX - len(view.id) - 1]}~{view.id}"
        out[view.id] = name
    return out


def _view_label(view: View) -> str:
    return " × ".join(ATTRIBUTES[a].name for a in view.attributes)


def _cutoff_lines(release: str, cutoff: datetime) -> list[str]:
    local = copenhagen(cutoff)
    last_day = (pd.Timestamp(local.date()) - pd.Timedelta(days=1)).date()
    return [
        f"Udgivelse: {release}",
        (
            f"Skæringstidspunkt: {danish_date(local.date())} kl. {local:%H.%M} (dansk tid). "
            f"Tallene omfatter registreringer til og med {danish_date(last_day)}."
        ),
    ]


def discretion_text(cube: Cube) -> str:
    """The Danish discretion note (section 3 of the contract) shown with the tables."""
    who = "ansøgere" if cube.underemne == "AFSLAARS" else "elever"
    text = (
        f"Tal, der bygger på 1-{MAX_SMALL} {who}, vises ikke (diskretioneres). Derudover er "
        "yderligere celler udeladt, så et udeladt tal ikke kan regnes ud eller indkredses ved "
        "at trække tal fra hinanden – heller ikke på tværs af tabellerne, totalerne og "
        "niveauerne (år, kvartal, måned; region, kommune). Kombinationer uden nogen "
        f"{who} vises også som tomme celler, så en tom celle kan ikke læses som et nul. "
        "En andel vises ikke, når det antal, den bygger på, er udeladt. Beskyttelsen gælder "
        "alle udgivelser under ét: et uændret tal for en afsluttet periode vises eller "
        "udelades som i forrige udgivelse, og tal for den løbende periode og totaler udelades, "
        "hvor forskellen til en tidligere udgivelse ellers ville afsløre et udeladt tal."
    )
    if any(m.outcome for m in cube.measures):
        text += (
            f" Antal og andel afbrudt vises desuden ikke, når 1-{MAX_SMALL} elever har "
            f"afbrudt, eller når 0-{MAX_SMALL} elever ikke har afbrudt."
        )
    return text


def period_text(cube: Cube) -> str:
    text = (
        "Perioder er kalendermåneder, -kvartaler og -år i dansk tid (Europe/Copenhagen). "
        "Hver udgivelse genberegner alle perioder, så sent registrerede oplysninger kan "
        "ændre tidligere perioders tal."
    )
    if cube.kind == "stock":
        text += (
            " Tallene er en opgørelse på en bestemt dag (kolonnen Statusdato): År pr. 31. "
            "december, Kvartal på kvartalets sidste dag og Måned på månedens sidste dag; for "
            "en periode, der ikke er afsluttet, på udgivelsens skæringstidspunkt. Tallene kan "
            "derfor ikke lægges sammen over tid."
        )
    else:
        text += " Tallene tæller afslag registreret i perioden."
    return text


def about_lines(cube: Cube, release: str, cutoff: datetime) -> list[tuple[str, str]]:
    """The content of the sheet "Om tallene" as (style, text) lines; style is one of
    "title", "heading", "text", "blank"."""
    names = sheet_names(cube)
    lines: list[tuple[str, str]] = [
        ("title", cube.caption),
        ("text", cube.description),
        ("blank", ""),
        ("heading", "Nøgletal"),
    ]
    lines += [
        ("text", f"{m.caption}: {cube.definitions.get(m.caption, '')}") for m in cube.measures
    ]
    lines += [("blank", ""), ("heading", "Perioder"), ("text", period_text(cube))]
    lines += [("blank", ""), ("heading", "Diskretion"), ("text", discretion_text(cube))]
    lines += [("blank", ""), ("heading", "Tabeller")]
    lines += [
        ("text", f"Arket {names[v.id]}: {_view_label(v)} (også som {view_csv_name(v)})")
        for v in cube.views
    ]
    lines += [
        (
            "text",
            (
                f"Hvert ark indeholder tabellen og alle dens totaler. »{TOTAL}« betyder alle "
                "værdier af variablen tilsammen."
            ),
        ),
        ("blank", ""),
        ("text", SOURCE_LINE),
    ]
    lines += [("text", line) for line in _cutoff_lines(release, cutoff)]
    return lines


def _width(texts: Sequence[str], minimum: int = 8, maximum: int = 60) -> float:
    longest = max((len(t) for t in texts), default=0)
    return float(min(max(longest + 2, minimum), maximum))


def write_xlsx(
    path: str | Path, cube: Cube, published: pd.DataFrame, release: str, cutoff: datetime
) -> Path:
    """Write ``tabeller.xlsx`` for one cube: a sheet per view and the sheet "Om tallene"."""
    path = Path(path)
    wb = _workbook(path, cube, release, cutoff)
    formats = _view_formats(wb)
    names = sheet_names(cube)
    for view in cube.views:
        cols, rows = _view_cells(cube, view, published)
        if len(rows) + 1 > EXCEL_MAX_ROWS:
            raise ValueError(f"{cube.id} {view.id}: {len(rows)} rows do not fit in one sheet")
        _write_view_sheet(wb.add_worksheet(names[view.id]), cols, rows, formats)
    _write_about_sheet(wb, cube, release, cutoff)
    wb.worksheets()[0].activate()
    wb.close()
    return path


def _workbook(path: Path, cube: Cube, release: str, cutoff: datetime) -> xlsxwriter.Workbook:
    """An empty workbook with the release's document properties (no wall-clock time)."""
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "in_memory": True,  # zip entries stamped 1980-01-01, no temp files
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties(
        {
            "title": f"{cube.caption} – udgivelse {release}",
            "subject": cube.description,
            "author": "Børne- og Undervisningsministeriet",
            "company": "Børne- og Undervisningsministeriet",
            "comments": SOURCE_LINE,
            "created": cutoff.astimezone(UTC).replace(tzinfo=None),
        }
    )
    return wb


def _view_formats(wb: xlsxwriter.Workbook) -> dict:
    """The cell formats of the view sheets, by use (added in a fixed order: the order
    numbers them in the file)."""
    return {
        "header": wb.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF4"}),
        "header_num": wb.add_format(
            {"bold": True, "bottom": 1, "bg_color": "#E8EEF4", "align": "right"}
        ),
        "total": wb.add_format({"italic": True}),
        "date": wb.add_format({"num_format": EXCEL_DATE_FORMAT_INDEX}),
        **{k: wb.add_format({"num_format": excel_format(k)}) for k in ("count", "share")},
    }


def _write_view_sheet(ws, cols: list[Column], rows: pd.DataFrame, formats: dict) -> None:
    """One view's sheet: a header row, then its cells, column by column."""
    write_string, write_number = ws.write_string, ws.write_number
    # Column by column, header first: the order of first use numbers the shared strings.
    for j, c in enumerate(cols):
        numeric = c.kind in ("count", "share")
        write_string(0, j, c.header, formats["header_num" if numeric else "header"])
        if c.kind == "attribute":
            values = attribute_texts(rows[c.column])
            for i, v in enumerate(values, start=1):
                write_string(i, j, v, formats["total"] if v == TOTAL else None)
            width = _width([c.header, *set(values)], maximum=60)
        elif c.kind == "date":
            dates = format_each(_excel_datetime, cell_values(rows[c.column]), None)
            for i, v in enumerate(dates, start=1):
                if v is not None:
                    ws.write_datetime(i, j, v, formats["date"])
            width = _width([c.header], minimum=12)
        else:
            fmt = formats[c.kind]
            cast = int if c.kind == "count" else float
            # withheld or empty (None here): no cell at all
            for i, v in enumerate(format_each(cast, cell_values(rows[c.column]), None), 1):
                if v is not None:
                    write_number(i, j, v, fmt)
            width = _width([c.header], minimum=12, maximum=40) + 2
        ws.set_column(j, j, width)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(cols) - 1)
    # captions like "2026" are text on purpose; no green "number stored as text" marks
    ws.ignore_errors(
        {"number_stored_as_text": f"A1:{_col_letter(len(cols) - 1)}{len(rows) + 1}"}
    )


def _write_about_sheet(wb: xlsxwriter.Workbook, cube: Cube, release: str,
                       cutoff: datetime) -> None:
    """The sheet "Om tallene": what the numbers are, their periods and discretion."""
    about = wb.add_worksheet(ABOUT_SHEET)
    title_fmt = wb.add_format({"bold": True, "font_size": 14})
    heading_fmt = wb.add_format({"bold": True})
    text_fmt = wb.add_format({"text_wrap": True, "valign": "top"})
    width = 110
    about.set_column(0, 0, width)
    for i, (style, text) in enumerate(about_lines(cube, release, cutoff)):
        if style == "blank":
            continue
        fmt = {"title": title_fmt, "heading": heading_fmt}.get(style, text_fmt)
        about.write_string(i, 0, text, fmt)
        if style == "text":
            lines = max(1, math.ceil(len(text) / (width * 1.05)))
            if lines > 1:
                about.set_row(i, 15 * lines)


def _excel_datetime(value) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters

