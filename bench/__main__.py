"""The whole monthly run, step by step, at one or more scales: ``python -m bench``.

    python -m bench [--scale national,10,100] [--runs 3] [--pg URL] [--skip-api]
                    [--all-releases national] [--release YYYY-MM] [--results PATH]
                    [--no-command] [--command-only 100]

For each scale: generate (or reuse) the demo store in the local PostgreSQL
(``lpstat_bench_<scale>``), then time ``lpstat run --release`` itself, as users start it (the
Dagster job through the persistent instance, quality checks included), three times on one
fresh home: the month before the latest on the empty home, the latest month (its first run),
and the latest month again (a re-run); wall and CPU seconds, peak RSS of the largest process
and the step times the instance recorded. Then (unless ``--command-only`` names the scale)
measure each step directly, in its own subprocess (so its peak RSS is its own), the median of
``--runs`` runs after a warm-up:

1. extraction (lpstat's extract + pseudonymise + load) next to ``COPY … TO STDOUT (FORMAT
   binary)`` of the same tables;
2. warehouse + cubes for the latest complete release;
3. suppression + audit;
4. release writing;
5. the API (bench/api.py) over the built release, next to its trivial endpoint;
6. at the scales named by ``--all-releases`` (default national), once: the cubes of every
   release from 2021-04 to the latest, built one after another (time per release).

Writes ``bench/RESULTS.md`` (with the machine's description) and prints one line per figure:
``RATIO <name> <value>`` or ``VALUE <name> <value> <unit>``. Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.extract import DEFAULT_PG, ensure_store, measure

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"

STEP_CODE = {
    "warehouse_cubes": """
import time
from transforms.warehouse import connect, build_all
from transforms.cubes import prepare_release, build_cells
from transforms.catalog import CUBES
from transforms.warehouse import store_partition
con = connect(HOME + '/warehouse.duckdb')
t = time.perf_counter()
build_all(con)
prepare_release(con, RELEASE)
for u, c in CUBES.items():
    store_partition(con, 'cube_' + u.lower(), RELEASE, build_cells(con, c, RELEASE))
seconds = time.perf_counter() - t
cells = sum(con.execute('SELECT count(*) FROM cube_' + u.lower() + ' WHERE udgivelse = ?',
                        [RELEASE]).fetchall()[0][0] for u in CUBES)
con.close()
RESULT = {'seconds': seconds, 'cells': cells}
""",
    "all_releases": """
import time
from transforms.warehouse import connect, store_partition
from transforms.cubes import prepare_release, build_cells
from transforms.catalog import CUBES
con = connect(HOME + '/warehouse.duckdb')
from transforms.calendar import FIRST_RELEASE, month_range
releases = [str(r) for r in month_range(FIRST_RELEASE, RELEASE)]
seconds = []
for r in releases:
    t = time.perf_counter()
    prepare_release(con, r)
    for u, c in CUBES.items():
        store_partition(con, 'cube_' + u.lower(), r, build_cells(con, c, r))
    seconds.append(time.perf_counter() - t)
con.close()
RESULT = {'seconds': sum(seconds), 'per_release': seconds, 'releases': releases}
""",
    "disclosure": """
import time
from transforms.warehouse import connect
from transforms.disclosure.protect import protect_release
con = connect(HOME + '/warehouse.duckdb')
t = time.perf_counter()
audit = protect_release(con, RELEASE)
seconds = time.perf_counter() - t
con.close()
RESULT = {'seconds': seconds, 'verdict': audit['verdict'],
          'withheld': sum(c['withheld'] for c in audit['cubes'].values())}
""",
    "release": """
import time
from pathlib import Path
from transforms.warehouse import connect
from transforms.publish.release import publish_release
con = connect(HOME + '/warehouse.duckdb')
t = time.perf_counter()
publish_release(con, Path(HOME) / 'releases', RELEASE, {})
seconds = time.perf_counter() - t
con.close()
RESULT = {'seconds': seconds}
""",
    "extract_once": """
