"""Every release of a demo store through real disclosure control, one after another.

    .venv/bin/python bench/releases_disclosure.py [--scale national] [--pg URL] [--jsonl PATH]

Lands the demo store of that scale (generated in the local PostgreSQL if missing, as
``python -m bench`` does), builds the warehouse once, then for every release month from
2021-04 to the latest complete one builds the three cubes and runs ``guarded_pattern`` with
the independent audit, exactly as a release does. Prints one JSON line per cube and release
(method, verdict, values checked and failed, consistency errors, seconds) and a summary; a
release whose audit fails, or that falls back to withholding every cell ('alt'), is named.
Exits 1 if any audit failed. Takes about 10 minutes at national scale on 2 cores.
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
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def main(argv=None) -> int:
    from bench.__main__ import _latest_release
    from bench.extract import DEFAULT_PG, ensure_store
    from transforms.catalog import CUBES
    from transforms.cubes import build_cells, prepare_release
    from transforms.disclosure.audit import audit, shutdown_workers
    from transforms.disclosure.guarded import guarded_pattern
    from transforms.land import land_source
    from transforms.warehouse import build_all, connect

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="national")
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--jsonl", help="also write the per-cube lines to this file")
    args = p.parse_args(argv)
    url = ensure_store(args.pg, args.scale)
    out = open(args.jsonl, "w") if args.jsonl else None
    rows = []
    with tempfile.TemporaryDirectory() as d:
        con = connect(Path(d) / "wh.duckdb")
        land_source(url, "bench-key-" + "0" * 24, con, "bench")
        build_all(con)
        for release in months("2021-04", _latest_release(url)):
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
                line = json.dumps(row, ensure_ascii=False)
                print(line, flush=True)
                if out:
                    out.write(line + "\n")
            shutdown_workers()
        con.close()
    bad = [r for r in rows if r["verdict"] != "bestået" or r["method"] == "alt"]
    methods = collections.Counter(f"{r['cube']} {r['method']}" for r in rows)
    secs = [r["seconds"] for r in rows if r["cube"] == "AFSLAARS"]
    print(f"# {len({r['release'] for r in rows})} releases, {len(rows)} cubes: "
          f"{sum(r['verdict'] == 'bestået' for r in rows)} passed, "
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


if __name__ == "__main__":
    sys.exit(main())
