"""Benchmark: lpstat's suppression against Tau-Argus (pytauargus, HiGHS).

    .venv/bin/pip install -e ".[bench]"     # pytauargus, only for this benchmark
    .venv/bin/python bench/disclosure.py [--sizes small,3d,3d-large] [--seed 1]

Tables (counts of individuals, many small cells, every margin published):

- ``small``: 2-D, 6 x 5 (42 cells with margins);
- ``3d``: 20 educations in 4 groups (a hierarchy) x 10 periods x 11 regions: 25 x 11 x 12
  = 3,300 cells;
- ``3d-large``: 20 educations in 4 groups x 20 x 23: 25 x 21 x 24 = 12,600 cells;
- ``afslaars-national``: the AFSLAARS cube of a national demo store's latest release (four
  linked views, every margin and hierarchy level), lpstat's checked search only;
- ``linked-50k`` and ``linked-50k-sparse``: the same cube over 94 months (52,680 cells) on
  random records with the national members and volume; national shares of small cells, and
  a sparser table (:func:`linked_afslaars`); the checked search only.

The tables are put on a benchmark cube built from the catalogue's own attributes (education
↔ Kommune in Region, period ↔ Primær årsag, region ↔ Sekundær årsag), so lpstat's
suppression and audit run unchanged.

Methods, each printed with: secondary cells, their total value, wall and CPU time (the CPU
time is the fairer number on a shared machine), and the verdict of
lpstat's audit (transforms/disclosure/audit/) on the published pattern:

- ``lpstat``: transforms.disclosure.suppress (primary 1..3, zeros withheld, every withheld
  cell protected: interval [0,0], or hi >= 4 and width >= 3 where lo < 4);
- ``lpstat checked``: transforms.disclosure.suppress.suppress_checked driven by the audit,
  as releases run it on large linked cubes (its time includes those audits);
- ``OPT|MOD FREQ(4,30)``: Tau-Argus (OPT optimal, MOD modular/HiTaS) with the frequency
  rule (cells of 1..3 contributors unsafe, protection level 30 % of the value), its usual
  setting;
- ``OPT|MOD PL``: the same method with lpstat's requirement as per-cell protection levels on the
  primary cells (upper max(4 - v, 3), lower 0): the fair comparison.

pytauargus 0.6.0 (PyPI wheel, bundles the Tau-Argus engine and HiGHS) implements OPT, MOD
and RND; GH, NET and CTA are rejected by its engine. Its apriori reader checks the field count
on the first line only and miscounts ``PL;lower;upper`` lines, so the protection-level file
opens with a plain ``U`` line. Its engine writes fixed-name log files to the current folder
(MOD crashed with SIGSEGV here while two runs shared a folder), so every Tau-Argus run is a
fresh interpreter in its own work folder, stopped after ``--tau-timeout`` seconds; its time
includes that interpreter's start (about 0.5 s).

No Tau-Argus run on ``afslaars-national``: its four views are linked tables (shared margins,
two hierarchies), and pytauargus' headless engine protects one table per ``<SUPPRESS>``; the
linked-tables machinery of the Tau-Argus GUI is out of scope there (``Cover`` only skips the
additivity check) and GH, the classic linked-table method, is rejected. Protecting the
views one at a time would leave the shared cells inconsistent.

Tau-Argus leaves empty cells alone (they are known zeros); lpstat never publishes a zero, so
for the audit the Tau-Argus patterns are published with zeros withheld too, as lpstat would
publish them. Tau-Argus protects primary cells only; the audit checks every withheld cell
(also secondary ones and zeros), which is lpstat's contract. Benchmarks print, they never
assert on time.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests/synth_cells.py, when run as bench/disclosure.py
    sys.path.insert(0, str(ROOT))

from tests.synth_cells import cells_from_records  # noqa: E402
from transforms.catalog import Cube, View  # noqa: E402
from transforms.disclosure.suppress import apply_pattern, suppress  # noqa: E402

KOM, REG = "[Arbejdssted].[Kommune]", "[Arbejdssted].[Region]"
PRIM, SEK = "[Afslagsårsag].[Primær årsag]", "[Afslagsårsag].[Sekundær årsag]"

SIZES = {
    # name: (educations, groups, periods, regions) ; educations None = 2-D table
    "small": (None, None, 6, 5),
    "3d": (20, 4, 10, 11),
    "3d-large": (20, 4, 20, 23),
}


def bench_cube(two_d: bool) -> Cube:
    attrs = (PRIM, SEK) if two_d else (REG, KOM, PRIM, SEK)
    view = (PRIM, SEK) if two_d else (KOM, PRIM, SEK)
    from transforms.catalog import AFSLAARS

    return Cube(
        underemne="BENCH2D" if two_d else "BENCH3D",
        caption="benchmark",
        omraade=AFSLAARS.omraade,
        emne=AFSLAARS.emne,
        kind="flow",
        attributes=attrs,
        measures=AFSLAARS.measures[:1],
        views=(View("v1", view),),
        value_column="antal_afslag",
        individuals_column="antal_afslag",
    )


def make_table(size: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Cube]:
    """Unit records and the cell frame of one benchmark table."""
    n_edu, n_grp, n_per, n_reg = SIZES[size]
    rng = np.random.default_rng(seed)
    per = [f"P{i:02d}" for i in range(n_per)]
    reg = [f"R{i:02d}" for i in range(n_reg)]
    if n_edu is None:
        shape = (n_per, n_reg)
    else:
        edu = [f"E{i:02d}" for i in range(n_edu)]
        grp = [f"G{i % n_grp + 1}" for i in range(n_edu)]
        shape = (n_edu, n_per, n_reg)
    # many small cells: Poisson counts around log-normal means
    mean = rng.lognormal(mean=0.6, sigma=1.2, size=shape)
    counts = rng.poisson(mean)
    recs = []
    for idx in np.argwhere(counts > 0):
        k = int(counts[tuple(idx)])
        if n_edu is None:
            row = {"primaer_aarsag": per[idx[0]], "sekundaer_aarsag": reg[idx[1]]}
        else:
            row = {"kommune": edu[idx[0]], "region": grp[idx[0]],
                   "primaer_aarsag": per[idx[1]], "sekundaer_aarsag": reg[idx[2]]}
        recs += [row] * k
    rec = pd.DataFrame(recs)
    rec["tid_maaned"] = "2024M01"
    rec["individ"] = np.arange(len(rec))
    cube = bench_cube(n_edu is None)
    members = {"primaer_aarsag": per, "sekundaer_aarsag": reg}
    if n_edu is not None:
        members["kommune"] = edu
        members["_geo"] = list(zip(edu, grp))
    cells = cells_from_records(rec, cube, members=members)
    return rec, cells, cube


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the audit's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _audit(cells, pattern, cube) -> str:
    """lpstat's audit of the published pattern; failing values split by the kind of cell:
    primary (1..3 individuals), empty (value 0) or other (secondary)."""
    from transforms.disclosure.audit import audit

    t = time.perf_counter()
    res = audit(apply_pattern(cells, pattern, cube), cube)
    seconds = time.perf_counter() - t
    rows = [c["raekke"] for c in res["cells"] if not c["ok"] and "raekke" in c]
    n = cells["n_individer"].to_numpy()[rows]
    v = cells[cube.value_column].to_numpy()[rows]
    prim = int(((n >= 1) & (n <= 3) & (v > 0)).sum())
    empty = int((v == 0).sum())
    split = f": {prim} primary, {empty} empty, {len(rows) - prim - empty} other" if rows else ""
    return f"{res['verdict']} ({res['failed']} of {res['checked']} failed{split}; {seconds:.1f}s)"


def _report(size, name, cells, pattern, primary, seconds, cpu, cube):
    sec = pattern["undertrykt"] & ~primary
    v = cells["antal_afslag"]
    print(f"  {name:<16} secondary {int(sec.sum()):>5}  value {int(v[sec].sum()):>7}  "
          f"time {seconds:7.2f}s (cpu {cpu:7.2f}s)  audit: {_audit(cells, pattern, cube)}",
          flush=True)
    tag = f"disclosure_{size}_" + "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    print(f"VALUE {tag}_secondary {int(sec.sum())} cells")
    print(f"VALUE {tag}_secondary_value {int(v[sec].sum())} individuals")
    print(f"VALUE {tag}_seconds {seconds:.2f} s")


def run_lpstat(cells, cube):
    t, c = time.perf_counter(), _cpu()
    p = suppress(cells, cube)
    return p, time.perf_counter() - t, _cpu() - c


def run_checked(cells, cube):
    """The checked search as releases run it on large cubes (guarded.py): primary, local and
    propagation passes, then audit-driven rounds. Time includes the audits it runs."""
    from transforms.disclosure.audit import Witnesses, audit, shutdown_workers
    from transforms.disclosure.guarded import _failing_rows
    from transforms.disclosure.suppress import suppress_checked
    from transforms.disclosure.verdict import Verdict

    carried = Witnesses()

    def check(pattern):
        result = audit(apply_pattern(cells, pattern, cube), cube, witnesses=carried)
        bad, bad_out = _failing_rows(cells, cube, result)
        return Verdict.of(result).passed, result, bad, bad_out

    t, c = time.perf_counter(), _cpu()
    p, _ = suppress_checked(cells, cube, check)
    seconds = time.perf_counter() - t
    shutdown_workers()  # the audit's workers: their CPU time counts once they have exited
    return p, seconds, _cpu() - c


def national_afslaars(seed: int) -> tuple[pd.DataFrame, Cube]:
    """AFSLAARS cells (all four views, every margin) of the latest release of a national
    demo store, built the way a release builds them."""
    from demo.generate import generate
    from transforms.calendar import Release
    from transforms.catalog import AFSLAARS
    from transforms.cubes import build_cells, prepare_release
    from transforms.extract import latest_registration_day
    from transforms.land import land_source
    from transforms.warehouse import build_all, connect

    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "store.sqlite"
        generate(store, scale="national", seed=seed)
        url = f"sqlite:///{store}"
        release = str(Release.newest_complete(latest_registration_day(url)))
        con = connect(Path(d) / "wh.duckdb")
        try:
            land_source(url, "bench-key-" + "0" * 24, con, "bench")
            build_all(con)
            prepare_release(con, release)
            return build_cells(con, AFSLAARS, release), AFSLAARS
        finally:
            con.close()

def linked_afslaars(seed: int, skew: float, months: int = 94) -> tuple[pd.DataFrame, Cube]:
    """A linked problem of 52,680 cells: the AFSLAARS cube (its four views, every margin,
    both hierarchies) over ``months`` months from 2021M04 instead of the demo's 67, on random
    records with the national demo's members (99 kommuner in their regions, both
    educations, five sectors, the reasons) and its volume per month. ``skew`` sets how
    unevenly records fall on the members (Zipf-like weights, random order): 0.8 gives the
    national shares of empty (16 %) and 1-3 (30 %) cells, 1.0 a sparser table (26 % and 28 %)."""
    from transforms.calendar import FIRST_RELEASE
    from transforms.catalog import AFSLAARS
    from tests.synth_cells import random_records

    nat, _ = national_afslaars(seed)
    total = int(nat.loc[nat["gruppering"] == "", "antal_afslag"].iloc[0])
    per_month = total / nat["tid_maaned"].dropna().nunique()
    geo = nat[["kommune", "region"]].dropna().drop_duplicates()
    regions = dict(zip(geo["kommune"], geo["region"]))
    span = [FIRST_RELEASE.shift(i).caption for i in range(months)]
    dims = {"tid_maaned": span, "kommune": sorted(regions)}
    for col in ("uddannelse", "sektor", "primaer_aarsag", "sekundaer_aarsag"):
        dims[col] = sorted(nat[col].dropna().unique())
    rec = random_records(AFSLAARS, int(per_month * months), seed, dims, regions=regions,
                         skew=skew)
    cells = cells_from_records(rec, AFSLAARS, members={
        "tid_maaned": span, "kommune": sorted(regions), "_geo": list(regions.items())})
    return cells, AFSLAARS


# --- Tau-Argus ----------------------------------------------------------------------------

def run_tau(rec: pd.DataFrame, cells: pd.DataFrame, cube: Cube, per_cell_pl: bool,
            method: str = "OPT", timeout: float = 900.0):
    """Tau-Argus (OPT or MOD) on the same table: (pattern frame, seconds, CPU seconds, its
    result frame, status per cell), or raises (also when it runs past ``timeout``)."""
    from pytauargus import protect
    from pytauargus.arb import apriori_batch
    from pytauargus.result import TableResult

    three = "kommune" in rec.columns

    def key(row):
        """A cell's codes in Tau-Argus' table: captions, group codes, Total."""
        out = [row["kommune"] or row["region"] or "Total"] if three else []
        return tuple(out + [row["primaer_aarsag"] or "Total", row["sekundaer_aarsag"] or "Total"])

    micro = pd.DataFrame({
        "per": rec["primaer_aarsag"], "reg": rec["sekundaer_aarsag"], "one": 1.0,
    })
    dims = ["per", "reg"]
    kw = {}
    if three:
        micro.insert(0, "edu", rec["kommune"].to_numpy())
        micro.insert(1, "grp", rec["region"].to_numpy())
        dims = ["edu", "per", "reg"]
        kw = {"hrc": {"edu": "edu > grp"}, "hierleadstring": "@"}
    work = Path(tempfile.mkdtemp(prefix="lpstat_tau_"))
    t = time.perf_counter()
    res = protect(micro, dims, response="one", safety_rules="FREQ(4,30)", suppress=f"{method}(1)",
                  workdir=str(work), run=False, totcode="Total", **kw)
    arb = Path(res.files["arb"])
    if per_cell_pl:
        # every cell lpstat withholds as primary, margins included: 1..3 individuals
        small = cells[(cells["n_individer"] >= 1) & (cells["n_individer"] <= 3)]
        lines = []
        for _, r in small.iterrows():
            v = int(r["antal_afslag"])
            codes = list(key(r))
            if not lines:
                # pytauargus 0.6.0 checks the field count on the first line only and
                # miscounts "PL;lower;upper": open with a plain status line (U on a cell
                # that is unsafe anyway)
                lines.append(";".join(codes + ["U"]))
            lines.append(";".join(codes + ["PL", "0", str(max(4 - v, 3))]))
        hst = work / "pl.hst"
        hst.write_text("\n".join(lines) + "\n")
        text = arb.read_text().splitlines()
        at = next(i for i, ln in enumerate(text) if ln.startswith("<SUPPRESS>"))
        text[at:at] = apriori_batch(1, [str(hst)], ";", 1, 0)
        arb.write_text("\n".join(text) + "\n")
    # the engine runs in a fresh interpreter in the work folder, so that a run past the time
    # limit can be stopped and a crash is reported instead of ending the benchmark (it writes
    # fixed-name logs to the current folder, and crashed while two runs shared one)
    c = _cpu()
    code = f"from pytauargus.engine import run_batch; run_batch({str(arb)!r})"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"Tau-Argus {method} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"Tau-Argus {method} ended with exit code {done.returncode}: "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    seconds, cpu = time.perf_counter() - t, _cpu() - c
    tab = TableResult(path=res.files["tab1"], exp_vars=dims, response="one", is_freq=False)
    df = tab.dataframe()
    status = pd.Series(tab.status(), index=df.index)
    withheld_codes = set()
    for i, r in df.iterrows():
        if status[i] in ("U", "M"):  # primary unsafe, secondary; P (protected) is published
            withheld_codes.add(tuple(str(r[d]) for d in dims))
    keys = [key(r) for _, r in cells.iterrows()]
    missing = set(keys) - {tuple(str(r[d]) for d in dims) for _, r in df.iterrows()}
    if missing:
        raise RuntimeError(f"{len(missing)} lpstat cells not in Tau-Argus' table, "
                           f"e.g. {sorted(missing)[:3]}")
    und = np.array([k in withheld_codes for k in keys])
    und |= cells["antal_afslag"].to_numpy() == 0
    pat = pd.DataFrame({"undertrykt": und, "undertrykt_udfald": und, "aarsag": None},
                       index=cells.index)
    return pat, seconds, cpu, df, status

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="small,3d,3d-large",
                    help="comma-separated: small, 3d, 3d-large, afslaars-national, "
                         "linked-50k, linked-50k-sparse")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-tau", action="store_true")
    ap.add_argument("--tau-methods", default="OPT,MOD",
                    help="Tau-Argus secondary suppression methods (OPT optimal, MOD modular)")
    ap.add_argument("--tau-timeout", type=float, default=900.0,
                    help="seconds after which a Tau-Argus run is stopped and reported")
    ap.add_argument("-v", action="store_true", help="log suppression progress")
    args = ap.parse_args(argv)
    if args.v:
        logging.basicConfig(level=logging.DEBUG, format="%(relativeCreated)7d %(message)s")
    for size in args.sizes.split(","):
        if size in ("afslaars-national", "linked-50k", "linked-50k-sparse"):
            # four linked views with hierarchies: pytauargus protects one table at a time
            # (see the module docstring), and the global suppressor does not finish here in
            # 15 minutes (guarded.py): the checked search only
            if size == "afslaars-national":
                cells, cube = national_afslaars(args.seed)
            else:
                cells, cube = linked_afslaars(args.seed, 1.0 if size.endswith("sparse") else 0.8)
            primary = (cells["antal_afslag"] >= 0) & (cells["n_individer"] <= 3)
            print(f"{size}: {len(cells)} cells, {int(primary.sum())} primary or empty")
            p, sec, cpu = run_checked(cells, cube)
            _report(size, "lpstat checked", cells, p, primary, sec, cpu, cube)
            continue
        rec, cells, cube = make_table(size, args.seed)
        primary = (cells["antal_afslag"] >= 0) & (cells["n_individer"] <= 3)
        print(f"{size}: {len(cells)} cells, {int(primary.sum())} primary or empty, "
              f"{len(rec)} individuals")
        p, sec, cpu = run_lpstat(cells, cube)
        _report(size, "lpstat", cells, p, primary, sec, cpu, cube)
        p, sec, cpu = run_checked(cells, cube)
        _report(size, "lpstat checked", cells, p, primary, sec, cpu, cube)
        if args.no_tau:
            continue
        for method in args.tau_methods.split(","):
            for label, pl in ((f"{method} FREQ(4,30)", False), (f"{method} PL", True)):
                try:
                    pat, sec, cpu, _, _ = run_tau(rec, cells, cube, pl, method, args.tau_timeout)
                except Exception as exc:  # report, do not hide: the benchmark goes on
                    print(f"  {label:<16} failed: {type(exc).__name__}: {exc}", flush=True)
                    continue
                _report(size, label, cells, pat, primary, sec, cpu, cube)

if __name__ == "__main__":
    main()
