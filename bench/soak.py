"""Soak test (issue 19): many releases in a row with random kills and random dirty rows.

    python -m bench.soak --releases 50            # the issue's run: 2021-04 to 2025-05, 82 minutes here
    python -m bench.soak --releases 50 --first 2022-09   # later months (2024-2026 take 140-300 s each)
    python -m bench.soak --releases 3 --seed 7    # a short one
    python -m bench.soak --releases 50 --home H --resume   # go on after the last finished release

With ``--home H`` the store and the soak's state (plants, store counts, kills, the random
generator) are kept in ``H.soak/`` beside the home and saved after every finished release, so a
soak longer than one sitting goes on where it stopped; a release cut off in the middle is
planted again (a few more dirty rows) and run again, as after a kill.

Each round picks the next release month, plants a few random dirty rows in the (SQLite) demo
store (a CPR number or a name in a code column, a refusal stamped in the future, a refusal
without a key, a new key given to two refusals, a landed key given to a new one; all stamped
in the month, so that the month's incremental run reads them), and runs
``lpstat run --release <month>`` in a subprocess that may SIGKILL itself at a random
instant: while landing (at the n-th table), during disclosure control (at the n-th LP the
run's own process solves) or while writing the release (at the n-th
``os.rename``/``os.replace``). A killed round is run again without a kill. After every
``CHECK_EVERY`` releases, and at the end:

- every version ever published (``releases/versions/*``, legacy folders) matches its manifest;
- ``latest`` names the newest complete release, and every release month run is published;
- read = loaded + quarantined for every source table in every published manifest, and each
  month's refusals read = the rows the store held at its run (nothing dropped in silence);
- no planted identifier, and no CPR- or phone-shaped text, is anywhere under LPSTAT_HOME:
  every file's bytes, and every text value of every table of the warehouse.

Not part of the test run (bench/ never is); it exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: runs pipelines.cli.main, killing itself (SIGKILL: no cleanup of any kind) where
# Dirty copies of an existing refusal (plain SQL, every value bound).
_COPY_AS = ("INSERT INTO afslag SELECT ?, virksomhed_id, uddannelse_kode, ansoeger, "
            "primaer_begrundelse, sekundaer_begrundelse, registreret, registreret_af "
            "FROM afslag WHERE afslag_id = ?")
_COPY_NULL_ID = ("INSERT INTO afslag SELECT NULL, virksomhed_id, uddannelse_kode, ansoeger, "
                 "primaer_begrundelse, sekundaer_begrundelse, ?, registreret_af "
                 "FROM afslag WHERE afslag_id = ?")
#: a copy under a given id, registered at a given instant
_COPY_ID_AT = ("INSERT INTO afslag SELECT ?, virksomhed_id, uddannelse_kode, ansoeger, "
               "primaer_begrundelse, sekundaer_begrundelse, ?, registreret_af "
               "FROM afslag WHERE afslag_id = ?")
#: a copy with one code column replaced by a bound value
_PLANT = {
    "primaer_begrundelse": ("INSERT INTO afslag SELECT ?, virksomhed_id, uddannelse_kode, "
                            "ansoeger, ?, sekundaer_begrundelse, registreret, registreret_af "
                            "FROM afslag WHERE afslag_id = ?"),
    "sekundaer_begrundelse": ("INSERT INTO afslag SELECT ?, virksomhed_id, uddannelse_kode, "
                              "ansoeger, primaer_begrundelse, ?, registreret, registreret_af "
                              "FROM afslag WHERE afslag_id = ?"),
}


#: LPSTAT_SOAK_KILL says: "landing:<n>", "disclosure:1" or "writing:<n>"
_RUNNER = """
import os, signal, sys
point, _, n = os.environ.get("LPSTAT_SOAK_KILL", ":").partition(":")
n = int(n or 0)
calls = [0]


def die():
    os.kill(os.getpid(), signal.SIGKILL)
def counting(real):
    def f(*a, **k):
        calls[0] += 1
        if calls[0] == n:
            die()
        return real(*a, **k)
    return f
