"""The bench-only fixed-page service: the real service's first page, handed to every reader."""

from __future__ import annotations

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
from harness.processes import Supervisor
from harness.service import Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(path)
    return path


@pytest.fixture(scope="module")
def stub(
    tmp_path_factory: pytest.TempPathFactory, catalog: Path
) -> Iterator[v2_grpc.RecommendationsServiceStub]:
    """A stub of the fixed-page service, started as the bench starts it."""
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        command = (sys.executable, str(FIXED_PAGE_SERVICE))
        replica = Replica(supervisor, "fixed-page", catalog, command=command)
        replica.start()
        with grpc.insecure_channel(replica.address) as channel:
            yield v2_grpc.RecommendationsServiceStub(channel)


def _ids(stub: v2_grpc.RecommendationsServiceStub, reader_id: str) -> list[int]:
    request = v2.RecommendRequest(
        reader_id=reader_id, category=v2.BOOK_CATEGORY_MYSTERY, page_size=3
    )
    return [book.id for book in stub.Recommend(request, timeout=5).books]


def test_every_reader_gets_the_page_the_first_reader_was_given(
    stub: v2_grpc.RecommendationsServiceStub, catalog: Path
) -> None:
    recommender = Recommender(load_catalog(catalog))
    first, second = (
        [book.id for book in recommender.page(reader, Category.MYSTERY, 3, "")[0]]
        for reader in ("reader-1", "reader-2")
    )
    assert first != second  # what the real recommender gives these readers differs
    assert _ids(stub, "reader-1") == first
    assert _ids(stub, "reader-2") == first
