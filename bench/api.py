"""Benchmark of the statistics API: a realistic query mix against the trivial endpoint.

    .venv/bin/python bench/api.py [HOME] [--seconds N] [--clients 8] [--rounds 4]

Starts ``serving.app.serve()`` over ``HOME/releases`` in a subprocess (without HOME: the test
fixture's two releases, written to a temporary folder), then drives it from this process with
``--clients`` concurrent keep-alive HTTP clients (threads) for ``--seconds`` seconds per side:
``GET /Api/v1/udgivelser`` (the ceiling: routing, auth and JSON, no query) and the query mix,
alternating in ``--rounds`` slices (ceiling first in odd rounds, the mix first in even ones), so
that load from other processes on the machine falls on both sides alike. Prints requests/s and
p50/p99 latency for both, and their ratio, as ``VALUE``/``RATIO`` lines. It never asserts on
time.

The mix is what dashboards and scripts ask, in fixed proportions; the members a request names
(an education, a window of quarters, a year, two municipalities, a page, a detalje) are drawn at
random from the latest release's skema, a few hundred distinct requests in a run. The server
keeps no answer cache; the count of distinct requests sent is printed all the same.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
CEILING = "/Api/v1/udgivelser"

AFSL = {"område": "EUD", "emne": "AFSL", "underemne": "AFSLAARS"}
VURD = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFVURD"}
AFBR = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFAFBRUD"}

#: (weight, path, body or a function of a random.Random giving one)
Request = tuple[int, str, "dict | Callable[[random.Random], dict] | None"]


def query_mix(home: Path) -> list[Request]:
    """What dashboards and scripts ask, members drawn from the latest release's skema."""
    skema = json.loads((home / "releases" / "latest" / "skema.json").read_text(encoding="utf-8"))
    cubes = {u["ID"]: u for o in skema["områder"] for e in o["emner"] for u in e["underemner"]}

    def members(underemne: str, attr: str) -> list[str]:
        """[] when the release has no such cube (yet): those requests are refused, and count."""
        for d in cubes.get(underemne, {}).get("detaljer", []):
            if d["name"] == attr:
                return [m["ID"] for m in d["members"]]
        return []

    def window(items: list[str], n: int, rng: random.Random) -> list[str]:
        """``n`` consecutive members (as many as there are)."""
        at = rng.randrange(max(1, len(items) - n + 1))
        return items[at : at + n]

    years = members("FRAFVURD", "[Tid].[År]")
    quarters = members("FRAFVURD", "[Tid].[Kvartal]")
    educations = members("AFSLAARS", "[Uddannelse].[Uddannelse]")
    kommuner = members("AFSLAARS", "[Arbejdssted].[Kommune]")
    afbrud_years = members("FRAFAFBRUD", "[Tid].[År]")
    month_rows = len(members("AFSLAARS", "[Tid].[Måned]")) * len(
        members("AFSLAARS", "[Afslagsårsag].[Primær årsag]")
    )
    detaljer = [  # a detalje's members
        {"område": o["ID"], "emne": e["ID"], "underemne": u["ID"], "detalje": d["name"]}
        for o in skema["områder"] for e in o["emner"] for u in e["underemner"]
        for d in u["detaljer"]
    ]  # fmt: skip
    st = "/Api/v1/statistik"
    return [
        # a whole published table (every month, education and reason: the largest answer)
        (2, st, {
            **AFSL,
            "nøgletal": ["Antal afslag", "Antal ansøgere", "Andel af afslag"],
            "detaljering": [
                "[Tid].[Måned]", "[Uddannelse].[Uddannelse]", "[Afslagsårsag].[Primær årsag]"
            ],
        }),
        # a year or a quarter by reason for one education
        (4, st, lambda rng: {
            **AFSL,
            "nøgletal": ["[Measures].[Antal afslag]", "[Measures].[Andel af afslag]"],
            "detaljering": [rng.choice(["[Tid].[År]", "[Tid].[Kvartal]"]),
                            "[Afslagsårsag].[Primær årsag]"],
            "filtre": {"[Uddannelse].[Uddannelse]": window(educations, 1, rng)},
        }),
        # four quarters by risk
        (4, st, lambda rng: {
            **VURD,
            "nøgletal": ["Antal elever", "Andel elever"],
            "detaljering": ["[Tid].[Kvartal]", "[Frafaldsrisiko].[Frafaldsrisiko]"],
            "filtre": {"[Tid].[Kvartal]": window(quarters, 4, rng)},
        }),
        # one year by sex and age group
        (3, st, lambda rng: {
            **VURD,
            "nøgletal": ["Antal elever"],
            "detaljering": [
                "[Elev].[Køn]",
                "[Elev].[Aldersgruppe]",
                "[Frafaldsrisiko].[Frafaldsrisiko]",
            ],
            "filtre": {"[Tid].[År]": window(years, 1, rng)},
        }),
        # dropouts by region and risk in two years, nested
        (2, st, lambda rng: {
            **AFBR,
            "nøgletal": [
                "Antal elever",
                "Antal afbrudt inden for 6 måneder",
                "Andel afbrudt inden for 6 måneder",
            ],
            "detaljering": [
                "[Tid].[År]",
                "[Arbejdssted].[Region]",
                "[Frafaldsrisiko].[Frafaldsrisiko]",
            ],
            "filtre": {"[Tid].[År]": window(afbrud_years, 2, rng)},
            "indlejret": True,
        }),
        # a sum over two municipalities (combined rows)
        (2, st, lambda rng: {
            **AFSL,
            "nøgletal": ["Antal afslag"],
            "detaljering": ["[Tid].[Kvartal]"],
            "filtre": {"[Arbejdssted].[Kommune]": rng.sample(kommuner, min(2, len(kommuner)))},
        }),
        # paging through the month table, 100 rows a page (the last page asked is past the end)
        (2, st, lambda rng: {
            **AFSL,
            "nøgletal": ["Antal afslag"],
            "detaljering": ["[Tid].[Måned]", "[Afslagsårsag].[Primær årsag]"],
            "side": rng.randint(1, month_rows // 100 + 2),
            "side_størrelse": 100,
        }),
        # a refused query (unpublished combination)
        (1, st, {
            **AFSL,
            "nøgletal": ["Antal afslag"],
            "detaljering": ["[Uddannelse].[Uddannelse]", "[Arbejdssted].[Kommune]"],
        }),
        # the catalogue
        (1, "/Api/v1/skema", {}),
        (1, "/Api/v1/skema", AFSL),
        (1, "/Api/v1/skema", lambda rng: rng.choice(detaljer) if detaljer else {}),
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen:
    code = (
        "import os; from pathlib import Path; from serving.app import serve; "
        f"serve(Path({str(home)!r}), '127.0.0.1', {port}, [os.environ['BENCH_TOKEN']])"
    )
    env = dict(os.environ, BENCH_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    until = time.monotonic() + 120
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def prepare(requests: list[Request], rng: random.Random, n: int) -> list[tuple[str, bytes | None]]:
    """``n`` requests drawn by weight, bodies encoded (so that drawing costs the clients
    nothing while they run)."""
    weights = [w for w, _, _ in requests]
    out = []
    for _, path, body in rng.choices(requests, weights=weights, k=n):
        if callable(body):
            body = body(rng)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        out.append((path, data))
    return out


def drive(
    port: int,
    requests: list[Request],
    seconds: float,
    clients: int,
    seed: int = 1,
    sent: list | None = None,
):
    """Run ``clients`` threads for ``seconds``; returns (latencies in s, statuses).
    Per client, (requests sent, the distinct ones) is appended to ``sent`` when given."""
    pools = [prepare(requests, random.Random(seed * 1000 + i), 1000) for i in range(clients)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        pool = pools[i]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: dict[int, int] = {}
        k = 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            path, data = pool[k % len(pool)]
            k += 1
            t0 = time.perf_counter()
            conn.request("POST" if data is not None else "GET", path, body=data, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[i].append(time.perf_counter() - t0)
            mine[response.status] = mine.get(response.status, 0) + 1
        conn.close()
        with lock:
            for k2, v in mine.items():
                statuses[k2] = statuses.get(k2, 0) + v
            if sent is not None:
                sent.append((k, pool[: min(k, len(pool))]))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    start.wait()
    for t in threads:
        t.join()
    return sorted(x for lat in latencies for x in lat), statuses


def side_by_side(port: int, mix: list[Request], seconds: float, clients: int, rounds: int):
    """The ceiling and the mix, ``seconds`` each, alternating in ``rounds`` slices."""
    ceiling: list[float] = []
    api: list[float] = []
    s0: dict[int, int] = {}
    s1: dict[int, int] = {}
    sent: list = []
    for r in range(rounds):
        sides = [("ceiling", [(1, CEILING, None)]), ("api", mix)]
        for name, requests in sides if r % 2 == 0 else sides[::-1]:
            lat, st = drive(port, requests, seconds / rounds, clients, seed=r + 2,
                            sent=sent if name == "api" else None)  # fmt: skip
            (ceiling if name == "ceiling" else api).extend(lat)
            for k, v in st.items():
                into = s0 if name == "ceiling" else s1
                into[k] = into.get(k, 0) + v
    distinct = set().union(*(pool for _, pool in sent))
    return sorted(ceiling), s0, sorted(api), s1, len(distinct), sum(k for k, _ in sent)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "home", nargs="?", type=Path, help="LPSTAT_HOME with releases/ (default: the test fixture)"
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4, help="alternating slices per side")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="lpstat-bench-") as tmp:
        home = args.home
        if home is None:
            sys.path.insert(0, str(ROOT))
            from tests.integration.release_fixture import write_release_home

            home = write_release_home(Path(tmp) / "home")
        port = _free_port()
        log = Path(tmp) / "server.log"
        server = start_server(home, port, log)
        try:
            mix = query_mix(home)
            drive(port, mix, 1.0, args.clients)  # warm up: every grouping formatted once
            ceiling, s0, api, s1, distinct, sent = side_by_side(
                port, mix, args.seconds, args.clients, max(1, args.rounds)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
    ceiling_rps = len(ceiling) / args.seconds
    api_rps = len(api) / args.seconds
    print(
        f"# {args.clients} clients, {args.seconds:g} s each side in {args.rounds} alternating "
        f"slices; statuses: ceiling {s0}, api {s1}; {distinct} distinct of {sent} mix requests"
    )
    print(f"VALUE ceiling_rps {ceiling_rps:.1f} req/s")
    print(f"VALUE ceiling_p50 {1000 * percentile(ceiling, 50):.2f} ms")
    print(f"VALUE ceiling_p99 {1000 * percentile(ceiling, 99):.2f} ms")
    print(f"VALUE api_rps {api_rps:.1f} req/s")
    print(f"VALUE api_p50 {1000 * percentile(api, 50):.2f} ms")
    print(f"VALUE api_p99 {1000 * percentile(api, 99):.2f} ms")
    print(f"RATIO api_rps_vs_ceiling {api_rps / ceiling_rps if ceiling_rps else float('nan'):.3f}")


if __name__ == "__main__":
    main()
