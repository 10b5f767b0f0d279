"""Composition: the gRPC server with servicers, health, reflection, interceptors, TLS and metrics.

`start` builds and starts everything and returns a `RunningServer`; `serve` is the process's main
loop: start, wait for SIGTERM or SIGINT, then shut down gracefully.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import ssl
import time
from concurrent import futures
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from recommendations import health, servicer
from recommendations.interceptors import (
    AccessLogInterceptor,
    DecodingInterceptor,
    ExceptionToStatusInterceptor,
    MetricsInterceptor,
    ServerMetrics,
    TracingInterceptor,
)
from recommendations.interceptors.base import InterceptorChain
from recommendations.recommender import Recommender

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from wsgiref.simple_server import WSGIServer

    from opentelemetry.sdk.trace import TracerProvider

    from recommendations.catalog import Catalog
    from recommendations.interceptors.base import MethodInterceptor
    from recommendations.settings import Settings, TlsFiles

MAX_REQUEST_BYTES = 64 * 1024
"""Requests larger than this are refused with RESOURCE_EXHAUSTED before any handler runs."""

YOUNG_COLLECTION_THRESHOLD = 5_000
"""Net allocations of tracked objects between two collections of the youngest generation, where
CPython's default is 700 (see `tune_garbage_collection`)."""

_log = logging.getLogger(__name__)


class StartupError(Exception):
    """The server cannot start (a port is taken, a TLS file is unreadable); one line for humans."""


@dataclass
class RunningServer:
    """A started server and what belongs to it; `shutdown` stops it gracefully."""

    settings: Settings
    server: grpc.Server
    executor: futures.ThreadPoolExecutor
    health: health.HealthServicer
    health_server: grpc.Server | None
    metrics_http: WSGIServer | None
    port: int
    health_port: int | None
    metrics_port: int | None
    registry: CollectorRegistry
    tracer_provider: TracerProvider | None = None

    def shutdown(self) -> None:
        """Report NOT_SERVING, keep serving for the drain delay, then stop within the grace."""
        self.health.enter_graceful_shutdown()
        _log.info(
            "draining",
            extra={"fields": {"drain_seconds": self.settings.drain_seconds}},
        )
        time.sleep(self.settings.drain_seconds)
        self.stop(self.settings.grace_seconds)
        _log.info("stopped")

    def stop(self, grace: float | None) -> None:
        """Stop serving: calls in flight get `grace` seconds (None: none) to finish."""
        stopped = [self.server.stop(grace)]
        if self.health_server is not None:
            stopped.append(self.health_server.stop(grace))
        for event in stopped:
            event.wait()
        self.executor.shutdown()
        if self.metrics_http is not None:
            self.metrics_http.shutdown()
            self.metrics_http.server_close()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()


