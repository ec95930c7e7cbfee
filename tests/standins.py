"""Stand-ins for the expensive parts of disclosure control, for tests of other things
(backfills, quality checks, the pipeline's files) that need suppression and the audit to be
fast. The real methods are tested in tests/unit/test_suppress.py, test_audit.py,
test_audit_series.py and tests/integration/test_disclosure_real.py, test_series_disclosure.py.

They are handed in: :data:`STAND_IN` is the ``Methods`` of ``transforms.disclosure.protect``,
for ``protect_release(methods=...)`` and for the Dagster resource ``disclosure``
(:func:`disclosure_methods`). A command line run in a child process cannot be handed
anything: :func:`stand_in` puts the stand-ins in place of the real functions there.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from transforms.catalog import MAX_SMALL
from transforms.disclosure.protect import Methods
from transforms.disclosure.verdict import PASSED


def primary_only(cells: pd.DataFrame, cube, stats=None) -> pd.DataFrame:
    """Stand-in for ``suppress.suppress``: withhold cells of 1-3 individuals and empty
    cells; FRAFAFBRUD's outcome rule."""
    n = cells["n_individer"].to_numpy()
    v = cells[cube.value_column].to_numpy()
    und = ((n >= 1) & (n <= MAX_SMALL)) | (v == 0)
    und_o = und.copy()
    if "antal_afbrudt" in cells.columns:
        a = cells["antal_afbrudt"].to_numpy()
        und_o |= ((a >= 1) & (a <= MAX_SMALL)) | ((v - a >= 0) & (v - a <= MAX_SMALL))
    return pd.DataFrame({"undertrykt": und, "undertrykt_udfald": und_o,
                         "aarsag": np.where(und, "primær", None)}, index=cells.index)


def primary_only_checked(cells: pd.DataFrame, cube, check, **kwargs):
    """Stand-in for ``suppress.suppress_checked``: the primary pattern, shown once to the
    checker."""
    pattern = primary_only(cells, cube)
    return pattern, check(pattern)[1]


def passing_audit(published: pd.DataFrame, cube, **kwargs) -> dict:
    """Stand-in for ``audit.audit``: every cube passes."""
    withheld = int(published[[m.column for m in cube.measures]].isna().any(axis=1).sum())
    return {"cube": cube.id, "verdict": PASSED, "withheld": withheld, "checked": 0,
            "failed": 0, "consistency_errors": [], "cells": [], "hundrede_procent": [],
            "metode": "test stand-in"}


def passing_series_audit(versions, cube, **kwargs) -> dict:
    """Stand-in for ``audit_series.audit_series``: every version passes."""
    return {"cube": cube.id, "verdict": PASSED, "versions": [v.label for v in versions],
            "unknowns": 0, "relations": 0, "checked": 0, "failed": 0,
            "per_version": {v.label: {"withheld": 0, "failed": 0} for v in versions},
            "cells": [], "consistency_errors": [], "lps": 0,
            "metode": "test stand-in (no series audit)"}


#: the primary pattern and passing audits, in place of the real suppressor and audits
STAND_IN = Methods(suppress=primary_only, suppress_checked=primary_only_checked,
                   audit=passing_audit, audit_series=passing_series_audit)


def real_disclosure() -> bool:
    """LPSTAT_TEST_REAL_DISCLOSURE=1: the tests that use the stand-ins use the real ones."""
    return os.environ.get("LPSTAT_TEST_REAL_DISCLOSURE") == "1"


def disclosure_methods() -> Methods:
    """What a test build hands the Dagster resource ``disclosure``."""
    return Methods() if real_disclosure() else STAND_IN


def stand_in(mp) -> None:
    """For a run that cannot be handed the methods (the command line in a child process):
    the stand-ins in place of the real functions, through the monkeypatch ``mp``."""
    if not real_disclosure():
        mp.setattr("transforms.disclosure.suppress.suppress", primary_only)
        mp.setattr("transforms.disclosure.suppress.suppress_checked", primary_only_checked)
        mp.setattr("transforms.disclosure.audit.audit", passing_audit)
        mp.setattr("transforms.disclosure.audit_series.audit_series", passing_series_audit)
