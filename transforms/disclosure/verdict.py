"""The verdict of a disclosure audit, as a type: passed or not, and what it counted.

An audit result (a cube's from ``audit.audit``, a release's from ``audit.audit_release``,
the series audit's, the warehouse's ``release_audit`` and the published ``audit.json``)
spells its verdict ``"bestået"`` or ``"ikke bestået"``; those strings stay in the JSON.
Code reads them through :meth:`Verdict.of` and asks ``.passed``.

It imports neither the suppressor nor the audit: both sides, and the release around them,
can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PASSED = "bestået"
FAILED = "ikke bestået"


@dataclass(frozen=True)
class Verdict:
    """``passed``; ``withheld`` values, ``checked`` values, ``failed`` values (that the audit
    can narrow down) and ``consistency_errors`` (published numbers that contradict each
    other)."""

    passed: bool
    withheld: int = 0
    checked: int = 0
    failed: int = 0
    consistency_errors: int = 0

    @property
    def text(self) -> str:
        """The verdict as the audit's JSON spells it."""
        return PASSED if self.passed else FAILED

    @classmethod
    def of(cls, result: Mapping) -> Verdict:
        """The verdict of an audit result; with ``cubes``, the counts are summed over them
        (a release's ``audit.json`` has none of its own)."""
        text = result.get("verdict")
        if text not in (PASSED, FAILED):
            raise ValueError(f"not an audit verdict: {text!r} (expected {PASSED!r} or "
                             f"{FAILED!r})")
        cubes = result.get("cubes")
        parts = list(cubes.values()) if isinstance(cubes, Mapping) else [result]
        return cls(text == PASSED, *(sum(c) for c in zip(*map(_counts, parts), strict=True)))

    @classmethod
    def over(cls, results: Iterable[Mapping]) -> Verdict:
        """All of several audit results (a release's cubes): passed when each passed."""
        verdicts = [cls.of(r) for r in results]
        return cls(all(v.passed for v in verdicts),
                   sum(v.withheld for v in verdicts), sum(v.checked for v in verdicts),
                   sum(v.failed for v in verdicts),
                   sum(v.consistency_errors for v in verdicts))


def _counts(result: Mapping) -> tuple[int, int, int, int]:
    """withheld, checked, failed, consistency errors (a list in a cube's result)."""
    errors = result.get("consistency_errors") or 0
    return (int(result.get("withheld", 0)), int(result.get("checked", 0)),
            int(result.get("failed", 0)), len(errors) if isinstance(errors, list) else int(errors))
