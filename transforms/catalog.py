"""The publication catalogue: cubes, attributes, hierarchies, views and measures.

This module is the single, declarative copy of sections 2.1-2.3 of
``shared/contracts/publication.md``. Every other part of lpstat (the marts, disclosure
control, the release writer, the API) reads names and structure from here, so a caption is
spelled in exactly one place. It holds facts only: no computation on data.

Vocabulary used across the code base:

- *attribute key*: the contract's ``[Dimension].[Attribute]`` name, e.g. ``[Tid].[Måned]``.
- *column*: the snake-case column that holds an attribute's member caption in cube tables
  and ``cells.parquet`` (``tid_maaned``).
- *grouping*: the set of attributes a cell is broken down by, each hierarchy at its finest
  level present. Written as a key string (:func:`grouping_key`): the attribute keys in
  catalogue order joined by ``|``; ``""`` is the grand total.
- *view*: one published table (section 2.3). Its *margins* are every grouping obtained by
  dropping attributes or coarsening a hierarchy level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import product

from transforms.calendar import FIRST_RELEASE

# --- attributes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    key: str  # "[Tid].[Måned]"
    column: str  # "tid_maaned"
    hierarchy: str | None = None  # "Tid" or "Arbejdssted": levels listed in HIERARCHIES
    alias_of: str | None = None  # a second caption of another attribute's member

    @property
    def dimension(self) -> str:
        return self.key.split("].[")[0].lstrip("[")

    @property
    def name(self) -> str:
        return self.key.split("].[")[1].rstrip("]")


ATTRIBUTES: dict[str, Attribute] = {
    a.key: a
    for a in [
        Attribute("[Tid].[År]", "tid_aar", "Tid"),
        Attribute("[Tid].[Kvartal]", "tid_kvartal", "Tid"),
        Attribute("[Tid].[Måned]", "tid_maaned", "Tid"),
        Attribute("[Uddannelse].[Uddannelse]", "uddannelse"),
        Attribute("[Arbejdssted].[Region]", "region", "Arbejdssted"),
        Attribute("[Arbejdssted].[Kommune]", "kommune", "Arbejdssted"),
        Attribute("[Arbejdssted].[Sektor]", "sektor"),
        Attribute("[Skole].[Skole]", "skole"),
        Attribute("[Skole].[Institutionsnummer]", "institutionsnummer", alias_of="[Skole].[Skole]"),
        Attribute("[Elev].[Køn]", "koen"),
        Attribute("[Elev].[Aldersgruppe]", "aldersgruppe"),
        Attribute("[Afslagsårsag].[Primær årsag]", "primaer_aarsag"),
        Attribute("[Afslagsårsag].[Sekundær årsag]", "sekundaer_aarsag"),
        Attribute("[Frafaldsrisiko].[Frafaldsrisiko]", "frafaldsrisiko"),
        Attribute("[Vurdering].[Alder af vurdering]", "alder_af_vurdering"),
    ]
}

#: Hierarchies, finest level first. A cell at a level also carries the captions of every
#: coarser level (a Kvartal cell names its År), so filters on coarser levels work.
HIERARCHIES: dict[str, list[str]] = {
    "Tid": ["[Tid].[Måned]", "[Tid].[Kvartal]", "[Tid].[År]"],
    "Arbejdssted": ["[Arbejdssted].[Kommune]", "[Arbejdssted].[Region]"],
}

#: Fixed member captions and their order (section 2.1). Members read from the store
#: (education names, reason texts, municipalities, schools) are ordered by their code.
FIXED_MEMBERS: dict[str, list[str]] = {
    "[Arbejdssted].[Region]": [
        "Region Hovedstaden",
        "Region Sjælland",
        "Region Syddanmark",
        "Region Midtjylland",
        "Region Nordjylland",
        "Uoplyst",
    ],
    "[Arbejdssted].[Sektor]": ["Kommunal", "Regional", "Statslig", "Privat", "Uoplyst"],
    "[Frafaldsrisiko].[Frafaldsrisiko]": ["Lav", "Middel", "Høj", "Ikke vurderet"],
    "[Vurdering].[Alder af vurdering]": [
        "Under 3 måneder",
        "3-5 måneder",
        "6-11 måneder",
        "12 måneder og derover",
        "Ingen vurdering",
    ],
    "[Elev].[Køn]": ["Kvinde", "Mand", "Uoplyst"],
    "[Elev].[Aldersgruppe]": [
        "Under 20 år",
        "20-24 år",
        "25-29 år",
        "30-39 år",
        "40 år og derover",
        "Uoplyst",
    ],
}

UOPLYST = "Uoplyst"
INGEN_SEKUNDAER = "Ingen sekundær årsag"
IKKE_VURDERET = "Ikke vurderet"
INGEN_VURDERING = "Ingen vurdering"

# --- measures, views, cubes --------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    caption: str
    column: str
    kind: str  # "count" | "share"
    #: for shares: the count column it is a share of, and the attributes dropped to form
    #: its denominator (the "same combination without ..." of section 2.2)
    numerator: str | None = None
    denominator_drops: tuple[str, ...] = ()
    #: for shares of another measure of the same cell (FRAFAFBRUD): its column
    denominator_column: str | None = None
    #: counts that describe an outcome (FRAFAFBRUD): withheld by the outcome rule too
    outcome: bool = False
    #: whether the cells of a finer grouping sum to it (distinct counts and shares do not)
    additive: bool = True


@dataclass(frozen=True)
class View:
    id: str  # "v1" ...: stable, used in file names
    attributes: tuple[str, ...]  # finest levels, in the contract's order

    @property
    def name(self) -> str:
        """File-name form: the attribute names joined by '_', ASCII-folded."""
        return "_".join(_ascii(ATTRIBUTES[a].name) for a in self.attributes)


def _ascii(text: str) -> str:
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
    return text.translate(table).replace(" ", "-").lower()


@dataclass(frozen=True)
class Cube:
    underemne: str
    caption: str
    omraade: tuple[str, str]
    emne: tuple[str, str]
    kind: str  # "flow" | "stock"
    attributes: tuple[str, ...]  # every attribute the cube's views use, catalogue order
    measures: tuple[Measure, ...]
    views: tuple[View, ...]
    #: the additive count that disclosure control protects (its linear system)
    value_column: str
    #: distinct individuals behind a cell: the primary rule counts these
    individuals_column: str
    description: str = ""
    first_period: str = ""  # a Tid month caption, "2021M04"
    definitions: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.omraade[0]}_{self.emne[0]}_{self.underemne}"

    @property
    def columns(self) -> list[str]:
        """Attribute columns in catalogue order (aliases included)."""
        return [ATTRIBUTES[a].column for a in self.attributes]

    def measure(self, caption: str) -> Measure:
        for m in self.measures:
            if m.caption == caption:
                return m
        raise KeyError(caption)

    @cached_property
    def groupings(self) -> dict[str, tuple[str, ...]]:
        """Every published grouping: key → the views (ids) it is a margin of."""
        out: dict[str, list[str]] = {}
        for view in self.views:
            for g in margins(view.attributes, stock=self.kind == "stock"):
                out.setdefault(grouping_key(g, self), []).append(view.id)
        return {k: tuple(v) for k, v in sorted(out.items(), key=lambda kv: _gsort(kv[0], self))}


def _gsort(key: str, cube: Cube) -> tuple[int, list[int]]:
    attrs = key.split("|") if key else []
    return (len(attrs), [cube.attributes.index(a) for a in attrs])


def canonical(attribute: str) -> str:
    """The attribute that carries the member (aliases map to their main attribute)."""
    return ATTRIBUTES[attribute].alias_of or attribute


def margins(attrs: tuple[str, ...], stock: bool) -> list[tuple[str, ...]]:
    """All groupings of a view: any subset, any coarser hierarchy level.

    Stock cubes have no total over time, so their margins always keep a Tid level.
    """
    choices: list[list[str | None]] = []
    for a in attrs:
        h = ATTRIBUTES[a].hierarchy
        if h:
            levels = HIERARCHIES[h]
            opts: list[str | None] = list(levels[levels.index(a):])
            if not (stock and h == "Tid"):
                opts.append(None)
        else:
            opts = [a, None]
        choices.append(opts)
    return [tuple(x for x in combo if x) for combo in product(*choices)]


def grouping_key(attrs, cube: Cube) -> str:
    """Canonical key: canonical attributes in the cube's order, joined by '|'."""
    canon = {canonical(a) for a in attrs}
    return "|".join(a for a in cube.attributes if a in canon)


