"""Calls waiting for their clients' messages: no worker is lost to them, and none waits forever.

grpcio's sync server hands a call to a worker thread as soon as its headers arrive, and the worker
then waits for the request message. A client that sends headers and never a body (or opens a
stream and goes quiet) holds that thread: unwatched, four such calls stop a four-worker server.

Here every handler reads its requests through a `Watchdog`. While a call waits for a message it
is listed; a watchdog thread, every `interval`, cancels the calls that have waited longer than the
receive timeout (the client sees CANCELLED) and asks the `WorkerPool` for spare threads for the
calls that have waited longer than one interval (see `WorkerPool.spare`), so the workers stay free
for calls whose requests have arrived. The hot path pays for one clock read and one dict insertion
and deletion.

`wrap` turns the server's handlers into ones that read through the watchdog: unary requests become
request streams of one message (the same on the wire), so that the handler, not grpcio, waits for
the message; a request stream is read one watched message at a time.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import Counter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prometheus_client import CollectorRegistry

    from recommendations.executor import WorkerPool

_Waiting = tuple[float, grpc.ServicerContext, str]


class Watchdog:
    """Watches the calls that wait for a request message (see the module's docstring)."""

    def __init__(
        self,
        pool: WorkerPool,
        *,
        timeout: float,
        registry: CollectorRegistry,
        interval: float = 0.05,
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        self._interval = interval
        self._waiting: dict[int, _Waiting] = {}
        # Seconds the watchdog itself was held up (see `_watch`), taken off every wait.
        self._stalled = 0.0
        self._timeouts = Counter(
            "grpc_server_receive_timeouts",
            "Calls cancelled because a request message did not arrive in time.",
            ["grpc_service", "grpc_method"],
            registry=registry,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="receive-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (calls still waiting then wait for their clients or for shutdown)."""
        self._stop.set()
        self._thread.join()

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """`handler` (of the method with this full path) reading its requests through the
        watchdog; its response side, streaming or not, is unchanged."""
        if handler.request_streaming:
            behavior = handler.stream_stream or handler.stream_unary
            assert behavior is not None
            wrapped = self._streamed(method, behavior)
        else:
            behavior = handler.unary_stream or handler.unary_unary
            assert behavior is not None
            wrapped = self._unary(method, behavior)
        if getattr(behavior, "experimental_non_blocking", False):
            # grpcio passes a send callback instead of iterating the response: keep it so.
            wrapped = _non_blocking(wrapped)
        make = (
            grpc.stream_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.stream_unary_rpc_method_handler
        )
        return make(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        waiting, clock = self._waiting, time.monotonic

        def first_message(
            requests: Iterator[object], context: grpc.ServicerContext, *more: object
        ) -> object:
            key = id(context)
            waiting[key] = (clock() - self._stalled, context, method)
            try:
                request = next(requests, None)
            except grpc.RpcError:  # cancelled while waiting: by the client, the watchdog or a stop
                return None
            finally:
                waiting.pop(key, None)
            if request is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the call carried no request")
            return behavior(request, context, *more)

        return first_message

    def _streamed(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        waiting, clock = self._waiting, time.monotonic

        def watched(requests: Iterator[object], context: grpc.ServicerContext) -> Iterator[object]:
            key = id(context)
            while True:
                waiting[key] = (clock() - self._stalled, context, method)
                try:
                    request = next(requests)
                except (StopIteration, grpc.RpcError):
                    return
                finally:
                    waiting.pop(key, None)
                yield request

        def read_watched(
            requests: Iterator[object], context: grpc.ServicerContext, *more: object
        ) -> object:
            return behavior(watched(requests, context), context, *more)

        return read_watched

    def _watch(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            # A check that comes late means this process was held up (by the GIL, or the machine),
            # and so were the calls' requests: that time is taken off every wait, so that a busy
            # moment never cancels calls whose requests were on their way.
            self._stalled += max(0.0, now - last - 2 * self._interval)
            last = now
            now -= self._stalled
            held = 0
            for key, entry in list(self._waiting.items()):
                since, context, method = entry
                waited = now - since
                if waited >= self._timeout:
                    if self._waiting.get(key) is entry:
                        self._waiting.pop(key, None)
                    # Counted first: once cancelled, the client may look at the count.
                    service, name = method.removeprefix("/").rsplit("/", 1)
                    self._timeouts.labels(grpc_service=service, grpc_method=name).inc()
                    context.cancel()
                elif waited >= self._interval:
                    held += 1
            if held:
                self._pool.spare(held)


def _non_blocking(behavior: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: object) -> object:
        return behavior(*args)

    call.experimental_non_blocking = True  # type: ignore[attr-defined]
    return call
