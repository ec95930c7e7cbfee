"""Extraction benchmark: lpstat's extract + pseudonymise + load against a plain binary COPY.

    python -m bench.extract [--scale 10] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Generates (or reuses) the demo store at the given scale in its own PostgreSQL database
(`lpstat_bench_<scale>`), then measures, each step in a fresh subprocess so peak memory (RSS)
is its own:

- baseline: ``COPY laerepladsen.<t> TO STDOUT (FORMAT binary)`` for every table, bytes read
  and discarded (the source's own fastest way out);
- lpstat: :func:`transforms.land.land_source` into a new DuckDB file (ADBC → Arrow →
  pseudonymise → DuckDB), everything the real run does: connect, check the contract, one
  read-only snapshot, watermarks, pseudonymisation before the first write, one transaction,
  and closing the warehouse (DuckDB's checkpoint then is part of the cost).

Each side's CPU seconds (this process only, not the server's) are printed too: on a shared
machine they vary less than the wall-clock rates. Prints ``VALUE``/``RATIO`` lines; never
asserts on time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = ("uddannelse", "afslagsbegrundelse", "skole", "virksomhed", "elev",
          "uddannelsesaftale", "frafaldsvurdering", "afslag")


def ensure_store(admin_url: str, scale: str, seed: int = 1) -> str:
    """The benchmark database for a scale, generated once and reused while it matches."""
    import psycopg
    from psycopg import sql

    name = f"lpstat_bench_{scale}"
    base = admin_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TABLE IF NOT EXISTS bench_marker (scale text, seed int)")
        row = con.execute("SELECT scale, seed FROM bench_marker").fetchone()
    if row != (scale, seed):
        from demo.postgres import generate_postgres

        t = time.perf_counter()
        sc = int(scale) if scale.isdigit() else scale
        counts = generate_postgres(url, scale=sc, seed=seed)
        print(f"# generated scale {scale} in {time.perf_counter() - t:.0f} s: "
              f"{sum(counts.values()):,} rows", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DELETE FROM bench_marker")
            con.execute("INSERT INTO bench_marker VALUES (%s, %s)", [scale, seed])
    return url


def _cpu() -> float:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _worker_copy(url: str) -> dict:
    import psycopg

    rows = nbytes = 0
    with psycopg.connect(url) as con:
        for table in TABLES:
            rows += con.execute(f"SELECT count(*) FROM laerepladsen.{table}").fetchone()[0]
        t, cpu = time.perf_counter(), _cpu()
        with con.cursor() as cur:
            for table in TABLES:
                with cur.copy(f"COPY laerepladsen.{table} TO STDOUT (FORMAT binary)") as copy:
                    for chunk in copy:
                        nbytes += len(chunk)
    return {"seconds": time.perf_counter() - t, "cpu_seconds": _cpu() - cpu, "rows": rows,
            "bytes": nbytes}


def _worker_lpstat(url: str, path: str) -> dict:
    import adbc_driver_postgresql.dbapi  # noqa: F401  (import cost is not extraction cost)

    from transforms.land import land_source
    from transforms.warehouse import connect

    con = connect(path)
    t, cpu = time.perf_counter(), _cpu()
    stats = land_source(url, "bench-key", con, "bench")
    con.close()  # the real step closes its connection too, and DuckDB checkpoints then
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": sum(s["read"] for s in stats.values())}


def peak_rss_mb() -> float:
    """This process's own peak RSS in MB: ``VmHWM`` of /proc/self/status where there is one.
    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a child across fork
    and exec, so every step started by a bench that had generated a large store reported at
    least the bench's own peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_subprocess(kind: str, *args: str) -> dict:
    code = ("import json, sys; from bench.extract import _worker_%s as w, peak_rss_mb; "
            "r = w(*sys.argv[1:]); r['peak_rss_mb'] = peak_rss_mb(); print(json.dumps(r))"
            % kind)
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(url: str, runs: int = 3) -> dict:
    import statistics
    import tempfile
    from pathlib import Path

    copy, lp = [], []
    _in_subprocess("copy", url)  # warm-up: the server's cache
    for _ in range(runs):
        copy.append(_in_subprocess("copy", url))
        with tempfile.TemporaryDirectory() as d:
            lp.append(_in_subprocess("lpstat", url, str(Path(d) / "wh.duckdb")))
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    rows = copy[0]["rows"]
    return {
        "rows": rows,
        "copy_rows_per_s": rows / med(copy, "seconds"),
        "lpstat_rows_per_s": lp[0]["rows"] / med(lp, "seconds"),
        "copy_peak_rss_mb": max(x["peak_rss_mb"] for x in copy),
        "lpstat_peak_rss_mb": max(x["peak_rss_mb"] for x in lp),
        "lpstat_seconds": med(lp, "seconds"),
        "copy_seconds": med(copy, "seconds"),
        "lpstat_cpu_seconds": med(lp, "cpu_seconds"),
        "copy_cpu_seconds": med(copy, "cpu_seconds"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="10", help="national, or a multiplier N (default 10)")
    p.add_argument("--pg", default=DEFAULT_PG, help="an admin URL on the benchmark server")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    url = ensure_store(args.pg, args.scale)
    r = measure(url, args.runs)
    s = args.scale
    print(f"VALUE extract_rows_{s} {r['rows']} rows")
    print(f"VALUE copy_binary_rate_{s} {r['copy_rows_per_s']:.0f} rows/s")
    print(f"VALUE lpstat_extract_rate_{s} {r['lpstat_rows_per_s']:.0f} rows/s")
    print(f"RATIO lpstat_extract_vs_copy_{s} {r['lpstat_rows_per_s'] / r['copy_rows_per_s']:.3f}")
    print(f"VALUE lpstat_extract_peak_rss_{s} {r['lpstat_peak_rss_mb']:.0f} MB")
    print(f"VALUE copy_peak_rss_{s} {r['copy_peak_rss_mb']:.0f} MB")
    print(f"VALUE lpstat_extract_cpu_{s} {r['lpstat_cpu_seconds']:.2f} s")
    print(f"VALUE copy_binary_cpu_{s} {r['copy_cpu_seconds']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
