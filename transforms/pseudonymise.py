"""Pseudonymise source batches in memory, before anything is written on our side.

Direct identifiers never reach disk: CPR numbers become a keyed pseudonym plus the two
attributes the statistics need (birth date, sex); the applicant free text becomes an applicant
pseudonym; names, addresses, phone numbers, employee names and company names are dropped.

Pseudonyms are keyed BLAKE2b (``LPSTAT_PSEUDONYM_KEY``) with a domain prefix per kind, so
the same person gets the same pseudonym in every run with the same key, nobody without the key
can recompute them from a CPR number, and a CPR pseudonym never equals an applicant pseudonym.
Each distinct value is hashed once per batch (dictionary-encoded), which keeps the cost per
row small.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

PSEUDONYM_HEX_LENGTH = 32  # 128-bit BLAKE2b digests as lowercase hex
PSEUDONYM_PATTERN = re.compile(r"^[0-9a-f]{32}$")

#: raw_* columns per source table: what lands in the warehouse. Nothing else does.
RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "uddannelse": ("uddannelse_kode", "navn"),
    "afslagsbegrundelse": ("begrundelse_kode", "tekst", "gyldig_fra", "gyldig_til"),
    "skole": ("institutionsnummer", "navn", "kommunekode"),
    "virksomhed": ("virksomhed_id", "sektor", "kommunekode"),
    "elev": ("elev_id", "elev_pseudonym", "foedselsdato", "koen"),
    "uddannelsesaftale": (
        "aftale_id", "elev_id", "virksomhed_id", "institutionsnummer", "uddannelse_kode",
        "startdato", "slutdato", "ophoert_dato", "ophoert_aarsag", "oprettet", "aendret",
    ),
    "frafaldsvurdering": ("vurdering_id", "aftale_id", "risiko", "registreret"),
    "afslag": (
        "afslag_id", "virksomhed_id", "uddannelse_kode", "ansoeger_pseudonym",
        "primaer_begrundelse", "sekundaer_begrundelse", "registreret",
    ),
}


class Pseudonymiser:
    def __init__(self, key: str):
        raw = key.encode("utf-8")
        # BLAKE2b takes keys of up to 64 bytes; longer secrets are condensed first.
        self._key = raw if len(raw) <= 64 else hashlib.blake2b(raw).digest()

    def one(self, domain: str, value: str) -> str:
        h = hashlib.blake2b(digest_size=16, key=self._key, person=domain.encode()[:16])
        h.update(value.encode("utf-8"))
        return h.hexdigest()

    def array(self, domain: str, values: pa.Array) -> pa.Array:
        """Pseudonymise a string array; nulls stay null. Each distinct value hashed once."""
        enc = pc.dictionary_encode(values)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        hashed = pa.array([self.one(domain, v) for v in enc.dictionary.to_pylist()], pa.string())
        return pc.take(hashed, enc.indices)


# --- CPR ----------------------------------------------------------------------------------

_NON_DIGITS = re.compile(r"\D")


def normalise_cpr(cpr: str | None) -> str | None:
    """Digits only ('010203-1234' and '0102031234' are the same person)."""
    if cpr is None:
        return None
    digits = _NON_DIGITS.sub("", cpr)
    return digits or None


def cpr_birth_date_and_sex(cpr: str | None) -> tuple[date | None, str]:
    """Birth date from DDMMYY and the century digit, sex from the last digit.

    Fictive CPR numbers (which often fail modulus 11) are accepted as they are: the rule
    only needs a real date and a digit. Anything unreadable gives (None, 'Uoplyst').
    """
    d = normalise_cpr(cpr)
    if d is None or len(d) != 10:
        return None, "Uoplyst"
    day, month, yy, c7 = int(d[0:2]), int(d[2:4]), int(d[4:6]), int(d[6])
    if c7 <= 3:
        century = 1900
    elif c7 in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:  # 5-8
        century = 2000 if yy <= 57 else 1800
    try:
        born = date(century + yy, month, day)
    except ValueError:
        return None, "Uoplyst"
    return born, ("Mand" if int(d[9]) % 2 else "Kvinde")


# --- applicant free text ------------------------------------------------------------------

_PHONE_PREFIX = re.compile(r"^(?:\+45|0045)")
_PHONE_SEPARATORS = re.compile(r"[\s\-./()]")
_SPACES = re.compile(r"\s+")


def normalise_applicant(text: str | None) -> str | None:
    """The canonical form of what an employer typed about the applicant.

    A Danish mobile number in any common format becomes its 8 digits ('+45 12 34 56 78',
    '0045 12345678' → 'tlf:12345678'); anything else (a name or an address) is case- and
    space-folded. Returns None for empty text.
    """
    if text is None:
        return None
    stripped = text.strip()
    if not stripped:
        return None
    compact = _PHONE_PREFIX.sub("", _PHONE_SEPARATORS.sub("", stripped))
    if len(compact) == 8 and compact.isdigit():
        return "tlf:" + compact
    return "tekst:" + _SPACES.sub(" ", stripped.casefold())


# --- batches --------------------------------------------------------------------------------


def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
    return batch.column(batch.schema.get_field_index(name))


def _as_string(arr: pa.Array) -> pa.Array:
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) \
        else pc.cast(arr, pa.string())


def pseudonymise_batch(table: str, batch: pa.RecordBatch, ps: Pseudonymiser) -> pa.RecordBatch:
    """Turn one source batch into its raw_* form (RAW_COLUMNS[table]), PII-free."""
    cols = RAW_COLUMNS[table]
    if table == "elev":
        cprs = _as_string(_column(batch, "cpr")).to_pylist()
        norm = [normalise_cpr(c) for c in cprs]
        ids = _column(batch, "elev_id").to_pylist()
        # A student without a readable CPR still counts once: fall back on the portal's id.
        keys = [n if n else f"elev_id:{i}" for n, i in zip(norm, ids)]
        attrs = [cpr_birth_date_and_sex(c) for c in cprs]
        arrays = {
            "elev_id": _column(batch, "elev_id"),
            "elev_pseudonym": ps.array("cpr", pa.array(keys, pa.string())),
            "foedselsdato": pa.array([a[0] for a in attrs], pa.date32()),
            "koen": pa.array([a[1] for a in attrs], pa.string()),
        }
    elif table == "afslag":
        texts = _as_string(_column(batch, "ansoeger")).to_pylist()
        arrays = {c: _column(batch, c) for c in cols if c != "ansoeger_pseudonym"}
        arrays["ansoeger_pseudonym"] = ps.array(
            "ansoeger", pa.array([normalise_applicant(t) for t in texts], pa.string())
        )
    else:
        arrays = {c: _column(batch, c) for c in cols}
    return pa.RecordBatch.from_arrays([arrays[c] for c in cols], names=list(cols))
