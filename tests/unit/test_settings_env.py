"""Settings read where they are used (transforms/settings.py), each from the environment at
that moment: the Dagster storage, the webhook, the suppressor's budget and size switch."""

from pathlib import Path

from transforms import settings


def test_blank_means_unset():
    assert settings.dagster_pg_url({}) is None
    assert settings.dagster_pg_url({"LPSTAT_DAGSTER_PG_URL": "  "}) is None
    assert settings.dagster_pg_url({"LPSTAT_DAGSTER_PG_URL": " postgresql://x@h/db "}) == \
        "postgresql://x@h/db"
    assert settings.webhook_url({"LPSTAT_WEBHOOK_URL": ""}) is None
    assert settings.webhook_url({"LPSTAT_WEBHOOK_URL": "https://h/x\n"}) == "https://h/x"
    assert not settings.debug({}) and settings.debug({"LPSTAT_DEBUG": "1"})


def test_disclosure_switches_and_their_defaults():
    assert settings.suppression_budget_seconds({}) == 1800.0
    assert settings.suppression_budget_work({}) == 500_000
    assert settings.suppression_budget_work({"LPSTAT_SUPPRESSION_BUDGET_WORK": "12"}) == 12
    assert settings.suppression_budget_seconds({"LPSTAT_SUPPRESSION_BUDGET_SECONDS": "2.5"}) == 2.5
    assert settings.global_suppression_max_cells({}) == 5000
    assert settings.global_suppression_max_cells({"LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS": "9"}) == 9


def test_read_when_used(monkeypatch):
    from transforms.disclosure import guarded

    monkeypatch.setenv("LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS", "7")
    monkeypatch.setenv("LPSTAT_SUPPRESSION_BUDGET_SECONDS", "3")
    assert guarded._global_max_cells() == 7 and guarded._budget() == 3.0
    monkeypatch.setenv("LPSTAT_HOME", "/tmp/somewhere")
    assert settings.home_dir() == Path("/tmp/somewhere")
    assert settings.load_settings().home == Path("/tmp/somewhere")
