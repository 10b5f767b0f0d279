"""bookshop.recommendations.v2.RecommendationsService's contract (proto comments), as tests."""

from __future__ import annotations

import grpc
import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as pb
from bookshop.recommendations.v2 import recommendations_pb2_grpc as rpc
from contract import MAX_REQUEST_BYTES, failure, field_violations, padded

CATEGORIES = [v.number for v in pb.BookCategory.DESCRIPTOR.values if v.number != 0]
MYSTERY = pb.BookCategory.Value("BOOK_CATEGORY_MYSTERY")
since = pytest.mark.since


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> rpc.RecommendationsServiceStub:
    return rpc.RecommendationsServiceStub(channel)


def _pages(stub: rpc.RecommendationsServiceStub, **fields: object) -> list[list[pb.Book]]:
    """Every page of a reader's category, following next_page_token to the end."""
    pages, token = [], ""
    while True:
        response = stub.Recommend(pb.RecommendRequest(page_token=token, **fields), timeout=5)
        pages.append(list(response.books))
        token = response.next_page_token
        if not token:
            return pages
        assert len(pages) < 100, "the pages never end"


@since("1.2.0")
@pytest.mark.parametrize("category", CATEGORIES)
def test_the_pages_of_every_category_hold_distinct_books_with_authors(stub, category) -> None:
    pages = _pages(stub, reader_id="reader-1", category=category, page_size=7)
    books = [book for page in pages for book in page]
    assert len({book.id for book in books}) == len(books) > 0
    assert all(len(page) == 7 for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= 7
    assert all(book.id > 0 and book.title and book.author for book in books)


@since("1.2.0")
def test_page_size_zero_means_ten_and_above_twenty_five_means_twenty_five(stub) -> None:
    request = {"reader_id": "reader-1", "category": MYSTERY}
    default = stub.Recommend(pb.RecommendRequest(**request), timeout=5)
    capped = stub.Recommend(pb.RecommendRequest(page_size=26, **request), timeout=5)
    assert len(default.books) == 10
    assert len(capped.books) == 25
    assert list(capped.books)[:10] == list(default.books)


@since("1.2.0")
def test_the_same_reader_gets_the_same_order(stub) -> None:
    request = {"reader_id": "reader-77", "category": MYSTERY, "page_size": 9}
    assert _pages(stub, **request) == _pages(stub, **request)


@since("1.2.0")
def test_different_readers_get_different_orders(stub) -> None:
    orders = set()
    for n in range(30):
        request = pb.RecommendRequest(reader_id=f"reader-{n}", category=MYSTERY, page_size=5)
        orders.add(tuple(book.id for book in stub.Recommend(request, timeout=5).books))
    assert len(orders) >= 28


BAD_FIELDS = {
    "empty-reader": ({"reader_id": "", "category": MYSTERY}, {"reader_id"}),
    "long-reader": ({"reader_id": "r" * 129, "category": MYSTERY}, {"reader_id"}),
    "unspecified-category": ({"reader_id": "r"}, {"category"}),
    "unknown-category": ({"reader_id": "r", "category": 99}, {"category"}),
    "negative-page-size": ({"reader_id": "r", "category": MYSTERY, "page_size": -1}, {"page_size"}),
    "forged-token": (
        {"reader_id": "r", "category": MYSTERY, "page_token": "not-a-token"},
        {"page_token"},
    ),
    "three-fields": (
        {"reader_id": "", "category": 0, "page_size": -5},
        {"reader_id", "category", "page_size"},
    ),
}


@since("1.2.0")
@pytest.mark.parametrize(("fields", "bad"), BAD_FIELDS.values(), ids=BAD_FIELDS)
def test_bad_fields_are_invalid_argument_with_one_violation_each(stub, fields, bad) -> None:
    failed = failure(lambda: stub.Recommend(pb.RecommendRequest(**fields), timeout=5))
    assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(failed)
    assert set(violations) == bad
    assert all(field in (failed.details() or "") for field in bad)


@since("1.2.0")
def test_a_page_token_works_only_for_its_reader_and_category(stub) -> None:
    first = stub.Recommend(
        pb.RecommendRequest(reader_id="reader-1", category=MYSTERY, page_size=3), timeout=5
    )
    assert first.next_page_token
    for reader, category in (("reader-2", MYSTERY), ("reader-1", CATEGORIES[-1])):
        request = pb.RecommendRequest(
            reader_id=reader, category=category, page_size=3, page_token=first.next_page_token
        )
        failed = failure(lambda request=request: stub.Recommend(request, timeout=5))
        assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(failed)) == {"page_token"}


@since("1.2.0")
def test_a_request_over_64_kib_is_resource_exhausted(channel: grpc.Channel) -> None:
    call = channel.unary_unary(
        "/bookshop.recommendations.v2.RecommendationsService/Recommend",
        request_serializer=None,
        response_deserializer=None,
    )
    request = pb.RecommendRequest(reader_id="r", category=MYSTERY).SerializeToString()
    failed = failure(lambda: call(padded(request, MAX_REQUEST_BYTES + 1024), timeout=5))
    assert failed.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert pb.RecommendResponse.FromString(call(request, timeout=5)).books


@since("1.3.0")
@pytest.mark.parametrize("category", CATEGORIES)
def test_get_book_returns_each_recommended_book_with_its_category(stub, category) -> None:
    books = [b for page in _pages(stub, reader_id="reader-1", category=category) for b in page]
    assert all(book.category == category for book in books)
    for book in books:
        assert stub.GetBook(pb.GetBookRequest(book_id=book.id), timeout=5) == book


@since("1.3.0")
def test_get_book_of_an_unknown_id_is_not_found(stub) -> None:
    failed = failure(lambda: stub.GetBook(pb.GetBookRequest(book_id=2**31 - 1), timeout=5))
    assert failed.code() is grpc.StatusCode.NOT_FOUND


@since("1.3.0")
@pytest.mark.parametrize("book_id", [0, -1])
def test_get_book_of_an_id_that_is_not_positive_is_invalid_argument(stub, book_id) -> None:
    failed = failure(lambda: stub.GetBook(pb.GetBookRequest(book_id=book_id), timeout=5))
    assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(failed)) == {"book_id"}
