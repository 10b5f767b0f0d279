"""The storefront's pages against a real gRPC server (or none), through Django's test client."""

from __future__ import annotations

import io
import json
import logging
import re

import grpc
import pytest
from marketplace import metrics
from storefront import recommendations

from tests.servers import BOOKS_PER_CATEGORY, start

BOOK = re.compile(r'data-book-id="(\d+)"')
PAGES = ("/", "/category/mystery/", "/books/101/")
"""One of each of the site's pages: a new page joins here to meet the rules every page keeps."""


@pytest.mark.django_db
def test_homepage_shows_three_mystery_books(client, recommendations_server, calls_counted):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Online Books For You</title>" in page
    assert "Mystery books you may like" in page
    assert BOOK.findall(page) == ["101", "102", "103"]
    assert "BOOK_CATEGORY_MYSTERY title 1" in page
    assert '<p class="book__author">BOOK_CATEGORY_MYSTERY author 1</p>' in page
    assert "unavailable" not in page
    (request,) = recommendations_server.requests
    assert request.page_size == 3
    assert calls_counted("OK") == 1


@pytest.mark.django_db
def test_books_from_a_server_older_than_authors_show_no_author_line(
    client, recommendations_server, calls_counted
):
    recommendations_server.authors = False

    page = client.get("/").content.decode()

    assert BOOK.findall(page) == ["101", "102", "103"]
    assert "book__author" not in page
    assert calls_counted("OK") == 1


@pytest.mark.django_db
def test_homepage_links_every_category(client, recommendations_server):
    page = client.get("/").content.decode()

    for slug in ("science-fiction", "mystery", "self-help"):
        assert f'href="/category/{slug}/"' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "category", "label"),
    [
        ("science-fiction", 2, "Science fiction"),
        ("mystery", 1, "Mystery"),
        ("self-help", 3, "Self-help"),
    ],
)
def test_category_page_shows_up_to_ten_books(client, recommendations_server, slug, category, label):
    response = client.get(f"/category/{slug}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert BOOK.findall(page) == [str(category * 100 + n) for n in range(1, 11)]
    assert page.count('class="book__author"') == 10
    assert f'<h1 id="category-title">{label}</h1>' in page
    assert page.count("<h1") == 1
    assert 'aria-current="page"' in page
    (request,) = recommendations_server.requests
    assert (request.category, request.page_size, request.page_token) == (category, 10, "")


NEXT = re.compile(r'<a class="pager__next" rel="next" href="([^"]+)"')


@pytest.mark.django_db
def test_a_category_pages_through_all_its_books(client, recommendations_server):
    seen, path, pages = [], "/category/science-fiction/", 0
    while path:
        page = client.get(path).content.decode()
        pages += 1
        seen += BOOK.findall(page)
        assert ('class="pager__first"' in page) == (pages > 1)
        found = NEXT.search(page)
        path = found.group(1) if found else ""
    assert seen == [str(200 + n) for n in range(1, BOOKS_PER_CATEGORY + 1)]
    assert pages == 3
    tokens = [r.page_token for r in recommendations_server.requests]
    assert tokens == ["", "10", "20"]


@pytest.mark.django_db
def test_a_page_link_the_service_refuses_leads_to_the_first_page(client, recommendations_server):
    response = client.get("/category/mystery/?page=expired-or-forged")

    assert response.status_code == 302
    assert response["Location"] == "/category/mystery/"


@pytest.mark.django_db
def test_a_server_without_v2_still_fills_the_pages_through_v1(
    client, servicer, settings, calls_counted, caplog
):
    servicer.authors = False  # a release before 1.1.0
    server, port = start(servicer, versions=("v1",))
    settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{port}"
    recommendations.close()
    try:
        with caplog.at_level(logging.INFO, logger="storefront.recommendations"):
            home = client.get("/").content.decode()
            category = client.get("/category/self-help/").content.decode()
    finally:
        server.stop(0)
        recommendations.close()

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
def test_unknown_category_is_a_404_page(client, recommendations_server):
    response = client.get("/category/poetry/")

    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()
    assert recommendations_server.requests == []


@pytest.mark.django_db
def test_nothing_listening_degrades_at_once(client, nothing_listening, calls_counted):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Recommendations are unavailable right now." in page
    assert "Browse by category" in page
    assert BOOK.findall(page) == []
    # Failed fast as UNAVAILABLE, rather than waiting for a server until the deadline: that
    # would have ended as DEADLINE_EXCEEDED.
    assert calls_counted("UNAVAILABLE") == 1
    assert calls_counted("DEADLINE_EXCEEDED") == 0


@pytest.mark.django_db
def test_slow_server_is_cut_off_at_the_deadline_and_the_page_degrades(
    client, recommendations_server, settings, calls_counted
):
    recommendations_server.delay = 5.0

    response = client.get("/category/mystery/")

    assert response.status_code == 200
    assert "Recommendations are unavailable right now." in response.content.decode()
    assert calls_counted("DEADLINE_EXCEEDED") == 1
    # The server got the call once, with the configured deadline, and saw the call end while it
    # was still working on it: the client gave up at the deadline, without a retry.
    (remaining,) = recommendations_server.time_remaining
    assert 0 < remaining <= settings.RECOMMENDATIONS_TIMEOUT_SECONDS
    assert recommendations_server.cut_off.wait(timeout=5)


@pytest.mark.django_db
def test_error_status_degrades_and_logs_a_warning(
    client, recommendations_server, caplog, calls_counted
):
    recommendations_server.error = (grpc.StatusCode.INTERNAL, "catalog is corrupt")

    with caplog.at_level(logging.WARNING, logger="storefront.recommendations"):
        response = client.get("/category/self-help/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Recommendations are unavailable right now." in page
    assert '<h1 id="category-title">Self-help</h1>' in page
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "INTERNAL" in record.getMessage()
    assert "catalog is corrupt" in record.getMessage()
    assert calls_counted("INTERNAL") == 1


@pytest.mark.django_db
def test_unavailable_is_retried_by_the_channel(client, recommendations_server, calls_counted):
    recommendations_server.error = (grpc.StatusCode.UNAVAILABLE, "restarting")

    response = client.get("/")

    assert "Recommendations are unavailable right now." in response.content.decode()
    assert len(recommendations_server.requests) == 3
    assert calls_counted("UNAVAILABLE") == 1


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


@pytest.mark.django_db
def test_metrics_count_requests_per_view_and_call_outcomes(client, nothing_listening):
    client.get("/")
    client.get("/category/mystery/")

    text = metrics.exposition().decode()

    assert 'marketplace_recommendations_calls_total{grpc_code="UNAVAILABLE"}' in text
    assert re.search(
        r'marketplace_http_requests_total\{method="GET",status="200",view="storefront:home"\} \d',
        text,
    )
    bucket = 'marketplace_http_request_duration_seconds_bucket{le="0.5",view="storefront:category"}'
    assert bucket in text


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_the_pages_port_has_no_metrics_or_probes(client, path):
    assert client.get(path).status_code == 404


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
@pytest.mark.parametrize(
    "method", ["POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PROPFIND"]
)
def test_pages_answer_only_get_and_head(client, recommendations_server, path, method):
    response = client.generic(method, path, data=b"x=1")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert recommendations_server.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_head_answers_like_get_without_a_body(client, recommendations_server, path):
    response = client.head(path)

    assert response.status_code == 200
    assert response.content == b""
