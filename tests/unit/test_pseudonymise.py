from datetime import date

import pyarrow as pa
import pytest

from transforms.pseudonymise import (
    PSEUDONYM_PATTERN, RAW_COLUMNS, Pseudonymiser, cpr_birth_date_and_sex, normalise_applicant,
    pseudonymise_batch,
)
from transforms.settings import DEMO_PSEUDONYM_KEY, SettingsError, load_settings


@pytest.mark.parametrize("cpr, born, sex", [
    ("0101004002", date(2000, 1, 1), "Kvinde"),  # 7th digit 4, year 00 → 2000
    ("010137-4003", date(1937, 1, 1), "Mand"),  # 4 with year 37 → 1900s; dash allowed
    ("1505982013", date(1998, 5, 15), "Mand"),  # 0-3 → 1900s
    ("2912575001", date(2057, 12, 29), "Mand"),  # 5-8 with year ≤ 57 → 2000s
    ("2912585001", date(1858, 12, 29), "Mand"),  # 5-8 with year ≥ 58 → 1800s
    ("0101999998", date(1999, 1, 1), "Kvinde"),  # 9 with year 99 → 1900s
    ("3102001234", None, "Uoplyst"),  # 31 February does not exist
    ("12345", None, "Uoplyst"),
    ("", None, "Uoplyst"),
    (None, None, "Uoplyst"),
])
def test_cpr_gives_birth_date_and_sex(cpr, born, sex):
    assert cpr_birth_date_and_sex(cpr) == (born, sex)


def test_fictive_cpr_failing_modulus_11_is_accepted():
    cpr = "0101004001"  # weights 4,3,2,7,6,5,4,3,2,1 give a sum not divisible by 11
    weights = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1]
    assert sum(int(d) * w for d, w in zip(cpr, weights)) % 11 != 0
    assert cpr_birth_date_and_sex(cpr) == (date(2000, 1, 1), "Mand")


@pytest.mark.parametrize("text", ["12345678", "12 34 56 78", "+45 12 34 56 78", "0045 12345678",
                                  "+4512345678", " 12-34-56-78 "])
def test_phone_numbers_normalise_to_eight_digits(text):
    assert normalise_applicant(text) == "tlf:12345678"


def test_names_and_addresses_fold_case_and_space():
    assert normalise_applicant("  Anna   HANSEN ") == normalise_applicant("anna hansen") \
        == "tekst:anna hansen"
    assert normalise_applicant("Vej 1,  8000 Aarhus C") == "tekst:vej 1, 8000 aarhus c"
    assert normalise_applicant("   ") is None and normalise_applicant(None) is None


def test_pseudonyms_are_keyed_stable_and_domain_separated():
    a, b = Pseudonymiser("key one"), Pseudonymiser("key two")
    p = a.one("cpr", "0101004002")
    assert PSEUDONYM_PATTERN.match(p)
    assert p == Pseudonymiser("key one").one("cpr", "0101004002")
    assert p != b.one("cpr", "0101004002")
    assert p != a.one("ansoeger", "0101004002")
    long_key = Pseudonymiser("x" * 200)  # longer than BLAKE2b's 64-byte key limit
    assert PSEUDONYM_PATTERN.match(long_key.one("cpr", "1"))


def test_batches_lose_every_direct_identifier():
    ps = Pseudonymiser("k")
    elev = pa.RecordBatch.from_pydict({
        "elev_id": [1, 2], "cpr": ["0101004002", "garbage"], "fornavn": ["Sofie", "Bo"],
        "efternavn": ["Jensen", "Berg"], "adresse": ["Testvej 1", None], "mobil": ["20304050", None]})
    out = pseudonymise_batch("elev", elev, ps)
    assert out.schema.names == list(RAW_COLUMNS["elev"])
    rows = out.to_pylist()
    assert rows[0]["foedselsdato"] == date(2000, 1, 1) and rows[0]["koen"] == "Kvinde"
    assert rows[1]["foedselsdato"] is None and rows[1]["koen"] == "Uoplyst"
    assert rows[0]["elev_pseudonym"] == ps.one("cpr", "0101004002")
    flat = str(rows)
    for secret in ("0101004002", "Sofie", "Jensen", "Testvej", "20304050", "garbage"):
        assert secret not in flat
    afslag = pa.RecordBatch.from_pydict({
        "afslag_id": [1, 2], "virksomhed_id": [1, 1], "uddannelse_kode": ["SSA", "SSA"],
        "ansoeger": ["+45 12 34 56 78", "12345678"], "primaer_begrundelse": ["R01", "R02"],
        "sekundaer_begrundelse": [None, "R01"], "registreret": ["2024-01-01T10:00:00+01:00"] * 2,
        "registreret_af": ["Mette Medarbejder"] * 2})
    out = pseudonymise_batch("afslag", afslag, ps).to_pylist()
    assert out[0]["ansoeger_pseudonym"] == out[1]["ansoeger_pseudonym"]
    assert "12345678" not in str(out) and "Mette" not in str(out)
    assert set(out[0]) == set(RAW_COLUMNS["afslag"])


