"""The bench-only SDK-spans service: server spans the SDK starts and ends, and nothing more."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc

from benchmarks.run import SDK_SPANS_SERVICE
from harness.otlp import OtlpReceiver
from harness.processes import Supervisor
from harness.service import Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = (("traceparent", f"00-{CALLER_TRACE}-b7ad6b7169203331-01"),)
METHOD = "bookshop.recommendations.v2.RecommendationsService/Recommend"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def stub(
    tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver
) -> Iterator[v2_grpc.RecommendationsServiceStub]:
    """A stub of the SDK-spans service, tracing every call to `receiver`."""
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(catalog)
    tracing = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        command = (sys.executable, str(SDK_SPANS_SERVICE))
        replica = Replica(supervisor, "sdk-spans", catalog, command=command, extra_env=tracing)
        replica.start()
        with grpc.insecure_channel(replica.address) as channel:
            yield v2_grpc.RecommendationsServiceStub(channel)


def test_each_call_gets_a_root_server_span_with_the_rpc_attributes_and_no_status(
    stub: v2_grpc.RecommendationsServiceStub, receiver: OtlpReceiver
) -> None:
    request = v2.RecommendRequest(reader_id="r", category=v2.BOOK_CATEGORY_MYSTERY, page_size=3)
    assert len(stub.Recommend(request, metadata=CALLER, timeout=5).books) == 3
    (span,) = receiver.wait_for(lambda spans: any(s.name == METHOD for s in spans), timeout=10)
    assert (span.kind, span.parent_id) == ("SERVER", "")
    assert span.trace_id != CALLER_TRACE  # the caller's context was not read
    assert span.attributes == {
        "rpc.system": "grpc",
        "rpc.service": "bookshop.recommendations.v2.RecommendationsService",
        "rpc.method": "Recommend",
    }
