"""The servicers' responses are joined encodings: they decode to the messages the protos define."""

from __future__ import annotations

import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from recommendations import servicer


def test_one_book_responses_and_a_token_joined_decode_to_the_whole_response() -> None:
    books = [v2.Book(id=7, title="Dune", author="Frank Herbert"), v2.Book(id=9, title="Emma")]
    parts = [v2.RecommendResponse(books=[book]).SerializeToString() for book in books]
    token = v2.RecommendResponse(next_page_token="t" * 300).SerializeToString()

    decoded = v2.RecommendResponse.FromString(b"".join(parts) + token)

    assert decoded == v2.RecommendResponse(books=books, next_page_token="t" * 300)


@pytest.mark.parametrize("size", [1, 16, 127, 128, 300, 20_000])
def test_the_token_field_is_what_the_message_class_writes(size: int) -> None:
    token = "é" * (size // 2) + "t" * (size % 2)  # multi-byte characters: sizes are in bytes

    first = servicer._token_field(token)
    again = servicer._token_field(token)  # from the start made on the first call

    assert first == again == v2.RecommendResponse(next_page_token=token).SerializeToString()
