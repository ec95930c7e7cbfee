"""Synthetic operational store of Lærepladsen.dk.

The pipeline is only trustworthy if it is exercised against data that looks like the portal's
and misbehaves like it: seasonal intakes, students who drop out more often when their employer
rated them at high risk, applicants typed in five different ways, fictive CPR numbers, retired
reason codes and a trickle of rows that break the rules. This module builds such a store as a
SQLite file that follows ``contracts/operational_store.sql`` column for column.

Everything is drawn from ``numpy.random.default_rng`` streams derived from the seed (Faker,
seeded the same way, only fills small pools of names and streets), so a seed, scale and end
date always give the same rows; nothing reads the clock. Generation is vectorised and strings
are rendered chunk by chunk while writing, so 100× the national volume fits in memory and
finishes in minutes.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "ASSESSMENTS_FROM",
    "AGREEMENTS_FROM",
    "DEFAULT_END",
    "DIRTY_KINDS",
    "REFUSALS_FROM",
    "SCALES",
    "STORE_TABLES",
    "generate",
    "store_schema_sql",
]

#: Registrations run up to and including this day; with the refusals' two-week registration
#: lag the latest complete release months are then 2026-10 and 2026-09.
DEFAULT_END = date(2026, 11, 15)

#: Named scales as a fraction of the national volume; an integer N means N × national.
SCALES: dict[str, float] = {"small": 0.05, "national": 1.0}

REFUSALS_FROM = date(2021, 4, 15)      # § 115: refusals are registered from this day
ASSESSMENTS_FROM = date(2022, 1, 1)    # § 115, stk. 2: risk assessments from this day
AGREEMENTS_FROM = date(2019, 1, 1)     # early enough for a realistic stock of running agreements

# National volumes per year (spec of the demo, see demo/README.md).
_AGREEMENTS_PER_YEAR = 10_000
_ASSESSMENT_RATE_PER_YEAR = 1.1        # reassessments per running agreement and year
_REFUSALS_PER_YEAR = 15_000
_WORKPLACES = 2_500

# The contract's tables in load order (parents first). One spec feeds both dialects, so the
# SQLite demo store and the PostgreSQL store can never drift apart.
STORE_TABLES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("uddannelse", (
        ("uddannelse_kode", "TEXT PRIMARY KEY"),
        ("navn", "TEXT NOT NULL"),
    )),
    ("afslagsbegrundelse", (
        ("begrundelse_kode", "TEXT PRIMARY KEY"),
        ("tekst", "TEXT NOT NULL"),
        ("gyldig_fra", "DATE NOT NULL"),
        ("gyldig_til", "DATE"),
    )),
    ("skole", (
        ("institutionsnummer", "TEXT PRIMARY KEY"),
        ("navn", "TEXT NOT NULL"),
        ("kommunekode", "TEXT NOT NULL"),
    )),
    ("virksomhed", (
        ("virksomhed_id", "BIGINT PRIMARY KEY"),
        ("cvr", "TEXT NOT NULL"),
        ("p_nummer", "TEXT"),
        ("navn", "TEXT NOT NULL"),
        ("sektor", "TEXT NOT NULL"),
        ("kommunekode", "TEXT NOT NULL"),
    )),
    ("elev", (
        ("elev_id", "BIGINT PRIMARY KEY"),
        ("cpr", "TEXT NOT NULL"),
        ("fornavn", "TEXT NOT NULL"),
        ("efternavn", "TEXT NOT NULL"),
        ("adresse", "TEXT"),
        ("mobil", "TEXT"),
    )),
    ("uddannelsesaftale", (
        ("aftale_id", "BIGINT PRIMARY KEY"),
        ("elev_id", "BIGINT NOT NULL"),
        ("virksomhed_id", "BIGINT NOT NULL"),
        ("institutionsnummer", "TEXT NOT NULL"),
        ("uddannelse_kode", "TEXT NOT NULL"),
        ("startdato", "DATE NOT NULL"),
        ("slutdato", "DATE NOT NULL"),
        ("ophoert_dato", "DATE"),
        ("ophoert_aarsag", "TEXT"),
        ("oprettet", "TIMESTAMPTZ NOT NULL"),
        ("aendret", "TIMESTAMPTZ NOT NULL"),
    )),
    ("frafaldsvurdering", (
        ("vurdering_id", "BIGINT PRIMARY KEY"),
        ("aftale_id", "BIGINT NOT NULL"),
        ("risiko", "TEXT NOT NULL"),
        ("registreret", "TIMESTAMPTZ NOT NULL"),
        ("medarbejder", "TEXT NOT NULL"),
    )),
    ("afslag", (
        ("afslag_id", "BIGINT PRIMARY KEY"),
        ("virksomhed_id", "BIGINT NOT NULL"),
        ("uddannelse_kode", "TEXT NOT NULL"),
        ("ansoeger", "TEXT NOT NULL"),
        ("primaer_begrundelse", "TEXT NOT NULL"),
        ("sekundaer_begrundelse", "TEXT"),
        ("registreret", "TIMESTAMPTZ NOT NULL"),
        ("registreret_af", "TEXT NOT NULL"),
    )),
)

#: Deliberately broken rows per table, so that every quarantine rule of the pipeline fires.
#: Each dirty row carries exactly one defect. ``generate`` puts about 0.3 % of a table's rows
#: (at least one) into each kind.
DIRTY_KINDS: dict[str, tuple[str, ...]] = {
    "virksomhed": ("unknown_kommunekode", "unknown_sektor", "empty_p_nummer"),
    "elev": ("unreadable_cpr", "empty_adresse", "empty_mobil"),
    "uddannelsesaftale": ("dangling_institutionsnummer", "unknown_uddannelse_kode"),
    "frafaldsvurdering": (
        "dangling_aftale_id", "unknown_risiko", "before_legal_start", "empty_medarbejder",
    ),
    "afslag": (
        "unknown_begrundelse", "secondary_equals_primary", "dangling_virksomhed_id",
        "unknown_uddannelse_kode", "empty_ansoeger", "empty_registreret_af",
        "empty_sekundaer_begrundelse", "before_legal_start",
        "begrundelse_not_valid_then",   # keep last: drawn from the rows where it can apply
    ),
}
_DIRTY_SHARE = 0.003

_UDDANNELSER = (("SSH", "Social- og sundhedshjælper"), ("SSA", "Social- og sundhedsassistent"))
_EDU_CODES = ("SSH", "SSA", "PAU", "SSX")          # index ≥ 2: unknown codes (dirty)
_SSH, _SSA = 0, 1

REASONS = (
    ("R01", "Faglige forudsætninger", "2021-04-15", None),
    ("R02", "Danskkundskaber", "2021-04-15", None),
    ("R03", "Personlige kompetencer", "2021-04-15", None),
    ("R04", "Ansøger udeblev fra samtale", "2021-04-15", None),
    ("R05", "Ansøger trak ansøgningen eller takkede nej", "2021-04-15", None),
    ("R06", "Andre ansøgere var bedre kvalificerede", "2021-04-15", None),
    ("R07", "Ingen ledige lærepladser", "2021-04-15", "2023-12-31"),
    ("R08", "Manglende børne- eller straffeattest", "2022-01-01", None),
    ("R99", "Andet", "2021-04-15", None),
)
_REASON_CODES = tuple(r[0] for r in REASONS) + ("R10", "R00", "R9")   # index ≥ 9: unknown
_R07, _R08 = 6, 7
_PRIMARY_WEIGHTS = np.array([0.12, 0.08, 0.14, 0.10, 0.13, 0.22, 0.10, 0.04, 0.07])
_SECONDARY_WEIGHTS = np.array([0.16, 0.12, 0.18, 0.06, 0.08, 0.14, 0.08, 0.06, 0.12])

_SECTORS = ("KOMMUNE", "REGION", "PRIVAT", "STAT", "ANDET")   # 'ANDET' only in dirty rows
_SECTOR_P = np.array([0.65, 0.25, 0.07, 0.03])
_WORKPLACE_NAMES = (
    ("Plejecenter {street}", "Hjemmeplejen {kommune} {direction}",
     "{kommune} Kommune, Sundhed og Omsorg", "Rehabiliteringscenter {kommune}",
     "Plejehjemmet {street}", "Sundhedscenter {kommune}", "Bostedet {street}"),
    ("{region}, Hospitalsenheden {kommune}", "Regionshospitalet {kommune}",
     "Psykiatrisk Center {kommune}", "{kommune} Sygehus, Medicinsk afdeling",
     "{kommune} Sygehus, Ortopædkirurgisk afdeling"),
    ("{surname} Omsorg ApS", "Privathospitalet {kommune}", "Plejehjemmet {street} (selvejende)",
     "{surname} & {surname2} Pleje A/S", "Friplejehjemmet {kommune}"),
    ("Kriminalforsorgen, {kommune}", "Forsvarets Sundhedstjeneste, {kommune}",
     "Statsfængslet {kommune}"),
)
# How strongly each sector (columns, as _SECTORS) hires SSH (row 0) and SSA (row 1) trainees: SSH
# work is mostly in the municipalities' elder care, SSA trainees also in the regions' hospitals.
_SECTOR_AFFINITY = np.array([
    [1.0, 0.15, 1.0, 0.5, 1.0],
    [1.0, 1.6, 0.6, 1.0, 1.0],
])

_RISKS = ("LAV", "MIDDEL", "HOEJ", "IKKE_ANGIVET", "UKENDT", "HØJ", "MEDIUM")  # ≥ 4: dirty
_LATENT_P = np.array([0.60, 0.25, 0.15])
# What an employer records (columns LAV, MIDDEL, HOEJ) given the student's latent risk (rows).
_OBSERVED_P = np.array([
    [0.85, 0.12, 0.03],
    [0.25, 0.55, 0.20],
    [0.08, 0.27, 0.65],
])
# Lifetime dropout by latent risk. Through the noise of what employers record, the latest
# assessment then gives Lav ~10 %, Middel ~25 %, Høj ~45 % dropout, ~20 % overall.
_DROPOUT_P = np.array([0.09, 0.28, 0.56])
_TRANSFER_P = 0.0625                   # of those not dropping out: ~5 % of all agreements
_END_CAUSES = ("GENNEMFOERT", "AFBRUDT", "OVERFOERT")

_GARBAGE_CPR = (
    "000000-0000", "0000000000", "1234", "ukendt", "31029012345", "3102901234",
    "1313901234", "xxxxxx-xxxx",
)
_DANGLING_SCHOOLS = ("999999", "75142", "000000")

# Fictive SOSU schools (real-sounding names, made-up institution numbers) by municipality.
_SCHOOLS = (
    ("101417", "SOSU H, København", "0101"),
    ("219411", "SOSU H, Hillerød", "0219"),
    ("265418", "SOSU Sjælland, Roskilde", "0265"),
    ("330412", "ZBC Social- og Sundhedsuddannelser, Slagelse", "0330"),
    ("376415", "SOSU Nykøbing Falster", "0376"),
    ("400413", "Campus Bornholm, SOSU", "0400"),
    ("461419", "SOSU Fyn, Odense", "0461"),
    ("510416", "SOSU Syd, Haderslev", "0510"),
    ("561414", "SOSU Esbjerg", "0561"),
    ("630412", "SOSU Fredericia-Vejle-Horsens", "0630"),
    ("657418", "Social- og Sundhedsskolen Herning", "0657"),
    ("730417", "SOSU Østjylland, Randers", "0730"),
    ("751420", "SOSU Østjylland, Aarhus", "0751"),
    ("791415", "Social- og Sundhedsskolen Skive-Thisted-Viborg", "0791"),
    ("851413", "SOSU Nord, Aalborg", "0851"),
    ("860411", "SOSU Nord, Hjørring", "0860"),
)

# The small scale concentrates on ten municipalities in all five regions, so that a few
# thousand rows still fill published cells with 4 or more individuals.
_SMALL_KOMMUNER = ("0101", "0147", "0265", "0370", "0461", "0561", "0630", "0730", "0751", "0851")

# Approximate population in thousands (2024), only used as weights.
_POPULATION = {
    "0101": 660, "0147": 104, "0151": 49, "0153": 36, "0155": 15, "0157": 75, "0159": 70,
    "0161": 24, "0163": 30, "0165": 28, "0167": 54, "0169": 52, "0173": 57, "0175": 41,
    "0183": 24, "0185": 44, "0187": 17, "0190": 42, "0201": 26, "0210": 41, "0217": 63,
    "0219": 53, "0223": 25, "0230": 57, "0240": 44, "0250": 46, "0253": 51, "0259": 62,
    "0260": 31, "0265": 90, "0269": 23, "0270": 42, "0306": 33, "0316": 72, "0320": 38,
    "0326": 49, "0329": 35, "0330": 80, "0336": 23, "0340": 30, "0350": 29, "0360": 40,
    "0370": 84, "0376": 60, "0390": 46, "0400": 39, "0410": 39, "0420": 41, "0430": 52,
    "0440": 24, "0450": 32, "0461": 207, "0479": 59, "0480": 30, "0482": 12, "0492": 6,
    "0510": 56, "0530": 27, "0540": 74, "0550": 37, "0561": 116, "0563": 3.5, "0573": 50,
    "0575": 43, "0580": 59, "0607": 52, "0615": 98, "0621": 95, "0630": 121, "0657": 90,
    "0661": 59, "0665": 19, "0671": 21, "0706": 43, "0707": 37, "0710": 49, "0727": 23,
    "0730": 99, "0740": 98, "0741": 3.7, "0746": 64, "0751": 365, "0756": 42, "0760": 56,
    "0766": 47, "0773": 20, "0779": 46, "0787": 43, "0791": 97, "0810": 36, "0813": 58,
    "0820": 36, "0825": 1.8, "0840": 30, "0846": 42, "0849": 38, "0851": 222, "0860": 64,
}

_KOMMUNER_CSV = Path(__file__).resolve().parents[1] / "reference" / "kommuner.csv"

_EDU_NP = np.array(_EDU_CODES)
_REASONS_NP = np.array(_REASON_CODES)
_RISKS_NP = np.array(_RISKS)
_CAUSES_NP = np.array(_END_CAUSES)
_SCHOOL_CODES_NP = np.array([s[0] for s in _SCHOOLS] + list(_DANGLING_SCHOOLS))

_CHUNK_ROWS = 50_000
_DAY = np.timedelta64(1, "D")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

Progress = Callable[[str, int, int], None]


# --- public API -------------------------------------------------------------------------------


def store_schema_sql(
    dialect: Literal["sqlite", "postgresql"], schema: str = "laerepladsen"
) -> str:
    """The contract's DDL for either store, from the one table spec both are built from.

    PostgreSQL gets the tables in ``schema`` (created if missing); SQLite gets them in the main
    database without a qualifier, as the contract prescribes for the embedded store.
    """
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"dialect must be 'sqlite' or 'postgresql', not {dialect!r}")
    if dialect == "postgresql" and not _IDENT.match(schema):
        raise ValueError(
            f"schema name {schema!r} is not a plain lower-case identifier "
            "(letters, digits and '_', not starting with a digit)"
        )
    prefix = f'"{schema}".' if dialect == "postgresql" else ""
    parts = [f'CREATE SCHEMA IF NOT EXISTS "{schema}";'] if dialect == "postgresql" else []
    for table, columns in STORE_TABLES:
        width = max(len(c) for c, _ in columns)
        cols = ",\n".join(f"    {c.ljust(width)}  {t}" for c, t in columns)
        parts.append(f"CREATE TABLE {prefix}{table} (\n{cols}\n);")
    return "\n\n".join(parts) + "\n"


def generate(
    path: Path,
    scale: str | int = "national",
    seed: int = 1,
    end: date = DEFAULT_END,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a synthetic operational store to ``path`` and return its row count per table.

    The file is built beside ``path`` and renamed over it at the end, so a reader never sees
    a half-written store and an interrupted run leaves the old one in place.
    """
    factor, kommuner = _resolve_scale(scale)
    if not isinstance(end, date):
        raise TypeError(f"end must be a datetime.date, not {type(end).__name__}")
    if end < AGREEMENTS_FROM + timedelta(days=31):
        raise ValueError(f"end must be after {AGREEMENTS_FROM + timedelta(days=31)}, not {end}")
    tables = _Builder(factor, kommuner, int(seed), end).build()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        counts = _write_sqlite(tmp, tables, progress)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


