"""Stand-ins for the expensive parts of disclosure control, for tests of other things
(backfills, quality checks) that monkeypatch suppression and the audit to be fast. The real
methods are tested in tests/unit/test_suppress.py, test_audit.py, test_audit_series.py and
tests/integration/test_series_disclosure.py."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd


def passing_series_audit(versions, cube, **kwargs) -> dict:
    """Stand-in for ``audit_series.audit_series``: every version passes."""
    return {"cube": cube.id, "verdict": "bestået", "versions": [v.label for v in versions],
            "unknowns": 0, "relations": 0, "checked": 0, "failed": 0,
            "per_version": {v.label: {"withheld": 0, "failed": 0} for v in versions},
            "cells": [], "consistency_errors": [], "lps": 0,
            "metode": "test stand-in (no series audit)"}


def primary_only(cells: pd.DataFrame, cube, stats=None) -> pd.DataFrame:
    """Withhold cells of 1-3 individuals and empty cells; FRAFAFBRUD's outcome rule."""
    n = cells["n_individer"].to_numpy()
    v = cells[cube.value_column].to_numpy()
    und = ((n >= 1) & (n <= 3)) | (v == 0)
    und_o = und.copy()
    if "antal_afbrudt" in cells.columns:
        a = cells["antal_afbrudt"].to_numpy()
        und_o |= ((a >= 1) & (a <= 3)) | ((v - a >= 0) & (v - a <= 3))
    return pd.DataFrame({"undertrykt": und, "undertrykt_udfald": und_o,
                         "aarsag": np.where(und, "primær", None)}, index=cells.index)


def primary_only_checked(cells: pd.DataFrame, cube, check, **kwargs):
    """The checked search's stand-in: the primary pattern, shown once to the checker."""
    pattern = primary_only(cells, cube)
    return pattern, check(pattern)[1]


def passing_audit(published: pd.DataFrame, cube, **kwargs) -> dict:
    withheld = int(published[[m.column for m in cube.measures]].isna().any(axis=1).sum())
    return {"cube": cube.id, "verdict": "bestået", "withheld": withheld, "checked": 0,
            "failed": 0, "consistency_errors": [], "cells": [], "hundrede_procent": [],
            "metode": "test stand-in"}


def stand_in(mp) -> None:
    """Put the stand-ins in place of suppression and the audits (``mp``: a MonkeyPatch),
    unless LPSTAT_TEST_REAL_DISCLOSURE=1."""
    if os.environ.get("LPSTAT_TEST_REAL_DISCLOSURE") != "1":
        mp.setattr("transforms.disclosure.suppress.suppress", primary_only)
        mp.setattr("transforms.disclosure.suppress.suppress_checked", primary_only_checked)
        mp.setattr("transforms.disclosure.audit.audit", passing_audit)
        mp.setattr("transforms.disclosure.audit_series.audit_series", passing_series_audit)
