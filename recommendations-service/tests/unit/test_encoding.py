"""The servicers' hand-assembled responses decode to the messages the protos define."""

from __future__ import annotations

import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from recommendations.servicer import _token_field


@pytest.mark.parametrize("length", [1, 16, 127, 128, 300])
def test_a_token_field_appended_to_books_is_the_response_with_both(length: int) -> None:
    books = v2.RecommendResponse(books=[v2.Book(id=7, title="Dune", author="Frank Herbert")])
    token = "t" * length

    decoded = v2.RecommendResponse.FromString(books.SerializeToString() + _token_field(token))

    assert decoded == v2.RecommendResponse(books=books.books, next_page_token=token)
    assert _token_field(token) == v2.RecommendResponse(next_page_token=token).SerializeToString()
