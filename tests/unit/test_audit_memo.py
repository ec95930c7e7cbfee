"""The audit memo (transforms/disclosure/audit/memo.py): a frame audited before, and nothing
else, is answered from the memo, with the result the audit gave."""

from __future__ import annotations

import functools

from tests.unit.test_audit import AS, HJ, T2, build, g, publish, table2
from transforms.catalog import AFSLAARS
from transforms.disclosure.audit import audit
from transforms.disclosure.audit.memo import AuditMemo, frame_digest

U = "[Uddannelse].[Uddannelse]"
P = "[Afslagsårsag].[Primær årsag]"


def _counting(fn):
    calls = []

    @functools.wraps(fn)  # same module and name: the digest names the function
    def counted(*a, **k):
        calls.append(1)
        return fn(*a, **k)

    return counted, calls


def _rectangle(values=((5, 7, 10), (6, 9, 8))):
    """A 2x3 table with its 2x2 corner withheld: passes (each value in [0, 11] or so)."""
    df = build(AFSLAARS, T2, table2([list(v) for v in values], edus=[HJ, AS]))
    spec = [(g(U, P), {"uddannelse": e, "primaer_aarsag": f"Årsag {j}"})
            for e in (HJ, AS) for j in range(2)]
    return publish(df, AFSLAARS, withhold=spec)


def test_a_frame_audited_before_is_answered_from_the_memo_and_nothing_else_is():
    counted, calls = _counting(audit)
    memo = AuditMemo()
    memoised = memo.wrap(counted)
    pub = _rectangle()
    first = memoised(pub, AFSLAARS)
    assert first["verdict"] == "bestået" and len(calls) == 1
    again = memoised(pub.copy(), AFSLAARS)  # an equal frame, another object
    assert len(calls) == 1 and memo.hits == 1
    assert again == audit(pub, AFSLAARS)  # what a fresh audit says, value for value
    # carried points do not change the verdict: the memo answers
    from transforms.disclosure.audit import Witnesses

    memoised(pub, AFSLAARS, witnesses=Witnesses())
    assert len(calls) == 1 and memo.hits == 2

    # one published number changed: another frame, audited
    other = _rectangle(((5, 7, 11), (6, 9, 8)))
    assert memoised(other, AFSLAARS)["verdict"] == "bestået" and len(calls) == 2
    # an option that changes what is checked: audited
    memoised(pub, AFSLAARS, exact=True)
    assert len(calls) == 3


def test_the_memo_keeps_what_it_loaded_and_the_newest_result_it_computed():
    """A search audits a growing pattern, so an earlier round's frame never comes back:
    of the results computed here only the newest is kept (the one saved for a re-run);
    the results loaded from the warehouse stay."""
    counted, calls = _counting(audit)
    first, second = _rectangle(), _rectangle(((5, 7, 11), (6, 9, 8)))
    def digest(frame):
        return frame_digest(frame, AFSLAARS, counted, outcome_of_withheld=False, exact=False)

    loaded = digest(first)
    memo = AuditMemo({loaded: '{"verdict": "bestået", "cells": []}'})
    memoised = memo.wrap(counted)
    assert memoised(first, AFSLAARS) == {"verdict": "bestået", "cells": []} and calls == []
    memoised(second, AFSLAARS)
    third = _rectangle(((5, 7, 12), (6, 9, 8)))
    memoised(third, AFSLAARS)
    assert len(calls) == 2
    newest = digest(third)
    assert sorted(memo.entries) == sorted([loaded, newest])
    assert memo.result(newest) == audit(third, AFSLAARS)
    memoised(second, AFSLAARS)  # dropped: audited again
    assert len(calls) == 3


def test_a_failing_audit_is_never_kept():
    counted, calls = _counting(audit)
    memo = AuditMemo()
    memoised = memo.wrap(counted)
    df = build(AFSLAARS, T2, table2([[5, 7], [6, 9]], edus=[HJ, AS]))
    pub = publish(df, AFSLAARS,
                  withhold=[(g(U, P), {"uddannelse": HJ, "primaer_aarsag": "Årsag 0"})])
    assert memoised(pub, AFSLAARS)["verdict"] == "ikke bestået"
    assert memoised(pub, AFSLAARS)["verdict"] == "ikke bestået"
    assert len(calls) == 2 and memo.entries == {}


def test_the_digest_names_the_function_the_cube_and_every_column():
    pub = _rectangle()
    d = frame_digest(pub, AFSLAARS, audit)
    assert d == frame_digest(pub.copy(), AFSLAARS, audit)
    assert d != frame_digest(pub, AFSLAARS, lambda *a, **k: None)  # a stand-in
    from transforms.catalog import FRAFVURD

    assert d != frame_digest(pub, FRAFVURD, audit)
    renamed = pub.rename(columns={"status": "Status"})
    assert d != frame_digest(renamed, AFSLAARS, audit)
    flipped = pub.copy()
    flipped.loc[0, "status"] = "publiceret" if flipped.loc[0, "status"] != "publiceret" else "x"
    assert d != frame_digest(flipped, AFSLAARS, audit)
    reordered = pub.iloc[::-1].reset_index(drop=True)  # row positions are in the result
    assert d != frame_digest(reordered, AFSLAARS, audit)


def test_only_the_real_audit_is_memoised():
    """A stand-in may answer the same frame differently on each call (a test's stub that is
    told to fail the next run): it is never answered from the memo."""
    verdicts = iter(["bestået", "ikke bestået"])

    def stand_in(published, cube, **kw):
        return {"cube": cube.id, "verdict": next(verdicts), "cells": []}

    memo = AuditMemo()
    memoised = memo.wrap(stand_in)
    pub = _rectangle()
    assert memoised(pub, AFSLAARS)["verdict"] == "bestået"
    assert memoised(pub, AFSLAARS)["verdict"] == "ikke bestået"
    assert memo.entries == {} and memo.hits == 0

    class Stub:  # a callable object has no __qualname__ of its own
        def __call__(self, published, cube, **kw):
            return {"cube": cube.id, "verdict": "bestået", "cells": []}

    assert memo.wrap(Stub())(pub, AFSLAARS)["verdict"] == "bestået"
    assert frame_digest(pub, AFSLAARS, Stub()) != frame_digest(pub, AFSLAARS, audit)
