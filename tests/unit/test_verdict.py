"""The typed verdict of a disclosure audit (transforms/disclosure/verdict.py)."""

from __future__ import annotations

import pytest

from transforms.disclosure.verdict import FAILED, PASSED, Verdict


def test_of_a_cube_result_reads_its_counts():
    v = Verdict.of({"verdict": FAILED, "withheld": 7, "checked": 9, "failed": 2,
                    "consistency_errors": [{"kind": "infeasible"}]})
    assert v == Verdict(False, withheld=7, checked=9, failed=2, consistency_errors=1)
    assert v.text == FAILED and Verdict(True).text == PASSED


def test_of_a_release_sums_its_cubes_and_keeps_its_own_verdict():
    audit = {"udgivelse": "2026-10", "verdict": PASSED, "cubes": {
        "AFSLAARS": {"verdict": PASSED, "withheld": 5, "checked": 6, "failed": 0,
                     "consistency_errors": []},
        "FRAFVURD": {"verdict": PASSED, "withheld": 1, "checked": 1, "failed": 0,
                     "consistency_errors": []}}}
    assert Verdict.of(audit) == Verdict(True, withheld=6, checked=7)
    assert Verdict.over(audit["cubes"].values()) == Verdict.of(audit)
    assert Verdict.of({"verdict": PASSED, "cubes": {}}) == Verdict(True)


def test_over_fails_when_one_cube_fails():
    cubes = [{"verdict": PASSED, "withheld": 3}, {"verdict": FAILED, "failed": 1}]
    assert Verdict.over(cubes) == Verdict(False, withheld=3, failed=1)
    assert Verdict.over([]).passed  # nothing to audit: nothing fails


@pytest.mark.parametrize("text", ["passed", "Bestået", None, ""])
def test_a_verdict_that_is_no_verdict_is_an_error(text):
    with pytest.raises(ValueError, match="not an audit verdict"):
        Verdict.of({"verdict": text})