# --- scale ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kommune:
    code: str
    name: str
    region_code: str
    region: str
    weight: float


def _resolve_scale(scale: str | int) -> tuple[float, list[_Kommune]]:
    if isinstance(scale, str) and scale.strip().isdigit():
        scale = int(scale.strip())
    if isinstance(scale, bool) or not isinstance(scale, (str, int)):
        raise ValueError(f"scale must be one of {sorted(SCALES)} or a positive integer")
    if isinstance(scale, int):
        if scale < 1:
            raise ValueError(f"scale must be a positive integer, not {scale}")
        factor = float(scale)
    elif scale in SCALES:
        factor = SCALES[scale]
    else:
        raise ValueError(f"unknown scale {scale!r}: use one of {sorted(SCALES)} or an integer N")
    kommuner = _read_kommuner()
    if scale == "small":
        kommuner = [k for k in kommuner if k.code in _SMALL_KOMMUNER]
    return factor, kommuner


def _read_kommuner() -> list[_Kommune]:
    with _KOMMUNER_CSV.open(encoding="utf-8", newline="") as f:
        return [
            _Kommune(r["kommunekode"], r["kommune"], r["regionskode"], r["region"],
                     float(_POPULATION.get(r["kommunekode"], 20)))
            for r in csv.DictReader(f)
        ]


