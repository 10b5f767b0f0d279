"""The bench-only fixed-page service: the real service's first page, handed to every reader."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from bookshop.recommendations.v2 import recommendations_pb2_grpc as v2_grpc
from recommendations.catalog import load_catalog
from recommendations.domain import Category
from recommendations.recommender import Recommender

from benchmarks.run import FIXED_PAGE_SERVICE
from harness.ports import accepts, free_port
from harness.processes import Supervisor

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[v2_grpc.RecommendationsServiceStub]:
    """A stub of the fixed-page service, started as the bench starts it, on the packaged catalog."""
    port = free_port()
    env = {
        **os.environ,
        "RECOMMENDATIONS_PORT": str(port),
        "RECOMMENDATIONS_METRICS_PORT": str(free_port()),
        "RECOMMENDATIONS_BIND": "127.0.0.1",
    }
    env.pop("RECOMMENDATIONS_CATALOG", None)
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        process = supervisor.start("fixed-page", [sys.executable, str(FIXED_PAGE_SERVICE)], env)
        supervisor.wait_ready("fixed-page", process, lambda: accepts(port), timeout=15)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield v2_grpc.RecommendationsServiceStub(channel)


def _ids(stub: v2_grpc.RecommendationsServiceStub, reader_id: str) -> list[int]:
    request = v2.RecommendRequest(
        reader_id=reader_id, category=v2.BOOK_CATEGORY_MYSTERY, page_size=3
    )
    return [book.id for book in stub.Recommend(request, timeout=5).books]


def test_every_reader_gets_the_page_the_first_reader_was_given(
    stub: v2_grpc.RecommendationsServiceStub,
) -> None:
    recommender = Recommender(load_catalog(None))
    first, second = (
        [book.id for book in recommender.page(reader, Category.MYSTERY, 3, "")[0]]
        for reader in ("reader-1", "reader-2")
    )
    assert first != second  # what the real recommender gives these readers differs
    assert _ids(stub, "reader-1") == first
    assert _ids(stub, "reader-2") == first