if point == "landing":
    import transforms.land as land
    land._land_table = counting(land._land_table)
elif point == "disclosure":
    # the n-th LP this process solves (suppressor or audit; not a worker's): HiGHS is the
    # one thing every disclosure step calls, whatever the module layout
    import highspy
    main_pid, real_run = os.getpid(), highspy.Highs.run
    def run(self, *a, **k):
        if os.getpid() == main_pid:
            calls[0] += 1
            if calls[0] == n:
                die()
        return real_run(self, *a, **k)
    highspy.Highs.run = run
elif point == "writing":
    import transforms.publish.release as release
    real_write = release.write_release
    def write_release(*a, **k):
        os.rename, os.replace = counting(os.rename), counting(os.replace)
        return real_write(*a, **k)
    release.write_release = write_release
from pipelines.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: the checks run after every this many releases, and at the end
CHECK_EVERY = 10
CPR_SHAPE = re.compile(rb"(?<![0-9])[0-3][0-9][01][0-9]{3}-?[0-9]{4}(?![0-9])")


def _months(first: str, n: int) -> list[str]:
    from transforms.calendar import Release

    return [str(Release.parse(first).shift(k)) for k in range(n)]


def _without_key_constraint(store: Path) -> None:
    """The portal's SQLite store as the issue met it: afslag_id neither unique nor NOT NULL."""
    con = sqlite3.connect(store)
    con.executescript("CREATE TABLE afslag_kopi AS SELECT * FROM afslag; DROP TABLE afslag; "
                      "ALTER TABLE afslag_kopi RENAME TO afslag;")
    con.close()


def _plant(store: Path, rng: random.Random, month: str, planted: set[str]) -> list[str]:
    """A few random dirty rows registered in ``month``; returns what was planted."""
    con = sqlite3.connect(store)
    done = []
    try:
        base = con.execute("SELECT max(afslag_id) FROM afslag").fetchone()[0] + 1
        src = con.execute("SELECT afslag_id FROM afslag WHERE afslag_id IS NOT NULL "
                          "ORDER BY afslag_id LIMIT 1 OFFSET ?", [rng.randrange(1000)]
                          ).fetchone()[0]
        stamp = f"{month}-{rng.randint(1, 28):02d}T12:00:00+01:00"
        for kind in rng.sample(["cpr", "name", "future", "nokey", "dupkey", "reused", "phone"], 3):
            if kind == "cpr":
                value = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(40, 99)}" \
                        f"{rng.randint(1000, 9999)}"
                column = "sekundaer_begrundelse"
            elif kind == "phone":
                value, column = f"{rng.randint(20, 99)}{rng.randint(100000, 999999)}", \
                    "primaer_begrundelse"
            elif kind == "name":
                value, column = f"Soakfornavn{rng.randint(1000, 9999)} Soakesen", \
                    "primaer_begrundelse"
            if kind in ("cpr", "phone", "name"):
                planted.add(value)
                con.execute(_PLANT[column], [base, value, src])
                con.execute("UPDATE afslag SET registreret = ? WHERE afslag_id = ?", [stamp, base])
            elif kind == "future":
                con.execute(_COPY_AS, [base, src])
                con.execute("UPDATE afslag SET registreret = '2099-06-01T12:00:00+02:00' "
                            "WHERE afslag_id = ?", [base])
            elif kind == "nokey":  # stamped this month: an incremental run reads it
                con.execute(_COPY_NULL_ID, [stamp, src])
            elif kind == "dupkey":  # a new id given to two refusals
                con.execute(_COPY_ID_AT, [base, stamp, src])
                con.execute(_COPY_ID_AT, [base, stamp, src])
            elif kind == "reused":  # an id landed rounds ago, given to a new refusal
                con.execute(_COPY_ID_AT, [src, stamp, src])
            base += 1
            done.append(kind)
        con.commit()
    finally:
        con.close()
    return done


