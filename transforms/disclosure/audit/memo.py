"""Audit results kept by a digest of exactly what the audit read (a re-run audits nothing new).

A month's re-run with nothing new to land has the same true cells as its first run, so the
series search (``guarded.SeriesSearch``) holds every cell to its published status and the
first pattern it audits is, cell for cell, the frame the first run published and audited.
That audit is a pure function of the published frame, the cube, the two options that change
what it checks (``outcome_of_withheld``, ``exact``) and the audit's own code: everything is
deterministic (canonical numbering, single-threaded HiGHS, rounds stopped by counts). So its
result can be kept under a digest of all of these and handed back instead of solving again
(national AFSLAARS: about 40 s of LPs).

What the digest covers, so that a hit is the same computation and nothing else:

- every column of the published frame, with its name and type, in row order (Arrow IPC
  stream bytes; a frame Arrow cannot take is never memoised);
- which audit function (module and name). Only the real audit is memoised at all
  (:func:`is_real_audit`): a test's stand-in may answer the same frame differently on each
  call;
- the cube's id and its whole declarative definition (``repr`` of the catalogue entry);
- the two options above (``workers`` changes how the LPs are spread, not which are solved;
  carried points change only how many LPs run and, at most, how wide the reported inner
  bounds are: verdicts never depend on them, see ``witnesses.py``);
- the source of every module of the audit package and of the catalogue, and the versions of
  the libraries whose arithmetic it uses (highspy, numpy, scipy, pandas, pyarrow): a changed
  audit never reuses an old result.

Only results that passed are kept (a release publishes nothing else, and the search never
needs a failing result twice), and only those the release ended with: ``protect.py`` stores
the final audit of each cube per release month (warehouse ``audit_memo``) and keeps the
newest ``KEEP_MONTHS`` months. A hit carries no feasible points to the next round of the
search; that round (rare: the same frame passed before) solves from scratch.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

#: release months whose final audits stay in the warehouse (a re-run of the newest, and of
#: the one before it while the newest is being built)
KEEP_MONTHS = 2


def source_fingerprint(files: list[Path]) -> str:
    """A digest of the given source files and of the numeric libraries' versions (what a
    memoised result depends on besides its input)."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    for lib in ("highspy", "numpy", "scipy", "pandas", "pyarrow"):
        try:
            h.update(f"{lib}={version(lib)};".encode())
        except PackageNotFoundError:
            h.update(f"{lib}=?;".encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the audit's source (every module of this package, the catalogue and the
    verdict rule) and of the numeric libraries' versions."""
    here = Path(__file__).resolve().parent
    return source_fingerprint(sorted(here.glob("*.py")) + [here.parents[1] / "catalog.py",
                                                           here.parent / "verdict.py"])


def frame_bytes(frame: pd.DataFrame) -> bytes | None:
    """Every column of ``frame`` with its name and type, in row order (Arrow IPC stream), or
    None where Arrow cannot take the frame (then nothing is memoised)."""
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    buf = io.BytesIO()
    with pa.ipc.new_stream(buf, table.schema) as writer:
        writer.write_table(table)
    return buf.getvalue()


def function_name(fn) -> str:
    """Module and qualified name of a function (of its class, for a callable object)."""
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    return f"{getattr(fn, '__module__', '')}.{name}"


def frame_digest(published: pd.DataFrame, cube, audit_fn, **options) -> str | None:
    """The digest of one audit's whole input (see the module docstring) by ``audit_fn``
    (named by module and qualified name, so a test's stand-in never answers for the real
    audit), or None where the frame cannot be serialised canonically (then nothing is
    memoised)."""
    data = frame_bytes(published)
    if data is None:
        return None
    h = hashlib.sha256()
    h.update(code_fingerprint().encode())
    h.update(function_name(audit_fn).encode() + b"\0")
    h.update(repr(cube).encode())
    h.update(json.dumps(sorted(options.items()), default=str).encode())
    h.update(data)
    return h.hexdigest()


class AuditMemo:
    """Passing audit results of one cube by :func:`frame_digest`, each kept as its JSON text
    (what the warehouse stores, and a fifth of the memory of the parsed result: national
    AFSLAARS about 5 MB against 20-30 MB).

    ``entries``: digest -> JSON text, loaded from the warehouse (``protect.load_audit_memo``),
    plus the newest passing result this memo computed. Only the newest is kept of those:
    the checked search audits a growing pattern, so no earlier round's frame comes back,
    and what is saved for a re-run is the final frame's audit (``protect.save_audit_memo``);
    keeping every round's result grew national AFSLAARS 2026-10 by some 40 MB a round.
    :meth:`wrap` gives an audit function with ``audit``'s signature that answers from here
    where it can; ``hits`` and ``misses`` count the calls."""

    def __init__(self, entries: dict[str, str] | None = None):
        self.entries = dict(entries or {})
        self.hits = 0
        self.misses = 0
        self._computed: str | None = None  # the digest of the newest result computed here

    def result(self, digest: str | None) -> dict | None:
        """A copy of the result kept under ``digest``, or None."""
        text = self.entries.get(digest) if digest is not None else None
        return json.loads(text) if text is not None else None

    def wrap(self, audit_fn):
        """``audit_fn`` answered from the memo where it can, if it is the real audit
        (:func:`audit.cube.audit`, or a function that wraps it by ``functools.wraps``); any
        other function (a test's stand-in, which may answer differently on each call) is
        returned as it is."""
        if not is_real_audit(audit_fn):
            return audit_fn

        def memoised(published: pd.DataFrame, cube, *, outcome_of_withheld: bool = False,
                     exact: bool = False, **rest):
            digest = frame_digest(published, cube, audit_fn,
                                  outcome_of_withheld=outcome_of_withheld, exact=exact)
            if digest is not None and digest in self.entries:
                self.hits += 1
                return self.result(digest)  # a copy the caller owns
            self.misses += 1
            result = audit_fn(published, cube, outcome_of_withheld=outcome_of_withheld,
                              exact=exact, **rest)
            if digest is not None and result.get("verdict") == _passed():
                try:  # kept as the text a later run reads back
                    text = json.dumps(result, allow_nan=False, ensure_ascii=False)
                except (TypeError, ValueError):
                    return result  # not JSON: never memoised
                if self._computed is not None:
                    self.entries.pop(self._computed, None)
                self.entries[digest] = text
                self._computed = digest
            return result

        return memoised


def is_or_wraps(fn, target) -> bool:
    """Whether ``fn`` is ``target`` or wraps it (``functools.wraps``' ``__wrapped__``)."""
    while fn is not None:
        if fn is target:
            return True
        fn = getattr(fn, "__wrapped__", None)
    return False


def is_real_audit(fn) -> bool:
    """Whether ``fn`` is the audit this memo may stand for (a pure function of its input)."""
    from transforms.disclosure.audit.cube import audit

    return is_or_wraps(fn, audit)


def _passed() -> str:
    from transforms.disclosure.audit.rule import PASSED

    return PASSED
