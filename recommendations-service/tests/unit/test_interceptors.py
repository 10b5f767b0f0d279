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
from recommendations.interceptors.exceptions import INTERNAL_DETAILS
from recommendations.interceptors.metrics import LATENCY_BUCKETS
from recommendations.interceptors.tracing import SERVER_ERRORS
from recommendations.logs import JsonFormatter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SERVICE = "test.v1.EchoService"
METHOD = f"/{SERVICE}/Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    """Answers by its input: `ok` echoes, the others fail in the way they are named after."""
    if request == b"invalid":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "user_id must be zero or positive")
    if request == b"abort":
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")
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


def _code_and_details(call: Callable[[bytes], bytes], body: bytes) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call(body)
    return error.value.code(), error.value.details()


class TestExceptionToStatus:
    def test_success_passes_through(self) -> None:
        with _client([ExceptionToStatusInterceptor()]) as call:
            assert call(b"ok") == b"ok"

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            (b"invalid", (grpc.StatusCode.INVALID_ARGUMENT, "user_id must be zero or positive")),
            (b"abort", (grpc.StatusCode.FAILED_PRECONDITION, "not now")),
        ],
    )
    def test_an_abort_keeps_its_status(
        self, body: bytes, status: tuple[grpc.StatusCode, str]
    ) -> None:
        with _client([ExceptionToStatusInterceptor()]) as call:
            assert _code_and_details(call, body) == status

    def test_unexpected_errors_are_internal_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR), _client([ExceptionToStatusInterceptor()]) as call:
            code, details = _code_and_details(call, b"crash")
        assert (code, details) == (grpc.StatusCode.INTERNAL, INTERNAL_DETAILS)
        assert "secret" not in details
        errors = [r for r in caplog.records if r.exc_info]
        assert len(errors) == 1
        assert errors[0].exc_info is not None
        assert errors[0].exc_info[0] is KeyError

    def test_without_it_an_unexpected_error_reaches_the_client_as_unknown(self) -> None:
        with _client([]) as call:
            assert _code_and_details(call, b"crash")[0] is grpc.StatusCode.UNKNOWN


LABELS = {"grpc_service": SERVICE, "grpc_method": "Echo", "grpc_type": "unary"}


class TestMetrics:
    def _sample(self, registry: CollectorRegistry, name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {**LABELS, **labels})

    def test_counts_calls_by_service_method_and_code(self) -> None:
        registry = CollectorRegistry()
        interceptors = [MetricsInterceptor(ServerMetrics(registry)), ExceptionToStatusInterceptor()]
        with _client(interceptors) as call:
            for _ in range(3):
                call(b"ok")
            for body in (b"invalid", b"crash", b"abort"):
                _code_and_details(call, body)
        assert self._sample(registry, "grpc_server_started_total") == 6
        assert self._sample(registry, "grpc_server_handled_total", grpc_code="OK") == 3
        for code in ("INVALID_ARGUMENT", "INTERNAL", "FAILED_PRECONDITION"):
            assert self._sample(registry, "grpc_server_handled_total", grpc_code=code) == 1
        assert self._sample(registry, "grpc_server_handling_seconds_count") == 6
        assert self._sample(registry, "grpc_server_handling_seconds_bucket", le="+Inf") == 6
        assert self._sample(registry, "grpc_server_handling_seconds_bucket", le="2.5") == 6
        assert 0 < self._sample(registry, "grpc_server_handling_seconds_sum") < 6 * 2.5

    def test_an_exception_without_status_counts_as_unknown(self) -> None:
        registry = CollectorRegistry()
        with _client([MetricsInterceptor(ServerMetrics(registry))]) as call:
            assert _code_and_details(call, b"crash")[0] is grpc.StatusCode.UNKNOWN
        assert self._sample(registry, "grpc_server_handled_total", grpc_code="UNKNOWN") == 1

    def test_a_call_lands_in_the_bucket_of_its_duration(self) -> None:
        registry = CollectorRegistry()

        def slow(request: bytes, _context: grpc.ServicerContext) -> bytes:
            time.sleep(0.003)  # above the 2.5 ms bound
            return request

        with _client([MetricsInterceptor(ServerMetrics(registry))], slow) as call:
            call(b"ok")
        # The bucket follows from the duration recorded, however long a busy machine took.
        took = self._sample(registry, "grpc_server_handling_seconds_sum")
        assert took >= 0.003
        first = bisect.bisect_left(LATENCY_BUCKETS, took)  # the first bound at or above it
        bucket = "grpc_server_handling_seconds_bucket"
        assert self._sample(registry, bucket, le=str(LATENCY_BUCKETS[first - 1])) == 0
        if first < len(LATENCY_BUCKETS):
            assert self._sample(registry, bucket, le=str(LATENCY_BUCKETS[first])) == 1
        assert self._sample(registry, bucket, le="+Inf") == 1


class TestTracing:
    @pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
    def test_only_server_errors_mark_the_span_as_an_error(self, code: grpc.StatusCode) -> None:
        exported = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exported))
        with _client([TracingInterceptor(provider)]) as call:
            _code_and_details(call, f"code:{code.name}".encode())
        (span,) = exported.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["rpc.grpc.status_code"] == code.value[0]
        expected = StatusCode.ERROR if code in SERVER_ERRORS else StatusCode.UNSET
        assert span.status.status_code is expected
        assert (code in SERVER_ERRORS) is (
            code
            in {
                grpc.StatusCode.UNKNOWN,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.UNIMPLEMENTED,
                grpc.StatusCode.INTERNAL,
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DATA_LOSS,
            }
        )  # the semantic conventions' list, written out


class TestAccessLog:
    def _logger(self, level: int) -> tuple[logging.Logger, list[logging.LogRecord]]:
        records: list[logging.LogRecord] = []
        logger = logging.getLogger(f"test.access.{level}")
        logger.setLevel(level)
        logger.propagate = False
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger.handlers[:] = [handler]
        return logger, records

    def test_failed_calls_get_one_warning_line_with_service_method_code_and_latency(
        self,
    ) -> None:
        logger, records = self._logger(logging.INFO)
        interceptors = [AccessLogInterceptor(logger), ExceptionToStatusInterceptor()]
        with _client(interceptors) as call:
            call(b"ok")
            _code_and_details(call, b"invalid")
        assert len(records) == 1
        line = json.loads(JsonFormatter().format(records[0]))
        assert line["level"] == "WARNING"
        assert line["grpc_service"] == SERVICE
        assert line["grpc_method"] == "Echo"
        assert line["grpc_code"] == "INVALID_ARGUMENT"
        assert line["latency_ms"] >= 0

    def test_every_call_is_logged_at_debug(self) -> None:
        logger, records = self._logger(logging.DEBUG)
        with _client([AccessLogInterceptor(logger)]) as call:
            call(b"ok")
            _code_and_details(call, b"crash")
        assert [(r.levelname, r.fields["grpc_code"]) for r in records] == [  # type: ignore[attr-defined]
            ("DEBUG", "OK"),
            ("WARNING", "UNKNOWN"),
        ]


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
