"""Health, reflection, metrics, size limits and undecodable requests, against a real server."""

from __future__ import annotations

import urllib.request

import grpc
import pytest
from bookshop.recommendations.v1.recommendations_pb2 import (
    BOOK_CATEGORY_MYSTERY,
    RecommendRequest,
    RecommendResponse,
)
from bookshop.recommendations.v1.recommendations_pb2_grpc import RecommendationsServiceStub
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client.parser import text_string_to_metric_families

SERVICE = "bookshop.recommendations.v1.RecommendationsService"
V2_SERVICE = "bookshop.recommendations.v2.RecommendationsService"
METHOD = f"/{SERVICE}/Recommend"
VALID = RecommendRequest(user_id=1, category=BOOK_CATEGORY_MYSTERY).SerializeToString()


def _raw_call(channel: grpc.Channel, body: bytes) -> bytes:
    call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    return call(body, timeout=5)


def _still_serving(channel: grpc.Channel) -> None:
    response = RecommendResponse.FromString(_raw_call(channel, VALID))
    assert len(response.recommendations) == 3


@pytest.mark.parametrize("service", ["", SERVICE, V2_SERVICE])
def test_health_is_serving(channel, service: str) -> None:
    response = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel) -> None:
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {SERVICE, V2_SERVICE, "grpc.health.v1.Health"} <= set(services)


def test_reflection_can_be_turned_off(start_server) -> None:
    running = start_server(reflection=False)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.RpcError) as error:
            ProtoReflectionDescriptorDatabase(channel).get_services()
        assert error.value.code() is grpc.StatusCode.UNIMPLEMENTED
        _still_serving(channel)


def test_metrics_count_calls_per_method_and_code(start_server) -> None:
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = RecommendationsServiceStub(channel)
        for user_id in range(4):
            stub.Recommend(RecommendRequest(user_id=user_id, category=BOOK_CATEGORY_MYSTERY))
        for _ in range(2):
            with pytest.raises(grpc.RpcError):
                stub.Recommend(RecommendRequest(user_id=-1, category=BOOK_CATEGORY_MYSTERY))
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(reply.read().decode())
            for sample in family.samples
        }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    recommend = {"grpc_service": SERVICE, "grpc_method": "Recommend", "grpc_type": "unary"}
    assert value("grpc_server_started_total", **recommend) == 6
    assert value("grpc_server_handled_total", **recommend, grpc_code="OK") == 4
    assert value("grpc_server_handled_total", **recommend, grpc_code="INVALID_ARGUMENT") == 2
    assert value("grpc_server_handling_seconds_count", **recommend) == 6
    # Calls in flight are started less handled: no gauge to keep per call.
    assert not any(name == "grpc_server_in_flight" for name, _ in samples)
    assert value("process_cpu_seconds_total") > 0


def test_the_latency_buckets_are_pinned_and_health_and_reflection_keep_their_types(
    start_server,
) -> None:
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        RecommendationsServiceStub(channel).Recommend(
            RecommendRequest(user_id=1, category=BOOK_CATEGORY_MYSTERY)
        )
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        ProtoReflectionDescriptorDatabase(channel).get_services()
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        families = {f.name: f for f in text_string_to_metric_families(reply.read().decode())}
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


def test_a_request_over_64_kib_is_resource_exhausted(channel) -> None:
    # A valid RecommendRequest padded with a 100 KiB unknown field (field 15, length-delimited).
    padding = b"x" * (100 * 1024)
    big = VALID + b"\x7a" + _varint(len(padding)) + padding
    with pytest.raises(grpc.RpcError) as error:
        _raw_call(channel, big)
    assert error.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_serving(channel)


def test_a_request_just_under_the_limit_is_served(channel) -> None:
    padding = b"x" * (60 * 1024)
    response = _raw_call(channel, VALID + b"\x7a" + _varint(len(padding)) + padding)
    assert len(RecommendResponse.FromString(response).recommendations) == 3


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
    _still_serving(channel)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
