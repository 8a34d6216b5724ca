"""Spread independent batches of work over processes or machines, with bounded memory.

snncc does not schedule work itself: it takes any ``concurrent.futures.Executor``.  Locally
that is a ``ProcessPoolExecutor``; across machines, a Dask cluster's executor
(``distributed.Client(address).get_executor()``).  Results come back in submission order and
at most ``in_flight`` batches are pending at a time, so a data set larger than memory (for
example a memory-mapped .npy) is streamed through rather than loaded.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], executor: cf.Executor | None, in_flight: int) -> Iterator[R]:
    """fn over items, in order; serial when ``executor`` is None."""
    if executor is None:
        yield from map(fn, items)
        return
    pending: collections.deque[cf.Future] = collections.deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@contextlib.contextmanager
def executor_for(workers: int = 1, dask_scheduler: str | None = None) -> Iterator[cf.Executor | None]:
    """None (serial) for one worker; a process pool for several; a Dask cluster's executor by address."""
    if dask_scheduler:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is in requirements.txt
            from snncc.errors import DataError

            raise DataError("--dask-scheduler needs the 'distributed' package", code="DAT030") from exc
        check_scheduler_address(dask_scheduler)
        try:
            client = Client(dask_scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TimeoutError) as exc:
            from snncc.errors import DataError

            raise DataError(
                f"cannot reach the Dask scheduler within {CONNECT_TIMEOUT_S} s ({exc})",
                code="DAT031",
                source=dask_scheduler,
                hint="start it with `dask scheduler` (and workers) and pass the address it prints",
            ) from exc
        with client:
            yield client.get_executor()
        return
    if workers <= 1:
        yield None
        return
    import multiprocessing

    # spawn, not fork: the parent may hold threads (BLAS, torch) that fork would copy mid-state
    pool = cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_leave_interrupts_to_parent
    )
    try:
        yield pool
    except BaseException:  # Ctrl-C, SIGTERM, an error: drop the queued batches, finish the running ones
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _leave_interrupts_to_parent() -> None:
    """Ctrl-C reaches the whole process group: the parent reports it and stops the pool, so the
    workers ignore it (instead of each printing a KeyboardInterrupt traceback)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


CONNECT_TIMEOUT_S = 10
_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")


def check_scheduler_address(address: str) -> None:
    """A Dask scheduler address: [PROTOCOL://]HOST:PORT (the form `dask scheduler` prints)."""
    from urllib.parse import urlsplit

    if address.startswith("inproc://") and len(address) > len("inproc://"):
        return  # a scheduler in this process (LocalCluster(processes=False))
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _SCHEMES or not parts.hostname or port is None or parts.path or " " in address:
        from snncc.errors import DataError

        raise DataError(
            f"--dask-scheduler {address!r} is not a scheduler address",
            code="DAT031",
            hint=f"pass PROTOCOL://HOST:PORT as `dask scheduler` prints it, e.g. tcp://10.0.0.5:8786 "
            f"(protocols: {', '.join(_SCHEMES)})",
        )


def in_flight_for(executor: Any, workers: int) -> int:
    return 1 if executor is None else 2 * max(workers, 1)
