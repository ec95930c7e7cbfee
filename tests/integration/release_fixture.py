"""A small but realistic release folder for the API tests and the API benchmark.

``write_release_home(home)`` writes ``<home>/releases/2026-09`` and ``<home>/releases/2026-10``
(and ``releases/latest -> 2026-10``) in the layout of ``transforms/publish/README.md``:
``skema.json``, ``<cube.id>/cells.parquet`` for all three cubes (every grouping of
``Cube.groupings``) and ``manifest.json``, real captions from the catalogue and the store's reference values.

The numbers come from synthetic micro data (refusals; students on each month's last day),
aggregated to every grouping, so margins agree with each other, and hierarchy levels nest.
Withholding is the primary rule only (1-3 individuals, and empty cells; FRAFAFBRUD's outcome
rule): enough to give the API withheld cells with null values and status 'diskretioneret', and
empty combinations. It is NOT a disclosure-safe release (no secondary suppression).

The later release revises the earlier one: a tenth of the refusals are registered in the month
after they happened, so the 2026-09 release lacks some September refusals.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from demo.generate import REASONS
from transforms import catalog as c
from transforms.calendar import FIRST_RELEASE, Release

RELEASES = ("2026-09", "2026-10")

UDDANNELSER = ["Social- og sundhedshjælper", "Social- og sundhedsassistent"]
KOMMUNEKODER = ["0101", "0147", "0259", "0265", "0461", "0621", "0751", "0851"]
SKOLER = [  # (navn, institutionsnummer), ordered by number
    ("SOSU H", "101455"),
    ("SOSU Sjælland", "329397"),
    ("SOSU Fyn", "461410"),
    ("SOSU Østjylland", "751420"),
]


def _month(day: str | None) -> str | None:
    return day and Release.of(dt.date.fromisoformat(day)).caption


#: afslagsbegrundelse.tekst by code, with (gyldig_fra, gyldig_til) months (None: from the
#: first release, or still valid), from the demo store's table
AARSAGER = [(text, None if _month(fra) == FIRST_RELEASE.caption else _month(fra), _month(til))
            for _, text, fra, til in REASONS]


def _kommuner() -> list[tuple[str, str]]:
    """(kommune, region) for the fixture's municipalities, from reference/kommuner.csv."""
    path = Path(__file__).resolve().parents[2] / "reference" / "kommuner.csv"
    with path.open(encoding="utf-8") as f:
        rows = {r["kommunekode"]: (r["kommune"], r["region"]) for r in csv.DictReader(f)}
    return [rows[k] for k in KOMMUNEKODER] + [(c.UOPLYST, c.UOPLYST)]


