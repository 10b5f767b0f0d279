"""A book's page against a real gRPC server (or none, or one older than GetBook)."""

from __future__ import annotations

import logging
import re

import grpc
import pytest
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from prometheus_client import REGISTRY
from storefront import recommendations

from tests.servers import start

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
@pytest.mark.parametrize("path", ["/books/999999/", "/books/0/", "/books/99999999999/"])
def test_an_unknown_book_is_a_404_page(client, recommendations_server, path):
    response = client.get(path)

    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


@pytest.mark.django_db
def test_an_id_no_book_can_have_is_not_asked_for(client, recommendations_server):
    assert client.get(f"/books/{2**31}/").status_code == 404
    assert recommendations_server.requests == []


@pytest.mark.django_db
def test_without_the_service_the_page_answers_with_a_notice(client, nothing_listening):
    response = client.get("/books/203/")

    assert response.status_code == 200
    page = response.content.decode()
    assert NOTICE in page
    assert '<h1 id="book-title">Book 203</h1>' in page
    assert "Science fiction" in page  # the navigation still leads to every category


@pytest.mark.django_db
def test_a_server_older_than_get_book_gives_a_notice_said_once_at_info(
    client, servicer, settings, caplog
):
    servicer.get_book = False
    server, port = start(servicer)
    settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{port}"
    recommendations.close()
    try:
        with caplog.at_level(logging.INFO, logger="storefront.recommendations"):
            pages = [client.get("/books/203/") for _ in range(2)]
            home = client.get("/").content.decode()
    finally:
        server.stop(0)
        recommendations.close()

    assert [page.status_code for page in pages] == [200, 200]
    assert all(NOTICE in page.content.decode() for page in pages)
    assert BOOK.findall(home) == ["101", "102", "103"]
    said = [r.levelno for r in caplog.records if r.name == "storefront.recommendations"]
    assert said == [logging.INFO]


@pytest.mark.django_db
def test_an_error_status_gives_a_notice_and_a_warning(client, recommendations_server, caplog):
    recommendations_server.error = (grpc.StatusCode.INTERNAL, "catalog is corrupt")

    with caplog.at_level(logging.WARNING, logger="storefront.recommendations"):
        response = client.get("/books/203/")

    assert response.status_code == 200
    assert NOTICE in response.content.decode()
    (record,) = caplog.records
    assert "INTERNAL" in record.getMessage()
    assert "catalog is corrupt" in record.getMessage()


@pytest.mark.django_db
def test_get_book_calls_are_counted_by_code(client, recommendations_server):
    labels = {
        "grpc_service": "bookshop.recommendations.v2.RecommendationsService",
        "grpc_method": "GetBook",
        "grpc_type": "unary",
    }

    def handled(code: str) -> float:
        return (
            REGISTRY.get_sample_value("grpc_client_handled_total", {**labels, "grpc_code": code})
            or 0.0
        )

    before = handled("OK"), handled("NOT_FOUND")
    client.get("/books/101/")
    client.get("/books/999999/")

    assert (handled("OK"), handled("NOT_FOUND")) == (before[0] + 1, before[1] + 1)
