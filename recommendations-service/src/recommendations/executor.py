"""A lean thread pool for the gRPC server: a fixed set of workers and one queue."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, Future
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

_P = ParamSpec("_P")
_T = TypeVar("_T")
_log = logging.getLogger(__name__)

_Task = tuple["Future[Any]", "Callable[..., Any]", tuple[Any, ...], dict[str, Any]]


class WorkerPool(Executor):
    """An `Executor` with `max_workers` threads started up front, sharing one `SimpleQueue`.

    grpcio's sync server hands every call to its executor. `ThreadPoolExecutor` pays for
    features a server does not use (lazy thread start, idle tracking, shutdown checks on every
    submit, a work-item object): measured on this service, this pool saves about 10% of the
    server's CPU per call (see benchmarks/README.md). Futures are real `concurrent.futures.Future`
    objects, so cancellation, results and callbacks behave as usual.
    """

    def __init__(self, max_workers: int, *, thread_name_prefix: str = "worker") -> None:
        self._queue: SimpleQueue[_Task | None] = SimpleQueue()
        self._shutdown = False
        self._shutdown_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}-{n}", daemon=True)
            for n in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Queue `fn(*args, **kwargs)` and return its future."""
        if self._shutdown:
            raise RuntimeError("cannot submit to a pool that was shut down")
        future: Future[_T] = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers once the queued calls have run (`cancel_futures` drops them)."""
        with self._shutdown_lock:
            if self._shutdown:
                return
            self._shutdown = True
        if cancel_futures:
            while not self._queue.empty():
                task = self._queue.get_nowait()
                if task is not None:
                    task[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        get = self._queue.get
        while (task := get()) is not None:
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
