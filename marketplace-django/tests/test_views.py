"""The storefront's pages against a real gRPC server (or none), through Django's test client."""

from __future__ import annotations

import io
import json
import logging
import re

import grpc
import pytest

from tests.servers import BOOKS_PER_CATEGORY

BOOK = re.compile(r'data-book-id="(\d+)"')
UNAVAILABLE = "Recommendations are unavailable right now."
NOTICE = "This book's details are unavailable right now."
NEXT = re.compile(r'<a class="pager__next" rel="next" href="([^"]+)"')
PAGES = ("/", "/category/mystery/", "/books/101/")
"""One of each of the site's pages: a new page joins here to meet the rules every page keeps."""


@pytest.mark.django_db
@pytest.mark.parametrize("authors", [True, False])  # False: a server older than release 1.1.0
def test_homepage_shows_three_mystery_books(client, recommendations_server, calls_counted, authors):
    recommendations_server.authors = authors

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Online Books For You</title>" in page
    assert "Mystery books you may like" in page
    assert BOOK.findall(page) == ["101", "102", "103"]
    assert "BOOK_CATEGORY_MYSTERY title 1" in page
    author = '<p class="book__author">BOOK_CATEGORY_MYSTERY author 1</p>'
    assert (author in page, "book__author" in page) == (authors, authors)
    assert "unavailable" not in page
    for slug in ("science-fiction", "mystery", "self-help"):
        assert f'href="/category/{slug}/"' in page
    (request,) = recommendations_server.requests
    assert request.page_size == 3
    assert calls_counted("OK") == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "category", "label"),
    [
        ("science-fiction", 2, "Science fiction"),
        ("mystery", 1, "Mystery"),
        ("self-help", 3, "Self-help"),
    ],
)
def test_a_category_pages_through_all_its_books_ten_at_a_time(
    client, recommendations_server, slug, category, label
):
    pages, path = [], f"/category/{slug}/"
    while path:
        pages.append(client.get(path).content.decode())
        found = NEXT.search(pages[-1])
        path = found.group(1) if found else ""

    first = pages[0]
    assert BOOK.findall(first) == [str(category * 100 + n) for n in range(1, 11)]
    assert first.count('class="book__author"') == 10
    assert f'<h1 id="category-title">{label}</h1>' in first
    assert first.count("<h1") == 1
    assert 'aria-current="page"' in first
    assert ['class="pager__first"' in page for page in pages] == [False, True, True]
    seen = [book for page in pages for book in BOOK.findall(page)]
    assert seen == [str(category * 100 + n) for n in range(1, BOOKS_PER_CATEGORY + 1)]
    asked = [(r.category, r.page_size, r.page_token) for r in recommendations_server.requests]
    assert asked == [(category, 10, ""), (category, 10, "10"), (category, 10, "20")]


@pytest.mark.django_db
def test_a_page_link_the_service_refuses_is_logged_and_leads_to_the_first_page(
    client, recommendations_server, caplog
):
    with caplog.at_level(logging.WARNING, logger="storefront.recommendations"):
        response = client.get("/category/mystery/?page=expired-or-forged")

    assert response.status_code == 302
    assert response["Location"] == "/category/mystery/"
    (record,) = caplog.records
    assert "INVALID_ARGUMENT" in record.getMessage()
    assert record.getMessage().endswith("(fields: page_token)")


