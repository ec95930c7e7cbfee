"""Pseudonymise source batches in memory, before anything is written on our side.

Direct identifiers never reach disk: CPR numbers become a keyed pseudonym plus the two
attributes the statistics need (birth date, sex); the applicant free text becomes an applicant
pseudonym; names, addresses, phone numbers, employee names and company names are dropped.

Pseudonyms are keyed BLAKE2b (``LPSTAT_PSEUDONYM_KEY``) with a domain prefix per kind, so
the same person gets the same pseudonym in every run with the same key, nobody without the key
can recompute them from a CPR number, and a CPR pseudonym never equals an applicant pseudonym.
Each distinct value is hashed once per batch (dictionary-encoded), which keeps the cost per
row small; everything else is done by Arrow compute kernels and numpy over whole batches.

Only the source columns a raw_* column is made from are read at all (:func:`source_columns`):
names, addresses, phone numbers and employee names never leave the store.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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

#: raw_* columns that are derived, and the source columns each is made from; every other raw
#: column is the source column of the same name.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "elev_pseudonym": ("elev_id", "cpr"),
    "foedselsdato": ("cpr",),
    "koen": ("cpr",),
    "ansoeger_pseudonym": ("ansoeger",),
}


def source_columns(table: str, contract: tuple[str, ...]) -> tuple[str, ...]:
    """The source columns (in ``contract`` order) that ``RAW_COLUMNS[table]`` is made from:
    the only ones worth reading. Dropped identifiers are never fetched."""
    needed = {s for c in RAW_COLUMNS[table] for s in DERIVED_FROM.get(c, (c,))}
    return tuple(c for c in contract if c in needed)


class Pseudonymiser:
    def __init__(self, key: str):
        raw = key.encode("utf-8")
        # BLAKE2b takes keys of up to 64 bytes; longer secrets are condensed first.
        self._key = raw if len(raw) <= 64 else hashlib.blake2b(raw).digest()
        self._bases: dict[str, object] = {}

    def _base(self, domain: str):
        base = self._bases.get(domain)
        if base is None:
            base = hashlib.blake2b(digest_size=16, key=self._key, person=domain.encode()[:16])
            self._bases[domain] = base
        return base

    def one(self, domain: str, value: str) -> str:
        h = self._base(domain).copy()  # the keyed state is set up once per domain
        h.update(value.encode("utf-8"))
        return h.hexdigest()

    def array(self, domain: str, values: pa.Array) -> pa.Array:
        """Pseudonymise a string array; nulls stay null. Each distinct value hashed once.

        The same digests as :meth:`one`, value by value: the distinct values go to BLAKE2b as
        the bytes of their UTF-8 form, and the digests become hex in one numpy step.
        """
        enc = pc.dictionary_encode(values)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        dictionary = enc.dictionary
        as_bytes = pa.large_binary() if pa.types.is_large_string(dictionary.type) else pa.binary()
        copy = self._base(domain).copy  # the keyed state is set up once per domain

        def digest(value: bytes) -> bytes:
            h = copy()
            h.update(value)
            return h.digest()

        digests = b"".join(map(digest, dictionary.cast(as_bytes).to_pylist()))
        return pc.take(_hex_strings(digests, len(dictionary)), enc.indices)


#: byte → its two lowercase hex digits, as one 16-bit cell (bytes in, the same bytes out)
_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)


def _hex_strings(digests: bytes, n: int) -> pa.Array:
    """n equal-length digests, concatenated, as a string array of their lowercase hex."""
    if n == 0:
        return pa.array([], pa.string())
    data = _HEX_PAIRS[np.frombuffer(digests, dtype=np.uint8)].tobytes()
    offsets = np.arange(n + 1, dtype=np.int32) * (len(data) // n)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


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
# The same character classes as the vectorised kernels (RE2's \s is ASCII whitespace).
_PHONE_SEPARATORS = re.compile(r"[\t\n\f\r \-./()]")
_SPACES = re.compile(r"[\t\n\f\r ]+")


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
    return "tekst:" + _SPACES.sub(" ", stripped.lower())


# --- vectorised forms (the per-value functions above are the reference) ----------------------


def normalise_cpr_array(cprs: pa.Array) -> pa.Array:
    """normalise_cpr for a whole array. Most CPR numbers are digits already: only the others
    go through the regular expression."""
    clean = pc.fill_null(pc.ascii_is_decimal(cprs), True)
    if not pc.all(clean).as_py():
        dirty = pc.invert(clean)
        fixed = pc.replace_substring_regex(pc.filter(cprs, dirty), r"\D", "")
        cprs = pc.replace_with_mask(cprs, dirty, fixed)
    return pc.if_else(pc.equal(pc.binary_length(cprs), 0), pa.scalar(None, pa.string()), cprs)


_SEXES = pa.array(["Uoplyst", "Kvinde", "Mand"], pa.string())


def cpr_attributes_array(norm: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Birth dates and sexes for an array of digit-only CPR numbers, as cpr_birth_date_and_sex
    does one by one, without a Python loop."""
    if isinstance(norm, pa.ChunkedArray):
        norm = norm.combine_chunks()
    if not pa.types.is_string(norm.type):
        norm = norm.cast(pa.string())
    n = len(norm)
    ok_arr = pc.fill_null(pc.and_(pc.equal(pc.binary_length(norm), 10),
                                  pc.ascii_is_decimal(norm)), False)
    ok = ok_arr.to_numpy(zero_copy_only=False)
    # Every value exactly ten ASCII digits, back to back: the digits are an (n, 10) matrix.
    padded = pc.if_else(ok_arr, norm, pa.scalar("0000000000"))
    start = int(np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]) if n else 0
    data = padded.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    d = (raw[start:start + 10 * n].reshape(n, 10) - ord("0")).astype(np.int32)
    day, month, yy, c7, last = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3], \
        d[:, 4] * 10 + d[:, 5], d[:, 6], d[:, 9]
    century = np.where(c7 <= 3, 1900,
                       np.where((c7 == 4) | (c7 == 9), np.where(yy <= 36, 2000, 1900),
                                np.where(yy <= 57, 2000, 1800)))
    year = century + yy
    valid = ok & (month >= 1) & (month <= 12) & (day >= 1)
    months = (year - 1970) * 12 + (np.clip(month, 1, 12) - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    next_first = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = (next_first - first).astype(int)
    valid &= day <= days_in_month
    born = first + (np.clip(day, 1, 31) - 1).astype("timedelta64[D]")
    born_arr = pa.array(born, pa.date32(), mask=~valid)
    sex = np.where(valid, 1 + (last % 2), 0).astype(np.int8)
    return born_arr, pc.take(_SEXES, pa.array(sex))


_PHONE_CHARACTERS = r"^[0-9+\t\n\f\r \-./()]+$"


def normalise_applicant_array(texts: pa.Array) -> pa.Array:
    """normalise_applicant for a whole array (pyarrow compute kernels).

    The costly regular-expression rewrites run only where they can change something: phone
    separators only in texts made of phone characters, space folding only in texts with a
    run of spaces or another whitespace character.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    stripped = pc.utf8_trim_whitespace(texts)
    empty = pc.fill_null(pc.equal(pc.binary_length(stripped), 0), True)

    folded = pc.utf8_lower(stripped)
    spaced = pc.fill_null(pc.match_substring_regex(folded, r"[\t\n\f\r]| {2}"), False)
    if pc.any(spaced).as_py():
        folded = pc.replace_with_mask(folded, spaced, pc.replace_substring_regex(
            pc.filter(folded, spaced), r"[\t\n\f\r ]+", " "))
    out = pc.binary_join_element_wise("tekst:", folded, "")

    maybe = pc.fill_null(pc.match_substring_regex(stripped, _PHONE_CHARACTERS), False)
    if pc.any(maybe).as_py():
        compact = pc.replace_substring_regex(
            pc.replace_substring_regex(pc.filter(stripped, maybe), r"[\t\n\f\r \-./()]", ""),
            r"^(?:\+45|0045)", "")
        is_phone = pc.fill_null(pc.match_substring_regex(compact, r"^[0-9]{8}$"), False)
        phone = pc.replace_with_mask(maybe, maybe, is_phone)
        out = pc.replace_with_mask(out, phone, pc.binary_join_element_wise(
            "tlf:", pc.filter(compact, is_phone), ""))
    return pc.if_else(empty, pa.scalar(None, pa.string()), out)


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
        norm = normalise_cpr_array(_as_string(_column(batch, "cpr")))
        ids = _column(batch, "elev_id")
        # A student without a readable CPR still counts once: fall back on the portal's id.
        keys = norm if norm.null_count == 0 else pc.coalesce(
            norm, pc.binary_join_element_wise("elev_id:", _as_string(ids), ""))
        born, sex = cpr_attributes_array(norm)
        arrays = {
            "elev_id": ids,
            "elev_pseudonym": ps.array("cpr", keys),
            "foedselsdato": born,
            "koen": sex,
        }
    elif table == "afslag":
        arrays = {c: _column(batch, c) for c in cols if c != "ansoeger_pseudonym"}
        arrays["ansoeger_pseudonym"] = ps.array(
            "ansoeger", normalise_applicant_array(_as_string(_column(batch, "ansoeger"))))
    else:
        arrays = {c: _column(batch, c) for c in cols}
    return pa.RecordBatch.from_arrays([arrays[c] for c in cols], names=list(cols))
