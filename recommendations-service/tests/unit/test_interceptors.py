"""Each interceptor, passed to `grpc.server(interceptors=...)` as the service passes them, around
a real gRPC method on a real server and client (bytes in, bytes out)."""

from __future__ import annotations

import bisect
import json
import logging
import time
from concurrent import futures
from contextlib import contextmanager
from typing import TYPE_CHECKING

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry
from recommendations.interceptors import (
    AccessLogInterceptor,
    ExceptionToStatusInterceptor,
    MetricsInterceptor,
    ServerMetrics,
    TracingInterceptor,
)
from recommendations.interceptors.base import (
    Handler,
    InterceptorChain,
    MethodInterceptor,
    behavior_of,
    with_behavior,
)
from recommendations.interceptors.metrics import LATENCY_BUCKETS
from recommendations.interceptors.tracing import SERVER_ERRORS
from recommendations.logs import JsonFormatter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SERVICE = "test.v1.EchoService"
METHOD = f"/{SERVICE}/Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    """Answers by its input: `crash` raises, `code:NAME` aborts with that code, the rest echoes."""
    if request == b"crash":
        raise KeyError("secret internal detail")
    if request.startswith(b"code:"):
        context.abort(grpc.StatusCode[request.removeprefix(b"code:").decode()], "as asked")
    return request


@contextmanager
def _client(
    interceptors: Sequence[grpc.ServerInterceptor],
    behavior: Callable[[bytes, grpc.ServicerContext], bytes] = _echo,
) -> Iterator[Callable[[bytes], bytes]]:
    """Serve `behavior` behind `interceptors` on a loopback port; yield a caller of it."""
    handler = grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=None, response_serializer=None
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=interceptors)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Echo": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(METHOD)
            yield lambda body: call(body, timeout=5)
    finally:
        server.stop(None)


def _code(call: Callable[[bytes], bytes], body: bytes) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call(body)
    return error.value.code()


# ExceptionToStatusInterceptor keeps an abort's status and turns a bug into INTERNAL, logged once:
# integration/test_operations.py and test_recommend.py, through the whole stack.
def test_without_exception_to_status_an_unexpected_error_reaches_the_client_as_unknown() -> None:
    with _client([]) as call:
        assert _code(call, b"crash") is grpc.StatusCode.UNKNOWN


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    labels = {"grpc_service": SERVICE, "grpc_method": "Echo", "grpc_type": "unary", **labels}
    return registry.get_sample_value(name, labels)


# MetricsInterceptor's counts by code and its histogram, on the whole stack:
# integration/test_operations.py.
def test_metrics_count_an_exception_without_status_as_unknown() -> None:
    registry = CollectorRegistry()
    with _client([MetricsInterceptor(ServerMetrics(registry))]) as call:
        assert _code(call, b"crash") is grpc.StatusCode.UNKNOWN
    assert _sample(registry, "grpc_server_handled_total", grpc_code="UNKNOWN") == 1


def test_a_call_lands_in_the_bucket_of_its_duration() -> None:
    registry = CollectorRegistry()

    def slow(request: bytes, _context: grpc.ServicerContext) -> bytes:
        time.sleep(0.003)  # above the 2.5 ms bound
        return request

    with _client([MetricsInterceptor(ServerMetrics(registry))], slow) as call:
        call(b"ok")
    # The bucket follows from the duration recorded, however long a busy machine took.
    took = _sample(registry, "grpc_server_handling_seconds_sum")
    assert took >= 0.003
    first = bisect.bisect_left(LATENCY_BUCKETS, took)  # the first bound at or above it
    bucket = "grpc_server_handling_seconds_bucket"
    assert _sample(registry, bucket, le=str(LATENCY_BUCKETS[first - 1])) == 0
    if first < len(LATENCY_BUCKETS):
        assert _sample(registry, bucket, le=str(LATENCY_BUCKETS[first])) == 1
    assert _sample(registry, bucket, le="+Inf") == 1


# The semantic conventions' list of server errors, written out.
SERVER_ERROR_CODES = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_only_server_errors_mark_the_span_as_an_error(code: grpc.StatusCode) -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with _client([TracingInterceptor(provider)]) as call:
        _code(call, f"code:{code.name}".encode())
    (span,) = exported.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == code.value[0]
    assert (code in SERVER_ERRORS) is (code in SERVER_ERROR_CODES)
    expected = StatusCode.ERROR if code in SERVER_ERROR_CODES else StatusCode.UNSET
    assert span.status.status_code is expected


ACCESS = logging.getLogger("test.access")


def test_failed_calls_get_one_warning_line_with_service_method_code_and_latency(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interceptors = [AccessLogInterceptor(ACCESS), ExceptionToStatusInterceptor()]
    with caplog.at_level(logging.INFO, ACCESS.name), _client(interceptors) as call:
        call(b"ok")
        _code(call, b"code:INVALID_ARGUMENT")
    (record,) = [r for r in caplog.records if r.name == ACCESS.name]
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING"
    assert (line["grpc_service"], line["grpc_method"]) == (SERVICE, "Echo")
    assert line["grpc_code"] == "INVALID_ARGUMENT"
    assert line["latency_ms"] >= 0


def test_every_call_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.DEBUG, ACCESS.name),
        _client([AccessLogInterceptor(ACCESS)]) as call,
    ):
        call(b"ok")
        _code(call, b"crash")
    logged = [(r.levelname, r.fields["grpc_code"]) for r in caplog.records if r.name == ACCESS.name]
    assert logged == [("DEBUG", "OK"), ("WARNING", "UNKNOWN")]


@pytest.mark.parametrize("chained", [False, True], ids=["interceptors", "chain"])
def test_interceptors_nest_with_the_first_outermost_and_wrap_each_method_once(
    chained: bool,
) -> None:
    order: list[str] = []
    wrapped: list[str] = []

    class Recording(MethodInterceptor):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def wrap(self, method: str, handler: Handler) -> Handler:
            wrapped.append(self.name)
            behavior = behavior_of(handler)

            def recorded(request: bytes, context: grpc.ServicerContext) -> bytes:
                order.append(f"{self.name} in")
                response: bytes = behavior(request, context)
                order.append(f"{self.name} out")
                return response

            return with_behavior(handler, recorded)

    members = [Recording("outer"), Recording("inner")]
    with _client([InterceptorChain(members)] if chained else members) as call:
        assert call(b"ok") == b"ok"
        assert call(b"ok") == b"ok"
    assert order == ["outer in", "inner in", "inner out", "outer out"] * 2
    assert sorted(wrapped) == ["inner", "outer"]