def query_grouping(attrs, cube: Cube) -> str:
    """The grouping that answers a query naming these attributes (detaljering + filtre):
    per hierarchy its finest level named; coarser levels are carried by every cell."""
    canon = {canonical(a) for a in attrs}
    keep = set()
    for a in canon:
        h = ATTRIBUTES[a].hierarchy
        if h:
            levels = HIERARCHIES[h]
            finest = min(levels.index(x) for x in canon if ATTRIBUTES[x].hierarchy == h)
            keep.add(levels[finest])
        else:
            keep.add(a)
    return grouping_key(keep, cube)


def carried_attributes(grouping: str) -> list[str]:
    """Attributes whose captions a cell of this grouping carries: its own, every coarser
    level of its hierarchies, and aliases."""
    out = []
    for a in grouping.split("|") if grouping else []:
        h = ATTRIBUTES[a].hierarchy
        out.extend(HIERARCHIES[h][HIERARCHIES[h].index(a):] if h else [a])
        out.extend(k for k, v in ATTRIBUTES.items() if v.alias_of == a)
    return out


EUD = ("EUD", "Erhvervsuddannelser")

AFSLAARS = Cube(
    underemne="AFSLAARS",
    caption="Afslagsårsager på SOSU",
    omraade=EUD,
    emne=("AFSL", "Afslag på lærepladser"),
    kind="flow",
    attributes=(
        "[Tid].[År]",
        "[Tid].[Kvartal]",
        "[Tid].[Måned]",
        "[Uddannelse].[Uddannelse]",
        "[Arbejdssted].[Region]",
        "[Arbejdssted].[Kommune]",
        "[Arbejdssted].[Sektor]",
        "[Afslagsårsag].[Primær årsag]",
        "[Afslagsårsag].[Sekundær årsag]",
    ),
    measures=(
        Measure("Antal afslag", "antal_afslag", "count"),
        Measure("Antal ansøgere", "antal_ansoegere", "count", additive=False),
        Measure(
            "Andel af afslag",
            "andel_af_afslag",
            "share",
            additive=False,
            numerator="antal_afslag",
            denominator_drops=("[Afslagsårsag].[Primær årsag]", "[Afslagsårsag].[Sekundær årsag]"),
        ),
    ),
    views=(
        View("v1", ("[Tid].[Måned]", "[Uddannelse].[Uddannelse]", "[Afslagsårsag].[Primær årsag]")),
        View("v2", ("[Tid].[Kvartal]", "[Arbejdssted].[Kommune]", "[Afslagsårsag].[Primær årsag]")),
        View(
            "v3",
            (
                "[Tid].[År]",
                "[Arbejdssted].[Sektor]",
                "[Uddannelse].[Uddannelse]",
                "[Afslagsårsag].[Primær årsag]",
            ),
        ),
        View(
            "v4",
            (
                "[Tid].[År]",
                "[Uddannelse].[Uddannelse]",
                "[Afslagsårsag].[Primær årsag]",
                "[Afslagsårsag].[Sekundær årsag]",
            ),
        ),
    ),
    value_column="antal_afslag",
    individuals_column="antal_ansoegere",
    description="Afslag på ansøgninger om læreplads på social- og sundhedsuddannelserne, "
    "registreret af oplæringsvirksomhederne på Lærepladsen.dk, fordelt på afslagsårsag.",
    first_period=FIRST_RELEASE.caption,  # refusals are registered from the first release
    definitions={
        "Antal afslag": "Antal afslag registreret i perioden.",
        "Antal ansøgere": "Antal forskellige ansøgere blandt afslagene (pseudonymiseret).",
        "Andel af afslag": "Antal afslag som andel af alle afslag i samme kombination "
        "uden afslagsårsag.",
    },
)

