"""bookshop.recommendations.v1.RecommendationsService's contract (proto comments), as tests."""

from __future__ import annotations

import grpc
import pytest
from bookshop.recommendations.v1 import recommendations_pb2 as pb
from bookshop.recommendations.v1 import recommendations_pb2_grpc as rpc
from contract import MAX_REQUEST_BYTES, failure, field_violations, padded

CATEGORIES = [v.number for v in pb.BookCategory.DESCRIPTOR.values if v.number != 0]
MYSTERY = pb.BookCategory.Value("BOOK_CATEGORY_MYSTERY")
since = pytest.mark.since


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> rpc.RecommendationsServiceStub:
    return rpc.RecommendationsServiceStub(channel)


def _books(stub: rpc.RecommendationsServiceStub, **fields: int) -> list[pb.BookRecommendation]:
    return list(stub.Recommend(pb.RecommendRequest(**fields), timeout=5).recommendations)


@since("1.0.0")
@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_gets_distinct_books_with_ids_and_titles(stub, category: int) -> None:
    books = _books(stub, user_id=1, category=category, max_results=5)
    assert len(books) == 5
    assert len({book.id for book in books}) == 5
    assert all(book.id > 0 and book.title for book in books)


@since("1.0.0")
def test_zero_max_results_means_a_default_of_one_to_ten(stub) -> None:
    assert 1 <= len(_books(stub, user_id=1, category=MYSTERY)) <= 10


@since("1.0.0")
def test_a_max_results_above_the_maximum_is_clamped(stub) -> None:
    largest = _books(stub, user_id=1, category=MYSTERY, max_results=2**31 - 1)
    assert 1 <= len(largest) == len(_books(stub, user_id=1, category=MYSTERY, max_results=500))
    assert largest[:3] == _books(stub, user_id=1, category=MYSTERY, max_results=3)


@since("1.2.1")
def test_zero_max_results_means_three(stub) -> None:
    assert len(_books(stub, user_id=1, category=MYSTERY)) == 3


@since("1.2.1")
def test_the_maximum_is_ten(stub) -> None:
    assert len(_books(stub, user_id=1, category=MYSTERY, max_results=11)) == 10
    assert len(_books(stub, user_id=1, category=MYSTERY, max_results=10)) == 10


@since("1.0.0")
def test_the_same_user_gets_the_same_books(stub) -> None:
    request = {"user_id": 77, "category": MYSTERY, "max_results": 6}
    assert _books(stub, **request) == _books(stub, **request)


@since("1.0.0")
def test_different_users_get_different_selections(stub) -> None:
    selections = {
        tuple(book.id for book in _books(stub, user_id=user, category=MYSTERY, max_results=5))
        for user in range(30)
    }
    assert len(selections) >= 28


@since("1.1.0")
def test_every_book_has_its_author(stub) -> None:
    for category in CATEGORIES:
        assert all(book.author for book in _books(stub, user_id=3, category=category))


BAD_FIELDS = {
    "unspecified-category": ({"user_id": 1}, "category"),
    "unknown-category": ({"user_id": 1, "category": 99}, "category"),
    "negative-user": ({"user_id": -1, "category": MYSTERY}, "user_id"),
    "negative-max-results": ({"user_id": 1, "category": MYSTERY, "max_results": -2}, "max_results"),
}


@since("1.0.0")
@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS.values(), ids=BAD_FIELDS)
def test_a_bad_field_is_invalid_argument_naming_it(
    stub, fields: dict[str, int], field: str
) -> None:
    failed = failure(lambda: stub.Recommend(pb.RecommendRequest(**fields), timeout=5))
    assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (failed.details() or "")


@since("1.2.0")
def test_every_bad_field_is_a_field_violation(stub) -> None:
    request = pb.RecommendRequest(user_id=-1, category=0, max_results=-1)
    failed = failure(lambda: stub.Recommend(request, timeout=5))
    assert failed.code() is grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(failed)
    assert set(violations) == {"user_id", "category", "max_results"}
    assert all(violations.values())


@since("1.0.0")
def test_a_request_over_64_kib_is_resource_exhausted(channel: grpc.Channel) -> None:
    call = channel.unary_unary(
        "/bookshop.recommendations.v1.RecommendationsService/Recommend",
        request_serializer=None,
        response_deserializer=None,
    )
    request = pb.RecommendRequest(user_id=1, category=MYSTERY).SerializeToString()
    failed = failure(lambda: call(padded(request, MAX_REQUEST_BYTES + 1024), timeout=5))
    assert failed.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert pb.RecommendResponse.FromString(call(request, timeout=5)).recommendations
