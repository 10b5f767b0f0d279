"""Recommend of bookshop.recommendations.v1 against a real server on an ephemeral port."""

from __future__ import annotations

import re

import grpc
import pytest
from bookshop.recommendations.v1.recommendations_pb2 import (
    BOOK_CATEGORY_MYSTERY,
    BOOK_CATEGORY_SCIENCE_FICTION,
    BOOK_CATEGORY_SELF_HELP,
    BOOK_CATEGORY_UNSPECIFIED,
    BookCategory,
    RecommendRequest,
)
from bookshop.recommendations.v1.recommendations_pb2_grpc import RecommendationsServiceStub
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Category


def _recommend(stub, **fields: int):
    return list(stub.Recommend(RecommendRequest(**fields), timeout=5).recommendations)


# Every category of the API: a value added to BookCategory without a Category of the service's
# own fails here.
@pytest.mark.parametrize("name", [v.name for v in BookCategory.DESCRIPTOR.values if v.number])
def test_every_category_gets_its_books_with_their_titles_and_authors(
    stub, catalog: InMemoryCatalog, name: str
) -> None:
    books = _recommend(stub, user_id=1, category=BookCategory.Value(name), max_results=4)
    shelf = Category[name.removeprefix("BOOK_CATEGORY_")]
    known = {
        b.id: (b.title, b.author) for b in catalog.books_at(shelf, range(catalog.count(shelf)))
    }
    assert len({b.id for b in books}) == len(books) == 4
    assert all(known[b.id] == (b.title, b.author) and b.author for b in books)


@pytest.mark.parametrize(("max_results", "expected"), [(0, 3), (500, 10)])
def test_zero_max_results_means_three_and_above_ten_is_clamped(
    stub, max_results: int, expected: int
) -> None:
    books = _recommend(stub, user_id=1, category=BOOK_CATEGORY_MYSTERY, max_results=max_results)
    assert len({b.id for b in books}) == len(books) == expected


def test_the_same_user_gets_the_same_books_from_every_replica(stub, start_server) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{start_server().port}") as channel:
        replica = RecommendationsServiceStub(channel)
        for user_id in (0, 1, 77, 99, 2**31 - 1):
            for category in (BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SELF_HELP):
                request = {"user_id": user_id, "category": category, "max_results": 5}
                first = _recommend(stub, **request)
                assert _recommend(stub, **request) == first == _recommend(replica, **request)


def test_different_users_get_different_books(stub) -> None:
    picks = {
        tuple(b.id for b in _recommend(stub, user_id=u, category=BOOK_CATEGORY_SCIENCE_FICTION))
        for u in range(30)
    }
    assert len(picks) >= 28


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user_id": 1}, "category must be one of BOOK_CATEGORY_MYSTERY, "),
        ({"user_id": 1, "category": BOOK_CATEGORY_UNSPECIFIED}, "got BOOK_CATEGORY_UNSPECIFIED"),
        ({"user_id": 1, "category": 99}, "category must be one of .*, got 99$"),
        ({"user_id": -1, "category": BOOK_CATEGORY_MYSTERY}, "^user_id must be zero or positive"),
        (
            {"user_id": 1, "category": BOOK_CATEGORY_MYSTERY, "max_results": -2},
            "^max_results must be zero or positive, got -2$",
        ),
    ],
)
def test_invalid_requests_name_the_field(stub, fields: dict[str, int], message: str) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.Recommend(RecommendRequest(**fields), timeout=5)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert re.search(message, error.value.details())


def test_every_offending_field_is_a_field_violation_in_the_details(stub) -> None:
    request = RecommendRequest(user_id=-1, category=BOOK_CATEGORY_UNSPECIFIED, max_results=-3)
    with pytest.raises(grpc.RpcError) as error:
        stub.Recommend(request, timeout=5)
    status = rpc_status.from_call(error.value)
    assert status is not None
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert status.message == error.value.details()
    (detail,) = status.details
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    fields = [v.field for v in bad_request.field_violations]
    assert fields == ["user_id", "category", "max_results"]
    assert bad_request.field_violations[1].description.endswith("got BOOK_CATEGORY_UNSPECIFIED")
