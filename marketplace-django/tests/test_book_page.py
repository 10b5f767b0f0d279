"""A book's page against a real gRPC server (or one older than GetBook); its 404s and degraded
pages are tested with the other pages' in test_views."""

from __future__ import annotations

import logging
import re

import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2

BOOK = re.compile(r'data-book-id="(\d+)"')
NOTICE = "This book's details are unavailable right now."


@pytest.mark.django_db
def test_a_book_page_shows_the_book_and_more_of_its_category(client, recommendations_server):
    response = client.get("/books/203/")

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "<title>BOOK_CATEGORY_SCIENCE_FICTION title 3 &middot; Online Books For You</title>" in page
    )
    assert '<h1 id="book-title">BOOK_CATEGORY_SCIENCE_FICTION title 3</h1>' in page
    assert "by BOOK_CATEGORY_SCIENCE_FICTION author 3" in page
    assert '<a href="/category/science-fiction/">Science fiction</a>' in page
    assert 'class="book__cover book__cover--5 book-page__cover"' in page
    # The book itself is left out of the books of its category.
    assert BOOK.findall(page) == ["201", "202", "204", "205"]
    assert NOTICE not in page
    get, more = recommendations_server.requests
    assert get == v2.GetBookRequest(book_id=203)
    assert (more.category, more.page_size) == (v2.BOOK_CATEGORY_SCIENCE_FICTION, 5)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/category/self-help/", "/books/301/"])
def test_every_book_on_a_shelf_links_to_its_page(client, recommendations_server, path):
    page = client.get(path).content.decode()

    ids = BOOK.findall(page)
    assert ids
    for book_id in ids:
        assert f'<a href="/books/{book_id}/">' in page


@pytest.mark.django_db
def test_a_server_older_than_get_book_gives_a_notice_said_once_at_info(client, serve, caplog):
    serve().get_book = False
    with caplog.at_level(logging.INFO, logger="storefront.recommendations"):
        pages = [client.get("/books/203/") for _ in range(2)]
        home = client.get("/").content.decode()

    assert [page.status_code for page in pages] == [200, 200]
    assert all(NOTICE in page.content.decode() for page in pages)
    assert BOOK.findall(home) == ["101", "102", "103"]
    said = [r.levelno for r in caplog.records if r.name == "storefront.recommendations"]
    assert said == [logging.INFO]
