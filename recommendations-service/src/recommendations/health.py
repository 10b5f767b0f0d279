"""Standard gRPC health checking (grpc.health.v1), from a servicer that never sends under a lock.

grpcio-health-checking's sync `HealthServicer` sends Watch responses while holding its lock, and
the callback that runs when a Watch ends takes that lock on the server's polling thread: the
thread that must complete the send. One Watch ending while another is being answered freezes
the whole server for good; every call then times out and SIGTERM can no longer drain it. Clients
with health-checked balancing open a Watch per connection and end it whenever the connection
closes (at every `max_connection_age`), so this is ordinary traffic, not only an attack.
Upstream: grpc/grpc pull request 43403. tests/integration/test_health.py fails once the stock
servicer survives that traffic, which is when this module can go.

This is the stock servicer with one change: its lock guards the status table and the watchers
only, and responses are sent after it is released.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeAlias

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    SendResponse: TypeAlias = Callable[[health_pb2.HealthCheckResponse | None], None]

SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
"""The health service's full name, as reflection lists it."""

_Response = health_pb2.HealthCheckResponse


class HealthServicer(health_pb2_grpc.HealthServicer):
    """Check and Watch with the stock servicer's semantics: `set` a status per service name
    ("" is the whole server), and `enter_graceful_shutdown` to report NOT_SERVING for good.

    Watch is non-blocking (grpcio's `experimental_non_blocking`), so a watcher holds no worker
    thread. Sends go out under `_send_lock`, which nothing on the polling thread takes: it keeps
    each stream to one send at a time (gRPC allows no more), and each send reads the status as
    it goes out, so the last response a watcher gets is the current status.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._status: dict[str, int] = {"": _Response.SERVING}
        self._watchers: dict[str, set[SendResponse]] = {}
        self._shutting_down = False

    def Check(  # noqa: N802 - the rpc's name
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        """The service's status; NOT_FOUND for a service name that was never set."""
        with self._lock:
            status = self._status.get(request.service)
        if status is None:
            context.set_code(grpc.StatusCode.NOT_FOUND)
            return _Response()
        return _Response(status=status)

    def Watch(  # noqa: N802 - the rpc's name
        self,
        request: health_pb2.HealthCheckRequest,
        context: grpc.ServicerContext,
        send_response_callback: SendResponse | None = None,
    ) -> None:
        """Send the service's status now and again whenever it changes, until the call ends."""
        if send_response_callback is None:
            raise RuntimeError("Watch needs grpcio's non-blocking streaming (a send callback)")
        send, service = send_response_callback, request.service
        with self._lock:
            self._watchers.setdefault(service, set()).add(send)
        if not context.add_callback(lambda: self._forget(service, send)):
            # The call has already ended, so the callback will never run: forget it now.
            self._forget(service, send)
            return
        self._send(service, (send,))

    def set(self, service: str, status: int) -> None:
        """Set the status of `service` and tell its watchers (ignored once shutting down)."""
        with self._lock:
            if self._shutting_down:
                return
            self._status[service] = status
            watchers = list(self._watchers.get(service, ()))
        self._send(service, watchers)

    def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for every service from now on, and tell every watcher."""
        with self._lock:
            if self._shutting_down:
                return
            self._shutting_down = True
            for service in self._status:
                self._status[service] = _Response.NOT_SERVING
            watched = [(service, list(self._watchers.get(service, ()))) for service in self._status]
        for service, watchers in watched:
            self._send(service, watchers)

    def _forget(self, service: str, send: SendResponse) -> None:
        with self._lock:
            self._watchers.get(service, set()).discard(send)
        send(None)  # ends the stream if it is still open; a no-op for a finished call

    def _send(self, service: str, watchers: Iterable[SendResponse]) -> None:
        with self._send_lock:
            with self._lock:
                status = self._status.get(service, _Response.SERVICE_UNKNOWN)
            for send in watchers:
                send(_Response(status=status))


# grpcio passes a send callback to a streaming handler marked this way instead of iterating it.
setattr(HealthServicer.Watch, "experimental_non_blocking", True)  # noqa: B010