def _run(home: Path, store: Path, month: str, kill: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LPSTAT_")}
    env.update(LPSTAT_HOME=str(home), LPSTAT_SOURCE_URL=f"sqlite:///{store}",
               LPSTAT_PSEUDONYM_KEY="soak-key", PYTHONPATH=str(ROOT))
    if kill:
        env["LPSTAT_SOAK_KILL"] = kill
    p = subprocess.run([sys.executable, "-c", _RUNNER, "run", "--release", month], env=env,
                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode not in (0, -9):
        print(p.stderr[-3000:], file=sys.stderr)
    return p.returncode


def _check(home: Path, months: list[str], planted: set[str],
           store_rows: dict[str, int]) -> list[str]:
    """Every check of the module docstring; returns the problems found."""
    import duckdb

    from transforms.publish import layout
    from transforms.validate import CPR_SHAPE as CPR_TEXT
    from transforms.validate import PHONE_SHAPE

    problems = []
    rel = home / "releases"
    versions = layout.published_versions(rel)
    for month, n, folder in versions:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        if files - {"manifest.json"} != set(manifest["filer"]):
            problems.append(f"{month}.{n}: files differ from the manifest")
        for name, digest in manifest["filer"].items():
            if (folder / name).is_file() and layout.sha256_file(folder / name) != digest:
                problems.append(f"{month}.{n}: {name} does not match its sha256")
        for table, c in manifest["sources"].items():
            if c["read"] != c["loaded"] + sum(c["quarantined"].values()):
                problems.append(f"{month}.{n}: {table} read {c['read']} != loaded + quarantined")
        if layout.release_path(rel, month) == folder and \
                manifest["sources"]["afslag"]["read"] != store_rows[month]:
            # nothing dropped in silence: every refusal row the store held is landed or held
            problems.append(f"{month}.{n}: afslag read {manifest['sources']['afslag']['read']}"
                            f", the store held {store_rows[month]}")
    done = layout.complete_releases(rel)
    if sorted(set(months)) != sorted(set(done)):
        problems.append(f"published {done}, run {sorted(set(months))}")
    if layout.latest(rel) != max(done, default=None) or \
            os.readlink(rel / layout.LATEST) != max(done, default=None):
        problems.append(f"latest -> {os.readlink(rel / layout.LATEST)}, newest {max(done)}")
    if [p.name for p in rel.iterdir() if p.name.startswith(".")]:
        leftovers = [p.name for p in rel.iterdir() if p.name.startswith(".")]
        problems.append(f"leftovers after the last (unkilled) run: {leftovers}")
    # identifiers: every byte of every file under the home (the store lives elsewhere)
    needles = [v.encode() for v in planted]
    for p in home.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            hits = [n.decode() for n in needles if n in data]
            if hits:
                problems.append(f"{p.relative_to(home)}: holds planted {hits[:3]}")
    # and every text value of the warehouse (DuckDB may compress a string on disk)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        for table, column in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE "
                "data_type IN ('VARCHAR', 'JSON') AND column_name <> '_koersel'").fetchall():
            bad = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE regexp_matches(CAST("{column}" AS VARCHAR), '
                "?) OR regexp_matches(CAST(\"{column}\" AS VARCHAR), ?)".replace("{column}", column),
                [CPR_TEXT, PHONE_SHAPE]).fetchall()[0][0]
            text = con.execute(f'SELECT string_agg(CAST("{column}" AS VARCHAR), \'\n\') '
                               f'FROM "{table}"').fetchall()[0][0] or ""
            hits = [v for v in planted if v in text]
            if bad or hits:
                problems.append(f"warehouse {table}.{column}: {bad} identifier-shaped, "
                                f"planted {hits[:3]}")
    finally:
        con.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    from transforms.calendar import FIRST_RELEASE

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--releases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--first", default=str(FIRST_RELEASE),
                    help=f"first release month (default: the series' first, {FIRST_RELEASE})")
    ap.add_argument("--kill-rate", type=float, default=0.5)
    ap.add_argument("--home", type=Path, help="keep the home here (default: a temp folder)")
    ap.add_argument("--resume", action="store_true",
                    help="go on with the soak whose --home this is (its store and state lie "
                         "beside the home, in <home>.soak/), after the last release it finished")
    args = ap.parse_args(argv)
    if args.resume and not args.home:
        ap.error("--resume needs the --home of the soak to go on with")
    rng = random.Random(args.seed)
    from demo.generate import generate

    # With --home, the store and the state sit beside it, so that a soak too long for one
    # sitting can go on later (--resume) with the same store, plants and random sequence.
    work = (args.home.parent / (args.home.name + ".soak")) if args.home else \
        Path(tempfile.mkdtemp(prefix="lpstat-soak-"))
    home = args.home or work / "home"
    store = work / "store.sqlite"
    state_file = work / "state.json"
    planted: set[str] = set()
    kills = {"landing": 0, "disclosure": 0, "writing": 0}
    missed = 0  # kills planned at a point the run never reached (the run went through)
    store_rows: dict[str, int] = {}
    done = 0
    elapsed = 0.0
    if args.resume:
        state = json.loads(state_file.read_text())
        if state["first"] != args.first or state["seed"] != args.seed:
            ap.error(f"{state_file} is a soak from {state['first']} with seed {state['seed']}")
        planted, kills, missed = set(state["planted"]), state["kills"], state["missed"]
        store_rows, done, elapsed = state["store_rows"], state["done"], state["elapsed"]
        v, internal, gauss = state["rng"]
        rng.setstate((v, tuple(internal), gauss))
        print(f"resuming after {done} releases ({elapsed:.0f} s so far)", flush=True)
    else:
        if args.home and work.exists():
            ap.error(f"{work} exists: pass --resume to go on with that soak, or remove it")
        work.mkdir(parents=True, exist_ok=True)
        generate(store, scale="small", seed=args.seed)
        _without_key_constraint(store)
    months = _months(args.first, args.releases)
    if done > len(months):
        ap.error(f"this soak has already done {done} releases")

    def save() -> None:
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "first": args.first, "seed": args.seed, "done": i, "planted": sorted(planted),
            "kills": kills, "missed": missed, "store_rows": store_rows,
            "elapsed": time.monotonic() - start, "rng": rng.getstate()}))
        os.replace(tmp, state_file)

    start = time.monotonic() - elapsed
    for i, month in enumerate(months, 1):
        if i <= done:
            continue
        dirty = _plant(store, rng, month, planted)
        with sqlite3.connect(store) as c:
            store_rows[month] = c.execute("SELECT count(*) FROM afslag").fetchone()[0]
        kill = None
        if rng.random() < args.kill_rate:
            point = rng.choice(list(kills))
            n = {"landing": rng.randint(1, 8), "disclosure": 1, "writing": rng.randint(1, 5)}
            kill = f"{point}:{n[point]}"
        code = _run(home, store, month, kill)
        if code == -9:
            kills[kill.split(":")[0]] += 1
            code = _run(home, store, month, None)  # the re-run after the crash
        elif kill:
            missed += 1
            kill += " (not reached)"
        print(f"{i:3d}/{len(months)} {month}  dirty {','.join(dirty):<24} "
              f"kill {kill or '-':<28} exit {code}  ({time.monotonic() - start:.0f} s)",
              flush=True)
        if code != 0:
            print(f"release {month} failed (exit {code})", file=sys.stderr)
            return 1
        if args.home:
            save()
        if i % CHECK_EVERY == 0 and i < len(months):  # so that a long soak cut short still says
            found = _check(home, months[:i], planted, store_rows)
            print(f"    checked after {i} releases: "
                  f"{'all passed' if not found else f'{len(found)} problem(s)'}", flush=True)
            for p in found:
                print("PROBLEM:", p, flush=True)
    problems = _check(home, months, planted, store_rows)
    print(f"\n{len(months)} releases, kills {kills} ({missed} planned but not reached), "
          f"{len(planted)} identifiers planted, "
          f"{time.monotonic() - start:.0f} s; home {home}")
    for p in problems:
        print("PROBLEM:", p)
    print("all checks passed" if not problems else f"{len(problems)} problem(s)")
    if not args.home:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
