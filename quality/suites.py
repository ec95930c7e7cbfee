"""The Great Expectations suites, declared in code (no GX import here: :mod:`quality.gx` turns
these declarations into GX objects and runs them against the DuckDB warehouse, read-only).

One suite per table, grouped in layers that match the asset groups:

- ``landed``: raw_* (columns allowed after pseudonymisation, pseudonym form);
- ``warehouse``: stg_*, karantaene, dim_*, fct_* (code domains, legal periods, known
  quarantine reasons, unique and non-null keys);
- ``published``: pub_* for one release (shares between 0 and 100 %).

Each expectation names the rule (:data:`quality.rules.RULES`) it serves, so its result lands in
that rule's asset check. Queries in :class:`Expectation.unexpected_rows` select only keys, never
values: their rows are evidence in the Data Docs and must not carry personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transforms.calendar import Release
from transforms.catalog import CUBES, FIXED_MEMBERS
from transforms.extract import SOURCE_TABLES, TABLE_KEYS
from transforms.pseudonymise import PSEUDONYM_PATTERN
from transforms.validate import RISK_CODES, TERMINATION_CODES

#: The columns that may land per source table: the contract's columns minus every direct
#: identifier (CPR, names, addresses, phone numbers, employee names, applicant free text, CVR
#: and P numbers), plus the derived attributes and pseudonyms. Written out here on purpose
#: rather than read from transforms.pseudonymise.RAW_COLUMNS: a change there that lets an
#: identifier through must fail this suite, not move it (tests/unit/test_quality_rules.py
#: keeps the two in step).
ALLOWED_LANDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "uddannelse": ("uddannelse_kode", "navn"),
    "afslagsbegrundelse": ("begrundelse_kode", "tekst", "gyldig_fra", "gyldig_til"),
    "skole": ("institutionsnummer", "navn", "kommunekode"),
    "virksomhed": ("virksomhed_id", "sektor", "kommunekode"),
    "elev": ("elev_id", "elev_pseudonym", "foedselsdato", "koen"),
    "uddannelsesaftale": (
        "aftale_id", "elev_id", "virksomhed_id", "institutionsnummer", "uddannelse_kode",
        "startdato", "slutdato", "ophoert_dato", "ophoert_aarsag", "oprettet", "aendret",
    ),
    "frafaldsvurdering": ("vurdering_id", "aftale_id", "risiko", "registreret"),
    "afslag": (
        "afslag_id", "virksomhed_id", "uddannelse_kode", "ansoeger_pseudonym",
        "primaer_begrundelse", "sekundaer_begrundelse", "registreret",
    ),
}
LOAD_COLUMNS = ("_koersel",)  # added by transforms/land.py

#: Every reason a staging model (sql/staging/*.sql) or the landing (transforms/land.py) can give.
QUARANTINE_REASONS: tuple[str, ...] = (
    "begrundelse_ikke_gyldig", "direkte_identifikator", "dublet_noegle", "foer_regel",
    "fremtidigt_tidspunkt", "genbrugt_noegle", "manglende_noegle", "sekundaer_lig_primaer",
    "slut_foer_start", "tom_ansoeger", "tom_kode", "tom_tekst", "ufuldstaendigt_ophoer", "ukendt_aftale",
    "ukendt_begrundelse", "ukendt_elev", "ukendt_ophoersaarsag", "ukendt_risiko",
    "ukendt_sekundaer_begrundelse", "ukendt_uddannelse", "ukendt_virksomhed", "ulaeselig_dato",
    "ulaeseligt_tidspunkt",
)
#: First instants of the legal registration periods (§ 115), Europe/Copenhagen.
REFUSALS_FROM = "2021-04-15 00:00:00 Europe/Copenhagen"
ASSESSMENTS_FROM = "2022-01-01 00:00:00 Europe/Copenhagen"


@dataclass(frozen=True)
class Expectation:
    """One GX expectation: ``kind`` is the GX class name (great_expectations.expectations),
    ``kwargs`` its arguments; ``value_set_query`` (SQL, constant) fills ``value_set`` at
    validation time from the warehouse."""

    rule: str
    kind: str
    kwargs: dict = field(default_factory=dict)
    value_set_query: str | None = None


@dataclass(frozen=True)
class Suite:
    layer: str
    table: str  # the table validated; also the asset the results belong to
    expectations: tuple[Expectation, ...]
    query: str | None = None  # validate this query's rows instead of the whole table

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.table}"


def _in_set(rule: str, column: str, values=None, query: str | None = None) -> Expectation:
    kw = {"column": column}
    if values is not None:
        kw["value_set"] = list(values)
    return Expectation(rule, "ExpectColumnValuesToBeInSet", kw, value_set_query=query)


def _unexpected(rule: str, query: str, description: str) -> Expectation:
    return Expectation(rule, "UnexpectedRowsExpectation",
                       {"unexpected_rows_query": query, "description": description})


def _key(rule: str, *columns: str) -> list[Expectation]:
    out = [Expectation(rule, "ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns]
    if len(columns) == 1:
        out.append(Expectation(rule, "ExpectColumnValuesToBeUnique", {"column": columns[0]}))
    else:
        out.append(Expectation(rule, "ExpectCompoundColumnsToBeUnique",
                               {"column_list": list(columns)}))
    return out


#: '^[0-9a-f]{32}$' (a constant) with its braces doubled for GX's query template
_HEX = PSEUDONYM_PATTERN.pattern.replace("{", "{{").replace("}", "}}")


def landed_suites() -> list[Suite]:
    out = []
    for table in SOURCE_TABLES:
        exps = [Expectation("no_direct_identifiers", "ExpectTableColumnsToMatchSet",
                            {"column_set": [*ALLOWED_LANDED_COLUMNS[table], *LOAD_COLUMNS],
                             "exact_match": True})]
        if table == "elev":
            exps.append(_unexpected(
                "pseudonym_form",
                "SELECT elev_id FROM {batch} WHERE elev_pseudonym IS NULL "
                f"OR NOT regexp_matches(elev_pseudonym, '{_HEX}')",
                "Every student has a CPR pseudonym of 32 lowercase hex characters."))
        if table == "afslag":
            exps.append(_unexpected(
                "pseudonym_form",
                "SELECT afslag_id FROM {batch} WHERE ansoeger_pseudonym IS NOT NULL "
                f"AND NOT regexp_matches(ansoeger_pseudonym, '{_HEX}')",
                "Applicant pseudonyms are 32 lowercase hex characters (an empty applicant is "
                "quarantined later)."))
        out.append(Suite("landed", f"raw_{table}", tuple(exps)))
    return out


def warehouse_suites() -> list[Suite]:
    stg = "stg_laerepladsen__"
    codes, dom, period = "codes_in_domain", "keys_unique_not_null", "timestamps_in_legal_period"
    return [
        Suite("warehouse", f"{stg}afslag", (
            _in_set(codes, "primaer_kode",
                    query=f"SELECT begrundelse_kode FROM {stg}afslagsbegrundelse"),
            _in_set(codes, "sekundaer_kode",
                    query=f"SELECT begrundelse_kode FROM {stg}afslagsbegrundelse"),
            _in_set(codes, "uddannelse_kode", query=f"SELECT uddannelse_kode FROM {stg}uddannelse"),
            _unexpected(period, "SELECT afslag_id FROM {batch} WHERE registreret IS NULL OR "
                        f"registreret < TIMESTAMPTZ '{REFUSALS_FROM}'",
                        "Refusals are registered from 15 April 2021 (Europe/Copenhagen)."),
        )),
        Suite("warehouse", f"{stg}frafaldsvurdering", (
            _in_set(codes, "risiko", RISK_CODES),
            _unexpected(period, "SELECT vurdering_id FROM {batch} WHERE registreret IS NULL OR "
                        f"registreret < TIMESTAMPTZ '{ASSESSMENTS_FROM}'",
                        "Risk assessments are registered from 1 January 2022 "
                        "(Europe/Copenhagen)."),
        )),
        Suite("warehouse", f"{stg}uddannelsesaftale", (
            _in_set(codes, "ophoert_aarsag", TERMINATION_CODES),
            _in_set(codes, "uddannelse_kode", query=f"SELECT uddannelse_kode FROM {stg}uddannelse"),
            _unexpected(period, "SELECT aftale_id FROM {batch} WHERE startdato IS NULL OR "
                        "slutdato IS NULL OR slutdato < startdato",
                        "An agreement ends after it starts."),
        )),
        Suite("warehouse", f"{stg}elev", (_in_set(codes, "koen", FIXED_MEMBERS["[Elev].[Køn]"]),)),
        Suite("warehouse", "karantaene", (
            _in_set("quarantine_reasons_known", "aarsag", QUARANTINE_REASONS),
            _in_set("quarantine_reasons_known", "kilde_tabel", SOURCE_TABLES),
            Expectation("quarantine_reasons_known", "ExpectColumnValuesToNotBeNull",
                        {"column": "aarsag"}),
        )),
        Suite("warehouse", "dim_uddannelse", tuple(_key(dom, "uddannelse_kode"))),
        Suite("warehouse", "dim_kommune", (
            *_key(dom, "kommune"),
            Expectation(dom, "ExpectColumnValuesToBeUnique", {"column": "kommunekode"}),
            _in_set(codes, "region", FIXED_MEMBERS["[Arbejdssted].[Region]"]),
        )),
        Suite("warehouse", "dim_virksomhed", (
            *_key(dom, "virksomhed_id"),
            _in_set(codes, "sektor", FIXED_MEMBERS["[Arbejdssted].[Sektor]"]),
            _in_set(codes, "region", FIXED_MEMBERS["[Arbejdssted].[Region]"]),
        )),
        Suite("warehouse", "dim_afslagsaarsag", tuple(_key(dom, "begrundelse_kode"))),
        Suite("warehouse", "dim_skole", tuple(_key(dom, "institutionsnummer"))),
        Suite("warehouse", "dim_elev", (
            *_key(dom, "elev_id"),
            Expectation(dom, "ExpectColumnValuesToNotBeNull", {"column": "elev_pseudonym"}),
            _in_set(codes, "koen", FIXED_MEMBERS["[Elev].[Køn]"]),
        )),
        Suite("warehouse", "fct_afslag", tuple(_key(dom, "afslag_id"))),
        Suite("warehouse", "fct_frafaldsvurdering", (
            *_key(dom, "vurdering_id"), _in_set(codes, "risiko", RISK_CODES))),
        Suite("warehouse", "fct_aftale_historik", tuple(_key(dom, "aftale_id", "gyldig_fra"))),
    ]


def published_suites(release: str) -> list[Suite]:
    """pub_<x> rows of one release (``release`` is a partition key, checked here before it
    goes into the batch query)."""
    Release.parse(release)  # a ReleaseError (ValueError) for anything else
    out = []
    for u, cube in CUBES.items():
        table = f"pub_{u.lower()}"
        exps = [Expectation("shares_in_range", "ExpectColumnValuesToBeBetween",
                            {"column": m.column, "min_value": 0, "max_value": 1})
                for m in cube.measures if m.kind == "share"]
        out.append(Suite("published", table, tuple(exps),
                         query=f"SELECT * FROM {table} WHERE udgivelse = '{release}'"))
    return out


#: raw table → key column, for rules that report row keys.
RAW_KEYS = {f"raw_{t}": k for t, k in TABLE_KEYS.items()}
