"""Recommend against a real server on an ephemeral port."""

from __future__ import annotations

import re

import grpc
import pytest
from bookshop.recommendations.v1.recommendations_pb2 import (
    BOOK_CATEGORY_MYSTERY,
    BOOK_CATEGORY_SCIENCE_FICTION,
    BOOK_CATEGORY_SELF_HELP,
    BOOK_CATEGORY_UNSPECIFIED,
    RecommendRequest,
)
from bookshop.recommendations.v1.recommendations_pb2_grpc import RecommendationsServiceStub
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from recommendations.catalog import InMemoryCatalog
from recommendations.domain import Category

CATEGORIES = {
    BOOK_CATEGORY_MYSTERY: Category.MYSTERY,
    BOOK_CATEGORY_SCIENCE_FICTION: Category.SCIENCE_FICTION,
    BOOK_CATEGORY_SELF_HELP: Category.SELF_HELP,
}


def _recommend(stub, **fields: int):
    return list(stub.Recommend(RecommendRequest(**fields), timeout=5).recommendations)


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_books_of_the_category_with_their_titles_and_authors(
    stub, catalog: InMemoryCatalog, category
) -> None:
    books = _recommend(stub, user_id=1, category=category, max_results=4)
    shelf = CATEGORIES[category]
    in_shelf = catalog.books_at(shelf, range(catalog.count(shelf)))
    known = {b.id: (b.title, b.author) for b in in_shelf}
    assert len(books) == 4
    assert len({b.id for b in books}) == 4
    assert all(known[b.id] == (b.title, b.author) and b.author for b in books)


def test_zero_max_results_gives_the_default_of_three(stub) -> None:
    assert len(_recommend(stub, user_id=1, category=BOOK_CATEGORY_MYSTERY)) == 3


def test_max_results_above_ten_is_clamped(stub) -> None:
    books = _recommend(stub, user_id=1, category=BOOK_CATEGORY_MYSTERY, max_results=500)
    assert len(books) == 10
    assert len({b.id for b in books}) == 10


def test_the_same_user_gets_the_same_books(stub) -> None:
    first = _recommend(stub, user_id=77, category=BOOK_CATEGORY_SELF_HELP, max_results=5)
    for _ in range(3):
        assert (
            _recommend(stub, user_id=77, category=BOOK_CATEGORY_SELF_HELP, max_results=5) == first
        )


def test_replicas_agree(stub, start_server) -> None:
    other = start_server()
    with grpc.insecure_channel(f"127.0.0.1:{other.port}") as channel:
        replica = RecommendationsServiceStub(channel)
        for user_id in (0, 1, 99, 2**31 - 1):
            request = {"user_id": user_id, "category": BOOK_CATEGORY_MYSTERY}
            assert _recommend(replica, **request) == _recommend(stub, **request)


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
    assert error.value.details() is not None
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
    assert [v.field for v in bad_request.field_violations] == [
        "user_id",
        "category",
        "max_results",
    ]
    assert bad_request.field_violations[1].description.endswith("got BOOK_CATEGORY_UNSPECIFIED")
