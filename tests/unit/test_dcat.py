"""DCAT-AP-DK metadata (dcat.rdf), read back with an XML parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from transforms.catalog import AFSLAARS, CUBES, FRAFAFBRUD, FRAFVURD
from transforms.publish.dcat import (
    LICENSE,
    MONTHLY,
    media_type_for,
    period_start,
    write_dcat,
)
from transforms.publish.tables import XLSX_NAME, view_csv_name

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
}
RDF_ABOUT = f"{{{NS['rdf']}}}about"
RDF_RESOURCE = f"{{{NS['rdf']}}}resource"
RDF_DATATYPE = f"{{{NS['rdf']}}}datatype"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
CUTOFF = datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Copenhagen"))


def cube_files() -> dict[str, list[tuple[str, str, int]]]:
    out = {}
    for k, cube in enumerate(CUBES.values()):
        names = ["cells.parquet", *(view_csv_name(v) for v in cube.views), XLSX_NAME]
        out[cube.id] = [
            (f"{cube.id}/{n}", media_type_for(n), 1000 * (k + 1) + i) for i, n in enumerate(names)
        ]
    return out


@pytest.fixture
def rdf(tmp_path):
    path = write_dcat(
        tmp_path / "dcat.rdf",
        "2026-10",
        CUTOFF,
        cube_files(),
        {c.id: c.first_period for c in CUBES.values()},
    )
    return path, ET.parse(path).getroot()


def test_catalog(rdf):
    _, root = rdf
    assert root.tag == f"{{{NS['rdf']}}}RDF"
    (catalog,) = root.findall("dcat:Catalog", NS)
    title = catalog.find("dct:title", NS)
    assert title.text and title.get(XML_LANG) == "da"
    assert catalog.find("dct:description", NS).text
    assert catalog.find("dct:language", NS).get(RDF_RESOURCE).endswith("/language/DAN")
    publisher = catalog.find("dct:publisher", NS).get(RDF_RESOURCE)
    (agent,) = root.findall("foaf:Agent", NS)
    assert agent.get(RDF_ABOUT) == publisher
    assert agent.find("foaf:name", NS).text == "Børne- og Undervisningsministeriet"
    datasets = [d.get(RDF_RESOURCE) for d in catalog.findall("dcat:dataset", NS)]
    assert datasets == [f"#{c.id}" for c in CUBES.values()]


def test_datasets(rdf):
    _, root = rdf
    datasets = root.findall("dcat:Dataset", NS)
    assert len(datasets) == 3
    by_id = {d.find("dct:identifier", NS).text: d for d in datasets}
    assert set(by_id) == {c.id for c in CUBES.values()}
    for cube in (AFSLAARS, FRAFVURD, FRAFAFBRUD):
        d = by_id[cube.id]
        assert d.get(RDF_ABOUT) == f"#{cube.id}"
        assert d.find("dct:title", NS).text == cube.caption
        assert d.find("dct:description", NS).text == cube.description
        assert d.find("dct:publisher", NS).get(RDF_RESOURCE) == "https://www.uvm.dk/"
        assert d.find("dct:accrualPeriodicity", NS).get(RDF_RESOURCE) == MONTHLY
        period = d.find("dct:temporal/dct:PeriodOfTime", NS)
        start = period.find("dcat:startDate", NS)
        end = period.find("dcat:endDate", NS)
        assert start.get(RDF_DATATYPE) == "http://www.w3.org/2001/XMLSchema#date"
        assert end.text == "2026-10-31"
        keywords = [k.text for k in d.findall("dcat:keyword", NS)]
        assert "SOSU" in keywords and len(keywords) == len(set(keywords))
        assert len(d.findall("dcat:distribution", NS)) == 2 + len(cube.views)

    def start(c):
        return by_id[c.id].find("dct:temporal/dct:PeriodOfTime/dcat:startDate", NS).text

    assert start(AFSLAARS) == "2021-04-01"
    assert start(FRAFVURD) == "2022-01-01"


def test_distributions(rdf):
    _, root = rdf
    files = cube_files()
    dists = root.findall("dcat:Distribution", NS)
    assert len(dists) == sum(len(v) for v in files.values()) == 3 * 2 + 4 + 5 + 2
    about = {d.get(RDF_ABOUT) for d in dists}
    referenced = {r.get(RDF_RESOURCE) for r in root.findall("dcat:Dataset/dcat:distribution", NS)}
    assert about == referenced  # every distribution belongs to a dataset
    by_url = {d.find("dcat:downloadURL", NS).get(RDF_RESOURCE): d for d in dists}
    for rel, media_type, size in files["EUD_AFSL_AFSLAARS"]:
        d = by_url[rel]
        assert d.find("dcat:accessURL", NS).get(RDF_RESOURCE) == rel
        assert (
            d.find("dct:license", NS).get(RDF_RESOURCE)
            == LICENSE
            == "https://creativecommons.org/licenses/by/4.0/"
        )
        assert d.find("dcat:mediaType", NS).get(RDF_RESOURCE).endswith("/" + media_type)
        assert d.find("dcat:byteSize", NS).text == str(size)
        assert (
            d.find("dct:format", NS)
            .get(RDF_RESOURCE)
            .startswith("http://publications.europa.eu/resource/authority/file-type/")
        )
    csv = by_url["EUD_AFSL_AFSLAARS/maaned_uddannelse_primaer-aarsag.csv"]
    assert csv.find("dct:format", NS).get(RDF_RESOURCE).endswith("/CSV")
    assert "Måned, Uddannelse, Primær årsag" in csv.find("dct:title", NS).text
    assert (
        by_url["EUD_AFSL_AFSLAARS/cells.parquet"]
        .find("dcat:mediaType", NS)
        .get(RDF_RESOURCE)
        .endswith("application/vnd.apache.parquet")
    )


def test_deterministic_and_base_url(tmp_path, rdf):
    path, _ = rdf
    again = write_dcat(
        tmp_path / "again.rdf",
        "2026-10",
        CUTOFF,
        cube_files(),
        {c.id: c.first_period for c in CUBES.values()},
    )
    assert again.read_bytes() == path.read_bytes()
    assert path.read_bytes().startswith(b"<?xml")

    based = write_dcat(
        tmp_path / "b.rdf",
        "2026-10",
        CUTOFF,
        cube_files(),
        {},
        base_url="https://example.dk/releases/2026-10/",
    )
    root = ET.parse(based).getroot()
    assert root.get(XML_BASE) == "https://example.dk/releases/2026-10/"
    # missing first periods fall back to the catalogue
    starts = [e.text for e in root.iter(f"{{{NS['dcat']}}}startDate")]
    assert starts == ["2021-04-01", "2022-01-01", "2022-01-01"]


def test_helpers():
    assert period_start("2021M04") == date(2021, 4, 1)
    assert period_start("2021-04") == date(2021, 4, 1)
    assert period_start("2022K3") == date(2022, 7, 1)
    assert period_start(date(2022, 1, 1)) == date(2022, 1, 1)
    assert media_type_for("x/tabeller.xlsx").endswith("spreadsheetml.sheet")
    assert media_type_for("a.csv") == "text/csv"
    with pytest.raises(ValueError):
        period_start("april")
