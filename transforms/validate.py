"""Validate every row in memory, before anything is written (DESIGN.md section 4).

Runs on each pseudonymised batch on its way to the warehouse. A row fails when

- a text value is shaped like a CPR or phone number (``direkte_identifikator``): a direct
  identifier typed into the wrong field, which pseudonymisation did not know to replace;
- a code column holds a value outside its code list (the store's own reference table read in
  the same snapshot, or the contract's fixed list), with the reason staging would give it;
- its timestamp lies after the store's clock (``fremtidigt_tidspunkt``).

A failing row is not landed: it is quarantined with its reason, every offending value
replaced by :data:`REDACTED` (the value itself is never stored, not even in the quarantine),
and it is read again by the next run (the watermark stays behind it, ``transforms.land``), so
a row the portal corrects is loaded then. Rows that pass are landed as before; staging's own
checks (``sql/staging``) still quarantine what needs the landed tables (unknown workplace,
validity periods, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: what an offending value is replaced by in the quarantine
REDACTED = "[fjernet]"
#: text shaped like a CPR number or a Danish phone number (quality/rules.py scans what landed
#: with the same shapes)
CPR_SHAPE = r"^\s*\d{6}-?\d{4}\s*$"
PHONE_SHAPE = r"^\s*(\+45|0045)?\s*\d{2}\s?\d{2}\s?\d{2}\s?\d{2}\s*$"

#: the contract's fixed code lists (quality/suites.py checks the staged tables against them)
RISK_CODES = ("LAV", "MIDDEL", "HOEJ", "IKKE_ANGIVET")
TERMINATION_CODES = ("GENNEMFOERT", "AFBRUDT", "OVERFOERT")

IDENTIFIER = "direkte_identifikator"
FUTURE = "fremtidigt_tidspunkt"


@dataclass(frozen=True)
class CodeCheck:
    column: str
    reason: str
    #: ("store", table, column): the codes of a reference table of the store; or fixed codes
    codes: tuple
    #: compare upper-cased (as staging does for this column)
    upper: bool = False


#: the code columns of each table, checked in this order; the reasons are staging's own
CODE_CHECKS: dict[str, tuple[CodeCheck, ...]] = {
    "afslag": (
        CodeCheck("uddannelse_kode", "ukendt_uddannelse", ("store", "uddannelse", "uddannelse_kode")),
        CodeCheck("primaer_begrundelse", "ukendt_begrundelse",
                  ("store", "afslagsbegrundelse", "begrundelse_kode"), upper=True),
        CodeCheck("sekundaer_begrundelse", "ukendt_sekundaer_begrundelse",
                  ("store", "afslagsbegrundelse", "begrundelse_kode"), upper=True),
    ),
    "uddannelsesaftale": (
        CodeCheck("uddannelse_kode", "ukendt_uddannelse", ("store", "uddannelse", "uddannelse_kode")),
        CodeCheck("ophoert_aarsag", "ukendt_ophoersaarsag",
                  ("fixed", *TERMINATION_CODES), upper=True),
    ),
    "frafaldsvurdering": (
        CodeCheck("risiko", "ukendt_risiko", ("fixed", *RISK_CODES), upper=True),
    ),
}


def store_code_lists() -> set[tuple[str, str]]:
    """(table, column) of every store reference list the checks need."""
    return {c.codes[1:] for checks in CODE_CHECKS.values() for c in checks
            if c.codes[0] == "store"}


@dataclass
class Quarantined:
    """Rows of one table that failed, as they will be stored: key, reason, redacted row."""
    keys: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # JSON text, offending values redacted
    instants: list = field(default_factory=list)  # the row's timestamp (or None)

    def __len__(self) -> int:
        return len(self.keys)


class Validator:
    """The checks of one run: the store's code lists and clock, read in the run's snapshot."""

    def __init__(self, codes: dict[tuple[str, str], set[str]], now: datetime,
                 keys: dict[str, str], timestamps: dict[str, str]):
        self.codes = {k: {v.strip() for v in vals if v is not None} for k, vals in codes.items()}
        self.now = now
        self.keys = keys
        self.timestamps = timestamps
        self.quarantined: dict[str, Quarantined] = {}

    def check(self, table: str, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The rows of ``batch`` that pass; the others are kept in ``self.quarantined``."""
        q = self.quarantined.setdefault(table, Quarantined())
        n = batch.num_rows
        if n == 0:
            return batch
        reason = np.full(n, None, dtype=object)
        redact: dict[str, np.ndarray] = {}

        def fail(mask: np.ndarray, why: str, column: str | None = None) -> None:
            reason[mask & (reason == None)] = why  # noqa: E711 - elementwise
            if column is not None:
                redact[column] = redact.get(column, np.zeros(n, bool)) | mask

        for name, col in zip(batch.schema.names, batch.columns):
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                mask = _flags(pc.or_(pc.match_substring_regex(col, CPR_SHAPE),
                                     pc.match_substring_regex(col, PHONE_SHAPE)))
                if mask.any():
                    fail(mask, IDENTIFIER, name)
        for check in CODE_CHECKS.get(table, ()):
            if check.column not in batch.schema.names:
                continue
            mask = self._unknown(batch.column(check.column), check)
            if mask.any():
                fail(mask, check.reason, check.column)
        ts = self.timestamps.get(table)
        if ts is not None and ts in batch.schema.names:
            future = _after(batch.column(ts), self.now)
            if future.any():
                fail(future, FUTURE)
        bad = reason != None  # noqa: E711
        if not bad.any():
            return batch
        idx = np.nonzero(bad)[0]
        failed = batch.take(pa.array(idx))
        rows = failed.to_pylist()
        instants = (_instants(failed.column(ts)) if ts is not None and ts in batch.schema.names
                    else [None] * len(rows))
        key = self.keys.get(table)
        for j, i in enumerate(idx.tolist()):
            row = rows[j]
            for column, mask in redact.items():
                if mask[i]:
                    row[column] = REDACTED
            q.keys.append(None if key is None or row.get(key) is None else str(row[key]))
            q.reasons.append(reason[i])
            q.rows.append(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str))
            q.instants.append(instants[j])
        return batch.filter(pa.array(~bad))

    def _unknown(self, col: pa.Array, check: CodeCheck) -> np.ndarray:
        """Values present (not NULL, not blank) that are not in the code list."""
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.string())
        v = pc.utf8_trim_whitespace(col)
        if check.upper:
            v = pc.utf8_upper(v)
        if check.codes[0] == "store":
            allowed = self.codes.get(check.codes[1:], set())
            if check.upper:
                allowed = {a.upper() for a in allowed}
        else:
            allowed = set(check.codes[1:])
        present = pc.and_(pc.is_valid(v), pc.not_equal(v, ""))
        known = pc.is_in(v, value_set=pa.array(sorted(allowed), pa.string()))
        return _flags(pc.and_(present, pc.invert(known)))


