"""bookshop.recommendations.v2 against a real server on an ephemeral port, beside v1."""

from __future__ import annotations

import grpc
import pytest
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v2.recommendations_pb2 import (
    BOOK_CATEGORY_MYSTERY,
    BOOK_CATEGORY_SELF_HELP,
    BOOK_CATEGORY_UNSPECIFIED,
    BookCategory,
    RecommendRequest,
)
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Category


def _names(enum) -> set[str]:
    return {v.name for v in enum.DESCRIPTOR.values if v.number}


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> RecommendationsServiceStub:
    return RecommendationsServiceStub(channel)


def _pages(stub: RecommendationsServiceStub, **fields: object) -> list[list[tuple[object, ...]]]:
    pages, token = [], ""
    while True:
        response = stub.Recommend(RecommendRequest(page_token=token, **fields), timeout=5)
        pages.append([(b.id, b.title, b.author, b.category) for b in response.books])
        token = response.next_page_token
        if not token:
            return pages


def test_the_domain_has_the_categories_of_both_versions_and_no_other() -> None:
    assert {f"BOOK_CATEGORY_{c.name}" for c in Category} == _names(v1.BookCategory)
    assert _names(BookCategory) == _names(v1.BookCategory)


# A value added to BookCategory without a Category of the service's own fails here.
@pytest.mark.parametrize("name", sorted(_names(BookCategory)))
def test_pages_go_through_the_whole_category_with_titles_authors_and_the_category(
    stub: RecommendationsServiceStub, catalog: InMemoryCatalog, name: str
) -> None:
    value = BookCategory.Value(name)
    pages = _pages(stub, reader_id="reader-7", category=value, page_size=10)
    books = [book for page in pages for book in page]
    shelf = Category[name.removeprefix("BOOK_CATEGORY_")]
    in_shelf = catalog.books_at(shelf, range(catalog.count(shelf)))
    expected = {(b.id, b.title, b.author, value) for b in in_shelf}
    assert len(books) == len(set(books)) == len(expected) > 0
    assert set(books) == expected
    assert all(len(page) == 10 for page in pages[:-1])


def test_the_default_page_is_ten_and_the_largest_twenty_five(
    stub: RecommendationsServiceStub,
) -> None:
    first = stub.Recommend(RecommendRequest(reader_id="r", category=BOOK_CATEGORY_MYSTERY))
    large = stub.Recommend(
        RecommendRequest(reader_id="r", category=BOOK_CATEGORY_MYSTERY, page_size=1_000)
    )
    assert len(first.books) == 10
    assert len(large.books) == 25
    assert [b.id for b in large.books][:10] == [b.id for b in first.books]


def test_the_same_reader_gets_the_same_order(stub: RecommendationsServiceStub) -> None:
    request = {"reader_id": "reader-7", "category": BOOK_CATEGORY_SELF_HELP, "page_size": 4}
    assert _pages(stub, **request) == _pages(stub, **request)
    other = _pages(stub, **{**request, "reader_id": "reader-8"})
    assert other != _pages(stub, **request)


def test_bad_requests_carry_one_field_violation_per_field(
    stub: RecommendationsServiceStub,
) -> None:
    request = RecommendRequest(
        reader_id="", category=BOOK_CATEGORY_UNSPECIFIED, page_size=-1, page_token="forged"
    )
    with pytest.raises(grpc.RpcError) as error:
        stub.Recommend(request, timeout=5)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    violations = {v.field: v.description for v in bad_request.field_violations}
    assert list(violations) == ["reader_id", "category", "page_size", "page_token"]
    assert violations["category"].startswith("must be one of BOOK_CATEGORY_MYSTERY, ")
    for field, description in violations.items():
        assert f"{field} {description}" in error.value.details()


def test_a_token_of_another_reader_is_refused(stub: RecommendationsServiceStub) -> None:
    fields = {"category": BOOK_CATEGORY_MYSTERY, "page_size": 3}
    token = stub.Recommend(RecommendRequest(reader_id="reader-7", **fields)).next_page_token
    with pytest.raises(grpc.RpcError) as error:
        stub.Recommend(RecommendRequest(reader_id="reader-8", page_token=token, **fields))
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details() == "page_token was not issued for this reader_id and category"