import time
import adbc_driver_postgresql.dbapi
from transforms.land import land_source
from transforms.warehouse import connect
con = connect(HOME + '/warehouse.duckdb')
t = time.perf_counter()
land_source(URL, 'bench-key', con, 'bench')
RESULT = {'seconds': time.perf_counter() - t}
con.close()
""",
}


def _step(name: str, **env: str) -> dict:
    prelude = "".join(f"{k} = {v!r}\n" for k, v in env.items())
    code = (prelude + STEP_CODE[name] + "\nimport json\nfrom bench.extract import peak_rss_mb\n"
            "RESULT['peak_rss_mb'] = peak_rss_mb()\nprint(json.dumps(RESULT))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"bench step {name!r} failed (exit {out.returncode}):\n"
                           + "\n".join(out.stderr.splitlines()[-15:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


#: ``lpstat run`` itself, in a fresh process; prints its wall time, CPU seconds and peak RSS
#: (the largest process of its tree: ru_maxrss over the waited-for children), then the step
#: times of its Dagster run as the instance recorded them.
COMMAND_CODE = """
import json, os, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run([LPSTAT, 'run', '--release', RELEASE], capture_output=True, text=True)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode:
    sys.exit('lpstat run failed (exit %d):\\n%s' % (p.returncode, p.stderr[-3000:]))
from pipelines.instance import open_instance
with open_instance(os.environ['LPSTAT_HOME']) as instance:
    run = instance.get_runs(limit=1)[0]
    stats = instance.get_run_step_stats(run.run_id)
    steps = {s.step_key: s.end_time - s.start_time for s in stats if s.end_time and s.start_time}
    run_stats = instance.get_run_stats(run.run_id)
print(json.dumps({'seconds': wall, 'cpu_seconds': ru.ru_utime + ru.ru_stime,
                  'peak_rss_mb': ru.ru_maxrss / 1024, 'steps': steps,
                  'run_seconds': run_stats.end_time - run_stats.start_time}))