# --- periods ------------------------------------------------------------------------------


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    ly, lm = int(last[:4]), int(last[5:])
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y}M{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _kvartal(maaned: str) -> str:
    return f"{maaned[:4]}K{(int(maaned[5:]) - 1) // 3 + 1}"


def _month_index(maaned: str) -> int:
    return int(maaned[:4]) * 12 + int(maaned[5:]) - 1


def _last_day(maaned: str) -> dt.date:
    y, m = int(maaned[:4]), int(maaned[5:])
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _periods(cube: c.Cube, release: str) -> dict[str, list[tuple[str, str]]]:
    """Per Tid level: (period caption, its last month within the release), in time order.

    FRAFAFBRUD only has periods that ended at least 6 months before the release cut-off.
    """
    last = release.replace("-", "M")
    months = _months(cube.first_period, last)
    if cube.underemne == "FRAFAFBRUD":
        limit = _month_index(last) - 6
        ends = {}
        for m in months:
            ends[_kvartal(m)] = max(ends.get(_kvartal(m), m), m)
        full_q = [q for q, e in ends.items() if e.endswith(("03", "06", "09", "12"))]
        kvartaler = [(q, ends[q]) for q in full_q if _month_index(ends[q]) <= limit]
        aar = sorted({m[:4] for m in months if m.endswith("12") and _month_index(m) <= limit})
        return {
            "[Tid].[Kvartal]": kvartaler,
            "[Tid].[År]": [(y, f"{y}M12") for y in aar],
        }
    out: dict[str, list[tuple[str, str]]] = {"[Tid].[Måned]": [(m, m) for m in months]}
    kv: dict[str, str] = {}
    aa: dict[str, str] = {}
    for m in months:
        kv[_kvartal(m)] = m
        aa[m[:4]] = m
    out["[Tid].[Kvartal]"] = list(kv.items())
    out["[Tid].[År]"] = list(aa.items())
    return out


# --- micro data ---------------------------------------------------------------------------


def _region_codes() -> np.ndarray:
    """Kommune code → region code (indices into the member lists)."""
    regions = c.FIXED_MEMBERS["[Arbejdssted].[Region]"]
    return np.array([regions.index(r) for _, r in _kommuner()])


KOMMUNE_WEIGHTS = [0.2, 0.08, 0.06, 0.1, 0.15, 0.1, 0.16, 0.12, 0.03]


def _refusals(release: str, seed: int) -> dict:
    """Refusals registered before the release's cut-off (late ones revise a month).

    Micro data as member codes: each attribute column indexes that attribute's member list.
    """
    rng = np.random.default_rng(seed)
    months = _months(c.AFSLAARS.first_period, RELEASES[-1].replace("-", "M"))
    cut = _month_index(release.replace("-", "M"))
    weights = np.array([6, 3, 4, 3, 3, 5, 2, 1, 2], dtype=float)
    parts: dict[str, list] = {
        k: []
        for k in (
            "maaned",
            "registreret",
            "ansoeger",
            "uddannelse",
            "kommune",
            "sektor",
            "primaer_aarsag",
            "sekundaer_aarsag",
        )
    }
    for i, m in enumerate(months):
        n = int(rng.poisson(150))
        valid = [
            j
            for j, (_, fra, til) in enumerate(AARSAGER)
            if (fra is None or m >= fra) and (til is None or m <= til)
        ]
        w = weights[valid]
        prim = rng.choice(valid, size=n, p=w / w.sum())
        sek = rng.choice(valid, size=n)
        no_sek = (rng.random(n) < 0.5) | (sek == prim)
        parts["maaned"].append(np.full(n, i))
        parts["registreret"].append(_month_index(m) + (rng.random(n) < 0.1))
        parts["ansoeger"].append(i * 1000 + rng.integers(0, max(1, int(n * 0.7)), size=n))
        parts["uddannelse"].append(rng.choice(2, size=n, p=[0.45, 0.55]))
        parts["kommune"].append(rng.choice(len(KOMMUNE_WEIGHTS), size=n, p=KOMMUNE_WEIGHTS))
        parts["sektor"].append(rng.choice(5, size=n, p=[0.6, 0.15, 0.02, 0.2, 0.03]))
        parts["primaer_aarsag"].append(prim)
        parts["sekundaer_aarsag"].append(np.where(no_sek, len(AARSAGER), sek))
    micro = {k: np.concatenate(v) for k, v in parts.items()}
    keep = micro.pop("registreret") <= cut
    micro = {k: v[keep] for k, v in micro.items()}
    micro["region"] = _region_codes()[micro["kommune"]]
    micro["months"] = months
    return micro


def _students(release: str, seed: int) -> dict:
    """Students with a running agreement on each month's last day (one row per student)."""
    rng = np.random.default_rng(seed + 1)
    months = _months(c.FRAFVURD.first_period, release.replace("-", "M"))
    parts: dict[str, list] = {
        k: []
        for k in (
            "maaned",
            "uddannelse",
            "kommune",
            "skole",
            "koen",
            "aldersgruppe",
            "frafaldsrisiko",
            "alder_af_vurdering",
            "afbrudt",
        )
    }
    for i, _ in enumerate(months):
        n = int(rng.poisson(700))
        risk = rng.choice(4, size=n, p=[0.5, 0.2, 0.08, 0.22])
        parts["maaned"].append(np.full(n, i))
        parts["frafaldsrisiko"].append(risk)
        parts["alder_af_vurdering"].append(
            np.where(risk == 3, 4, rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]))
        )
        parts["skole"].append(rng.choice(len(SKOLER), size=n, p=[0.35, 0.2, 0.2, 0.25]))
        parts["kommune"].append(rng.choice(len(KOMMUNE_WEIGHTS), size=n, p=KOMMUNE_WEIGHTS))
        parts["uddannelse"].append(rng.choice(2, size=n, p=[0.4, 0.6]))
        parts["koen"].append(rng.choice(3, size=n, p=[0.8, 0.19, 0.01]))
        parts["aldersgruppe"].append(rng.choice(6, size=n, p=[0.2, 0.25, 0.15, 0.18, 0.2, 0.02]))
        parts["afbrudt"].append(rng.random(n) < np.array([0.05, 0.15, 0.35, 0.1])[risk])
    micro = {k: np.concatenate(v) for k, v in parts.items()}
    micro["region"] = _region_codes()[micro["kommune"]]
    micro["months"] = months
    return micro


