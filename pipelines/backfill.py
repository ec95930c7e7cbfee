"""Backfill from the command line: build every release month of a range, oldest first.

``run_range(settings, "2026-01", "2026-10")`` lands the store once (ingest and warehouse,
with the first month), then builds the partitioned assets (cubes, disclosure control,
release) month by month, each as its own Dagster run recorded in the instance under
``LPSTAT_HOME`` (pipelines/instance.py), so the runs show in the UI with the tag
``lpstat/backfill=<first>..<last>``. It prints per month what happened.

Months are built in order and the backfill stops at the first failure: each release lists
its revisions against the previous release folder, so building month M+1 on top of a
missing M would publish the wrong revisions. A failed month publishes nothing (releases are
written atomically), so everything built before it stays, ``latest`` included; the message
says which step failed, why, and the command that resumes the range.
"""

from __future__ import annotations

import sys

from transforms.calendar import FIRST_RELEASE, Release, ReleaseError, month_range


def check_range(first: str, last: str) -> str | None:
    """Why the range cannot be built (a sentence saying what to do), or None."""
    from pipelines.partitions import release_partitions

    for name, value in (("--from", first), ("--to", last)):
        try:
            Release.parse(value or "")
        except ReleaseError as exc:
            return f"{name} {exc}."
    if Release.parse(first) > Release.parse(last):
        return f"--from {first} is after --to {last}: give the earlier month first."
    if Release.parse(first) < FIRST_RELEASE:
        return f"the first release month is {FIRST_RELEASE}; use --from {FIRST_RELEASE} or later."
    newest = release_partitions.get_last_partition_key()
    if newest is None or Release.parse(last) > Release.parse(newest):
        return (f"release month {last} is not over yet (or not yet in the release calendar): "
                f"the newest month that can be built is {newest}.")
    return None


def _definitions() -> list | None:
    """None: the whole ``monthly_release`` job, so a backfill runs exactly what the schedule
    runs (blocking checks stop a month before anything is published). Tests put a subset of
    the assets here."""
    return None


def _summary(result, settings, month: str, seconds: float) -> str:
    """One line on what a successful month produced."""
    mats = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    parts = [f"built in {seconds:.1f} s"]
    from pipelines.runs import landing_summary

    raw = [{k: v.value for k, v in m.items()} for key, m in mats.items()
           if key.startswith("raw_")]
    if raw:
        parts.append(f"store landed ({landing_summary(raw)})")
    prot = mats.get("beskyttede_celler", {})
    if "verdict" in prot:
        parts.append(f"audit {prot['verdict'].value}, {int(prot['withheld'].value):,} "
                     "withheld cells")
    rel = mats.get("udgivelse", {})
    if "files" in rel:
        parts.append(f"{len(rel['files'].value)} files")
    retries = [e.step_key for e in result.all_events
               if e.event_type_value == "STEP_UP_FOR_RETRY"]
    if retries:
        parts.append("retried: " + ", ".join(f"{s} x{retries.count(s)}"
                                              for s in dict.fromkeys(retries)))
    folder = settings.releases_dir / month
    return f"{', '.join(parts)} -> {folder}"


def run_range(settings, first: str, last: str, *, instance=None, out=None, err=None,
              notify: bool = True, verbose: bool = False, wait: bool = False,
              resources: dict | None = None) -> bool:
    """Build every release month from ``first`` through ``last`` in order; True if all
    were built. Each month is a run of ``monthly_release`` in ``instance`` (default: the one
    under ``settings.home``, see pipelines/instance.py), all under one warehouse lock and one
    log file (pipelines/runs.py). ``resources``: Dagster resources in place of the
    definitions' (tests: a stand-in ``disclosure``)."""
    from pipelines.runs import Session
    from pipelines.sensors import classify_failure, failure_payload, notify_failure
    from transforms.publish.release import complete_releases

    out = out or sys.stdout
    err = err or sys.stderr
    problem = check_range(first, last)
    if problem:
        print(f"lpstat: {problem}", file=err)
        return False
    months = [str(r) for r in month_range(first, last)]
    tags = {"lpstat/backfill": f"{first}..{last}"}
    if notify:  # one notice per failure: this command's, not the sensor's as well
        from pipelines.sensors import NOTIFIED_BY_TAG

        tags[NOTIFIED_BY_TAG] = "lpstat backfill"
    with Session(settings, f"lpstat run --from {first} --to {last}", instance=instance,
                 verbose=verbose, wait=wait, tags=tags, quiet_steps=True, live=False) as session:
        print(f"Backfill {first} .. {last}: {len(months)} release month(s), oldest first, "
              f"into {settings.releases_dir} (log: {session.log_path})", file=out, flush=True)
        definitions = _definitions()
        for i, month in enumerate(months):
            outcome = session.build(month, with_ingest=(i == 0), definitions=definitions,
                                    resources=resources, land_through=months[-1])
            result, seconds = outcome.result, outcome.seconds
            if result.success:
                print(f"  {month}  {_summary(result, settings, month, seconds)}", file=out,
                      flush=True)
                continue
            status, reason, steps = classify_failure(result.get_step_failure_events())
            if not steps:
                steps = [{"step": "run", "message": "the run failed before any step ran"}]
            for s in steps:
                print(f"  {month}  {status.upper()} in step {s['step']} after {seconds:.1f} s: "
                      f"{s['message']}", file=out, flush=True)
            left = months[i + 1:]
            if left:
                print(f"  not built: {', '.join(left)}", file=out)
            done = complete_releases(settings.releases_dir)
            latest = done[-1] if done else None
            blocked_by = {"audit": " (the disclosure audit blocked it)",
                          "quality_check": " (a blocking quality check stopped it)"}
            print(f"lpstat: nothing was published for {month}{blocked_by.get(reason, '')}. "
                  "The releases already there (an earlier build of it included) are unchanged"
                  + (f" and 'latest' still points at {latest}" if latest else "")
                  + ". Fix the cause above, then resume with: "
                  f"lpstat run --from {month} --to {last}   (docs/runbook.md; the whole log: "
                  f"{session.log_path})", file=err, flush=True)
            if notify:
                notify_failure(failure_payload(month, status, steps, job="lpstat backfill",
                                               run_id=result.run_id, reason=reason))
            return False
    print(f"Done: {len(months)} release(s) built; latest -> "
          f"{complete_releases(settings.releases_dir)[-1]}", file=out, flush=True)
    return True
