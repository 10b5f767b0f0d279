"""Each interceptor alone, around grpc-interceptor's dummy service (a real server and client)."""

from __future__ import annotations

import json
import logging

import grpc
import pytest
from grpc_interceptor.exceptions import InvalidArgument, NotFound
from grpc_interceptor.testing import DummyRequest, dummy_client, raises
from prometheus_client import CollectorRegistry
from recommendations.interceptors import (
    AccessLogInterceptor,
    ExceptionToStatusInterceptor,
    MetricsInterceptor,
    ServerMetrics,
)
from recommendations.interceptors.exceptions import INTERNAL_DETAILS
from recommendations.logs import JsonFormatter


def _abort(_input: str, context: grpc.ServicerContext) -> str:
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")


SPECIAL_CASES = {
    "invalid": raises(InvalidArgument("user_id must be zero or positive")),
    "missing": raises(NotFound("no such book")),
    "crash": raises(KeyError("secret internal detail")),
    "abort": _abort,
}


def _code_and_details(client, text: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        client.Execute(DummyRequest(input=text), timeout=5)
    return error.value.code(), error.value.details()


class TestExceptionToStatus:
    def test_success_passes_through(self) -> None:
        with dummy_client(SPECIAL_CASES, [ExceptionToStatusInterceptor()]) as client:
            assert client.Execute(DummyRequest(input="hello")).output == "hello"

    def test_grpc_exceptions_keep_their_code_and_message(self) -> None:
        with dummy_client(SPECIAL_CASES, [ExceptionToStatusInterceptor()]) as client:
            assert _code_and_details(client, "invalid") == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "user_id must be zero or positive",
            )
            assert _code_and_details(client, "missing") == (
                grpc.StatusCode.NOT_FOUND,
                "no such book",
            )

    def test_an_abort_keeps_its_status(self) -> None:
        with dummy_client(SPECIAL_CASES, [ExceptionToStatusInterceptor()]) as client:
            assert _code_and_details(client, "abort") == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "not now",
            )

    def test_unexpected_errors_are_internal_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with (
            caplog.at_level(logging.ERROR),
            dummy_client(SPECIAL_CASES, [ExceptionToStatusInterceptor()]) as client,
        ):
            code, details = _code_and_details(client, "crash")
        assert (code, details) == (grpc.StatusCode.INTERNAL, INTERNAL_DETAILS)
        assert "secret" not in details
        errors = [r for r in caplog.records if r.exc_info]
        assert len(errors) == 1
        assert errors[0].exc_info is not None
        assert errors[0].exc_info[0] is KeyError


class TestMetrics:
    def _sample(self, registry: CollectorRegistry, name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"grpc_method": "Execute", **labels})

    def test_counts_calls_by_method_and_code(self) -> None:
        registry = CollectorRegistry()
        interceptors = [MetricsInterceptor(ServerMetrics(registry)), ExceptionToStatusInterceptor()]
        with dummy_client(SPECIAL_CASES, interceptors) as client:
            for _ in range(3):
                client.Execute(DummyRequest(input="ok"))
            for text in ("invalid", "crash", "abort"):
                _code_and_details(client, text)
        assert self._sample(registry, "grpc_server_started_total") == 6
        assert self._sample(registry, "grpc_server_handled_total", grpc_code="OK") == 3
        for code in ("INVALID_ARGUMENT", "INTERNAL", "FAILED_PRECONDITION"):
            assert self._sample(registry, "grpc_server_handled_total", grpc_code=code) == 1
        assert self._sample(registry, "grpc_server_handling_seconds_count") == 6
        assert self._sample(registry, "grpc_server_handling_seconds_bucket", le="+Inf") == 6
        assert self._sample(registry, "grpc_server_handling_seconds_bucket", le="2.5") == 6
        assert 0 < self._sample(registry, "grpc_server_handling_seconds_sum") < 6 * 2.5
        assert self._sample(registry, "grpc_server_in_flight") == 0

    def test_an_exception_without_status_counts_as_unknown(self) -> None:
        registry = CollectorRegistry()
        with dummy_client(SPECIAL_CASES, [MetricsInterceptor(ServerMetrics(registry))]) as client:
            assert _code_and_details(client, "crash")[0] is grpc.StatusCode.UNKNOWN
        assert self._sample(registry, "grpc_server_handled_total", grpc_code="UNKNOWN") == 1

    def test_in_flight_counts_the_running_call(self) -> None:
        registry = CollectorRegistry()

        def report_in_flight(_input: str, _context: grpc.ServicerContext) -> str:
            return f"{self._sample(registry, 'grpc_server_in_flight'):g}"

        interceptors = [MetricsInterceptor(ServerMetrics(registry))]
        with dummy_client({"in-flight": report_in_flight}, interceptors) as client:
            assert client.Execute(DummyRequest(input="in-flight")).output == "1"


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

    def test_failed_calls_get_one_warning_line_with_code_and_latency(self) -> None:
        logger, records = self._logger(logging.INFO)
        interceptors = [AccessLogInterceptor(logger), ExceptionToStatusInterceptor()]
        with dummy_client(SPECIAL_CASES, interceptors) as client:
            client.Execute(DummyRequest(input="ok"))
            _code_and_details(client, "invalid")
        assert len(records) == 1
        line = json.loads(JsonFormatter().format(records[0]))
        assert line["level"] == "WARNING"
        assert line["grpc_method"] == "/DummyService/Execute"
        assert line["grpc_code"] == "INVALID_ARGUMENT"
        assert line["latency_ms"] >= 0

    def test_every_call_is_logged_at_debug(self) -> None:
        logger, records = self._logger(logging.DEBUG)
        with dummy_client(SPECIAL_CASES, [AccessLogInterceptor(logger)]) as client:
            client.Execute(DummyRequest(input="ok"))
            _code_and_details(client, "crash")
        assert [(r.levelname, r.fields["grpc_code"]) for r in records] == [  # type: ignore[attr-defined]
            ("DEBUG", "OK"),
            ("WARNING", "UNKNOWN"),
        ]
