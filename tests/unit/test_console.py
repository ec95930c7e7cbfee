"""The analysts' console (transforms/console.py): which releases analyse.duckdb's views read."""

import json

import duckdb

from transforms.console import releases_in


def test_releases_in_reads_the_view_through_duckdbs_parser(tmp_path):
    paths = []
    for folder in ("releases/2026-09", "releases/2026-10", "it's here/2026-11", "releases/x"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "manifest.json").write_text(json.dumps({"a": 1}))
        (tmp_path / folder / "audit.json").write_text(json.dumps({"a": 1}))
        paths.append(str(tmp_path / folder / "manifest.json").replace("'", "''"))
    con = duckdb.connect()
    assert releases_in(con) == []  # no view yet
    files = ", ".join(f"'{p}'" for p in paths)
    audit = str(tmp_path / "releases/2026-08/audit.json")
    con.execute(f"CREATE VIEW releases AS SELECT m.a, '{audit}' AS other, "
                f"'releases/2026-07/manifest.json.bak' AS bak FROM read_json([{files}]) AS m")
    assert releases_in(con) == ["2026-09", "2026-10", "2026-11"]
    assert con.execute("SELECT 1").fetchall() == [(1,)]  # nothing left unfinished
