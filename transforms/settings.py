"""Settings from the environment (section 6 of the publication contract).

All environment reading happens here, so a run's configuration can be seen in one place and
tests can build a ``Settings`` without touching ``os.environ``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: The fixed key for the embedded demo store only. Any other store needs a real secret.
DEMO_PSEUDONYM_KEY = "lpstat-demo-key-not-secret"
#: The one demo token `lpstat serve` accepts when LPSTAT_API_TOKENS is not set.
DEMO_API_TOKEN = "lpstat-demo-token"


class SettingsError(Exception):
    """A setting is missing or wrong; the message says what to do."""


@dataclass(frozen=True)
class Settings:
    home: Path
    source_url: str
    pseudonym_key: str
    api_tokens: tuple[str, ...] = field(default=(DEMO_API_TOKEN,))

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def releases_dir(self) -> Path:
        return self.home / "releases"

    @property
    def is_demo_store(self) -> bool:
        return self.source_url == demo_store_url(self.home)


#: the process umask: every file and folder lpstat creates (DuckDB's WAL and spill files,
#: written by DuckDB itself, included) is owner-only from its first byte
OWNER_ONLY_UMASK = 0o077


def owner_only_files() -> None:
    """Set the process umask so that whatever lpstat creates under LPSTAT_HOME is owner-only
    (files 0600, folders 0700) from the moment it exists; a chmod afterwards comes too late
    for a file another program (DuckDB) creates and writes."""
    os.umask(OWNER_ONLY_UMASK)


def demo_store_path(home: Path) -> Path:
    return home / "demo" / "laerepladsen.sqlite"


def demo_store_url(home: Path) -> str:
    return f"sqlite:///{demo_store_path(home).resolve()}"


#: DuckDB's memory limit when LPSTAT_DUCKDB_MEMORY_LIMIT is not set. DuckDB's own default is 80 %
#: of the machine's memory; a fixed limit makes it spill large joins, aggregates and TEMP tables
#: to disk instead, so a run's peak memory does not grow with the data (bench/RESULTS.md).
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def duckdb_memory_limit(env: dict[str, str] | None = None) -> str:
    """LPSTAT_DUCKDB_MEMORY_LIMIT (e.g. ``4GB``, ``512MiB``), checked before it reaches SQL."""
    env = os.environ if env is None else env
    value = env.get("LPSTAT_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT
    m = _SIZE.match(value)
    if not m or float(m.group(1)) <= 0:
        raise SettingsError(
            f"LPSTAT_DUCKDB_MEMORY_LIMIT={value!r} is not a size: write a number and a unit, "
            "e.g. 4GB or 512MiB")
    return f"{m.group(1)}{m.group(2)}"


_UNIT_BYTES = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(size: str) -> float:
    """Bytes of a size as :func:`duckdb_memory_limit` accepts it (``4GB``, ``512MiB``)."""
    m = _SIZE.match(size)
    if not m:
        raise ValueError(f"not a size: {size!r}")
    return float(m.group(1)) * _UNIT_BYTES[m.group(2).lower()]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: in the user part
    (``user:secret@host``) and in the query (``?password=secret``)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        p = urlsplit(url)
    except ValueError:
        return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", re.sub(r":[^:@/]*@", ":***@", url))
    if p.password is None and "password" not in p.query.lower():
        return url
    netloc = p.netloc
    if p.password is not None:
        netloc = netloc.replace(f":{p.password}@", ":***@", 1)
    query = p.query
    if "password" in query.lower():
        query = urlencode([(k, "***" if k.lower() == "password" else v)
                           for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
    return urlunsplit((p.scheme, netloc, p.path, query, p.fragment))


def _check_home(home: Path) -> None:
    """LPSTAT_HOME must be a folder or creatable as one (no file on its way)."""
    for p in (home, *home.parents):
        if p.exists():
            if not p.is_dir():
                raise SettingsError(
                    f"LPSTAT_HOME={home} cannot be a folder: {p} is a file. Set LPSTAT_HOME "
                    "to a folder (it is created if missing).")
            return


def home_dir(env: dict[str, str] | None = None) -> Path:
    """LPSTAT_HOME, resolved (default ``./lpstat-data``)."""
    env = os.environ if env is None else env
    return Path(env.get("LPSTAT_HOME") or "./lpstat-data").resolve()


# --- settings read where they are used (each at that moment, never at import) ---------------

#: PostgreSQL for Dagster's run storage (pipelines/instance.py); unset: SQLite under the home
DAGSTER_PG_URL_ENV = "LPSTAT_DAGSTER_PG_URL"
#: where a failed or blocked release is announced (pipelines/sensors.py)
WEBHOOK_URL_ENV = "LPSTAT_WEBHOOK_URL"


def dagster_pg_url(env: dict[str, str] | None = None) -> str | None:
    """LPSTAT_DAGSTER_PG_URL, or None when it is unset or blank."""
    env = os.environ if env is None else env
    return (env.get(DAGSTER_PG_URL_ENV) or "").strip() or None


def webhook_url(env: dict[str, str] | None = None) -> str | None:
    """LPSTAT_WEBHOOK_URL, or None when it is unset or blank."""
    env = os.environ if env is None else env
    return (env.get(WEBHOOK_URL_ENV) or "").strip() or None


#: LP work (HiGHS iterations, plus one per solve) the global suppressor may do on one cube
#: before the checked search takes over; counted, so the choice is the same on any machine
#: and at any load. FRAFVURD of the small demo (2026-09, 18,240 cells) takes 27,090 (25,020
#: iterations in 2,070 solves; 22.9 CPU s), so this leaves room for some 20 of it.
SUPPRESSION_BUDGET_WORK = 500_000
#: seconds after which a global suppressor still running stops the run (a hang, not a choice)
SUPPRESSION_SAFETY_SECONDS = 1800


def suppression_budget_work(env: dict[str, str] | None = None) -> int:
    """LPSTAT_SUPPRESSION_BUDGET_WORK: the global suppressor's LP work per cube (see
    ``transforms.disclosure.guarded.global_pattern``; default SUPPRESSION_BUDGET_WORK)."""
    env = os.environ if env is None else env
    return int(env.get("LPSTAT_SUPPRESSION_BUDGET_WORK", str(SUPPRESSION_BUDGET_WORK)))


def suppression_budget_seconds(env: dict[str, str] | None = None) -> float:
    """LPSTAT_SUPPRESSION_BUDGET_SECONDS: a safety stop for a global suppressor that hangs
    (default SUPPRESSION_SAFETY_SECONDS); it fails the run, it never chooses the method."""
    env = os.environ if env is None else env
    return float(env.get("LPSTAT_SUPPRESSION_BUDGET_SECONDS", str(SUPPRESSION_SAFETY_SECONDS)))


def global_suppression_max_cells(env: dict[str, str] | None = None) -> int:
    """LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS: larger linked systems go straight to the checked
    search (default 5000)."""
    env = os.environ if env is None else env
    return int(env.get("LPSTAT_GLOBAL_SUPPRESSION_MAX_CELLS", "5000"))


def debug(env: dict[str, str] | None = None) -> bool:
    """LPSTAT_DEBUG: show the traceback of an unexpected error."""
    env = os.environ if env is None else env
    return bool(env.get("LPSTAT_DEBUG"))


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read LPSTAT_* settings; refuse a non-demo store without a pseudonym key."""
    env = dict(os.environ if env is None else env)
    home = home_dir(env)
    _check_home(home)
    duckdb_memory_limit(env)  # a bad size stops here, not in a retried step
    source_url = env.get("LPSTAT_SOURCE_URL") or demo_store_url(home)
    if not (source_url.startswith("sqlite:///") or source_url.startswith("postgresql://")):
        raise SettingsError(
            f"LPSTAT_SOURCE_URL={redact_url(source_url)!r} is not understood: use "
            "sqlite:///path/to/file.db "
            "or postgresql://user@host:port/database"
        )
    key = env.get("LPSTAT_PSEUDONYM_KEY") or ""
    if not key:
        if source_url != demo_store_url(home):
            raise SettingsError(
                "LPSTAT_PSEUDONYM_KEY is not set. A key is required for any store but the demo "
                "store: set LPSTAT_PSEUDONYM_KEY to the secret pseudonymisation key (the same key "
                "for every run, or pseudonyms will not match across runs)."
            )
        key = DEMO_PSEUDONYM_KEY
    tokens = tuple(t.strip() for t in (env.get("LPSTAT_API_TOKENS") or "").split(",") if t.strip())
    return Settings(home=home, source_url=source_url, pseudonym_key=key,
                    api_tokens=tokens or (DEMO_API_TOKEN,))
