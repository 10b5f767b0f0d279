"""Health, reflection, metrics, size limits, undecodable requests and an unexpected failure
(through the full interceptor stack), against a real server."""

from __future__ import annotations

import logging
import urllib.request

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client.parser import text_string_to_metric_families

from harness import api

SERVICE = api.SERVICE
V2_SERVICE = "bookshop.recommendations.v2.RecommendationsService"
VALID = api.encode_request(user_id=1, category=api.MYSTERY, max_results=0)


def _raw_call(channel: grpc.Channel, body: bytes) -> bytes:
    return api.raw_recommend(channel)(body, timeout=5)


@pytest.mark.parametrize("service", ["", SERVICE, V2_SERVICE])
def test_health_is_serving(channel, service: str) -> None:
    assert api.health(channel, service=service, timeout=5) == "SERVING"


def test_reflection_lists_the_service(channel) -> None:
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {SERVICE, V2_SERVICE, "grpc.health.v1.Health"} <= set(services)


def test_reflection_can_be_turned_off(start_server) -> None:
    running = start_server(reflection=False)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.RpcError) as error:
            ProtoReflectionDescriptorDatabase(channel).get_services()
        assert error.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert len(api.recommend(channel)) == 3  # still serving


def test_metrics_count_calls_per_method_code_and_type_in_the_pinned_latency_buckets(
    start_server,
) -> None:
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        for user_id in range(4):
            _raw_call(channel, api.encode_request(user_id, api.MYSTERY, 0))
        for _ in range(2):
            with pytest.raises(grpc.RpcError):
                _raw_call(channel, api.encode_request(-1, api.MYSTERY, 0))
        assert api.health(channel) == "SERVING"
        ProtoReflectionDescriptorDatabase(channel).get_services()
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        families = {f.name: f for f in text_string_to_metric_families(reply.read().decode())}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    recommend = {"grpc_service": SERVICE, "grpc_method": "Recommend", "grpc_type": "unary"}
    assert value("grpc_server_started_total", **recommend) == 6
    assert value("grpc_server_handled_total", **recommend, grpc_code="OK") == 4
    assert value("grpc_server_handled_total", **recommend, grpc_code="INVALID_ARGUMENT") == 2
    assert value("grpc_server_handling_seconds_count", **recommend) == 6
    assert value("grpc_server_handling_seconds_bucket", **recommend, le="+Inf") == 6
    assert value("grpc_server_handling_seconds_bucket", **recommend, le="2.5") == 6
    assert 0 < value("grpc_server_handling_seconds_sum", **recommend) < 6 * 2.5
    # Calls in flight are started less handled: no gauge to keep per call.
    assert not any(name == "grpc_server_in_flight" for name, _ in samples)
    assert value("process_cpu_seconds_total") > 0
    bounds = [
        s.labels["le"]
        for s in families["grpc_server_handling_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["grpc_service"] == SERVICE
    ]
    assert bounds == [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
        "1.0", "2.5", "+Inf",
    ]  # fmt: skip
    types = {
        (s.labels["grpc_service"], s.labels["grpc_method"]): s.labels["grpc_type"]
        for s in families["grpc_server_started"].samples
    }
    assert types[("grpc.health.v1.Health", "Check")] == "unary"
    reflection = ("grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo")
    assert types[reflection] == "bidi_stream"


def test_a_bug_is_internal_with_a_generic_message_one_traceback_and_counted(
    start_server, catalog_that_breaks, caplog: pytest.LogCaptureFixture
) -> None:
    running = start_server(catalog_that_breaks)
    catalog_that_breaks.broken = True
    with (
        caplog.at_level(logging.INFO),
        grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        _raw_call(channel, VALID)
    assert error.value.code() is grpc.StatusCode.INTERNAL
    assert error.value.details() == "internal error"
    (traceback,) = [r for r in caplog.records if r.exc_info]
    assert "disk on fire" in str(traceback.exc_info[1])
    access = [r for r in caplog.records if r.name == "recommendations.access"]
    assert [r.fields["grpc_code"] for r in access] == ["INTERNAL"]
    handled = {"grpc_service": SERVICE, "grpc_method": "Recommend", "grpc_type": "unary"}
    sample = {**handled, "grpc_code": "INTERNAL"}
    assert running.registry.get_sample_value("grpc_server_handled_total", sample) == 1


def test_a_request_over_64_kib_is_resource_exhausted(channel) -> None:
    # A valid RecommendRequest padded with a 100 KiB unknown field (field 15, length-delimited).
    padding = b"x" * (100 * 1024)
    big = VALID + b"\x7a" + _varint(len(padding)) + padding
    with pytest.raises(grpc.RpcError) as error:
        _raw_call(channel, big)
    assert error.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(api.recommend(channel)) == 3  # still serving


def test_a_request_just_under_the_limit_is_served(channel) -> None:
    padding = b"x" * (60 * 1024)
    response = _raw_call(channel, VALID + b"\x7a" + _varint(len(padding)) + padding)
    assert len(api.decode_books(response)) == 3


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff", b"\x08", b"\x0a\x10short", b"\x12\x01"],
    ids=["bad-varint", "truncated-varint", "truncated-field", "wrong-wire-type"],
)
def test_bytes_that_are_not_a_request_are_invalid_argument(channel, body: bytes) -> None:
    with pytest.raises(grpc.RpcError) as error:
        _raw_call(channel, body)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid RecommendRequest" in error.value.details()
    assert len(api.recommend(channel)) == 3  # still serving


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
