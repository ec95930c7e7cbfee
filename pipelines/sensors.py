"""Notify when a release run fails or is blocked by the disclosure audit.

A run that fails (the store did not answer, a model broke) or is blocked (the audit found a
withheld cell that can be narrowed down, or a blocking data-quality check failed) publishes
nothing: earlier releases and ``latest``
stay as they were. Someone still has to know. ``release_failure_sensor`` logs every failed
run and, when ``LPSTAT_WEBHOOK_URL`` is set, posts one JSON message to it (a Teams/Slack/
Mattermost incoming webhook or any HTTP endpoint)::

    {"text": "lpstat: release 2026-10 BLOCKED in step beskyttede_celler: ...",
     "event": "lpstat.release_blocked", "status": "blocked", "release": "2026-10",
     "job": "monthly_release", "run_id": "...", "run_path": "/runs/<run_id>",
     "blocked_by": "audit",      # or "quality_check" (a blocking asset check); null if failed
     "failed_steps": [{"step": "beskyttede_celler", "message": "..."}],
     "what_to_do": "..."}

Posting never raises and gives up after a short timeout: a notification must not turn one
failure into two. The command line's backfill calls :func:`notify_failure` the same way.
The messages carry step names and error texts only, never data.
"""

from __future__ import annotations

import json
import logging
import urllib.request

import dagster as dg

from transforms.disclosure.verdict import PASSED
from transforms.settings import WEBHOOK_URL_ENV as WEBHOOK_ENV
from transforms.settings import webhook_url

log = logging.getLogger("lpstat.notify")

#: a run tag: whoever started the run notifies its failure itself (the sensor stays silent)
NOTIFIED_BY_TAG = "lpstat/notified_by"
TIMEOUT_SECONDS = 5.0
_MAX_MESSAGE = 1000

WHAT_TO_DO = {
    "failed": "Nothing was published for this month; earlier releases and 'latest' are "
              "unchanged. Read the failed step's error in the Dagster UI (run_path), fix the "
              "cause (is the store reachable? are the settings right?), then re-run the month "
              "(Dagster UI: re-execute the run, or `lpstat run --release YYYY-MM`). "
              "See docs/runbook.md.",
    "audit": "The disclosure audit rejected the suppression pattern, so nothing was "
             "published; earlier releases and 'latest' are unchanged. Do not publish by hand. "
             "The failing cells are in the warehouse table release_audit; report it to the "
             "lpstat developers as a suppression bug. See docs/runbook.md, 'Reading the "
             "checks'.",
    "quality_check": "A blocking data-quality check (severity ERROR) failed, so nothing "
                     "downstream of it ran and nothing was published; earlier releases and "
                     "'latest' are unchanged. The check's result in the Dagster UI (asset page, "
                     "Checks tab) names the rule, the count and example keys: fix the data in "
                     "the store (or the rule, if it is wrong), then re-run the month. See "
                     "docs/runbook.md, 'Reading the checks'.",
}


def post_json(url: str, payload: dict, timeout: float = TIMEOUT_SECONDS) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Never raises."""
    try:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{WEBHOOK_ENV} must be an http(s) URL")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "lpstat"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # http(s) only, see above
            ok = 200 <= resp.status < 300
        if not ok:
            log.warning("webhook answered HTTP %s; the failure is only in the log", resp.status)
        return ok
    except Exception as exc:  # noqa: BLE001 (a notification must never fail the caller)
        log.warning("could not post to the webhook (%s: %s); the failure is only in the log",
                    type(exc).__name__, str(exc)[:200])
        return False


def failure_payload(release: str | None, status: str, failed_steps: list[dict],
                    job: str = "", run_id: str = "", reason: str | None = None) -> dict:
    """The JSON message for a failed ('failed') or blocked ('blocked') release; a blocked
    one names what blocked it (``reason``: 'audit' or 'quality_check')."""
    steps = [{"step": s["step"], "message": str(s["message"])[:_MAX_MESSAGE]}
             for s in failed_steps]
    first = steps[0] if steps else {"step": "?", "message": "the run failed"}
    what = "release " + release if release else "run " + (job or run_id)
    text = (f"lpstat: {what} {status.upper()} in step {first['step']}: "
            f"{first['message'].splitlines()[0] if first['message'] else ''}")
    return {
        "text": text[:_MAX_MESSAGE],
        "event": f"lpstat.release_{status}",
        "status": status,
        "release": release,
        "job": job,
        "run_id": run_id,
        "run_path": f"/runs/{run_id}" if run_id else None,
        "blocked_by": reason if status == "blocked" else None,
        "failed_steps": steps,
        "what_to_do": WHAT_TO_DO[reason if status == "blocked" and reason in WHAT_TO_DO
                                 else "failed"],
    }


def notify_failure(payload: dict, url: str | None = None) -> bool:
    """Log the failure; post it to ``url`` (default: LPSTAT_WEBHOOK_URL) if there is one.
    Returns True when a webhook accepted it. Never raises."""
    log.error("%s | what to do: %s", payload.get("text"), payload.get("what_to_do"))
    url = url or webhook_url()
    if not url:
        return False
    return post_json(url, payload)


def classify_failure(step_failure_events) -> tuple[str, str | None, list[dict]]:
    """(status, reason, failed steps) from a run's step failure events: status 'blocked'
    (reason 'audit': the disclosure audit failed; 'quality_check': a blocking asset check
    failed) or 'failed' (reason None: anything else)."""
    steps, reason = [], None
    for event in step_failure_events:
        data = event.step_failure_data
        if data is None:
            continue
        message = ""
        if data.user_failure_data is not None:
            message = data.user_failure_data.description or ""
            verdict = data.user_failure_data.metadata.get("verdict")
            if verdict is not None and getattr(verdict, "value", verdict) != PASSED:
                reason = "audit"
        err, chain = data.error, []
        while err is not None:
            chain.append(err)
            err = err.cause
        if any(e.cls_name == "DagsterAssetCheckFailedError" for e in chain):
            reason = reason or "quality_check"
        if not message and chain:
            message = chain[-1].message.strip()
        steps.append({"step": event.step_key or "?", "message": message or "unknown error"})
    return ("blocked" if reason else "failed"), reason, steps


@dg.run_failure_sensor(
    name="release_failure_sensor",
    description="Logs every failed or blocked run and posts it as JSON to LPSTAT_WEBHOOK_URL "
    "(when set). A failed run has published nothing; the message says what to do.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def release_failure_sensor(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.tags.get(NOTIFIED_BY_TAG):  # a backfill from the command line posts its own notice
        context.log.info(f"notified by {run.tags[NOTIFIED_BY_TAG]}; nothing more to send")
        return
    status, reason, steps = classify_failure(context.get_step_failure_events())
    if not steps:  # the run failed outside any step (e.g. the run worker died)
        steps = [{"step": "run", "message": context.failure_event.message or "the run failed"}]
    payload = failure_payload(run.tags.get("dagster/partition"), status, steps,
                              job=run.job_name, run_id=run.run_id, reason=reason)
    context.log.error(f"{payload['text']} | what to do: {payload['what_to_do']}")
    delivered = notify_failure(payload)
    context.log.info("webhook notified" if delivered else
                     f"no webhook notified ({WEBHOOK_ENV} unset or unreachable)")
