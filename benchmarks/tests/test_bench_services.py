"""The bench-only services, started as the bench starts them: each leaves out what it says.

The fixed-page service hands every reader the real service's first page; the SDK-spans service's
server spans are the SDK's alone (started and ended, nothing read from the caller).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc
from recommendations.catalog import load_catalog
from recommendations.domain import Category
from recommendations.recommender import Recommender

from benchmarks.run import FIXED_PAGE_SERVICE, SDK_SPANS_SERVICE
from harness.otlp import OtlpReceiver
from harness.processes import Supervisor
from harness.service import Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = (("traceparent", f"00-{CALLER_TRACE}-b7ad6b7169203331-01"),)
METHOD = "bookshop.recommendations.v2.RecommendationsService/Recommend"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(path)
    return path


@contextmanager
def _served(
    logs: Path, catalog: Path, service: Path, env: dict[str, str] | None = None
) -> Iterator[v2_grpc.RecommendationsServiceStub]:
    """A stub of the bench-only `service`, started as the bench starts it."""
    with Supervisor(logs) as supervisor:
        command = (sys.executable, str(service))
        replica = Replica(supervisor, service.stem, catalog, command=command, extra_env=env or {})
        replica.start()
        with grpc.insecure_channel(replica.address) as channel:
            yield v2_grpc.RecommendationsServiceStub(channel)


def _page(stub: v2_grpc.RecommendationsServiceStub, reader_id: str) -> v2.RecommendResponse:
    request = v2.RecommendRequest(
        reader_id=reader_id, category=v2.BOOK_CATEGORY_MYSTERY, page_size=3
    )
    response: v2.RecommendResponse = stub.Recommend(request, metadata=CALLER, timeout=5)
    return response


def test_every_reader_gets_the_page_the_first_reader_was_given(
    tmp_path_factory: pytest.TempPathFactory, catalog: Path
) -> None:
    recommender = Recommender(load_catalog(catalog))
    first, second = (
        [book.id for book in recommender.page(reader, Category.MYSTERY, 3, "")[0]]
        for reader in ("reader-1", "reader-2")
    )
    assert first != second  # what the real recommender gives these readers differs
    with _served(tmp_path_factory.mktemp("logs"), catalog, FIXED_PAGE_SERVICE) as stub:
        assert [book.id for book in _page(stub, "reader-1").books] == first
        assert [book.id for book in _page(stub, "reader-2").books] == first


def test_each_call_gets_a_root_server_span_with_the_rpc_attributes_and_no_status(
    tmp_path_factory: pytest.TempPathFactory, catalog: Path
) -> None:
    receiver = OtlpReceiver()
    receiver.start()
    tracing = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.grpc_endpoint,
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    try:
        with _served(tmp_path_factory.mktemp("logs"), catalog, SDK_SPANS_SERVICE, tracing) as stub:
            assert len(_page(stub, "r").books) == 3
            (span,) = receiver.wait_for(
                lambda spans: any(s.name == METHOD for s in spans), timeout=10
            )
    finally:
        receiver.stop()
    assert (span.kind, span.parent_id) == ("SERVER", "")
    assert span.trace_id != CALLER_TRACE  # the caller's context was not read
    assert span.attributes == {
        "rpc.system": "grpc",
        "rpc.service": "bookshop.recommendations.v2.RecommendationsService",
        "rpc.method": "Recommend",
    }
