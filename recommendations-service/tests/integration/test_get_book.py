"""GetBook of bookshop.recommendations.v2 against a real server on an ephemeral port."""

from __future__ import annotations

import grpc
import pytest
from bookshop.recommendations.v2.recommendations_pb2 import BookCategory, GetBookRequest
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Category

SERVICE = "bookshop.recommendations.v2.RecommendationsService"


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> RecommendationsServiceStub:
    return RecommendationsServiceStub(channel)


def test_every_book_of_the_catalog_is_returned_with_its_category(
    stub: RecommendationsServiceStub, catalog: InMemoryCatalog
) -> None:
    for category in Category:
        value = BookCategory.Value(f"BOOK_CATEGORY_{category.name}")
        for book in catalog.books_at(category, range(catalog.count(category))):
            got = stub.GetBook(GetBookRequest(book_id=book.id), timeout=5)
            want = (book.id, book.title, book.author, value)
            assert (got.id, got.title, got.author, got.category) == want


def test_an_unknown_book_is_not_found(
    stub: RecommendationsServiceStub, catalog: InMemoryCatalog
) -> None:
    unknown = 1 + max(catalog.book_at(c, catalog.count(c) - 1).id for c in Category)
    with pytest.raises(grpc.RpcError) as error:
        stub.GetBook(GetBookRequest(book_id=unknown), timeout=5)
    assert error.value.code() is grpc.StatusCode.NOT_FOUND
    assert str(unknown) in error.value.details()


@pytest.mark.parametrize("book_id", [0, -1, -(2**31)])
def test_an_id_that_is_not_positive_is_a_bad_request_naming_book_id(
    stub: RecommendationsServiceStub, book_id: int
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.GetBook(GetBookRequest(book_id=book_id), timeout=5)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["book_id"]
    assert f"got {book_id}" in bad_request.field_violations[0].description


def test_get_book_is_counted_per_code_like_every_rpc(start_server) -> None:
    running = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = RecommendationsServiceStub(channel)
        stub.GetBook(GetBookRequest(book_id=1), timeout=5)
        for book_id in (0, 10**9):
            with pytest.raises(grpc.RpcError):
                stub.GetBook(GetBookRequest(book_id=book_id), timeout=5)
    labels = {"grpc_service": SERVICE, "grpc_method": "GetBook", "grpc_type": "unary"}
    for code in ("OK", "INVALID_ARGUMENT", "NOT_FOUND"):
        sample = {**labels, "grpc_code": code}
        assert running.registry.get_sample_value("grpc_server_handled_total", sample) == 1