def _flags(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy booleans, NULL as False (in bulk)."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _after(col: pa.Array, now: datetime) -> np.ndarray:
    """Values that lie after ``now``. Text timestamps are parsed only where their date could
    be (the first ten characters from the day before ``now`` on): the rest compare as text."""
    n = len(col)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            now = now.astimezone(timezone.utc).replace(tzinfo=None)
        return _flags(pc.greater(col, pa.scalar(now, col.type)))
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return np.zeros(n, bool)
    day_before = (now.astimezone(timezone.utc).date().toordinal() - 1)
    floor = date.fromordinal(day_before).isoformat()
    near = _flags(pc.greater_equal(pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(col), 0, 10),
                                   floor))
    out = np.zeros(n, bool)
    idx = np.nonzero(near)[0]
    if len(idx):
        for i, t in zip(idx.tolist(), _instants(col.take(pa.array(idx)))):
            out[i] = t is not None and t > now
    return out


def _instants(col: pa.Array) -> list[datetime | None]:
    """Each value as an aware instant (None where it cannot be read: staging quarantines it)."""
    out: list[datetime | None] = []
    for v in col.to_pylist():
        if isinstance(v, str):
            try:
                v = datetime.fromisoformat(v.strip())
            except ValueError:
                v = None
        if isinstance(v, datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=timezone.utc)
            out.append(v)
        else:
            out.append(None)
    return out