# --- time -------------------------------------------------------------------------------------


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month, 31)
    return d - timedelta(days=(d.weekday() - 6) % 7)


_CAL_FIRST = np.datetime64("1900-01-01", "D")
_CAL_LAST = np.datetime64("2100-12-31", "D")


@functools.cache
def _calendar() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables that make rendering dates and times an indexing operation.

    ``np.datetime_as_string`` costs about a microsecond a value; millions of timestamps are
    rendered far faster by gluing a date from one table to a time of day from another.
    """
    days = np.arange(_CAL_FIRST, _CAL_LAST + 1)
    date_text = np.datetime_as_string(days, unit="D")
    pairs = np.array([f"{i:02d}" for i in range(100)])
    secs = np.arange(86_400)
    time_text = _cat("T", pairs[secs // 3600], ":", pairs[secs // 60 % 60], ":", pairs[secs % 60])
    years = range(1900, 2101)
    summer_from = np.array([np.datetime64(_last_sunday(y, 3), "s") + np.timedelta64(2, "h")
                            for y in years])
    summer_to = np.array([np.datetime64(_last_sunday(y, 10), "s") + np.timedelta64(2, "h")
                          for y in years])
    return date_text, time_text, summer_from, summer_to


def _cat(*parts: np.ndarray | str) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.strings.add(out, p)
    return np.asarray(out)


def _is_summer_time(local: np.ndarray) -> np.ndarray:
    """Whether Copenhagen wall-clock seconds fall in summer time (UTC+2).

    Generated times never fall between 02:00 and 02:59, so the hour that is missing in March
    and doubled in October never has to be resolved.
    """
    _, _, summer_from, summer_to = _calendar()
    year = local.astype("datetime64[Y]").astype(np.int64) + 1970 - 1900
    return (local >= summer_from[year]) & (local < summer_to[year])


def _timestamps(local: np.ndarray) -> list[str]:
    """ISO 8601 text with the Copenhagen offset of the moment, e.g. '2024-03-31T23:30:00+02:00'."""
    date_text, time_text, _, _ = _calendar()
    secs = local.astype(np.int64)
    day = secs // 86_400 - _CAL_FIRST.astype(np.int64)
    offset = np.where(_is_summer_time(local), "+02:00", "+01:00")
    return _cat(date_text[day], time_text[secs % 86_400], offset).tolist()


def _dates(days: np.ndarray) -> list[str | None]:
    date_text = _calendar()[0]
    nat = np.isnat(days)
    idx = np.where(nat, 0, days.astype(np.int64) - _CAL_FIRST.astype(np.int64))
    out = date_text[idx].tolist()
    if nat.any():
        out = [None if n else s for s, n in zip(out, nat.tolist())]
    return out


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: office hours mostly, some evenings and a few past midnight.

    The late ones matter: a refusal saved at 00:30 local time on the 1st belongs to the new
    month in Copenhagen but to the old one in UTC.
    """
    kind = rng.choice(3, n, p=[0.90, 0.08, 0.02])
    office = rng.normal(11.5 * 3600, 2.4 * 3600, n)
    outside = (office < 6 * 3600) | (office >= 18 * 3600)
    office = np.where(outside, rng.uniform(8 * 3600, 16 * 3600, n), office)
    evening = rng.uniform(18 * 3600, 24 * 3600 - 1, n)
    night = rng.uniform(0, 2 * 3600 - 1, n)
    return np.select([kind == 0, kind == 1], [office, evening], night).astype(np.int64)


