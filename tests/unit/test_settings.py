"""Settings that reach SQL are checked first: the DuckDB memory limit."""

from __future__ import annotations

import pytest

from transforms.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, SettingsError, duckdb_memory_limit
from transforms.warehouse import connect


def test_memory_limit_default_and_accepted_forms():
    assert duckdb_memory_limit({}) == DEFAULT_DUCKDB_MEMORY_LIMIT == "4GB"
    assert duckdb_memory_limit({"LPSTAT_DUCKDB_MEMORY_LIMIT": " 512 MiB "}) == "512MiB"
    assert duckdb_memory_limit({"LPSTAT_DUCKDB_MEMORY_LIMIT": "1.5GB"}) == "1.5GB"


@pytest.mark.parametrize("bad", ["lots", "4", "0GB", "1GB'; SELECT 1; --", "-1GB"])
def test_memory_limit_rejects_what_is_not_a_size(bad):
    with pytest.raises(SettingsError, match="LPSTAT_DUCKDB_MEMORY_LIMIT"):
        duckdb_memory_limit({"LPSTAT_DUCKDB_MEMORY_LIMIT": bad})


def test_every_warehouse_connection_gets_the_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("LPSTAT_DUCKDB_MEMORY_LIMIT", "300MB")
    con = connect(tmp_path / "wh.duckdb")
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.close()
    assert limit.endswith("MiB") and 280 <= float(limit.split()[0]) <= 300, limit


def test_size_bytes_reads_what_the_memory_limit_accepts():
    from transforms.settings import size_bytes

    assert size_bytes("512MiB") == 512 * 2**20
    assert size_bytes(" 1.5 GB ") == 1.5e9
    assert size_bytes("300mb") < size_bytes("512MB") < size_bytes("4GB")
    with pytest.raises(ValueError):
        size_bytes("lots")