# --- cells --------------------------------------------------------------------------------


def members_of(cube: c.Cube, release: str) -> dict[str, list[str]]:
    """Every attribute's members in publication order, for this cube and release."""
    kommuner = _kommuner()
    periods = _periods(cube, release)
    out = {
        "[Uddannelse].[Uddannelse]": UDDANNELSER,
        "[Arbejdssted].[Kommune]": [k for k, _ in kommuner],
        "[Skole].[Skole]": [s for s, _ in SKOLER],
        "[Skole].[Institutionsnummer]": [n for _, n in SKOLER],
        "[Afslagsårsag].[Primær årsag]": [a for a, _, _ in AARSAGER],
        "[Afslagsårsag].[Sekundær årsag]": [a for a, _, _ in AARSAGER] + [c.INGEN_SEKUNDAER],
        **c.FIXED_MEMBERS,
        **{level: [p for p, _ in ps] for level, ps in periods.items()},
    }
    return {a: out[a] for a in cube.attributes}


def _cells(cube: c.Cube, micro: dict, release: str) -> dict[str, np.ndarray]:
    """Every cell of every grouping, empty combinations included, in member order.

    A grouping's cells are the mixed-radix space of its attributes' members (catalogue
    order, each attribute's members in publication order), so counting is a bincount.
    """
    members = members_of(cube, release)
    periods = _periods(cube, release)
    region_of = dict(_kommuner())
    nummer_of = dict(SKOLER)
    stock = cube.kind == "stock"
    months = micro["months"]
    month_code = micro["maaned"]
    codes = {
        a: micro[c.ATTRIBUTES[a].column]
        for a in cube.attributes
        if c.ATTRIBUTES[a].hierarchy != "Tid" and not c.ATTRIBUTES[a].alias_of
    }
    # per Tid level: micro rows that count for a period, and that period's index
    tid_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for level, ps in periods.items():
        index = {p: i for i, (p, _) in enumerate(ps)}
        of_month = np.full(len(months), -1, dtype=np.int64)
        for i, m in enumerate(months):
            if stock:  # the period's status is its last month's
                hit = [index[p] for p, last in ps if last == m]
            else:  # a flow period sums its months
                cap = {"[Tid].[Måned]": m, "[Tid].[Kvartal]": _kvartal(m), "[Tid].[År]": m[:4]}[
                    level
                ]
                hit = [index[cap]] if cap in index else []
            of_month[i] = hit[0] if hit else -1
        per = of_month[month_code]
        rows = np.nonzero(per >= 0)[0]
        tid_rows[level] = (rows, per[rows])
    everyone = np.arange(len(month_code))
    individual = micro["ansoeger"] if cube is c.AFSLAARS else None
    afbrudt = micro["afbrudt"].astype(float) if cube is c.FRAFAFBRUD else None

    frames = []
    for key in cube.groupings:
        attrs = key.split("|") if key else []
        tid = next((a for a in attrs if c.ATTRIBUTES[a].hierarchy == "Tid"), None)
        rows, tid_code = tid_rows[tid] if tid else (everyone, None)
        radix = [len(members[a]) for a in attrs]
        size = int(np.prod(radix)) if attrs else 1
        coords = [tid_code if a == tid else codes[a][rows] for a in attrs]

        n_rows = len(rows)

        def flat(keep: list[int], coords=coords, radix=radix, n=n_rows) -> np.ndarray:
            if not keep:
                return np.zeros(n, dtype=np.int64)
            return np.ravel_multi_index([coords[i] for i in keep], [radix[i] for i in keep])

        cell_key = flat(list(range(len(attrs))))
        n = np.bincount(cell_key, minlength=size).astype(float)
        if cube is c.AFSLAARS:
            span = int(individual.max()) + 1 if len(individual) else 1
            pairs = np.unique(cell_key * span + individual[rows])
            individuals = np.bincount(pairs // span, minlength=size).astype(float)
        else:
            individuals = n
        grid = np.unravel_index(np.arange(size), radix) if attrs else []
        values: dict[str, np.ndarray] = {}
        for m in cube.measures:
            if m.kind == "count" and m.column == "antal_afbrudt":
                values[m.column] = np.bincount(cell_key, weights=afbrudt[rows], minlength=size)
            elif m.kind == "count":
                values[m.column] = individuals if m.column == "antal_ansoegere" else n
            elif m.denominator_column:
                values[m.column] = values["antal_afbrudt"] / np.clip(n, 1, None)
            else:  # share of the same combination without some attributes
                keep = [i for i, a in enumerate(attrs) if a not in m.denominator_drops]
                kradix = [radix[i] for i in keep]
                den = np.bincount(flat(keep), minlength=int(np.prod(kradix)) if keep else 1)
                at = (
                    np.ravel_multi_index([grid[i] for i in keep], kradix)
                    if keep
                    else np.zeros(size, dtype=np.int64)
                )
                values[m.column] = n / np.clip(den[at], 1, None)
        small = individuals <= c.MAX_SMALL  # primary rule; empty cells (0) are withheld too
        values = {col: np.where(small, np.nan, v) for col, v in values.items()}
        if cube is c.FRAFAFBRUD:
            raw_a = np.bincount(cell_key, weights=afbrudt[rows], minlength=size)
            outcome = ((raw_a >= 1) & (raw_a <= 3)) | (n - raw_a <= 3)
            for col in ("antal_afbrudt", "andel_afbrudt"):
                values[col] = np.where(outcome, np.nan, values[col])
        out: dict[str, np.ndarray] = {"gruppering": np.full(size, key, dtype=object)}
        if stock:
            last_of = dict(periods[tid])
            days = np.array([_last_day(last_of[p]) for p in members[tid]], dtype=object)
            out["statusdato"] = days[grid[attrs.index(tid)]]
        captions = {a: np.asarray(members[a], dtype=object)[grid[i]] for i, a in enumerate(attrs)}
        if "[Tid].[Måned]" in captions:
            captions["[Tid].[Kvartal]"] = np.array(
                [_kvartal(m) for m in captions["[Tid].[Måned]"]], dtype=object
            )
        if "[Tid].[Kvartal]" in captions:
            captions["[Tid].[År]"] = np.array(
                [q[:4] for q in captions["[Tid].[Kvartal]"]], dtype=object
            )
        if "[Arbejdssted].[Kommune]" in captions:
            captions["[Arbejdssted].[Region]"] = np.array(
                [region_of[k] for k in captions["[Arbejdssted].[Kommune]"]], dtype=object
            )
        if "[Skole].[Skole]" in captions:
            captions["[Skole].[Institutionsnummer]"] = np.array(
                [nummer_of[s] for s in captions["[Skole].[Skole]"]], dtype=object
            )
        for a in cube.attributes:
            out[c.ATTRIBUTES[a].column] = captions.get(a, np.full(size, None, dtype=object))
        for m in cube.measures:
            out[m.column] = values[m.column]
        withheld = np.isnan(np.column_stack([values[m.column] for m in cube.measures])).any(axis=1)
        out["status"] = np.where(withheld, "diskretioneret", "publiceret")
        frames.append(out)
    return {col: np.concatenate([f[col] for f in frames]) for col in frames[0]}


def _write_parquet(cube: c.Cube, cells: dict[str, np.ndarray], path: Path) -> None:
    fields = [pa.field("gruppering", pa.string())]
    if cube.kind == "stock":
        fields.append(pa.field("statusdato", pa.date32()))
    fields += [pa.field(col, pa.string()) for col in cube.columns]
    fields += [
        pa.field(m.column, pa.int64() if m.kind == "count" else pa.float64()) for m in cube.measures
    ]
    fields.append(pa.field("status", pa.string()))
    schema = pa.schema(fields)
    arrays = []
    for f in schema:
        values = cells[f.name]
        if f.type in (pa.int64(), pa.float64()):
            numbers = values.astype(float)
            arrays.append(pa.array(numbers, mask=np.isnan(numbers)).cast(f.type))
        else:
            arrays.append(pa.array(values.tolist(), type=f.type))
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)


