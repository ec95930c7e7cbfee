"""Ingest: the operational store, pseudonymised in flight, landed as raw_* tables."""


import dagster as dg

from pipelines.resources import LpstatResource
from transforms.extract import SOURCE_TABLES
from transforms.land import INCREMENTAL


def _loading(table: str) -> str:
    if table == "uddannelsesaftale":
        return ("Loaded incrementally on `aendret`; every version of an agreement is kept, so "
                "any past release can be rebuilt as of its cut-off.")
    if table in INCREMENTAL:
        return (f"Append-only: loaded incrementally from the watermark on `{INCREMENTAL[table]}` "
                "(minus a 3-day look-back for late commits); rows already landed are skipped.")
    return "Reference table: read in full on every run."


RAW_SPECS = [
    dg.AssetSpec(
        f"raw_{t}",
        group_name="ingest",
        kinds={"duckdb"},
        owners=["team:lpstat"],
        description=f"Landed rows of the store's `{t}` table, pseudonymised before landing "
        f"(no CPR numbers, names, addresses, phone numbers or free text). {_loading(t)}",
        metadata={"source_table": f"laerepladsen.{t}"},
    )
    for t in SOURCE_TABLES
]


#: The only step that touches the store. transforms.land retries a dropped connection
#: itself (3 times, 1-2-4 s); when that is not enough (the store restarts, a network outage,
#: the warehouse file still locked by another process), Dagster retries the whole step after
#: about 5, 15 and 35 s (exponential, +/- 5 s of jitter so that retries do not all hit a
#: store that just came back at once). A store that breaks the contract fails at once.
#: Landing is one DuckDB transaction, so a failed attempt leaves nothing behind and the retry
#: starts from the same watermarks.
SOURCE_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL,
                                     jitter=dg.Jitter.PLUS_MINUS)


#: run tag: the release month whose cut-off caps the landing's watermarks when one landing
#: serves several releases (``lpstat demo``, ``lpstat run --from --to`` land once, in the
#: first month's run, and build the later months on it). The landing reads every row up to
#: the store's clock either way; capped at the first month's cut-off, the watermarks would
#: lag every later month's cut-off, and its ``watermarks_current`` check would report
#: registrations missing that were in fact landed.
TAG_LAND_THROUGH = "lpstat/land_through"


@dg.multi_asset(
    name="extract_source",
    specs=RAW_SPECS,
    retry_policy=SOURCE_RETRY_POLICY,
    description="Extract every source table through ADBC in one read-only snapshot, "
    "pseudonymise in memory and land the rows (incrementally where the table allows). "
    "Retried with exponential backoff when the store does not answer.",
)
def extract_source(context: dg.AssetExecutionContext, lpstat: LpstatResource):
    from transforms.calendar import Release, is_release
    from transforms.extract import SourceError, SourceUnavailable
    from transforms.land import INCREMENTAL, land_source

    s = lpstat.settings()
    con = lpstat.warehouse()
    try:
        # The newest release month the command builds on this landing (a demo or backfill
        # lands once, for every month it builds), else the run's own release, if any.
        release = (context.run.tags.get(TAG_LAND_THROUGH)
                   or context.run.tags.get("dagster/partition"))
        stats = land_source(s.source_url, s.pseudonym_key, con, context.run.run_id,
                            cutoff=Release.parse(release).cutoff if is_release(release) else None)
    except SourceUnavailable:
        raise  # transient: the RetryPolicy tries again
    except SourceError as exc:
        # The store answered but breaks the contract (or extraction already failed through
        # land_source's own retries): waiting will not fix it, so fail now.
        raise dg.Failure(description=f"{exc} Nothing was landed; earlier releases and "
                         "'latest' are unchanged. Fix the store or LPSTAT_SOURCE_URL, then "
                         "run the month again.", allow_retries=False) from exc
    finally:
        con.close()
    for table, st in stats.items():
        yield dg.MaterializeResult(asset_key=f"raw_{table}", metadata={
            "dagster/row_count": st["read"],
            "new_rows": st["new"],
            "quarantined_while_landing": st["quarantined"],
            "incremental": table in INCREMENTAL,
        })
