"""The benchmark harness itself works: ``python -m bench`` at the smallest scale, end to end.

Not a timing test: it checks that `lpstat run` itself ran three times through the instance
and that every step ran in its subprocess against the real PostgreSQL, that each figure is printed in the ``RATIO``/``VALUE`` form, and that the results
table is written with every row. Release 2021-05 keeps it short (the second release month:
`lpstat run` builds 2021-04 on the empty home, then 2021-05 twice; no stock cubes yet, so the
disclosure step has only AFSLAARS, over two months); the warm-up is skipped and the API is
driven for 1 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_harness_runs_at_the_smallest_scale(pg_url, tmp_path):
    results = tmp_path / "RESULTS.md"
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "small", "--runs", "1", "--no-warmup",
         "--release", "2021-05", "--api-seconds", "1", "--all-releases", "small",
         "--results", str(results), "--pg", pg_url],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    figures, comments = {}, []
    for line in out.stdout.splitlines():
        if line.startswith("# "):
            comments.append(line)
            continue
        m = re.fullmatch(r"(RATIO|VALUE) (\S+) (\S+)(?: (\S+))?", line)
        assert m, f"not a figure line: {line!r}"
        figures[m.group(2)] = float(m.group(3))
    assert figures["rows_small"] > 10_000
    assert 0 < figures["extract_vs_copy_small"] < 10
    for step in ("warehouse_cubes", "disclosure", "release", "end_to_end"):
        assert figures[f"{step}_small"] > 0
    assert figures["peak_rss_small"] > 50
    for case in ("first", "new", "rerun"):  # `lpstat run` itself, through the instance
        assert any(c.startswith(f"# lpstat_run_{case}_small slowest steps, s: ")
                   and "beskyttede_celler" in c for c in comments), comments
        assert figures[f"lpstat_run_{case}_small"] > figures[f"lpstat_run_{case}_cpu_small"] / 4
        assert figures[f"lpstat_run_{case}_peak_rss_small"] > 50
    assert figures["all_releases_small"] == 2  # 2021-04 and 2021-05
    assert 0 < figures["all_releases_median_small"] <= figures["all_releases_max_small"]
    assert figures["api_rps_small"] > 0 and figures["api_rps_vs_ceiling_small"] > 0
    assert figures["api_p99_small"] >= figures["api_p50_small"] > 0

    table = results.read_text(encoding="utf-8")
    assert "| figure | scale small |" in table
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| figure")}
    assert "2021-05" in rows["release built"]
    assert "beskyttede_celler" in rows["`lpstat run`, re-run of M (nothing new to land): slowest steps, s"]
    assert "bestået" in rows["audit verdict"]
    assert "nan" not in table and "not run" not in table