FRAFVURD = Cube(
    underemne="FRAFVURD",
    caption="Frafaldsvurderinger på SOSU",
    omraade=EUD,
    emne=("FRAF", "Frafaldsrisiko"),
    kind="stock",
    attributes=(
        "[Tid].[År]",
        "[Tid].[Kvartal]",
        "[Tid].[Måned]",
        "[Uddannelse].[Uddannelse]",
        "[Arbejdssted].[Region]",
        "[Arbejdssted].[Kommune]",
        "[Skole].[Skole]",
        "[Skole].[Institutionsnummer]",
        "[Elev].[Køn]",
        "[Elev].[Aldersgruppe]",
        "[Frafaldsrisiko].[Frafaldsrisiko]",
        "[Vurdering].[Alder af vurdering]",
    ),
    measures=(
        Measure("Antal elever", "antal_elever", "count"),
        Measure(
            "Andel elever",
            "andel_elever",
            "share",
            additive=False,
            numerator="antal_elever",
            denominator_drops=("[Frafaldsrisiko].[Frafaldsrisiko]", "[Vurdering].[Alder af vurdering]"),
        ),
    ),
    views=(
        View("v1", ("[Tid].[Måned]", "[Uddannelse].[Uddannelse]", "[Frafaldsrisiko].[Frafaldsrisiko]")),
        View("v2", ("[Tid].[Kvartal]", "[Skole].[Skole]", "[Frafaldsrisiko].[Frafaldsrisiko]")),
        View("v3", ("[Tid].[Kvartal]", "[Arbejdssted].[Kommune]", "[Frafaldsrisiko].[Frafaldsrisiko]")),
        View(
            "v4",
            (
                "[Tid].[År]",
                "[Uddannelse].[Uddannelse]",
                "[Elev].[Køn]",
                "[Elev].[Aldersgruppe]",
                "[Frafaldsrisiko].[Frafaldsrisiko]",
            ),
        ),
        View("v5", ("[Tid].[Kvartal]", "[Uddannelse].[Uddannelse]", "[Vurdering].[Alder af vurdering]")),
    ),
    value_column="antal_elever",
    individuals_column="antal_elever",
    description="Elever på social- og sundhedsuddannelserne med en uddannelsesaftale på "
    "periodens sidste dag, fordelt på oplæringsvirksomhedens seneste frafaldsvurdering.",
    first_period="2022M01",
    definitions={
        "Antal elever": "Antal forskellige elever med en løbende uddannelsesaftale på "
        "periodens sidste dag (for den løbende periode: udgivelsens skæringstidspunkt).",
        "Andel elever": "Antal elever som andel af alle elever i samme kombination uden "
        "frafaldsrisiko og alder af vurdering.",
    },
)

