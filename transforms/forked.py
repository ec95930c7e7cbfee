"""A function run in a forked child process (:class:`ForkedCall`), for CPU-bound Python work
the caller can do beside other work (the GIL would serialise a thread); the arguments reach
the child by the fork, not by pickling. Used for the release's Excel workbooks
(``publish.release``) and the global suppressor (``disclosure.guarded``). And
:func:`quick_exit`, how a process whose work is done leaves without the interpreter's
teardown."""

from __future__ import annotations

import multiprocessing as mp
import os
import time


class ForkedCall:
    """``fn(*args)`` in a forked process, at ``nice`` (added niceness: it then takes only the
    cores the rest leaves idle). :meth:`result` gives what it returned and raises where it
    failed (its traceback in the message) or ended without a word; :meth:`cancel` stops it.
    ``proc``: the child process. ``context``: the multiprocessing context to fork with
    (default ``fork``)."""

    def __init__(self, fn, *args, nice: int = 0, context=None):
        ctx = context if context is not None else mp.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(send, fn, args, nice), daemon=True)
        self.proc.start()
        send.close()

    def result(self, timeout: float | None = None):
        """What ``fn`` returned. ``TimeoutError`` where nothing came within ``timeout``
        seconds (the child is left running: cancel it or wait again)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._recv.poll(1.0):  # returns at once where the child has ended
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"no result in {timeout:.0f} s")
            kind, value = self._recv.recv()
        except EOFError:  # it died without a word (killed, or out of memory)
            self.proc.join()
            raise RuntimeError(f"the process ended with exit code {self.proc.exitcode}") from None
        self.proc.join()
        if kind != "ok":
            raise RuntimeError(f"a forked process failed: {value}")
        return value

    def wait(self) -> None:
        """Until it has finished; raises as :meth:`result` does."""
        self.result()

    def cancel(self) -> None:
        """Stop the process (if it still runs) and reap it."""
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


def quick_exit(code: int) -> None:
    """Leave the process now with ``code``: standard output and error flushed and the
    ``atexit`` handlers run (multiprocessing's among them, which release its semaphores), but
    not the interpreter's teardown of every module loaded (Dagster, pandas, DuckDB, HiGHS,
    Great Expectations: 0.8-0.9 s a process, measured). Only for a process whose work is
    written and closed: the ``lpstat`` command after ``main``, the GX worker when told to
    stop."""
    import atexit
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a reader gone (lpstat sql ... | head)
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _child(send, fn, args, nice: int) -> None:  # pragma: no cover - runs in the child
    import traceback

    try:
        if nice:
            os.nice(nice)
        send.send(("ok", fn(*args)))
    except BaseException:  # noqa: BLE001 - handed to the parent, which raises it
        send.send(("error", traceback.format_exc()))
    finally:
        send.close()
