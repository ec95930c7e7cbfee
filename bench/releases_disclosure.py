"""Every release of a demo store through real disclosure control, one after another.

    .venv/bin/python bench/releases_disclosure.py [--scale national] [--pg URL] [--jsonl PATH]

Lands the demo store of that scale (generated in the local PostgreSQL if missing, as
``python -m bench`` does), builds the warehouse once, then for every release month from
2021-04 to the latest complete one builds the three cubes and runs ``guarded_pattern`` with
the independent audit, exactly as a release does. Prints one JSON line per cube and release
(method, verdict, values checked and failed, consistency errors, seconds) and a summary; a
release whose audit fails, or that falls back to withholding every cell ('alt'), is named.
Exits 1 if any audit failed. Takes about 10 minutes at national scale on 2 cores.

With ``--series`` it builds the releases in order on one home as the monthly run does
(``protect_release`` with the releases folder, then ``publish_release``): every release's
disclosure control then follows the published history and passes the series audit of
everything published so far. Per release and cube it prints the seconds of the whole
disclosure step, the versions the series audit covered, the unknowns and relations it solved
(by steps, ``audit_chain``: the new month's system; where a release is audited as a whole
union: the union's, which grows per release), how it went (``series_by_steps``), and the
information loss (secondary cells and their value share)
next to what the release's own pattern alone (``guarded_pattern``, no series) would lose
(``--compare``; costs a second suppression per cube; on a ``--home`` built before, it
reads the series figures of the months already published from their ``audit.json`` and
only runs the per-release patterns). ``--first``/``--last`` bound the months; ``--home``
keeps the home and resumes on it.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def months(first: str, last: str) -> list[str]:
    """Every release month from ``first`` through ``last`` ('YYYY-MM'), in order."""
    from transforms.calendar import month_range

    return [str(r) for r in month_range(first, last)]


def _emit(row: dict, out) -> None:
    line = json.dumps(row, ensure_ascii=False)
    print(line, flush=True)
    if out:
        out.write(line + "\n")


def main(argv=None) -> int:
    from bench.__main__ import _latest_release
    from bench.extract import DEFAULT_PG, ensure_store
    from transforms.calendar import FIRST_RELEASE
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells, prepare_release
    from transforms.disclosure.audit import audit, shutdown_workers
    from transforms.disclosure.guarded import guarded_pattern
    from transforms.disclosure.verdict import Verdict
    from transforms.land import land_source
    from transforms.warehouse import build_all, connect

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="national")
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--jsonl", help="also write the per-cube lines to this file")
    p.add_argument("--series", action="store_true", help="build in order on one home")
    p.add_argument("--compare", action="store_true",
                   help="with --series: also the per-release pattern's information loss")
    p.add_argument("--first", default=str(FIRST_RELEASE))
    p.add_argument("--last", default=None)
    p.add_argument("--home", help="with --series: build on this home and keep it (resumes: "
                   "months already published there are skipped)")
    args = p.parse_args(argv)
    if args.series:
        return series(args)
    url = ensure_store(args.pg, args.scale)
    out = open(args.jsonl, "w") if args.jsonl else None
    rows = []
    with tempfile.TemporaryDirectory() as d:
        con = connect(Path(d) / "wh.duckdb")
        land_source(url, "bench-key-" + "0" * 24, con, "bench")
        build_all(con)
        for release in months(str(FIRST_RELEASE), _latest_release(url)):
            prepare_release(con, release)
            for u, cube in CUBES.items():
                cells = build_cells(con, cube, release)
                t = time.perf_counter()
                pattern, method, res = guarded_pattern(cells, cube, audit)
                row = {"release": release, "cube": u, "cells": len(cells), "method": method,
                       "verdict": res["verdict"], "checked": res["checked"],
                       "failed": res["failed"],
                       "consistency_errors": len(res["consistency_errors"]),
                       "withheld": int(pattern["undertrykt"].sum()) if len(pattern) else 0,
                       "seconds": round(time.perf_counter() - t, 2)}
                rows.append(row)
                _emit(row, out)
            shutdown_workers()
        con.close()
    bad = [r for r in rows if not Verdict.of(r).passed or r["method"] == "alt"]
    methods = collections.Counter(f"{r['cube']} {r['method']}" for r in rows)
    secs = [r["seconds"] for r in rows if r["cube"] == "AFSLAARS"]
    print(f"# {len({r['release'] for r in rows})} releases, {len(rows)} cubes: "
          f"{sum(Verdict.of(r).passed for r in rows)} passed, "
          f"{sum(r['checked'] for r in rows)} withheld values checked, "
          f"{sum(r['failed'] for r in rows)} failed; methods {dict(methods)}")
    print(f"VALUE releases_audited_{args.scale} {len({r['release'] for r in rows})} releases")
    print(f"VALUE releases_failed_{args.scale} {len(bad)} cubes")
    if secs:
        print(f"VALUE releases_afslaars_disclosure_median_{args.scale} "
              f"{statistics.median(secs):.2f} s")
        print(f"VALUE releases_afslaars_disclosure_max_{args.scale} {max(secs):.2f} s")
    for r in bad:
        print(f"# NOT PASSED: {r['release']} {r['cube']} ({r['method']}, {r['verdict']})")
    return 1 if bad else 0


def series(args) -> int:
    from bench.__main__ import _latest_release
    from bench.extract import ensure_store
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells, prepare_release
    from transforms.disclosure.audit import audit, shutdown_workers
    from transforms.disclosure.guarded import guarded_pattern
    from transforms.disclosure.protect import protect_release, recorded_information_loss
    from transforms.disclosure.verdict import Verdict
    from transforms.infoloss import information_loss
    from transforms.land import land_source
    from transforms.publish.release import publish_release
    from transforms.warehouse import build_all, connect, read_partition, store_partition

    url = ensure_store(args.pg, args.scale)
    out = open(args.jsonl, "w") if args.jsonl else None
    rows, bad = [], []
    with tempfile.TemporaryDirectory() as d:
        home = Path(args.home) if args.home else Path(d)
        home.mkdir(parents=True, exist_ok=True)
        fresh = not (home / "warehouse.duckdb").exists()
        con = connect(home / "warehouse.duckdb")
        if fresh:
            land_source(url, "bench-key-" + "0" * 24, con, "bench")
            build_all(con)
        for release in months(args.first, args.last or _latest_release(url)):
            if (home / "releases" / release / "manifest.json").exists():
                if not args.compare:
                    continue
                # published on this home before: its figures from its audit.json, and the
                # per-release pattern of the same cells for the comparison
                res = json.loads((home / "releases" / release / "audit.json").read_text())
                cells = {u: read_partition(con, f"cube_{u.lower()}", release) for u in CUBES}
                step = float("nan")
            else:
                prepare_release(con, release)
                cells = {}
                for u, cube in CUBES.items():
                    cells[u] = build_cells(con, cube, release)
                    store_partition(con, f"cube_{u.lower()}", release, cells[u])
                t = time.perf_counter()
                res = protect_release(con, release, releases_dir=home / "releases")
                step = time.perf_counter() - t
                publish_release(con, home / "releases", release, {})
            exact = recorded_information_loss(con, release)
            for u, c in res["cubes"].items():
                s = c.get("serie", {})
                loss = exact[u]["terning"]
                row = {"release": release, "cube": u, "method": c["undertrykkelse"],
                       "verdict": c["verdict"], "series_verdict": s.get("verdict"),
                       "versions": len(s.get("versions", [])), "unknowns": s.get("unknowns"),
                       "relations": s.get("relations"),
                       "components": s.get("komponenter"),
                       "series_by_steps": s.get("inkrementel"), "secondary": loss["sekundaere"],
                       "secondary_share": loss["sekundaer_andel"],
                       "disclosure_seconds_release": None if step != step else round(step, 2)}
                if args.compare:
                    alone, _, _ = guarded_pattern(cells[u], CUBES[u], audit)
                    la = information_loss(cells[u], alone["undertrykt"].to_numpy(bool)
                                          if len(alone) else [], CUBES[u])["terning"]
                    row.update({"secondary_alone": la["sekundaere"],
                                "secondary_share_alone": la["sekundaer_andel"]})
                rows.append(row)
                if not Verdict.of(c).passed or not (s and Verdict.of(s).passed):
                    bad.append(row)
                _emit(row, out)
            shutdown_workers()
        con.close()
    _series_summary(rows, bad, args.scale)
    for r in bad:
        print(f"# NOT PASSED: {r['release']} {r['cube']}")
    return 1 if bad else 0

def _series_summary(rows: list[dict], bad: list[dict], scale: str) -> None:
    """The series run's figures: secondary value share per cube both ways (with --compare),
    and the disclosure step's seconds and how they grow over the releases."""
    step = {r["release"]: r["disclosure_seconds_release"] for r in rows
            if r["disclosure_seconds_release"] is not None}
    for u in sorted({r["cube"] for r in rows if "secondary_share_alone" in r}):
        rs = [r for r in rows if r["cube"] == u and "secondary_share_alone" in r]
        print(f"# {u}: secondary value share over {len(rs)} releases, series rule "
              f"{100 * statistics.mean(r['secondary_share'] for r in rs):.2f} % "
              f"(last {100 * rs[-1]['secondary_share']:.2f} %), each release alone "
              f"{100 * statistics.mean(r['secondary_share_alone'] for r in rs):.2f} % "
              f"(last {100 * rs[-1]['secondary_share_alone']:.2f} %)")
    print(f"# {len(step)} releases in order on one home; "
          f"{len(bad)} cubes not passing (own or series audit)")
    if step:
        last = max(step)
        print(f"VALUE series_disclosure_seconds_last_{scale} {step[last]:.1f} s "
              f"({len(step)} releases of history)")
        xs = sorted(step)
        if len(xs) > 2:
            k = len(xs) // 2
            first_half = statistics.mean(step[x] for x in xs[:k])
            second_half = statistics.mean(step[x] for x in xs[k:])
            print(f"# disclosure step: mean {first_half:.1f} s over the first {k} releases, "
                  f"{second_half:.1f} s over the last {len(xs) - k}")


if __name__ == "__main__":
    sys.exit(main())