FRAFAFBRUD = Cube(
    underemne="FRAFAFBRUD",
    caption="Frafaldsvurdering og afbrud på SOSU",
    omraade=EUD,
    emne=("FRAF", "Frafaldsrisiko"),
    kind="stock",
    attributes=(
        "[Tid].[År]",
        "[Tid].[Kvartal]",
        "[Uddannelse].[Uddannelse]",
        "[Arbejdssted].[Region]",
        "[Frafaldsrisiko].[Frafaldsrisiko]",
    ),
    measures=(
        Measure("Antal elever", "antal_elever", "count"),
        Measure("Antal afbrudt inden for 6 måneder", "antal_afbrudt", "count", outcome=True),
        Measure(
            "Andel afbrudt inden for 6 måneder",
            "andel_afbrudt",
            "share",
            additive=False,
            numerator="antal_afbrudt",
            denominator_column="antal_elever",
            outcome=True,
        ),
    ),
    views=(
        View("v1", ("[Tid].[Kvartal]", "[Uddannelse].[Uddannelse]", "[Frafaldsrisiko].[Frafaldsrisiko]")),
        View("v2", ("[Tid].[År]", "[Arbejdssted].[Region]", "[Frafaldsrisiko].[Frafaldsrisiko]")),
    ),
    value_column="antal_elever",
    individuals_column="antal_elever",
    description="Elever på social- og sundhedsuddannelserne efter seneste frafaldsvurdering "
    "på periodens sidste dag, og hvor mange af dem hvis uddannelsesaftale blev afbrudt inden "
    "for de følgende 6 måneder.",
    first_period="2022M01",
    definitions={
        "Antal elever": "Som i FRAFVURD, for perioder der sluttede mindst 6 måneder før "
        "udgivelsens skæringstidspunkt.",
        "Antal afbrudt inden for 6 måneder": "Heraf elever hvis uddannelsesaftale ophørte "
        "som afbrudt inden for 6 måneder efter periodens sidste dag.",
        "Andel afbrudt inden for 6 måneder": "Antal afbrudt som andel af antal elever.",
    },
)

CUBES: dict[str, Cube] = {c.underemne: c for c in (AFSLAARS, FRAFVURD, FRAFAFBRUD)}

#: Primary rule (section 3.2): cells based on 1..MAX_SMALL individuals are withheld.
MAX_SMALL = 3
#: Section 3.3: a withheld cell's feasible interval must reach at least this value...
PROTECTION_UPPER = 4
#: ... and, where it starts below PROTECTION_UPPER, be at least this wide.
PROTECTION_WIDTH = 3


def find_cube(omraade: str, emne: str, underemne: str) -> Cube | None:
    c = CUBES.get(underemne)
    if c and c.omraade[0] == omraade and c.emne[0] == emne:
        return c
    return None


def sql_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier. Only for names lpstat itself chose (the
    catalogue's columns, its tables and views); a value from data or a user is bound as a
    parameter instead."""
    return '"' + name.replace('"', '""') + '"'