def test_a_real_store_needs_a_key(tmp_path):
    with pytest.raises(SettingsError, match="LPSTAT_PSEUDONYM_KEY"):
        load_settings({"LPSTAT_HOME": str(tmp_path),
                       "LPSTAT_SOURCE_URL": "postgresql://u@127.0.0.1:5432/db"})
    s = load_settings({"LPSTAT_HOME": str(tmp_path)})
    assert s.is_demo_store and s.pseudonym_key == DEMO_PSEUDONYM_KEY
    s = load_settings({"LPSTAT_HOME": str(tmp_path), "LPSTAT_PSEUDONYM_KEY": "secret",
                       "LPSTAT_SOURCE_URL": "postgresql://u@127.0.0.1:5432/db"})
    assert s.pseudonym_key == "secret"
    with pytest.raises(SettingsError, match="not understood"):
        load_settings({"LPSTAT_HOME": str(tmp_path), "LPSTAT_SOURCE_URL": "mysql://x"})


def test_vectorised_forms_agree_with_the_reference_functions():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from transforms.pseudonymise import (
        cpr_attributes_array, normalise_applicant_array, normalise_cpr, normalise_cpr_array,
    )

    samples = ["0101004002", "010137-4003", "2912585001", "3102001234", "12345", "", None,
               "2902004001", "2902014001", "0000000000", "3112999999", "31129x9999"]

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(samples), st.text("0123456789-", max_size=12),
                              st.none()), max_size=30))
    def cpr(values):
        norm = normalise_cpr_array(pa.array(values, pa.string()))
        assert norm.to_pylist() == [normalise_cpr(v) for v in values]
        born, sex = cpr_attributes_array(norm)
        expected = [cpr_birth_date_and_sex(v) for v in values]
        assert born.to_pylist() == [e[0] for e in expected]
        assert sex.to_pylist() == [e[1] for e in expected]

    texts = ["12 34 56 78", "+45 12345678", "0045-12-34-56-78", " Anna  HANSEN ", "Vej 1, 8000",
             "", "   ", None, "+4512", "(12) 34 56 78"]

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(texts),
                              st.text("0123456789 +-aAbB.", max_size=16), st.none()), max_size=30))
    def applicant(values):
        got = normalise_applicant_array(pa.array(values, pa.string())).to_pylist()
        assert got == [normalise_applicant(v) for v in values]

    cpr()
    applicant()


def test_array_pseudonyms_are_the_one_by_one_pseudonyms():
    ps = Pseudonymiser("k")
    # pinned: the pseudonyms already in warehouses must stay what they are
    assert ps.one("cpr", "0101004002") == "66f201bcc2b24719284edfe5028cca65"
    assert ps.array("ansoeger", pa.array(["tlf:12345678"])).to_pylist() == [
        "e065540aee5ba30f6bee888cc51909c9"]
    values = ["0101004002", None, "tekst:søren ærø", "0101004002", "", "tlf:12345678"]
    for typ in (pa.string(), pa.large_string()):
        got = ps.array("ansoeger", pa.array(values, typ)).to_pylist()
        assert got == [None if v is None else ps.one("ansoeger", v) for v in values]
    assert ps.array("cpr", pa.array([], pa.string())).to_pylist() == []
    assert ps.array("cpr", pa.array([None, None], pa.string())).to_pylist() == [None, None]


def test_only_the_columns_the_raw_form_needs_are_read():
    from transforms.extract import SOURCE_TABLES
    from transforms.pseudonymise import source_columns

    assert source_columns("elev", SOURCE_TABLES["elev"]) == ("elev_id", "cpr")
    assert source_columns("afslag", SOURCE_TABLES["afslag"]) == (
        "afslag_id", "virksomhed_id", "uddannelse_kode", "ansoeger", "primaer_begrundelse",
        "sekundaer_begrundelse", "registreret")
    for table, contract in SOURCE_TABLES.items():  # every raw column can be made from them
        ps = Pseudonymiser("k")
        read = source_columns(table, contract)
        empty = pa.RecordBatch.from_pylist([], schema=pa.schema([(c, pa.string()) for c in read]))
        assert pseudonymise_batch(table, empty, ps).schema.names == list(RAW_COLUMNS[table])