@pytest.mark.django_db
def test_a_server_without_v2_still_fills_the_pages_through_v1(client, serve, calls_counted, caplog):
    servicer = serve(versions=("v1",))
    servicer.authors = False  # a release before 1.1.0
    with caplog.at_level(logging.INFO, logger="storefront.recommendations"):
        home = client.get("/").content.decode()
        category = client.get("/category/self-help/").content.decode()

    assert BOOK.findall(home) == ["101", "102", "103"]
    assert BOOK.findall(category) == [str(300 + n) for n in range(1, 11)]
    assert "book__author" not in home + category
    assert "pager" not in category
    assert "unavailable" not in home + category
    assert [r.max_results for r in servicer.requests] == [3, 10]
    assert calls_counted("OK") == 2
    said = [r.levelno for r in caplog.records if r.name == "storefront.recommendations"]
    assert said == [logging.INFO]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "calls"),
    [
        ("/category/poetry/", 0),
        ("/books/999999/", 1),
        ("/books/0/", 0),
        ("/books/99999999999/", 0),
        (f"/books/{2**31}/", 0),  # an id no book can have is not asked for
        ("/metrics", 0),  # the pages' port has no metrics or probes
        ("/healthz", 0),
        ("/readyz", 0),
    ],
)
def test_an_unknown_page_is_a_404_page(client, recommendations_server, path, calls):
    response = client.get(path)

    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()
    assert len(recommendations_server.requests) == calls


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "shown", "recommends"),
    [
        ("/", (UNAVAILABLE, "Browse by category"), 1),
        # Without the book there is no category to recommend from.
        ("/books/203/", (NOTICE, '<h1 id="book-title">Book 203</h1>', "Science fiction"), 0),
    ],
)
def test_nothing_listening_degrades_at_once(
    client, nothing_listening, calls_counted, path, shown, recommends
):
    response = client.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    for text in shown:
        assert text in page
    assert BOOK.findall(page) == []
    # Failed fast as UNAVAILABLE, rather than waiting for a server until the deadline: that
    # would have ended as DEADLINE_EXCEEDED.
    assert calls_counted("UNAVAILABLE") == recommends
    assert calls_counted("DEADLINE_EXCEEDED") == 0


@pytest.mark.django_db
def test_slow_server_is_cut_off_at_the_deadline_and_the_page_degrades(
    client, recommendations_server, settings, calls_counted
):
    recommendations_server.delay = 5.0

    response = client.get("/category/mystery/")

    assert response.status_code == 200
    assert UNAVAILABLE in response.content.decode()
    assert calls_counted("DEADLINE_EXCEEDED") == 1
    # The server got the call once, with the configured deadline, and saw the call end while it
    # was still working on it: the client gave up at the deadline, without a retry.
    (remaining,) = recommendations_server.time_remaining
    assert 0 < remaining <= settings.RECOMMENDATIONS_TIMEOUT_SECONDS
    assert recommendations_server.cut_off.wait(timeout=5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "shown", "recommends"),
    [
        ("/category/self-help/", (UNAVAILABLE, '<h1 id="category-title">Self-help</h1>'), 1),
        ("/books/203/", (NOTICE, '<h1 id="book-title">Book 203</h1>'), 0),
    ],
)
def test_error_status_degrades_and_logs_a_warning(
    client, recommendations_server, caplog, calls_counted, path, shown, recommends
):
    recommendations_server.error = (grpc.StatusCode.INTERNAL, "catalog is corrupt")

    with caplog.at_level(logging.WARNING, logger="storefront.recommendations"):
        response = client.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    for text in shown:
        assert text in page
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "INTERNAL" in record.getMessage()
    assert "catalog is corrupt" in record.getMessage()
    assert calls_counted("INTERNAL") == recommends


@pytest.mark.django_db
def test_every_response_carries_the_security_headers(client, recommendations_server):
    for path in (*PAGES, "/category/nope/"):
        response = client.get(path)

        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy


@pytest.fixture
def site_log():
    """What the site's configured console handler writes, while the test runs."""
    handlers = logging.getLogger("django").handlers
    (handler,) = [h for h in handlers if type(h) is logging.StreamHandler]
    written = io.StringIO()
    previous = handler.setStream(written)
    yield written
    handler.setStream(previous)


def test_a_disallowed_host_is_a_400_logged_on_one_line(client, site_log):
    response = client.get("/", HTTP_HOST="attacker.example")

    assert response.status_code == 400
    lines = [json.loads(line) for line in site_log.getvalue().splitlines()]
    (refused,) = [line for line in lines if line["logger"] == "django.security.DisallowedHost"]
    assert refused["level"] == "ERROR"
    assert "'attacker.example'" in refused["message"]
    assert "exception" not in refused
    (access,) = [line for line in lines if line["logger"] == "marketplace.access"]
    assert access["status"] == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_only_get_and_head(client, recommendations_server, path):
    head = client.head(path)
    assert (head.status_code, head.content) == (200, b"")
    asked = len(recommendations_server.requests)

    for method in ("POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PROPFIND"):
        response = client.generic(method, path, data=b"x=1")
        assert response.status_code == 405, method
        assert response["Allow"] == "GET, HEAD"
    assert len(recommendations_server.requests) == asked
