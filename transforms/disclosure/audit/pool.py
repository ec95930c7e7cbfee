"""The audit's worker processes: independent LPs (those of one goal round, two fixed halves
of a large exact phase) run in up to ``workers`` processes; the LPs solved are the same for
any number of workers, so the result is too."""

from __future__ import annotations

import atexit


class _Pool:
    """Up to `workers` processes for independent LPs; started on first use. Results never
    depend on the number of workers (the same LPs are solved either way)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._ex = None

    def map(self, fn, *its):
        args = [list(x) for x in its]
        if self.workers <= 1 or len(args[0]) <= 1:
            return list(map(fn, *args))
        done = self._in_workers(lambda ex: list(ex.map(fn, *args)))
        return list(map(fn, *args)) if done is None else done

    def submit(self, fn, *args):
        """``fn(*args)`` started in a worker process, as a future; None where this pool runs
        in this process only (the caller then does the work itself when it needs it)."""
        if self.workers <= 1:
            return None
        return self._in_workers(lambda ex: ex.submit(fn, *args))

    def _in_workers(self, use):
        """``use(executor)``, the worker processes started on first use; None where they
        cannot run (e.g. an unguarded __main__ under spawn): from then on this pool works
        in this process, with the same results."""
        import concurrent.futures
        import multiprocessing

        try:
            if self._ex is None:
                self._ex = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
                )
            return use(self._ex)
        except (concurrent.futures.process.BrokenProcessPool, RuntimeError, OSError):
            self.close()
            self.workers = 1
            return None

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown()
            self._ex = None


_SHARED: dict[int, _Pool] = {}


def _shared_pool(workers: int) -> _Pool:
    """The process's pool of ``workers`` processes, kept between audits: a worker costs
    about half a second to start (it imports numpy, scipy, pandas and HiGHS), and a release
    audits every cube, the checked search once per round."""
    pool = _SHARED.get(workers)
    if pool is None or pool.workers != workers:  # fell back to one process: start afresh
        pool = _SHARED[workers] = _Pool(workers)
    return pool


def shutdown_workers() -> None:
    """Stop the audit's worker processes (they start again on the next audit's first use).
    Called when a release's disclosure control is done, and at exit."""
    for pool in _SHARED.values():
        pool.close()
    _SHARED.clear()


atexit.register(shutdown_workers)
