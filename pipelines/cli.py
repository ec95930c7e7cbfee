"""The lpstat command line: demo, run, serve (contract section 6).

Every command runs the same Dagster assets as the schedule, in-process, so a release built
from the command line is the release the monthly run would build.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    print(f"lpstat: {msg}", file=sys.stderr)


def complete_months(last_day: date, lag_days: int = 14) -> str:
    """The newest month whose registrations are complete: refusals are registered within
    two weeks, so month M is complete once the store has data through M's end + lag."""
    d = last_day - timedelta(days=lag_days)
    first_next = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
    if d == first_next - timedelta(days=1):
        return f"{d.year:04d}-{d.month:02d}"
    prev = d.replace(day=1) - timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def month_before(release: str) -> str:
    y, m = (int(x) for x in release.split("-"))
    return f"{y - 1:04d}-12" if m == 1 else f"{y:04d}-{m - 1:02d}"


def materialize(settings, release: str, with_ingest: bool = True) -> bool:
    """Build one release through the asset graph; print what failed and why."""
    import dagster as dg

    from pipelines.definitions import ALL_ASSETS
    from pipelines.resources import LpstatResource

    resources = {"lpstat": LpstatResource(home=str(settings.home), source_url=settings.source_url,
                                          pseudonym_key=settings.pseudonym_key)}
    selection = None if with_ingest else dg.AssetSelection.groups("cubes", "disclosure", "release")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ALL_ASSETS, selection=selection, partition_key=release,
                                resources=resources, instance=instance, raise_on_error=False)
    if result.success:
        return True
    for event in result.all_events:
        if event.is_step_failure:
            err = event.step_failure_data.error
            while err is not None and err.cause is not None:
                err = err.cause
            message = err.message.strip() if err else "unknown error"
            _err(f"release {release} failed in step {event.step_key}: {message}")
    _err("Nothing was published for this month; earlier releases and 'latest' are unchanged.")
    return False


def cmd_demo(args) -> int:
    from demo.generate import generate
    from transforms.extract import latest_registration_day
    from transforms.settings import demo_store_path, load_settings

    settings = load_settings()
    if settings.is_demo_store:
        store = demo_store_path(settings.home)
        if not store.exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            scale = int(args.scale) if str(args.scale).isdigit() else args.scale
            print(f"Generating the demo store ({scale} scale, seed {args.seed}) at {store} ...")
            counts = generate(store, scale=scale, seed=args.seed)
            print("  " + ", ".join(f"{t}: {n:,}" for t, n in counts.items()))
    last = latest_registration_day(settings.source_url)
    if last is None:
        _err("the store has no refusals, so no month is complete yet.")
        return EXIT_FAILED
    latest = complete_months(last)
    months = [month_before(latest), latest]
    for i, m in enumerate(months):
        print(f"Building release {m} ...")
        if not materialize(settings, m, with_ingest=(i == 0)):
            return EXIT_FAILED
    rel = settings.releases_dir
    print("\nDone. Outputs:")
    print(f"  releases:   {rel}/{{{','.join(months)}}}  (latest -> {latest})")
    print(f"  report:     {rel / latest / 'rapport.html'}")
    print(f"  warehouse:  {settings.warehouse_path}")
    print("  serve them: lpstat serve   (API on http://127.0.0.1:8000/Api/v1/...)")
    return EXIT_OK


def cmd_run(args) -> int:
    from transforms.settings import load_settings

    settings = load_settings()
    return EXIT_OK if materialize(settings, args.release) else EXIT_FAILED


def cmd_serve(args) -> int:
    from serving.app import serve
    from transforms.settings import DEMO_API_TOKEN, load_settings

    settings = load_settings()
    if settings.api_tokens == (DEMO_API_TOKEN,):
        print(f"No LPSTAT_API_TOKENS set: accepting the demo token {DEMO_API_TOKEN!r}.")
    serve(settings.releases_dir.parent, args.host, args.port, list(settings.api_tokens))
    return EXIT_OK


def _release_arg(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a release month: use YYYY-MM, e.g. 2026-10")
    if value < "2021-04":
        raise argparse.ArgumentTypeError("the first release month is 2021-04")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpstat", description="Statistics on SOSU trainee refusals "
                                "and dropout-risk assessments from Lærepladsen.dk.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="build the demo store and its two latest releases",
                       description="Build an embedded demo store if missing, then the releases "
                       "of its two latest complete months. Example: lpstat demo --scale small")
    d.add_argument("--scale", default="national", help="small, national or a multiplier N")
    d.add_argument("--seed", type=int, default=1)
    d.set_defaults(func=cmd_demo)
    r = sub.add_parser("run", help="build one release from the configured store",
                       description="Example: LPSTAT_SOURCE_URL=postgresql://etl@db:5432/portal "
                       "LPSTAT_PSEUDONYM_KEY=... lpstat run --release 2026-10")
    r.add_argument("--release", required=True, type=_release_arg, metavar="YYYY-MM")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("serve", help="serve the releases over the statistics API",
                       description="Example: LPSTAT_API_TOKENS=secret1,secret2 lpstat serve --port 8000")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    from transforms.extract import SourceError
    from transforms.settings import SettingsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SettingsError, SourceError) as exc:
        _err(str(exc))
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted; releases are written atomically, so nothing half-written was left.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