"""

#: what the three real-command figures are (bench/RESULTS.md)
COMMAND_CASES = {
    "first": "first run, empty home (lands the whole store, release M-1)",
    "new": "next month's first run (M; M-1 already built)",
    "rerun": "re-run of M (nothing new to land)",
}


def _lpstat_run(home: str, url: str, release: str) -> dict:
    lpstat = str(Path(sys.executable).with_name("lpstat"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LPSTAT_")}
    env.update({"LPSTAT_HOME": home, "LPSTAT_SOURCE_URL": url,
                "LPSTAT_PSEUDONYM_KEY": "bench-key"})
    code = f"LPSTAT = {lpstat!r}\nRELEASE = {release!r}\n" + COMMAND_CODE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    if out.returncode:
        raise RuntimeError(f"lpstat run --release {release} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_command(url: str, release: str) -> dict:
    """``lpstat run --release`` as users start it (the real Dagster job, through the
    persistent instance): M-1 on an empty home, then M, then M again."""
    from transforms.calendar import Release

    fig = {}
    with tempfile.TemporaryDirectory() as home:
        for case, month in (("first", str(Release.parse(release).previous())), ("new", release),
                            ("rerun", release)):
            r = _lpstat_run(home, url, month)
            fig[f"command_{case}_seconds"] = r["seconds"]
            fig[f"command_{case}_cpu_seconds"] = r["cpu_seconds"]
            fig[f"command_{case}_peak_rss_mb"] = r["peak_rss_mb"]
            fig[f"command_{case}_steps"] = r["steps"]
    return fig


def _top_steps(steps: dict, n: int = 5) -> str:
    top = sorted(steps.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {v:.1f}" for k, v in top)


def _latest_release(url: str) -> str:
    from transforms.calendar import Release
    from transforms.extract import latest_registration_day

    return str(Release.newest_complete(latest_registration_day(url)))


def bench_scale(scale: str, admin_url: str, runs: int, api: bool, all_releases: bool = False,
                release: str | None = None, warmup: bool = True, api_seconds: float = 8,
                command: bool = True, steps_too: bool = True) -> dict:
    url = ensure_store(admin_url, scale)
    release = release or _latest_release(url)
    fig: dict = {"scale": scale, "release": release, "runs": runs, "warmup": warmup}
    if command:
        fig.update(bench_command(url, release))
    if not steps_too:
        return fig
    ext = measure(url, runs)
    fig.update({k: ext[k] for k in ("rows", "copy_rows_per_s", "lpstat_rows_per_s",
                                    "lpstat_peak_rss_mb", "lpstat_seconds")})
    steps: dict[str, list[dict]] = {"warehouse_cubes": [], "disclosure": [], "release": []}
    first = 0 if warmup else 1
    for i in range(first, runs + 1):  # run 0 is the warm-up
        with tempfile.TemporaryDirectory() as home:
            _step("extract_once", HOME=home, URL=url)
            for name in steps:
                r = _step(name, HOME=home, RELEASE=release)
                if i:
                    steps[name].append(r)
            if api and i == runs:
                fig["api"] = _api(Path(home), api_seconds)
            if all_releases and i == runs:
                # Every release month from the first (2021-04), cubes built one after another
                # on the same warehouse, as a backfill does: once, it takes minutes.
                r = _step("all_releases", HOME=home, RELEASE=release)
                per = r["per_release"]
                fig.update({"all_releases": len(per), "all_releases_first": r["releases"][0],
                            "all_releases_median_s": statistics.median(per),
                            "all_releases_max_s": max(per),
                            "all_releases_max_release": r["releases"][per.index(max(per))],
                            "all_releases_total_s": r["seconds"],
                            "all_releases_peak_rss_mb": r["peak_rss_mb"]})
    for name, rs in steps.items():
        fig[f"{name}_seconds"] = statistics.median(r["seconds"] for r in rs)
        fig[f"{name}_peak_rss_mb"] = max(r["peak_rss_mb"] for r in rs)
    fig["cells"] = steps["warehouse_cubes"][0]["cells"]
    fig["verdict"] = steps["disclosure"][0]["verdict"]
    fig["end_to_end_seconds"] = (fig["lpstat_seconds"] + fig["warehouse_cubes_seconds"]
                                 + fig["disclosure_seconds"] + fig["release_seconds"])
    fig["peak_rss_mb"] = max(fig["lpstat_peak_rss_mb"], fig["warehouse_cubes_peak_rss_mb"],
                             fig["disclosure_peak_rss_mb"], fig["release_peak_rss_mb"])
    return fig


def _api(home: Path, seconds: float = 8) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "api.py"), str(home),
                          "--seconds", str(seconds)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"bench/api.py failed (exit {out.returncode}):\n"
                           + "\n".join(out.stderr.splitlines()[-15:]))
    figures = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(VALUE|RATIO) (\S+) (\S+)", line)
        if m:
            figures[m.group(2)] = float(m.group(3))
    return figures


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def _runs(spec: str, scale: str) -> int:
    """``--runs``: one number for every scale, or ``scale=N`` pairs (default 3 where unnamed)."""
    if "=" not in spec:
        return int(spec)
    pairs = dict(part.split("=", 1) for part in spec.split(",") if part.strip())
    return int(pairs.get(scale, 3))


def _opt(f: dict, key: str, fmt: str) -> str:
    return fmt.format(f[key]) if key in f else "not run"


def _cell(fn, f: dict) -> str:
    try:
        return fn(f)
    except KeyError:  # a scale measured with --command-only
        return "not run"


def report(figs: list[dict]) -> str:
    command_rows = []
    for case, what in COMMAND_CASES.items():
        command_rows += [
            (f"`lpstat run`, {what}: wall s", lambda f, c=case: _opt(f, f"command_{c}_seconds", "{:.1f}")),
            (f"`lpstat run`, {what}: CPU s", lambda f, c=case: _opt(f, f"command_{c}_cpu_seconds", "{:.1f}")),
            (f"`lpstat run`, {what}: peak RSS, MB", lambda f, c=case: _opt(f, f"command_{c}_peak_rss_mb", "{:.0f}")),
            (f"`lpstat run`, {what}: slowest steps, s", lambda f, c=case: _top_steps(f[f"command_{c}_steps"]) if f"command_{c}_steps" in f else "not run"),
        ]
    rows = [
        ("source rows", lambda f: f"{f['rows']:,}"),
        ("release built", lambda f: f["release"]),
        *command_rows,
        ("measured runs (median of)", lambda f: f"{f['runs']}" + (" after a warm-up" if f.get("warmup", True) else "")),
        ("binary COPY, rows/s", lambda f: f"{f['copy_rows_per_s']:,.0f}"),
        ("lpstat extract+pseudonymise+load, rows/s", lambda f: f"{f['lpstat_rows_per_s']:,.0f}"),
        ("extract ratio to COPY", lambda f: f"{f['lpstat_rows_per_s'] / f['copy_rows_per_s']:.2f}"),
        ("extract peak RSS, MB", lambda f: f"{f['lpstat_peak_rss_mb']:.0f}"),
        ("warehouse + cubes, s", lambda f: f"{f['warehouse_cubes_seconds']:.1f}"),
        ("warehouse + cubes peak RSS, MB", lambda f: f"{f['warehouse_cubes_peak_rss_mb']:.0f}"),
        ("cells", lambda f: f"{f['cells']:,}"),
        ("suppression + audit, s", lambda f: f"{f['disclosure_seconds']:.1f}"),
        ("suppression + audit peak RSS, MB", lambda f: f"{f['disclosure_peak_rss_mb']:.0f}"),
        ("audit verdict", lambda f: f["verdict"]),
        ("release writing, s", lambda f: f"{f['release_seconds']:.1f}"),
        ("release writing peak RSS, MB", lambda f: f"{f['release_peak_rss_mb']:.0f}"),
        ("steps summed: one release end to end, s", lambda f: _opt(f, "end_to_end_seconds", "{:.1f}")),
        ("peak RSS of any step, MB", lambda f: f"{f['peak_rss_mb']:.0f}"),
        ("all releases: how many (from 2021-04)", lambda f: _opt(f, "all_releases", "{:d}")),
        ("all releases: median s per release (cubes)", lambda f: _opt(f, "all_releases_median_s", "{:.1f}")),
        ("all releases: slowest release, s", lambda f: _opt(f, "all_releases_max_s", "{:.1f}")
         + (f" ({f['all_releases_max_release']})" if "all_releases_max_release" in f else "")),
        ("all releases: total, s", lambda f: _opt(f, "all_releases_total_s", "{:.0f}")),
        ("API requests/s (8 clients)", lambda f: f"{f.get('api', {}).get('api_rps', float('nan')):.0f}"),
        ("API p99, ms", lambda f: f"{f.get('api', {}).get('api_p99', float('nan')):.0f}"),
        ("API ratio to trivial endpoint", lambda f: f"{f.get('api', {}).get('api_rps_vs_ceiling', float('nan')):.2f}"),
    ]
    head = "| figure | " + " | ".join(f"scale {f['scale']}" for f in figs) + " |"
    sep = "|---|" + "---|" * len(figs)
    body = [f"| {name} | " + " | ".join(_cell(fn, f) for f in figs) + " |" for name, fn in rows]
    return "\n".join([
        "# Benchmark results", "",
        f"Machine: {machine()}.", "",
        "Written by `python -m bench`. Two kinds of figure: the `lpstat run` rows time the "
        "real command as users start it (the Dagster job `monthly_release` in the persistent "
        "instance, every asset and quality check, startup included; wall and CPU seconds of "
        "the command, peak RSS of its largest process, and its slowest steps as the instance "
        "recorded them), once each; the other rows time the steps run directly, without "
        "Dagster or the quality checks (median of several runs after a warm-up; each step in "
        "its own process, peak RSS per step), so their sum is not what a user waits. Times "
        "are wall-clock on a shared machine: read the ratios and how each step grows with "
        "scale rather than single seconds.", "",
        head, sep, *body, ""])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="national,10", help="comma-separated: national, N")
    p.add_argument("--runs", default="3",
                   help="measured runs per scale after the warm-up: N, or per scale as "
                        "'national=3,10=3,100=1' (a 100x run takes many minutes)")
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--skip-api", action="store_true")
    p.add_argument("--all-releases", default="national",
                   help="comma-separated scales at which to build every release from 2021-04 "
                        "(issue 4's per-release time); 'none' for none")
    p.add_argument("--no-write", action="store_true", help="do not write the results table")
    p.add_argument("--results", type=Path, default=RESULTS, help="where to write the table")
    p.add_argument("--release", help="the release to build (default: the latest complete month)")
    p.add_argument("--no-warmup", nargs="?", const="all", default="",
                   help="skip the warm-up run at these scales (comma-separated; alone: all)")
    p.add_argument("--api-seconds", type=float, default=8, help="how long the API is driven")
    p.add_argument("--no-command", action="store_true",
                   help="do not time `lpstat run` itself (only the steps)")
    p.add_argument("--command-only", default="",
                   help="scales (comma-separated) at which to time only `lpstat run` itself")
    args = p.parse_args(argv)
    figs = []
    for scale in args.scale.split(","):
        t = time.perf_counter()
        f = bench_scale(scale.strip(), args.pg, _runs(args.runs, scale.strip()), not args.skip_api,
                        scale.strip() in args.all_releases.split(","), release=args.release,
                        warmup=not (args.no_warmup == "all"
                                    or scale.strip() in args.no_warmup.split(",")),
                        api_seconds=args.api_seconds, command=not args.no_command,
                        steps_too=scale.strip() not in args.command_only.split(","))
        figs.append(f)
        s = f["scale"]
        for case in COMMAND_CASES:
            if f"command_{case}_seconds" in f:
                print(f"VALUE lpstat_run_{case}_{s} {f[f'command_{case}_seconds']:.2f} s")
                print(f"VALUE lpstat_run_{case}_cpu_{s} {f[f'command_{case}_cpu_seconds']:.2f} s")
                print(f"VALUE lpstat_run_{case}_peak_rss_{s} "
                      f"{f[f'command_{case}_peak_rss_mb']:.0f} MB")
                print(f"# lpstat_run_{case}_{s} slowest steps, s: "
                      f"{_top_steps(f[f'command_{case}_steps'], 6)}")
        if "rows" not in f:  # --command-only
            if not args.no_write:
                args.results.write_text(report(figs), encoding="utf-8")
            continue
        print(f"VALUE rows_{s} {f['rows']} rows")
        print(f"RATIO extract_vs_copy_{s} {f['lpstat_rows_per_s'] / f['copy_rows_per_s']:.3f}")
        print(f"VALUE extract_rate_{s} {f['lpstat_rows_per_s']:.0f} rows/s")
        for step in ("warehouse_cubes", "disclosure", "release"):
            print(f"VALUE {step}_{s} {f[step + '_seconds']:.2f} s")
            print(f"VALUE {step}_peak_rss_{s} {f[step + '_peak_rss_mb']:.0f} MB")
        print(f"VALUE end_to_end_{s} {f['end_to_end_seconds']:.2f} s")
        if "all_releases" in f:
            print(f"VALUE all_releases_{s} {f['all_releases']} releases")
            print(f"VALUE all_releases_median_{s} {f['all_releases_median_s']:.2f} s")
            print(f"VALUE all_releases_max_{s} {f['all_releases_max_s']:.2f} s")
        print(f"VALUE peak_rss_{s} {f['peak_rss_mb']:.0f} MB")
        for k, v in f.get("api", {}).items():
            print(f"{'RATIO' if 'ratio' in k or '_vs_' in k else 'VALUE'} {k}_{s} {v:g}")
        print(f"# scale {s} took {time.perf_counter() - t:.0f} s", file=sys.stderr)
        if not args.no_write:  # after every scale, so a long run that is stopped keeps some
            args.results.write_text(report(figs), encoding="utf-8")
            print(f"# wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
