"""A lean thread pool for the gRPC server: a fixed set of workers, one queue, and spare workers
for calls that wait on their clients."""

from __future__ import annotations

import logging
import threading
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable

_P = ParamSpec("_P")
_T = TypeVar("_T")
_log = logging.getLogger(__name__)

_Task = tuple["CallFuture[Any]", "Callable[..., Any]", tuple[Any, ...], dict[str, Any]]

SPARE_IDLE_SECONDS = 5.0
"""How long a spare worker waits for work before it ends."""


class CallFuture(Generic[_T]):
    """The outcome of a call submitted to a `WorkerPool`.

    It offers what grpcio's server and the pool's other users take from a
    `concurrent.futures.Future`: done callbacks, and a result or exception to wait for. A `Future`
    builds a `threading.Condition` (in Python) when it is made and goes through it at every step,
    which costs the server several microseconds a call; this takes a C lock twice and makes an
    `Event` only for a caller that waits for an outcome not there yet. benchmarks/README.md has
    what the difference is worth. A call cannot be cancelled: the server never does.
    """

    __slots__ = ("_callbacks", "_done", "_error", "_finished", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[CallFuture[_T]], object]] = []
        self._finished: threading.Event | None = None

    def done(self) -> bool:
        """Whether the call has finished."""
        return self._done

    def add_done_callback(self, fn: Callable[[CallFuture[_T]], object]) -> None:
        """Call `fn(future)` once the call has finished (at once if it has)."""
        with self._lock:
            if not self._done:
                self._callbacks.append(fn)
                return
        self._call_back(fn)

    def result(self, timeout: float | None = None) -> _T:
        """The call's return value; raises what the call raised, or `TimeoutError` if it has not
        finished within `timeout` seconds."""
        error = self.exception(timeout)
        if error is not None:
            raise error
        return cast("_T", self._value)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """What the call raised, None if it returned; `TimeoutError` as for `result`."""
        with self._lock:
            if not self._done and self._finished is None:
                self._finished = threading.Event()
            finished = self._finished
        if finished is not None and not finished.wait(timeout):
            raise TimeoutError
        return self._error

    def set_result(self, value: _T) -> None:
        """Finish with `value` (the pool's workers call this, once)."""
        self._value = value
        self._settle()

    def set_exception(self, error: BaseException) -> None:
        """Finish with `error` raised (the pool's workers call this, once)."""
        self._error = error
        self._settle()

    def _settle(self) -> None:
        # Once done, `add_done_callback` calls instead of adding: the list is complete.
        with self._lock:
            self._done = True
            finished = self._finished
        if finished is not None:
            finished.set()
        for fn in self._callbacks:
            self._call_back(fn)

    def _call_back(self, fn: Callable[[CallFuture[_T]], object]) -> None:
        try:
            fn(self)
        except Exception:  # one failing callback must not stop the others, nor the worker
            _log.exception("a done callback of a pool's call failed")


class WorkerPool:
    """An executor with `workers` threads started up front, sharing one `SimpleQueue`.

    grpcio's sync server hands every call to its executor (it calls `submit`, then
    `add_done_callback` on what that returns). Calls are CPU-bound, so `workers`
    threads (a few) serve them best. A call whose client is slow to send its request holds its
    thread without using the CPU; `spare` starts extra threads, up to `max_workers` in all, so
    that such calls never take the workers' places. A spare thread ends after
    `SPARE_IDLE_SECONDS` without work. `ThreadPoolExecutor` has no such distinction (it starts a
    thread whenever none is idle, busy calls or held ones alike), which is why this pool exists;
    benchmarks/README.md has what it costs against one. `submit` returns a `CallFuture`.
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

    def submit(
        self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> CallFuture[_T]:
        """Queue `fn(*args, **kwargs)` and return its future."""
        future: CallFuture[_T] = CallFuture()
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

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads once the queued calls have run (`wait`: return only then)."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            threads = list(self._threads)
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