def start(
    settings: Settings,
    catalog: Catalog,
    tracer_provider: TracerProvider | None = None,
    *,
    shared_port: bool = False,
) -> RunningServer:
    """Build, bind and start the server for `catalog`, with server spans from `tracer_provider`
    when given; raise `StartupError` if it cannot.

    With `shared_port`, the server is one of several processes on the same ports (SO_REUSEPORT,
    see `processes`), and serves no metrics port: the parent process serves them all.
    """
    # Each server has its own registry, so several servers in one process (tests) count apart.
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    metrics = ServerMetrics(registry)
    executor = futures.ThreadPoolExecutor(settings.workers, thread_name_prefix="grpc")
    server = _server(
        settings, executor, server_interceptors(metrics, tracer_provider), shared_port=shared_port
    )
    servicer.add_to_server(Recommender(catalog), catalog, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        names = (*servicer.SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    address = f"{settings.bind}:{settings.port}"
    health_server = None
    health_port = None
    if settings.tls is None:
        port = _bind(address, lambda: server.add_insecure_port(address))
    else:
        credentials = _server_credentials(settings.tls)
        port = _bind(address, lambda: server.add_secure_port(address, credentials))
        # Kubernetes' gRPC probes speak plaintext only: a separate server, health and nothing else.
        # Interceptors of its own: each keeps the handlers it wrapped, and this server's
        # handlers are not the other's.
        health_interceptors = server_interceptors(metrics, tracer_provider)
        health_server = _server(settings, executor, health_interceptors, shared_port=shared_port)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, health_server)
        health_address = f"{settings.bind}:{settings.health_port}"
        health_port = _bind(health_address, lambda: health_server.add_insecure_port(health_address))
    metrics_http = None if shared_port else start_metrics(settings, registry)
    server.start()
    if health_server is not None:
        health_server.start()
    for name in ("", *servicer.SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(
        settings=settings,
        server=server,
        executor=executor,
        health=health_servicer,
        health_server=health_server,
        metrics_http=metrics_http,
        port=port,
        health_port=health_port,
        metrics_port=None if metrics_http is None else metrics_http.server_port,
        registry=registry,
        tracer_provider=tracer_provider,
    )


def server_interceptors(
    metrics: ServerMetrics, tracer_provider: TracerProvider | None
) -> list[MethodInterceptor]:
    """The server's interceptors, outermost first (the server runs them as one chain).

    The server span, when tracing is on, encloses everything, so that the access log's lines
    carry its ids; the access log and the metrics see the final status and full latency;
    exceptions are turned into statuses, and undecodable requests refused, innermost, so metrics
    and logs count INTERNAL and INVALID_ARGUMENT, not a raw exception. With tracing off there is
    no tracing interceptor at all: a call does no tracing work.
    """
    interceptors: list[MethodInterceptor] = [
        AccessLogInterceptor(),
        MetricsInterceptor(metrics),
        ExceptionToStatusInterceptor(),
        DecodingInterceptor(),
    ]
    if tracer_provider is not None:
        untraced = frozenset({health.SERVICE_NAME})
        interceptors.insert(0, TracingInterceptor(tracer_provider, untraced=untraced))
    return interceptors


def serve(
    settings: Settings,
    catalog: Catalog,
    tracer_provider: TracerProvider | None = None,
    *,
    shared_port: bool = False,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully (the caller exits with 0)."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running = start(settings, catalog, tracer_provider, shared_port=shared_port)
    tune_garbage_collection()
    _log.info(
        "serving",
        extra={
            "fields": {
                "port": running.port,
                "pid": os.getpid(),
                "health_port": running.health_port,
                "workers": settings.workers,
                "metrics_port": running.metrics_port,
                "tls": settings.tls is not None,
                "mutual_tls": settings.tls is not None and settings.tls.client_ca is not None,
                "tracing": tracer_provider is not None,
            }
        },
    )
    # Python runs signal handlers in the main thread, between its own steps. A signal the kernel
    # delivers to another thread does not wake the main thread from a blocking wait (it slept on
    # in threading.Event.wait), and a handler that took a lock (Event.set does) could find it
    # held by the code it interrupted. So the handler only records the signal, and the main
    # thread looks for it every 0.1 s.
    while not received:
        time.sleep(0.1)
    _log.info("signal received", extra={"fields": {"signal": signal.Signals(received[0]).name}})
    # Further signals change nothing, and one that came while the interpreter exits (when it
    # has put the default handlers back) would kill the process: a Ctrl+C reaches every process
    # of the group, and a multi-process parent passes the signal on as well.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    running.shutdown()


def tune_garbage_collection() -> None:
    """Leave the objects made at start-up out of every later collection, and collect the
    youngest generation less often.

    The catalog, the imported modules and grpcio's state live as long as the process, so
    `gc.freeze()` moves them to the permanent generation: a full collection walked all of them
    again (13 to 19 ms under load, pushing the calls' code and data out of the CPU's caches)
    and freed nothing. Calls leave almost nothing for the collector to free, yet with CPython's
    default young threshold of 700 it ran every 40 calls or so, and each run moved the objects of
    the calls in flight to an older generation, which set off a full collection every 5,000
    calls. A loaded server spent 5 to 8% less CPU per call with either change
    (docs/performance.md). Call it once the server has started, in the process that serves.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD)


def _server(
    settings: Settings,
    executor: futures.ThreadPoolExecutor,
    interceptors: list[MethodInterceptor],
    *,
    shared_port: bool,
) -> grpc.Server:
    return grpc.server(
        executor,
        interceptors=[InterceptorChain(interceptors)],
        options=_channel_options(settings, shared_port=shared_port),
        maximum_concurrent_rpcs=settings.max_concurrent_calls,
    )


def _channel_options(settings: Settings, *, shared_port: bool) -> list[tuple[str, int]]:
    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    return [
        ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
        # A call holds a worker from its headers on, even while its client withholds the
        # request: so each connection gets a bounded share of the calls at once.
        ("grpc.max_concurrent_streams", settings.max_calls_per_connection),
        # A connection that never finishes its TLS and HTTP/2 handshake is closed.
        ("grpc.server_handshake_timeout_ms", ms(settings.handshake_timeout_seconds)),
        ("grpc.keepalive_time_ms", ms(settings.keepalive_seconds)),
        ("grpc.keepalive_timeout_ms", ms(settings.keepalive_timeout_seconds)),
        ("grpc.max_connection_age_ms", ms(settings.max_connection_age_seconds)),
        ("grpc.max_connection_age_grace_ms", ms(settings.max_connection_age_grace_seconds)),
        # Clients may keep idle connections alive with pings, but no more often than every 10 s.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        # A taken port must fail start-up, not be silently shared with another process; the
        # processes of one server (`processes`) share theirs on purpose.
        ("grpc.so_reuseport", int(shared_port)),
    ]


def _bind(address: str, add_port: Callable[[], int]) -> int:
    try:
        return add_port()
    except RuntimeError:
        raise StartupError(f"cannot listen on {address}: the port is taken or invalid") from None


def _server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    try:
        key = tls.key.read_bytes()
        cert = tls.cert.read_bytes()
        client_ca = tls.client_ca.read_bytes() if tls.client_ca is not None else None
    except OSError as error:
        raise StartupError(f"cannot read TLS file {error.filename}: {error.strerror}") from None
    # grpcio only logs why it rejects bad PEM files, then fails to bind: check them here first.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except ssl.SSLError as error:
        raise StartupError(
            f"{tls.cert} and {tls.key} must be a PEM certificate chain and its private key "
            f"({error.reason or 'not PEM'})"
        ) from None
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except ssl.SSLError as error:
            raise StartupError(
                f"{tls.client_ca} must hold PEM CA certificates ({error.reason or 'not PEM'})"
            ) from None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def start_metrics(settings: Settings, registry: CollectorRegistry) -> WSGIServer:
    """Serve `registry` on the metrics port; raise `StartupError` if the port cannot be used."""
    host = settings.bind.removeprefix("[").removesuffix("]")
    try:
        httpd, _thread = start_http_server(settings.metrics_port, addr=host, registry=registry)
    except OSError as error:
        raise StartupError(
            f"cannot serve metrics on port {settings.metrics_port}: {error.strerror}"
        ) from None
    return httpd