def _at(days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def _add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    month = days.astype("datetime64[M]")
    return (month + months.astype("timedelta64[M]")).astype("datetime64[D]") + (
        days - month.astype("datetime64[D]")
    )


# --- small helpers ----------------------------------------------------------------------------


def _draw(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category per row from a matrix of per-row probabilities."""
    u = rng.random(p.shape[0])
    return np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1)


def _split_dirty(rng: np.random.Generator, n: int, kinds: Sequence[str],
                 eligible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Disjoint row indices per dirty kind: ~0.3 % of the rows each, at least one."""
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    per_kind = max(1, int(round(n * _DIRTY_SHARE)))
    if len(pool) == 0:
        return {k: np.empty(0, np.int64) for k in kinds}
    take = rng.choice(pool, size=min(len(pool), per_kind * len(kinds)), replace=False)
    return {k: np.sort(take[i * per_kind:(i + 1) * per_kind]) for i, k in enumerate(kinds)}


def _valid_cvr(rng: np.random.Generator, n: int) -> np.ndarray:
    """8-digit CVR numbers that pass the register's modulus-11 check, as integers."""
    weights = np.array([2, 7, 6, 5, 4, 3, 2])
    out = np.zeros(n, np.int64)
    todo = np.arange(n)
    while len(todo):
        digits = rng.integers(0, 10, (len(todo), 7))
        digits[:, 0] = rng.integers(1, 10, len(todo))
        check = (-(digits * weights).sum(axis=1)) % 11
        ok = check < 10
        num = (digits * 10 ** np.arange(7, 0, -1)).sum(axis=1) + check
        out[todo[ok]] = num[ok]
        todo = todo[~ok]
    return out


def _cpr_numbers(rng: np.random.Generator, birth: np.ndarray, male: np.ndarray,
                 fail_mod11: np.ndarray) -> np.ndarray:
    """'DDMMYYSSSS' consistent with birth date and sex, unique where the calendar allows.

    The 7th digit encodes the century the way the CPR register does (0-3 for 1900-1999,
    4-9 for 2000-2036), the last digit's parity the sex. Most numbers pass modulus 11; the
    ``fail_mod11`` ones are like the fictive numbers issued since 2007, which do not.
    """
    n = len(birth)
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    m = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (birth - birth.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    head = np.stack([d // 10, d % 10, m // 10, m % 10, (y % 100) // 10, y % 10], axis=1)
    head_sum = (head * np.array([4, 3, 2, 7, 6, 5])).sum(axis=1)
    born_2000s = y >= 2000
    serial = np.zeros(n, np.int64)

    def draw(rows: np.ndarray) -> None:
        k = len(rows)
        c7 = np.where(born_2000s[rows], rng.integers(4, 10, k), rng.integers(0, 4, k))
        c8, c9 = rng.integers(0, 10, k), rng.integers(0, 10, k)
        partial = head_sum[rows] + 4 * c7 + 3 * c8 + 2 * c9
        want = male[rows].astype(np.int64)
        check = (-partial) % 11
        last = rng.integers(0, 5, k) * 2 + want
        fail = fail_mod11[rows]
        last = np.where((last + partial) % 11 == 0, (last + 2) % 10, last)
        valid_ok = (check < 10) & (check % 2 == want)
        last = np.where(fail, last, check)
        done = fail | valid_ok
        serial[rows[done]] = (c7 * 1000 + c8 * 100 + c9 * 10 + last)[done]
        serial[rows[~done]] = -1

    todo = np.arange(n)
    birthday = ((d * 100 + m) * 100 + y % 100) * 10_000
    for round_ in range(60):
        draw(todo)
        # Redraw unfinished rows and every repeat of a number already taken.
        _, first = np.unique(birthday + serial, return_index=True)
        dup = np.ones(n, bool)
        dup[first] = False
        before, todo = len(todo), np.flatnonzero(dup | (serial < 0))
        if len(todo) == 0 or (round_ >= 10 and len(todo) > 0.8 * before):
            # At stress scales popular birthdays run out of numbers: accept a few repeats.
            break
    unfinished = np.flatnonzero(serial < 0)
    if len(unfinished):
        fail_mod11 = fail_mod11.copy()
        fail_mod11[unfinished] = True      # such a number can always be drawn
        draw(unfinished)
    pairs = np.array([f"{i:02d}" for i in range(100)])
    return _cat(pairs[d], pairs[m], pairs[y % 100], pairs[serial // 100], pairs[serial % 100])


@functools.lru_cache(maxsize=4)
def _faker_pools(seed: int) -> tuple[tuple[str, ...], ...]:
    """Danish first names, surnames, streets and towns from Faker seeded with ``seed``.

    Repeats are kept in the name pools, so drawing uniformly from a pool follows Faker's own
    frequencies. Faker is slow per call, hence small pools, cached for repeated generations.
    """
    from faker import Faker

    fake = Faker("da_DK")
    fake.seed_instance(seed)
    female = tuple(fake.first_name_female() for _ in range(2000))
    male = tuple(fake.first_name_male() for _ in range(1000))
    last = tuple(fake.last_name() for _ in range(2000))
    streets = tuple(sorted({fake.street_name() for _ in range(2000)}))
    towns = tuple(sorted({f"{fake.postcode()} {fake.city()}" for _ in range(1000)}))
    return female, male, last, streets, towns


# --- the builder ------------------------------------------------------------------------------


@dataclass
class _Table:
    name: str
    n: int
    render: Callable[[int, int], list[tuple]]


class _Builder:
    """Draws every table as numpy arrays; strings are rendered later, a chunk at a time."""

    def __init__(self, factor: float, kommuner: list[_Kommune], seed: int, end: date):
        self.factor = factor
        self.kommuner = kommuner
        self.seed = seed
        self.end = np.datetime64(end, "D")
        self.end_limit = (self.end + _DAY).astype("datetime64[s]")   # first instant after
        # One stream per concern, so that tuning one table leaves the others' rows unchanged.
        (self.rng_virk, self.rng_agree, self.rng_elev, self.rng_assess, self.rng_refusal,
         self.rng_dirty) = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6))

    # pools ------------------------------------------------------------------------------

    def _pools(self) -> None:
        female, male, self.last_names, self.streets, self.towns = _faker_pools(self.seed)
        self.first_names = list(female + male)
        self.n_female_names = len(female)
        self.first_np = np.array(self.first_names)
        # Pools in the letter cases employers type in, so that no row needs str.lower().
        self.cased = {
            case: {key: np.array([convert(x) for x in pool]) for key, pool in (
                ("first", self.first_names), ("last", self.last_names),
                ("street", self.streets), ("town", self.towns))}
            for case, convert in (("title", str), ("lower", str.lower), ("upper", str.upper))
        }
        self.numbers_np = np.array([str(i) for i in range(1000)])
        self.pairs_np = np.array([f"{i:02d}" for i in range(100)])

    def _people(self, rng: np.random.Generator, n: int, male: np.ndarray) -> dict[str, np.ndarray]:
        nf, nm = self.n_female_names, len(self.first_names) - self.n_female_names
        first = np.where(male, nf + rng.integers(0, nm, n), rng.integers(0, nf, n))
        middle = np.where(male, nf + rng.integers(0, nm, n), rng.integers(0, nf, n))
        middle = np.where(rng.random(n) < 0.15, middle, -1)
        last = rng.integers(0, len(self.last_names), n)
        last2 = np.where(rng.random(n) < 0.07, rng.integers(0, len(self.last_names), n), -1)
        street = rng.integers(0, len(self.streets), n)
        number = np.minimum(rng.geometric(0.04, n), 250)
        town = rng.integers(0, len(self.towns), n)
        mobile = rng.choice(np.array([2, 3, 4, 5, 6, 7, 8, 9]), n,
                            p=[0.3, 0.15, 0.12, 0.12, 0.1, 0.07, 0.07, 0.07])
        mobile = mobile * 10_000_000 + rng.integers(0, 10_000_000, n)
        return {"first": first, "middle": middle, "last": last, "last2": last2,
                "street": street, "number": number, "town": town, "mobile": mobile}

    def _names(self, people: dict[str, np.ndarray], idx: np.ndarray,
               case: str = "title") -> tuple[np.ndarray, np.ndarray]:
        """First names (with a middle name now and then) and surnames of the given people."""
        fn, ln = self.cased[case]["first"], self.cased[case]["last"]
        first, middle = fn[people["first"][idx]], people["middle"][idx]
        second = fn[np.maximum(middle, 0)]
        first = np.where((middle >= 0) & (second != first), _cat(first, " ", second), first)
        last, before = ln[people["last"][idx]], people["last2"][idx]
        other = ln[np.maximum(before, 0)]
        last = np.where((before >= 0) & (other != last), _cat(other, " ", last), last)
        return first, last

    def _addresses(self, people: dict[str, np.ndarray], idx: np.ndarray,
                   case: str = "title", comma: bool = True) -> np.ndarray:
        pools = self.cased[case]
        return _cat(pools["street"][people["street"][idx]], " ",
                    self.numbers_np[people["number"][idx]], ", " if comma else " ",
                    pools["town"][people["town"][idx]])

    def _mobiles(self, numbers: np.ndarray) -> tuple[np.ndarray, ...]:
        """Eight digits as four pairs, to be glued into the formats people type."""
        p = self.pairs_np
        return (p[numbers // 1_000_000], p[numbers // 10_000 % 100], p[numbers // 100 % 100],
                p[numbers % 100])

    # tables -----------------------------------------------------------------------------

    def build(self) -> list[_Table]:
        self._pools()
        self._virksomheder()
        self._aftaler()
        self._elever()
        self._vurderinger()
        self._afslag()
        return [
            self._static("uddannelse", list(_UDDANNELSER)),
            self._static("afslagsbegrundelse", list(REASONS)),
            self._static("skole", list(_SCHOOLS)),
            _Table("virksomhed", self.n_virk, self._render_virksomhed),
            _Table("elev", self.n_elev, self._render_elev),
            _Table("uddannelsesaftale", self.n_aftale, self._render_aftale),
            _Table("frafaldsvurdering", self.n_vurd, self._render_vurdering),
            _Table("afslag", self.n_afslag, self._render_afslag),
        ]

    @staticmethod
    def _static(name: str, rows: list[tuple]) -> _Table:
        return _Table(name, len(rows), lambda lo, hi: rows[lo:hi])

    # virksomhed --------------------------------------------------------------------------

    def _virksomheder(self) -> None:
        rng = self.rng_virk
        ks = self.kommuner
        n = max(30, int(round(_WORKPLACES * self.factor)))
        w = np.array([k.weight for k in ks])
        kom = rng.choice(len(ks), n, p=w / w.sum())
        sector = rng.choice(4, n, p=_SECTOR_P)
        size = rng.lognormal(0.0, 0.9, n) * np.where(sector == 1, 2.5, 1.0)

        regions = sorted({k.region_code for k in ks})
        region_of = np.array([regions.index(k.region_code) for k in ks])
        kom_cvr = _valid_cvr(rng, len(ks))
        region_cvr = _valid_cvr(rng, len(regions))
        own_cvr = _valid_cvr(rng, n)
        cvr = np.select([sector == 0, sector == 1], [kom_cvr[kom], region_cvr[region_of[kom]]],
                        own_cvr)
        p_nummer = 1_000_000_000 + rng.choice(9_000_000_000, n, replace=False)
        p_missing = rng.random(n) < 0.02

        self.virk_template = rng.integers(0, 100, n)
        self.virk_street = rng.integers(0, len(self.streets), n)
        self.virk_last = rng.integers(0, len(self.last_names), (n, 2))
        self.virk_dir = rng.integers(0, 5, n)

        dirty = _split_dirty(self.rng_dirty, n, DIRTY_KINDS["virksomhed"])
        kom_code = kom.copy()
        kom_code[dirty["unknown_kommunekode"]] = -1
        sector_code = sector.copy()
        sector_code[dirty["unknown_sektor"]] = 4
        p_state = np.where(p_missing, 1, 0)        # 0 value, 1 NULL, 2 ''
        p_state[dirty["empty_p_nummer"]] = 2

        # Registering employees: a few per workplace.
        n_emp = 1 + rng.poisson(2.0, n)
        emp_offset = np.concatenate([[0], np.cumsum(n_emp)[:-1]])
        emp_male = rng.random(int(n_emp.sum())) < 0.12
        self.employees = self._people(rng, len(emp_male), emp_male)

        self.n_virk = n
        self.virk_ids = np.arange(1, n + 1)
        self.virk_kom, self.virk_kom_code = kom, kom_code
        self.virk_sector, self.virk_sector_code = sector, sector_code
        self.virk_size = size
        self.virk_cvr, self.virk_p, self.virk_p_state = cvr, p_nummer, p_state
        self.n_emp, self.emp_offset = n_emp, emp_offset

        # Nearest school of each municipality within its region (codes are roughly geographic).
        schools_by_region: dict[str, list[int]] = {}
        code_to_kommune = {k.code: k for k in _read_kommuner()}
        for i, (_, _, kcode) in enumerate(_SCHOOLS):
            schools_by_region.setdefault(code_to_kommune[kcode].region_code, []).append(i)
        self.school_of_kom = np.array([
            min(schools_by_region[k.region_code],
                key=lambda i: abs(int(_SCHOOLS[i][2]) - int(k.code)))
            for k in ks
        ])

    def _employee(self, rng: np.random.Generator, virk: np.ndarray) -> np.ndarray:
        """A registering employee of each row's workplace (any employee if it is unknown)."""
        inside = (virk >= 0) & (virk < self.n_virk)
        v = np.where(inside, virk, 0)
        pick = self.emp_offset[v] + (rng.random(len(virk)) * self.n_emp[v]).astype(np.int64)
        anyone = rng.integers(0, len(self.employees["first"]), len(virk))
        return np.where(inside, pick, anyone)

    def _employee_names(self, employees: np.ndarray) -> np.ndarray:
        first, last = self._names(self.employees, employees)
        return _cat(first, " ", last)

    def _workplaces_for(self, rng: np.random.Generator, edu: np.ndarray,
                        bias: float = 1.0) -> np.ndarray:
        out = np.empty(len(edu), np.int64)
        for e in (_SSH, _SSA):
            rows = np.flatnonzero(edu == e)
            w = self.virk_size ** bias * _SECTOR_AFFINITY[e][self.virk_sector_code]
            out[rows] = rng.choice(self.n_virk, len(rows), p=w / w.sum())
        return out

    def _render_virksomhed(self, lo: int, hi: int) -> list[tuple]:
        ks = self.kommuner
        rows = []
        for i in range(lo, hi):
            k = ks[self.virk_kom[i]]
            templates = _WORKPLACE_NAMES[self.virk_sector[i]]
            name = templates[self.virk_template[i] % len(templates)].format(
                kommune=k.name, region=k.region, street=self.streets[self.virk_street[i]],
                direction=("Nord", "Syd", "Øst", "Vest", "Midt")[self.virk_dir[i]],
                surname=self.last_names[self.virk_last[i, 0]],
                surname2=self.last_names[self.virk_last[i, 1]])
            kc, ps = self.virk_kom_code[i], self.virk_p_state[i]
            rows.append((
                int(self.virk_ids[i]),
                f"{self.virk_cvr[i]:08d}",
                f"{self.virk_p[i]:010d}" if ps == 0 else (None if ps == 1 else ""),
                name,
                _SECTORS[self.virk_sector_code[i]],
                ks[kc].code if kc >= 0 else "0000",
            ))
        return rows

    # uddannelsesaftale --------------------------------------------------------------------

    def _outcomes(self, rng: np.random.Generator, start: np.ndarray, slut: np.ndarray,
                  latent: np.ndarray) -> dict[str, np.ndarray]:
        """How and when each agreement ends, and whether the portal knows it by ``end``."""
        n = len(start)
        planned = (slut - start).astype(np.int64) + 1
        afbrudt = rng.random(n) < _DROPOUT_P[latent]
        overfoert = ~afbrudt & (rng.random(n) < _TRANSFER_P)
        cause = np.where(afbrudt, 1, np.where(overfoert, 2, 0))
        frac = np.where(afbrudt, rng.beta(1.2, 2.8, n), rng.uniform(0.1, 0.9, n))
        early = start + np.maximum(1, (frac * planned).astype(np.int64)) * _DAY
        extended = rng.random(n) < 0.12
        completed = slut + np.where(extended, rng.integers(14, 121, n), 0) * _DAY
        actual = np.where(cause == 0, completed, early)
        registered_at = _at(actual + rng.integers(0, 31, n) * _DAY, _time_of_day(rng, n))
        return {"actual": actual, "cause": cause, "registered_at": registered_at,
                "known": registered_at < self.end_limit}

    def _registered_at(self, rng: np.random.Generator, start: np.ndarray) -> np.ndarray:
        n = len(start)
        late = rng.random(n) < 0.15
        offset = np.where(late, rng.integers(1, 46, n), -rng.integers(3, 61, n))
        return _at(start + offset * _DAY, _time_of_day(rng, n))

    def _aftaler(self) -> None:
        rng = self.rng_agree
        # Monthly intakes, heaviest in January and August, from 2019 until two months past end.
        season = np.array([1.9, 1.3, 0.6, 0.5, 0.4, 0.3, 0.3, 2.4, 1.6, 0.8, 0.6, 0.3])
        season = season / season.mean()
        months = np.arange(np.datetime64(AGREEMENTS_FROM, "M"),
                           self.end.astype("datetime64[M]") + 3)
        base_rate = _AGREEMENTS_PER_YEAR * 0.86 / 12 * self.factor
        counts = rng.poisson(base_rate * season[months.astype(np.int64) % 12])
        month = np.repeat(months, counts)
        n = len(month)
        first_day = month.astype("datetime64[D]")
        month_len = ((month + 1).astype("datetime64[D]") - first_day).astype(np.int64)
        day = np.where(rng.random(n) < 0.5, 0, (rng.random(n) * month_len).astype(np.int64))
        start = first_day + day * _DAY

        edu = np.where(rng.random(n) < 0.535, _SSA, _SSH)
        slut = self._planned_end(rng, start, edu, np.zeros(n, bool))
        latent = rng.choice(3, n, p=_LATENT_P)
        oprettet = self._registered_at(rng, start)
        keep = oprettet < self.end_limit
        start, slut, edu, latent, oprettet = (a[keep] for a in (start, slut, edu, latent, oprettet))
        out = self._outcomes(rng, start, slut, latent)
        virk = self._workplaces_for(rng, edu)
        n = len(start)
        base = {"start": start, "slut": slut, "edu": edu, "latent": latent, "oprettet": oprettet,
                "virk": virk, "student": np.arange(n), **out}

        # Transferred students continue at another workplace within days.
        t = np.flatnonzero((out["cause"] == 2) & out["known"])
        t_start = out["actual"][t] + rng.integers(1, 22, len(t)) * _DAY
        t_slut = np.maximum(slut[t] + rng.integers(0, 61, len(t)) * _DAY, t_start + 60 * _DAY)
        transfer = {"start": t_start, "slut": t_slut, "edu": edu[t], "latent": latent[t],
                    "student": t}
        # About a third of those completing SSH go on to SSA (with merit: about two years).
        c = np.flatnonzero((edu == _SSH) & (out["cause"] == 0) & out["known"]
                           & (rng.random(n) < 0.32))
        c_start = out["actual"][c] + rng.integers(20, 200, len(c)) * _DAY
        c_edu = np.full(len(c), _SSA)
        c_slut = self._planned_end(rng, c_start, c_edu, np.ones(len(c), bool))
        cont = {"start": c_start, "slut": c_slut, "edu": c_edu,
                "latent": rng.choice(3, len(c), p=[0.7, 0.2, 0.1]), "student": c}
        followups = []
        for f in (transfer, cont):
            f["oprettet"] = self._registered_at(rng, f["start"])
            keep = f["oprettet"] < self.end_limit
            f = {k: v[keep] for k, v in f.items()}
            f.update(self._outcomes(rng, f["start"], f["slut"], f["latent"]))
            f["virk"] = self._workplaces_for(rng, f["edu"])
            followups.append(f)
        allf = {k: np.concatenate([base[k]] + [f[k] for f in followups]) for k in base}

        order = np.lexsort((np.arange(len(allf["oprettet"])), allf["oprettet"]))
        a = {k: v[order] for k, v in allf.items()}
        n = len(order)

        school = self.school_of_kom[self.virk_kom[a["virk"]]]
        elsewhere = (rng.random(n) < 0.03) | (self.virk_kom_code[a["virk"]] < 0)
        school = np.where(elsewhere, rng.integers(0, len(_SCHOOLS), n), school)

        ended = a["known"]
        touched = ~ended & (rng.random(n) < 0.15)
        touch_at = _at(a["oprettet"].astype("datetime64[D]") + rng.integers(1, 200, n) * _DAY,
                       _time_of_day(rng, n))
        touched &= touch_at < self.end_limit
        aendret = np.where(ended, np.maximum(a["registered_at"], a["oprettet"]),
                           np.where(touched, touch_at, a["oprettet"]))

        dirty = _split_dirty(self.rng_dirty, n, DIRTY_KINDS["uddannelsesaftale"])
        school[dirty["dangling_institutionsnummer"]] = len(_SCHOOLS) + self.rng_dirty.integers(
            0, len(_DANGLING_SCHOOLS), len(dirty["dangling_institutionsnummer"]))
        edu_code = a["edu"].copy()
        edu_code[dirty["unknown_uddannelse_kode"]] = self.rng_dirty.integers(
            2, len(_EDU_CODES), len(dirty["unknown_uddannelse_kode"]))

        self.n_aftale = n
        self.aftale = a
        self.aftale_school, self.aftale_edu_code, self.aftale_aendret = school, edu_code, aendret

    def _planned_end(self, rng: np.random.Generator, start: np.ndarray, edu: np.ndarray,
                     merit: np.ndarray) -> np.ndarray:
        n = len(start)
        months = np.where(edu == _SSA, np.where(merit, 24, 33), 14)
        shortened = rng.random(n) < 0.15
        months = months - np.where(shortened, rng.integers(1, 7, n), 0)
        return _add_months(start, months) - _DAY

    def _render_aftale(self, lo: int, hi: int) -> list[tuple]:
        a = self.aftale
        sl = slice(lo, hi)
        known = a["known"][sl]
        ophoert = np.where(known, a["actual"][sl], np.datetime64("NaT", "D"))
        causes = _CAUSES_NP[a["cause"][sl]].astype(object)
        causes[~known] = None
        schools = _SCHOOL_CODES_NP[self.aftale_school[sl]]
        return list(zip(
            range(lo + 1, hi + 1),
            (self.elev_id_of_student[a["student"][sl]]).tolist(),
            self.virk_ids[a["virk"][sl]].tolist(),
            schools.tolist(),
            _EDU_NP[self.aftale_edu_code[sl]].tolist(),
            _dates(a["start"][sl]),
            _dates(a["slut"][sl]),
            _dates(ophoert),
            causes.tolist(),
            _timestamps(a["oprettet"][sl]),
            _timestamps(self.aftale_aendret[sl]),
        ))

    # elev ----------------------------------------------------------------------------------

    def _elever(self) -> None:
        rng = self.rng_elev
        a = self.aftale
        student = a["student"]
        n = int(student.max()) + 1 if len(student) else 0
        # Students are numbered in the order their first agreement was registered; all arrays
        # below are in that (output) order.
        first_row = np.full(n, len(student), np.int64)
        np.minimum.at(first_row, student, np.arange(len(student)))
        order = np.argsort(first_row, kind="stable")
        self.elev_id_of_student = np.empty(n, np.int64)
        self.elev_id_of_student[order] = np.arange(1, n + 1)

        male = rng.random(n) < 0.15
        age_years = np.minimum(16.6 + rng.gamma(1.6, 5.2, n), 62.0)
        start = a["start"][first_row[order]]
        birth = start - (age_years * 365.25).astype(np.int64) * _DAY
        fail = rng.random(n) < 0.10
        cpr = _cpr_numbers(rng, birth, male, fail).astype(object)
        people = self._people(rng, n, male)
        addr_state = np.where(rng.random(n) < 0.04, 1, 0)     # 0 value, 1 NULL, 2 ''
        mobil_state = np.where(rng.random(n) < 0.03, 1, 0)
        mobil_intl = rng.random(n) < 0.1

        dirty = _split_dirty(self.rng_dirty, n, DIRTY_KINDS["elev"])
        bad = dirty["unreadable_cpr"]
        cpr[bad] = np.array(_GARBAGE_CPR, dtype=object)[
            self.rng_dirty.integers(0, len(_GARBAGE_CPR), len(bad))]
        addr_state[dirty["empty_adresse"]] = 2
        mobil_state[dirty["empty_mobil"]] = 2

        self.n_elev = n
        self.elev = dict(people, cpr=cpr, addr_state=addr_state, mobil_state=mobil_state,
                         mobil_intl=mobil_intl)

    def _render_elev(self, lo: int, hi: int) -> list[tuple]:
        e = self.elev
        sl = slice(lo, hi)
        idx = np.arange(lo, hi)
        first, last = self._names(e, idx)
        m1, m2, m3, m4 = self._mobiles(e["mobile"][sl])
        digits = _cat(m1, m2, m3, m4)
        mobile = np.where(e["mobil_intl"][sl], _cat("+45 ", digits), digits)
        return list(zip(
            range(lo + 1, hi + 1),
            e["cpr"][sl].tolist(),
            first.tolist(),
            last.tolist(),
            _with_state(self._addresses(e, idx), e["addr_state"][sl]),
            _with_state(mobile, e["mobil_state"][sl]),
        ))

    # frafaldsvurdering ------------------------------------------------------------------------

    def _vurderinger(self) -> None:
        rng = self.rng_assess
        a = self.aftale
        n = self.n_aftale
        law = np.datetime64(ASSESSMENTS_FROM, "D")
        opened = a["oprettet"].astype("datetime64[D]") + _DAY
        lo = np.maximum(np.maximum(a["start"], opened), law)
        hi = np.minimum(a["actual"], self.end)
        at_launch = a["start"] < law
        t0 = np.where(at_launch, law + rng.integers(0, 181, n) * _DAY,
                      lo + rng.integers(7, 121, n) * _DAY)
        t0 = np.maximum(t0, lo)
        has = (rng.random(n) < 0.8) & (t0 <= hi)
        span = np.where(has, (hi - t0).astype(np.int64), 0)
        k = np.where(has, 1 + rng.poisson(_ASSESSMENT_RATE_PER_YEAR * span / 365.25), 0)

        ag = np.repeat(np.arange(n), k)
        m = len(ag)
        group_start = np.concatenate([[0], np.cumsum(k)[:-1]])[ag] if m else ag
        first = np.arange(m) == group_start
        offset = np.where(first, 0, 1 + (rng.random(m) * span[ag]).astype(np.int64))
        day = t0[ag] + np.minimum(offset, span[ag]) * _DAY
        order = np.lexsort((offset, ag))
        ag, day, first = ag[order], day[order], first[order]

        latent = a["latent"][ag]
        draw = _draw(rng, _OBSERVED_P[latent])
        # Employers mostly confirm their last judgement; a fresh draw replaces it now and then.
        keep_prev = (rng.random(m) < 0.55) & ~first
        src = np.maximum.accumulate(np.where(keep_prev, 0, np.arange(m))) if m else ag
        level = draw[src]
        # Trouble shows before a dropout: assessments in the last four months rise a level.
        dropping = (a["cause"][ag] == 1) & ((a["actual"][ag] - day).astype(np.int64) <= 120)
        level = np.where(dropping & (rng.random(m) < 0.5), np.minimum(level + 1, 2), level)
        level = np.where(~first & (rng.random(m) < 0.04), 3, level)   # IKKE_ANGIVET

        ts = _at(day, _time_of_day(rng, m))
        ok = ts < self.end_limit
        ag, ts, level = ag[ok], ts[ok], level[ok]
        order = np.lexsort((np.arange(len(ts)), ts))
        ag, ts, level = ag[order], ts[order], level[order]
        m = len(ts)
        employee = self._employee(rng, a["virk"][ag])
        aftale_id = ag + 1

        d = _split_dirty(self.rng_dirty, m, DIRTY_KINDS["frafaldsvurdering"])
        r = self.rng_dirty
        aftale_id[d["dangling_aftale_id"]] = n + r.integers(1, 5000, len(d["dangling_aftale_id"]))
        level[d["unknown_risiko"]] = r.integers(4, len(_RISKS), len(d["unknown_risiko"]))
        early = d["before_legal_start"]
        ts[early] = _at(np.datetime64("2021-06-01") + r.integers(0, 214, len(early)) * _DAY,
                        _time_of_day(r, len(early)))
        empty_emp = np.zeros(m, bool)
        empty_emp[d["empty_medarbejder"]] = True

        self.n_vurd = m
        self.vurd = {"aftale_id": aftale_id, "level": level, "ts": ts, "employee": employee,
                     "empty_emp": empty_emp}

    def _render_vurdering(self, lo: int, hi: int) -> list[tuple]:
        v = self.vurd
        sl = slice(lo, hi)
        names = np.where(v["empty_emp"][sl], "", self._employee_names(v["employee"][sl]))
        return list(zip(
            range(lo + 1, hi + 1),
            v["aftale_id"][sl].tolist(),
            _RISKS_NP[v["level"][sl]].tolist(),
            _timestamps(v["ts"][sl]),
            names.tolist(),
        ))

    # afslag ----------------------------------------------------------------------------------

    def _afslag(self) -> None:
        rng = self.rng_refusal
        law = np.datetime64(REFUSALS_FROM, "D")
        days = np.arange(law, self.end + _DAY)
        if len(days) == 0:
            self._no_afslag()
            return
        weekday = (days.astype(np.int64) + 3) % 7
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        w = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.12, 0.05])[weekday]
        w = w * np.array([1.1, 1.0, 0.9, 0.9, 1.2, 1.2, 0.7, 0.8, 0.9, 1.0, 1.2, 1.0])[month]
        # The duty was new in 2021: employers took a couple of months to register routinely.
        steady = w.mean()
        w = w * np.minimum(1.0, 0.5 + (days - law).astype(np.int64) / 120)
        expected = _REFUSALS_PER_YEAR * self.factor * (w.sum() / steady) / 365.25
        n = int(rng.poisson(expected))
        day = days[rng.choice(len(days), n, p=w / w.sum())]

        # Applicants: consecutive refusals in time (with noise) are grouped 1-4 to a person, so
        # one person's refusals cluster within a few weeks at different employers.
        noisy = day.astype(np.int64) + rng.uniform(0, 45, n)
        by_time = np.argsort(noisy, kind="stable")
        sizes = rng.choice(np.array([1, 2, 3, 4]), n + 1, p=[0.42, 0.30, 0.17, 0.11])
        applicant = np.empty(n, np.int64)
        applicant[by_time] = np.repeat(np.arange(n + 1), sizes)[:n]
        n_app = int(applicant.max()) + 1 if n else 0
        app_male = rng.random(n_app) < 0.15
        app = self._people(rng, n_app, app_male)
        app_edu = np.where(rng.random(n_app) < 0.58, _SSA, _SSH)
        app_kind = rng.choice(3, n_app, p=[0.55, 0.30, 0.15])   # name, mobile, address

        ts = _at(day, _time_of_day(rng, n))
        order = np.lexsort((np.arange(n), ts))
        ts, applicant = ts[order], applicant[order]
        local_day = ts.astype("datetime64[D]")

        edu = np.where(rng.random(n) < 0.9, app_edu[applicant], 1 - app_edu[applicant])
        virk = self._workplaces_for(rng, edu, bias=0.8)
        kind = np.where(rng.random(n) < 0.75, app_kind[applicant],
                        rng.choice(3, n, p=[0.55, 0.30, 0.15]))
        variant = rng.integers(0, 100, n)

        r07_gone = local_day > np.datetime64("2023-12-31")
        r08_not_yet = local_day < np.datetime64("2022-01-01")
        primary = self._reasons(rng, _PRIMARY_WEIGHTS, r07_gone, r08_not_yet, None)
        has_secondary = rng.random(n) < 0.25
        secondary = self._reasons(rng, _SECONDARY_WEIGHTS, r07_gone, r08_not_yet, primary)
        secondary = np.where(has_secondary, secondary, -1)         # -1 NULL, -2 ''
        employee = self._employee(rng, virk)

        virk_id, empty_text = self._afslag_dirty(n, primary, secondary, virk, edu, ts,
                                                 r07_gone, r08_not_yet)

        self.n_afslag = n
        self.afslag = {"virk_id": virk_id, "edu": edu, "applicant": applicant, "kind": kind,
                       "variant": variant, "primary": primary, "secondary": secondary, "ts": ts,
                       "employee": employee, "empty": empty_text}
        self.app = app

    def _afslag_dirty(self, n, primary, secondary, virk, edu, ts, r07_gone, r08_not_yet):
        """The refusals' dirty rows (one defect each, from ``rng_dirty``), made in place in
        the code and time columns; returns the workplace ids and the empty-text marks."""
        d = _split_dirty(self.rng_dirty, n, DIRTY_KINDS["afslag"][:-1])
        r = self.rng_dirty
        primary[d["unknown_begrundelse"]] = r.integers(9, len(_REASON_CODES),
                                                       len(d["unknown_begrundelse"]))
        secondary[d["secondary_equals_primary"]] = primary[d["secondary_equals_primary"]]
        virk_id = self.virk_ids[virk].copy()
        virk_id[d["dangling_virksomhed_id"]] = self.n_virk + r.integers(
            1, 1000, len(d["dangling_virksomhed_id"]))
        edu[d["unknown_uddannelse_kode"]] = r.integers(2, len(_EDU_CODES),
                                                       len(d["unknown_uddannelse_kode"]))
        empty_text = np.zeros(n, np.int8)       # 1: ansoeger '', 2: registreret_af ''
        empty_text[d["empty_ansoeger"]] = 1
        empty_text[d["empty_registreret_af"]] = 2
        secondary[d["empty_sekundaer_begrundelse"]] = -2
        early = d["before_legal_start"]
        ts[early] = _at(np.datetime64("2021-01-04") + r.integers(0, 101, len(early)) * _DAY,
                        _time_of_day(r, len(early)))
        # One defect per dirty row: R08 was not on the form yet before 2022 either.
        primary[early] = np.where(primary[early] == _R08, 5, primary[early])
        secondary[early] = np.where(np.isin(secondary[early], [_R08, 5]), -1, secondary[early])
        # A retired or not-yet-valid code, only possible by a bug in the portal: R07 after
        # 2023 or R08 before 2022, on rows that carry no other defect.
        taken = np.zeros(n, bool)
        for rows in d.values():
            taken[rows] = True
        stale = _split_dirty(r, n, ["stale"], eligible=(r07_gone | r08_not_yet) & ~taken)["stale"]
        primary[stale] = np.where(r07_gone[stale], _R07, _R08)
        secondary[stale] = np.where(secondary[stale] == primary[stale], -1, secondary[stale])
        d["begrundelse_not_valid_then"] = stale
        return virk_id, empty_text

    def _no_afslag(self) -> None:
        self.n_afslag = 0
        self.afslag = {}

    def _reasons(self, rng: np.random.Generator, weights: np.ndarray, r07_gone: np.ndarray,
                 r08_not_yet: np.ndarray, differ_from: np.ndarray | None) -> np.ndarray:
        """Reason codes that were on the form on the day, and differ from the primary."""
        n = len(r07_gone)
        out = np.full(n, -1, np.int64)
        todo = np.arange(n)
        while len(todo):
            pick = rng.choice(len(weights), len(todo), p=weights / weights.sum())
            bad = ((pick == _R07) & r07_gone[todo]) | ((pick == _R08) & r08_not_yet[todo])
            if differ_from is not None:
                bad |= pick == differ_from[todo]
            out[todo[~bad]] = pick[~bad]
            todo = todo[bad]
        return out

    def _applicant_texts(self, applicants: np.ndarray, kinds: np.ndarray,
                         variants: np.ndarray) -> np.ndarray:
        """What employers typed about each applicant, in one of its many spellings.

        Each spelling is built only for the rows that use it: the text is the costliest part
        of a refusal to render.
        """
        out = np.empty(len(applicants), dtype=object)
        app = self.app

        def put(mask: np.ndarray, make: Callable[[np.ndarray], np.ndarray]) -> None:
            rows = np.flatnonzero(mask)
            if len(rows):
                out[rows] = make(applicants[rows])

        def name(case: str, layout: str) -> Callable[[np.ndarray], np.ndarray]:
            def make(a: np.ndarray) -> np.ndarray:
                first, last = self._names(app, a, case)
                if layout == "last, first":
                    return _cat(last, ", ", first)
                if layout == "spaced":
                    return _cat(" ", first, "  ", last, " ")
                if layout == "given":
                    return _cat(self.first_np[app["first"][a]], " ", last)
                return _cat(first, " ", last)
            return make

        def mobile(layout: str) -> Callable[[np.ndarray], np.ndarray]:
            def make(a: np.ndarray) -> np.ndarray:
                m1, m2, m3, m4 = self._mobiles(app["mobile"][a])
                return {
                    "digits": lambda: _cat(m1, m2, m3, m4),
                    "spaced": lambda: _cat(m1, " ", m2, " ", m3, " ", m4),
                    "+45 spaced": lambda: _cat("+45 ", m1, " ", m2, " ", m3, " ", m4),
                    "0045": lambda: _cat("0045 ", m1, m2, m3, m4),
                    "+45": lambda: _cat("+45", m1, m2, m3, m4),
                    "halves": lambda: _cat(m1, m2, " ", m3, m4),
                }[layout]()
            return make

        def address(case: str, comma: bool) -> Callable[[np.ndarray], np.ndarray]:
            return lambda a: self._addresses(app, a, case, comma)

        v, k = variants, kinds
        for (lo, hi), make in (
            ((0, 62), name("title", "")), ((62, 72), name("lower", "")),
            ((72, 80), name("upper", "")), ((80, 88), name("title", "last, first")),
            ((88, 95), name("title", "spaced")), ((95, 100), name("title", "given")),
        ):
            put((k == 0) & (v >= lo) & (v < hi), make)
        for (lo, hi), make in (
            ((0, 40), mobile("digits")), ((40, 60), mobile("spaced")),
            ((60, 72), mobile("+45 spaced")), ((72, 82), mobile("0045")),
            ((82, 92), mobile("+45")), ((92, 100), mobile("halves")),
        ):
            put((k == 1) & (v >= lo) & (v < hi), make)
        for (lo, hi), make in (
            ((0, 75), address("title", True)), ((75, 90), address("lower", True)),
            ((90, 100), address("title", False)),
        ):
            put((k == 2) & (v >= lo) & (v < hi), make)
        return out

    def _render_afslag(self, lo: int, hi: int) -> list[tuple]:
        f = self.afslag
        sl = slice(lo, hi)
        empty = f["empty"][sl]
        texts = self._applicant_texts(f["applicant"][sl], f["kind"][sl], f["variant"][sl])
        texts[empty == 1] = ""
        by = self._employee_names(f["employee"][sl])
        secondary = f["secondary"][sl]
        sec = _REASONS_NP[np.maximum(secondary, 0)].astype(object)
        sec[secondary == -1] = None
        sec[secondary == -2] = ""
        return list(zip(
            range(lo + 1, hi + 1),
            f["virk_id"][sl].tolist(),
            _EDU_NP[f["edu"][sl]].tolist(),
            texts.tolist(),
            _REASONS_NP[f["primary"][sl]].tolist(),
            sec.tolist(),
            _timestamps(f["ts"][sl]),
            np.where(empty == 2, "", by).tolist(),
        ))


def _with_state(values: np.ndarray, state: np.ndarray) -> list[str | None]:
    """Values where state is 0, NULL where 1, the empty string where 2."""
    out = values.astype(object)
    out[state == 1] = None
    out[state == 2] = ""
    return out.tolist()


# --- writing ----------------------------------------------------------------------------------


def _write_sqlite(path: Path, tables: list[_Table], progress: Progress | None) -> dict[str, int]:
    """Insert every table in one transaction, rendering the next chunk while SQLite writes.

    sqlite3 releases the GIL while it steps through a statement, so a second thread that
    renders strings overlaps with the inserts instead of waiting for them.
    """
    columns = dict(STORE_TABLES)
    work = [(t, lo, min(t.n, lo + _CHUNK_ROWS))
            for t in tables for lo in range(0, t.n, _CHUNK_ROWS)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A throwaway file until the rename: no journal, no fsync.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("BEGIN")
        for statement in store_schema_sql("sqlite").split(";"):
            if statement.strip():
                conn.execute(statement)
        with ThreadPoolExecutor(max_workers=1) as renderer:
            pending = renderer.submit(work[0][0].render, work[0][1], work[0][2]) if work else None
            for i, (t, lo, hi) in enumerate(work):
                rows = pending.result()
                if i + 1 < len(work):
                    nt, nlo, nhi = work[i + 1]
                    pending = renderer.submit(nt.render, nlo, nhi)
                placeholders = ", ".join("?" * len(columns[t.name]))
                conn.executemany(f"INSERT INTO {t.name} VALUES ({placeholders})", rows)
                if progress is not None:
                    progress(t.name, hi, t.n)
        conn.execute("COMMIT")
    finally:
        conn.close()
    if progress is not None:
        for t in tables:
            if t.n == 0:
                progress(t.name, 0, 0)
    return {t.name: t.n for t in tables}
