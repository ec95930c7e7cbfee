"""DCAT-AP-DK metadata of a release (``dcat.rdf``, RDF/XML).

One ``dcat:Catalog`` for the release, one ``dcat:Dataset`` per cube and one
``dcat:Distribution`` per published file of the cube, licence CC BY 4.0. Written with
:mod:`xml.etree.ElementTree` in a fixed order, so the same input gives the same bytes.

Resources are named by IRIs relative to the release folder (``#EUD_AFSL_AFSLAARS``,
``EUD_AFSL_AFSLAARS/cells.parquet``). Without ``base_url`` they resolve against wherever
``dcat.rdf`` is served from (its own folder); with ``base_url`` (e.g.
``https://example.dk/releases/2026-10/``) the document carries ``xml:base`` and every IRI
resolves against it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from transforms.calendar import Release, is_release, period_span
from transforms.catalog import ATTRIBUTES, CUBES, Cube

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
XML_NS = "http://www.w3.org/XML/1998/namespace"

LICENSE = "https://creativecommons.org/licenses/by/4.0/"
MONTHLY = "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
LANGUAGE_DA = "http://publications.europa.eu/resource/authority/language/DAN"
THEME_EDUC = "http://publications.europa.eu/resource/authority/data-theme/EDUC"
DENMARK = "http://publications.europa.eu/resource/authority/country/DNK"
NATIONAL_AUTHORITY = "http://purl.org/adms/publishertype/NationalAuthority"
PUBLISHER_IRI = "https://www.uvm.dk/"
PUBLISHER_NAME = "Børne- og Undervisningsministeriet"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA = "https://www.iana.org/assignments/media-types/"

CATALOG_TITLE = "Lærepladsstatistik for social- og sundhedsuddannelserne"
CATALOG_DESCRIPTION = (
    "Statistik fra Lærepladsen.dk om afslag på ansøgninger om læreplads og om "
    "oplæringsvirksomhedernes vurdering af elevernes frafaldsrisiko på "
    "social- og sundhedsuddannelserne (SOSU). Udgives månedligt til uddannelsesstatistik.dk."
)

#: media type and EU file type of the files a release publishes, by extension
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    ".parquet": ("application/vnd.apache.parquet", "PARQUET"),
    ".csv": ("text/csv", "CSV"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX"),
    ".json": ("application/json", "JSON"),
    ".html": ("text/html", "HTML"),
    ".rdf": ("application/rdf+xml", "RDF_XML"),
}

_KEYWORDS_COMMON = ("SOSU", "social- og sundhedsuddannelser", "erhvervsuddannelser", "lærepladser")
_KEYWORDS = {
    "AFSLAARS": ("afslag", "afslagsårsager", "ansøgere"),
    "FRAFVURD": ("frafald", "frafaldsrisiko", "elever"),
    "FRAFAFBRUD": ("frafald", "frafaldsrisiko", "afbrud", "elever"),
}

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def media_type_for(path: str | Path) -> str:
    """The media type the release writer should list for a file (by its extension)."""
    return MEDIA_TYPES.get(
        PurePosixPath(str(path)).suffix.lower(), ("application/octet-stream", "")
    )[0]


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _el(
    parent: ET.Element,
    name: str,
    text: str | None = None,
    *,
    lang: str | None = None,
    datatype: str | None = None,
    resource: str | None = None,
) -> ET.Element:
    el = ET.SubElement(parent, _q(name))
    if text is not None:
        el.text = text
    if lang:
        el.set(f"{{{XML_NS}}}lang", lang)
    if datatype:
        el.set(_q("rdf:datatype"), NS["xsd"] + datatype)
    if resource is not None:
        el.set(_q("rdf:resource"), resource)
    return el


def _node(parent: ET.Element, cls: str, about: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, _q(cls))
    if about is not None:
        el.set(_q("rdf:about"), about)
    return el


def period_start(period: str | date) -> date:
    """First day of a period given as ``2021M04``, ``2021-04``, ``2021K2``, ``2021`` or a date."""
    if isinstance(period, datetime):
        return period.date()
    if isinstance(period, date):
        return period
    text = str(period).strip()
    try:
        if is_release(text):
            return Release.parse(text).first_day
        if text.count("-") == 2:
            return date.fromisoformat(text)
        return period_span(text)[0].first_day
    except ValueError:
        raise ValueError(f"not a period: {period!r}") from None


def _cube_by_id(cube_id: str) -> Cube:
    for cube in CUBES.values():
        if cube.id == cube_id:
            return cube
    raise KeyError(f"unknown cube id: {cube_id!r}")


def _distribution_title(cube: Cube, rel: str) -> str:
    name = PurePosixPath(rel).name
    if name == "cells.parquet":
        return f"{cube.caption}: alle celler (Parquet)"
    if name.endswith(".xlsx"):
        return f"{cube.caption}: tabeller (Excel)"
    for view in cube.views:
        if name == f"{view.name}.csv":
            label = ", ".join(ATTRIBUTES[a].name for a in view.attributes)
            return f"{cube.caption}: {label} (CSV)"
    return f"{cube.caption}: {name}"


def _dist_id(rel: str) -> str:
    return "#dist-" + re.sub(r"[^A-Za-z0-9._-]", "-", rel)


def build_dcat(
    release: str,
    cutoff: datetime,
    cubes_files: Mapping[str, Iterable[tuple[str, str, int]]],
    first_periods: Mapping[str, str | date],
    *,
    base_url: str | None = None,
) -> ET.ElementTree:
    """The RDF/XML document as an element tree (see :func:`write_dcat`)."""
    root = ET.Element(_q("rdf:RDF"))
    if base_url:
        root.set(f"{{{XML_NS}}}base", base_url)
    end = Release.parse(release).last_day
    cube_ids = list(cubes_files)  # the caller's order (catalogue order by convention)

    catalog = _node(root, "dcat:Catalog", "#catalog")
    _el(catalog, "dct:title", CATALOG_TITLE, lang="da")
    _el(catalog, "dct:description", CATALOG_DESCRIPTION, lang="da")
    _el(catalog, "dct:publisher", resource=PUBLISHER_IRI)
    _el(catalog, "dct:language", resource=LANGUAGE_DA)
    _el(catalog, "dct:license", resource=LICENSE)
    _el(catalog, "dct:spatial", resource=DENMARK)
    _el(catalog, "owl:versionInfo", release)
    _el(
        catalog,
        "dcat:themeTaxonomy",
        resource="http://publications.europa.eu/resource/authority/data-theme",
    )
    for cube_id in cube_ids:
        _el(catalog, "dcat:dataset", resource=f"#{cube_id}")

    agent = _node(root, "foaf:Agent", PUBLISHER_IRI)
    _el(agent, "foaf:name", PUBLISHER_NAME, lang="da")
    _el(agent, "dct:type", resource=NATIONAL_AUTHORITY)

    for cube_id in cube_ids:
        cube = _cube_by_id(cube_id)
        files = list(cubes_files[cube_id])
        ds = _node(root, "dcat:Dataset", f"#{cube_id}")
        _el(ds, "dct:identifier", cube_id)
        _el(ds, "dct:title", cube.caption, lang="da")
        _el(ds, "dct:description", cube.description, lang="da")
        _el(ds, "dct:publisher", resource=PUBLISHER_IRI)
        contact = ET.SubElement(_el(ds, "dcat:contactPoint"), _q("vcard:Organization"))
        _el(contact, "vcard:fn", PUBLISHER_NAME, lang="da")
        _el(contact, "vcard:hasURL", resource=PUBLISHER_IRI)
        _el(ds, "dct:language", resource=LANGUAGE_DA)
        _el(ds, "dcat:theme", resource=THEME_EDUC)
        _el(ds, "dct:spatial", resource=DENMARK)
        _el(ds, "dct:accrualPeriodicity", resource=MONTHLY)
        temporal = ET.SubElement(_el(ds, "dct:temporal"), _q("dct:PeriodOfTime"))
        first = first_periods.get(cube_id) or first_periods.get(cube.underemne)
        start = period_start(first or cube.first_period)
        _el(temporal, "dcat:startDate", start.isoformat(), datatype="date")
        _el(temporal, "dcat:endDate", end.isoformat(), datatype="date")
        _el(ds, "owl:versionInfo", release)
        for kw in (*_KEYWORDS_COMMON, *_KEYWORDS.get(cube.underemne, ())):
            _el(ds, "dcat:keyword", kw, lang="da")
        for rel, _mt, _size in files:
            _el(ds, "dcat:distribution", resource=_dist_id(rel))

        for rel, media_type, size in files:
            rel = PurePosixPath(str(rel)).as_posix()
            dist = _node(root, "dcat:Distribution", _dist_id(rel))
            _el(dist, "dct:title", _distribution_title(cube, rel), lang="da")
            _el(dist, "dcat:accessURL", resource=rel)
            _el(dist, "dcat:downloadURL", resource=rel)
            _el(dist, "dcat:mediaType", resource=IANA + media_type)
            ext = PurePosixPath(rel).suffix.lower()
            if ext in MEDIA_TYPES and MEDIA_TYPES[ext][1]:
                _el(dist, "dct:format", resource=FILE_TYPE + MEDIA_TYPES[ext][1])
            _el(dist, "dct:license", resource=LICENSE)
            _el(dist, "dcat:byteSize", str(int(size)), datatype="nonNegativeInteger")

    ET.indent(root, space="  ")
    return ET.ElementTree(root)


def write_dcat(
    path: str | Path,
    release: str,
    cutoff: datetime,
    cubes_files: Mapping[str, Iterable[tuple[str, str, int]]],
    first_periods: Mapping[str, str | date],
    *,
    base_url: str | None = None,
) -> Path:
    """Write ``dcat.rdf``.

    ``cubes_files``: cube id (``EUD_AFSL_AFSLAARS``) → ``(path relative to the release
    folder, media type, size in bytes)`` per file, e.g. ``("EUD_AFSL_AFSLAARS/cells.parquet",
    "application/vnd.apache.parquet", 12345)``; :func:`media_type_for` gives the media type.
    ``first_periods``: cube id → its first period (``"2021M04"``, ``"2021-04"`` or a date);
    a missing cube falls back to ``Cube.first_period``. ``cutoff`` is accepted for symmetry
    with the other writers; the temporal coverage ends on the last day of the release month.
    """
    path = Path(path)
    tree = build_dcat(release, cutoff, cubes_files, first_periods, base_url=base_url)
    body = ET.tostring(tree.getroot(), encoding="unicode")
    path.write_bytes(
        ('<?xml version="1.0" encoding="UTF-8"?>\n' + body.rstrip("\n") + "\n").encode("utf-8")
    )
    return path
