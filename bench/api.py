"""Benchmark of the statistics API: a realistic query mix against the trivial endpoint.

    .venv/bin/python bench/api.py [HOME] [--seconds N] [--clients 8]

Starts ``serving.app.serve()`` over ``HOME/releases`` in a subprocess (without HOME: the test
fixture's two releases, written to a temporary folder), then drives it from this process with
``--clients`` concurrent keep-alive HTTP clients (threads) for ``--seconds`` seconds: first
``GET /Api/v1/udgivelser`` (the ceiling: routing, auth and JSON, no query), then the query
mix. Prints requests/s and p50/p99 latency for both, and their ratio, as ``VALUE``/``RATIO``
lines. It never asserts on time.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"

AFSL = {"område": "EUD", "emne": "AFSL", "underemne": "AFSLAARS"}
VURD = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFVURD"}
AFBR = {"område": "EUD", "emne": "FRAF", "underemne": "FRAFAFBRUD"}


def query_mix(home: Path) -> list[tuple[int, str, dict]]:
    """(weight, path, body): what dashboards and scripts ask, members from the latest skema."""
    skema = json.loads((home / "releases" / "latest" / "skema.json").read_text(encoding="utf-8"))

    def members(underemne: str, attr: str) -> list[str]:
        for o in skema["områder"]:
            for e in o["emner"]:
                for u in e["underemner"]:
                    if u["ID"] == underemne:
                        for d in u["detaljer"]:
                            if d["name"] == attr:
                                return [m["ID"] for m in d["members"]]
        return []

    years = members("FRAFVURD", "[Tid].[År]")
    quarters = members("FRAFVURD", "[Tid].[Kvartal]")
    kommuner = members("AFSLAARS", "[Arbejdssted].[Kommune]")
    afbrud_years = members("FRAFAFBRUD", "[Tid].[År]")
    st = "/Api/v1/statistik"
    return [
        # a whole published table (every month, education and reason)
        (
            2,
            st,
            {
                **AFSL,
                "nøgletal": ["Antal afslag", "Antal ansøgere", "Andel af afslag"],
                "detaljering": [
                    "[Tid].[Måned]",
                    "[Uddannelse].[Uddannelse]",
                    "[Afslagsårsag].[Primær årsag]",
                ],
            },
        ),
        # a year by reason for one education
        (
            4,
            st,
            {
                **AFSL,
                "nøgletal": ["[Measures].[Antal afslag]", "[Measures].[Andel af afslag]"],
                "detaljering": ["[Tid].[År]", "[Afslagsårsag].[Primær årsag]"],
                "filtre": {"[Uddannelse].[Uddannelse]": ["Social- og sundhedsassistent"]},
            },
        ),
        # the last four quarters by risk
        (
            4,
            st,
            {
                **VURD,
                "nøgletal": ["Antal elever", "Andel elever"],
                "detaljering": ["[Tid].[Kvartal]", "[Frafaldsrisiko].[Frafaldsrisiko]"],
                "filtre": {"[Tid].[Kvartal]": quarters[-4:]},
            },
        ),
        # one year by sex and age group
        (
            3,
            st,
            {
                **VURD,
                "nøgletal": ["Antal elever"],
                "detaljering": [
                    "[Elev].[Køn]",
                    "[Elev].[Aldersgruppe]",
                    "[Frafaldsrisiko].[Frafaldsrisiko]",
                ],
                "filtre": {"[Tid].[År]": years[-2:-1]},
            },
        ),
        # dropouts by region and risk, nested
        (
            2,
            st,
            {
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
                "filtre": {"[Tid].[År]": afbrud_years[-2:]},
                "indlejret": True,
            },
        ),
        # a sum over two municipalities (combined rows)
        (
            2,
            st,
            {
                **AFSL,
                "nøgletal": ["Antal afslag"],
                "detaljering": ["[Tid].[Kvartal]"],
                "filtre": {"[Arbejdssted].[Kommune]": kommuner[:2]},
            },
        ),
        # paging through the month table, 100 rows a page
        (
            2,
            st,
            {
                **AFSL,
                "nøgletal": ["Antal afslag"],
                "detaljering": ["[Tid].[Måned]", "[Afslagsårsag].[Primær årsag]"],
                "side": 2,
                "side_størrelse": 100,
            },
        ),
        # a refused query (unpublished combination)
        (
            1,
            st,
            {
                **AFSL,
                "nøgletal": ["Antal afslag"],
                "detaljering": ["[Uddannelse].[Uddannelse]", "[Arbejdssted].[Kommune]"],
            },
        ),
        # the catalogue
        (1, "/Api/v1/skema", {}),
        (1, "/Api/v1/skema", AFSL),
        (1, "/Api/v1/skema", {**VURD, "detalje": "[Tid].[Måned]"}),
    ]


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


def drive(
    port: int,
    requests: list[tuple[int, str, dict | None]],
    seconds: float,
    clients: int,
    seed: int = 1,
):
    """Run ``clients`` threads for ``seconds``; returns (latencies in s, statuses)."""
    prepared = []
    for weight, path, body in requests:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        prepared += [(path, data)] * weight
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        rng = random.Random(seed + i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: dict[int, int] = {}
        start.wait()
        while time.perf_counter() < stop_at[0]:
            path, data = rng.choice(prepared)
            t0 = time.perf_counter()
            conn.request("POST" if data is not None else "GET", path, body=data, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[i].append(time.perf_counter() - t0)
            mine[response.status] = mine.get(response.status, 0) + 1
        conn.close()
        with lock:
            for k, v in mine.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    start.wait()
    for t in threads:
        t.join()
    return sorted(x for lat in latencies for x in lat), statuses


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
            ceiling, s0 = drive(port, [(1, "/Api/v1/udgivelser", None)], args.seconds, args.clients)
            api, s1 = drive(port, mix, args.seconds, args.clients)
        finally:
            server.terminate()
            server.wait(timeout=10)
    ceiling_rps = len(ceiling) / args.seconds
    api_rps = len(api) / args.seconds
    print(f"# {args.clients} clients, {args.seconds:g} s each; statuses: ceiling {s0}, api {s1}")
    print(f"VALUE ceiling_rps {ceiling_rps:.1f} req/s")
    print(f"VALUE ceiling_p50 {1000 * percentile(ceiling, 50):.2f} ms")
    print(f"VALUE ceiling_p99 {1000 * percentile(ceiling, 99):.2f} ms")
    print(f"VALUE api_rps {api_rps:.1f} req/s")
    print(f"VALUE api_p50 {1000 * percentile(api, 50):.2f} ms")
    print(f"VALUE api_p99 {1000 * percentile(api, 99):.2f} ms")
    print(f"RATIO api_rps_vs_ceiling {api_rps / ceiling_rps if ceiling_rps else float('nan'):.3f}")


if __name__ == "__main__":
    main()