def _skema(release: str) -> dict:
    omraader: dict[str, dict] = {}
    for cube in c.CUBES.values():
        o = omraader.setdefault(
            cube.omraade[0], {"ID": cube.omraade[0], "Name": cube.omraade[1], "emner": {}}
        )
        e = o["emner"].setdefault(
            cube.emne[0], {"ID": cube.emne[0], "Name": cube.emne[1], "underemner": []}
        )
        members = members_of(cube, release)
        e["underemner"].append(
            {
                "ID": cube.underemne,
                "Name": cube.caption,
                "mappe": cube.id,
                "type": cube.kind,
                "detaljer": [
                    {
                        "name": a,
                        "count": len(members[a]),
                        "members": [{"ID": m, "Name": m} for m in members[a]],
                    }
                    for a in cube.attributes
                ],
                "nøgletal": [f"[Measures].[{m.caption}]" for m in cube.measures],
                "rapporter": [],
                "visninger": [
                    {"id": v.id, "navn": v.name, "detaljer": list(v.attributes)} for v in cube.views
                ],
            }
        )
    return {
        "udgivelse": release,
        "områder": [
            {"ID": o["ID"], "Name": o["Name"], "emner": list(o["emner"].values())}
            for o in omraader.values()
        ],
    }


def write_release(home: Path, release: str, seed: int = 2026) -> Path:
    """Write ``<home>/releases/<release>`` (skema.json and every cube's cells.parquet)."""
    folder = Path(home) / "releases" / release
    folder.mkdir(parents=True, exist_ok=True)
    refusals = _refusals(release, seed)
    students = _students(release, seed)
    for cube in c.CUBES.values():
        micro = refusals if cube is c.AFSLAARS else students
        (folder / cube.id).mkdir(exist_ok=True)
        _write_parquet(cube, _cells(cube, micro, release), folder / cube.id / "cells.parquet")
    (folder / "skema.json").write_text(
        json.dumps(_skema(release), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    # last, as the writer does: a folder is a complete release once it has its manifest
    files = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    (folder / "manifest.json").write_text(json.dumps({"udgivelse": release, "filer": files}))
    return folder


def point_latest(home: Path, release: str) -> None:
    """Move ``releases/latest`` to ``release`` atomically (a relative symlink)."""
    releases = Path(home) / "releases"
    tmp = releases / f".latest-{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(release)
    os.replace(tmp, releases / "latest")


def write_release_home(home: Path, releases: tuple[str, ...] = RELEASES, seed: int = 2026) -> Path:
    """Write every release and point ``latest`` at the newest; returns ``home``."""
    home = Path(home)
    for r in releases:
        write_release(home, r, seed)
    point_latest(home, max(releases))
    return home


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "lpstat-data")
    print(write_release_home(target))
