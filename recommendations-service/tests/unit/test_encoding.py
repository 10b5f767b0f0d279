"""The servicers' responses are joined encodings: they decode to the messages the protos define."""

from __future__ import annotations

from bookshop.recommendations.v2 import recommendations_pb2 as v2


def test_one_book_responses_and_a_token_joined_decode_to_the_whole_response() -> None:
    books = [v2.Book(id=7, title="Dune", author="Frank Herbert"), v2.Book(id=9, title="Emma")]
    parts = [v2.RecommendResponse(books=[book]).SerializeToString() for book in books]
    token = v2.RecommendResponse(next_page_token="t" * 300).SerializeToString()

    decoded = v2.RecommendResponse.FromString(b"".join(parts) + token)

    assert decoded == v2.RecommendResponse(books=books, next_page_token="t" * 300)
