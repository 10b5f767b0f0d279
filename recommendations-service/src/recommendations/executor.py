"""A lean thread pool for the gRPC server: a fixed set of workers, one queue, and spare workers
for calls that wait on their clients."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

_P = ParamSpec("_P")
_T = TypeVar("_T")
_log = logging.getLogger(__name__)

_Task = tuple["Future[Any]", "Callable[..., Any]", tuple[Any, ...], dict[str, Any]]

SPARE_IDLE_SECONDS = 5.0
"""How long a spare worker waits for work before it ends."""


class WorkerPool(Executor):
    """An `Executor` with `workers` threads started up front, sharing one `SimpleQueue`.

    grpcio's sync server hands every call to its executor. Calls are CPU-bound, so `workers`
    threads (a few) serve them best. A call whose client is slow to send its request holds its
    thread without using the CPU; `spare` starts extra threads, up to `max_workers` in all, so
    that such calls never take the workers' places. A spare thread ends after
    `SPARE_IDLE_SECONDS` without work. `ThreadPoolExecutor` has no such distinction (it starts a
    thread whenever none is idle, busy calls or held ones alike), which is why this pool exists;
    benchmarks/README.md has what it costs against one. Futures are real
    `concurrent.futures.Future` objects, so cancellation, results and callbacks behave as usual.
    """

    def __init__(
        self, workers: int, *, max_workers: int, thread_name_prefix: str = "worker"
    ) -> None:
        self._queue: SimpleQueue[_Task | None] = SimpleQueue()
        self._workers = workers
        self._max_workers = max(workers, max_workers)
        self._prefix = thread_name_prefix
        # Guards `_shutdown` and `_threads` against a `spare` or `submit` racing `shutdown`.
        self._lock = threading.Lock()
        self._shutdown = False
        self._threads: set[threading.Thread] = set()
        self._started = 0
        with self._lock:
            for _ in range(workers):
                self._start(spare=False)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Queue `fn(*args, **kwargs)` and return its future."""
        future: Future[_T] = Future()
        # Under the lock, so that no call is queued behind the stop markers of `shutdown`, where
        # no thread would ever run it.
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit to a pool that was shut down")
            self._queue.put((future, fn, args, kwargs))
        return future

    def spare(self, waiting: int) -> None:
        """Make sure there are threads for `waiting` calls that wait on their clients, on top of
        the workers (up to `max_workers` threads in all).

        Each such call gets a spare thread and as many again: when some calls wait on their
        clients, more of those queued behind them often will, and with only one thread each an
        attack of many idle calls would be absorbed one check at a time. As many again, and no
        more: the spares of a busy server with a few slow requests stay few, so they cannot add
        to the contention that made the requests slow."""
        with self._lock:
            wanted = min(self._workers + 2 * waiting, self._max_workers) - len(self._threads)
            if self._shutdown or wanted <= 0:
                return
            for _ in range(wanted):
                self._start(spare=True)
        _log.debug(
            "spare workers started for calls waiting on their clients",
            extra={"fields": {"waiting": waiting, "started": wanted}},
        )

    @property
    def threads(self) -> int:
        """How many threads the pool has right now."""
        return len(self._threads)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once the queued calls have run (`cancel_futures` drops them)."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while not self._queue.empty():
                task = self._queue.get_nowait()
                if task is not None:
                    task[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _start(self, *, spare: bool) -> None:
        """Start a thread; call with `_lock` held."""
        thread = threading.Thread(
            target=self._work,
            args=(spare,),
            name=f"{self._prefix}-{'spare-' if spare else ''}{self._started}",
            daemon=True,
        )
        self._started += 1
        self._threads.add(thread)
        thread.start()

    def _work(self, spare: bool) -> None:
        get = self._queue.get
        timeout = SPARE_IDLE_SECONDS if spare else None
        try:
            while True:
                try:
                    task = get(timeout=timeout)
                except Empty:
                    return
                if task is None:
                    return
                future, fn, args, kwargs = task
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:  # handed to the future, as Executor does
                    future.set_exception(error)
                else:
                    future.set_result(result)
                del task, future, fn, args, kwargs  # do not keep the last call's objects alive
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
