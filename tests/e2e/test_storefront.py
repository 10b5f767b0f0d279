"""A reader's visit: the homepage, a category page and a book's page, in a real browser, from
real services."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

# The README's screenshot is refreshed on purpose (E2E_SCREENSHOT_DIR=docs/screenshots), not by
# every test run: each run's reader is a new anonymous visitor with different books.
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / os.environ.get("E2E_SCREENSHOT_DIR", ".cache/screenshots")


def visible_books(page):
    """The titles of the books on the page; each shows its title and, under it, its author."""
    books = page.locator("[data-book-id]")
    titles = []
    for index in range(books.count()):
        book = books.nth(index)
        expect(book).to_be_visible()
        title = book.locator(".book__title").inner_text().strip()
        assert title
        expect(book.locator(".book__author")).to_be_visible()
        assert book.locator(".book__author").inner_text().strip()
        titles.append(title)
    return titles


def test_homepage_shows_three_mystery_books(page, website, console_errors):
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(website + "/")

    expect(page).to_have_title("Online Books For You")
    expect(page.get_by_role("heading", name="Mystery books you may like")).to_be_visible()
    expect(page.get_by_text("Recommendations are unavailable")).to_have_count(0)
    assert len(visible_books(page)) == 3
    nav = page.get_by_role("navigation", name="Categories")
    for name in ("Mystery", "Science fiction", "Self-help"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "homepage.png", full_page=True)
    assert console_errors == []


def test_category_page_shows_up_to_ten_books_the_same_on_reload(page, website, console_errors):
    page.goto(website + "/")

    page.get_by_role("navigation", name="Categories").get_by_role(
        "link", name="Science fiction"
    ).click()

    expect(page).to_have_url(website + "/category/science-fiction/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Science fiction")
    titles = visible_books(page)
    assert 1 <= len(titles) <= 10
    assert len(set(titles)) == len(titles)
    page.reload()  # the same reader: the same books
    assert visible_books(page) == titles
    assert console_errors == []


def test_a_book_on_the_homepage_leads_to_its_page(page, website, console_errors):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(website + "/")
    first = page.locator("[data-book-id]").first
    book_id = first.get_attribute("data-book-id")
    title = first.locator(".book__title").inner_text().strip()

    first.get_by_role("link", name=title).click()

    expect(page).to_have_url(f"{website}/books/{book_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".book-page__author")).to_have_text(re.compile(r"^by \S"))
    more = page.locator("[data-book-id]")
    expect(more.first).to_be_visible()
    assert book_id not in [more.nth(i).get_attribute("data-book-id") for i in range(more.count())]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "book.png", full_page=True)
    page.get_by_role("link", name="Mystery", exact=True).last.click()
    expect(page).to_have_url(website + "/category/mystery/")
    assert console_errors == []


def test_keyboard_users_can_skip_to_the_content(page, website, console_errors):
    page.goto(website + "/")

    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert console_errors == []


@pytest.mark.parametrize("path", ["/books/999999/", "/category/poetry/"])
def test_an_unknown_book_or_category_is_a_friendly_404(page, website, console_errors, path):
    response = page.goto(website + path)

    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We could not find that page")
    expect(page.get_by_role("navigation", name="Categories")).to_be_visible()
    # The browser reports the 404 status itself as a console error; nothing else may appear.
    assert [error for error in console_errors if "404" not in error] == []


def test_without_the_service_pages_still_work_and_say_so(
    page, website_without_service, console_errors
):
    page.goto(website_without_service + "/")

    expect(page).to_have_title("Online Books For You")
    expect(page.get_by_role("status")).to_contain_text("Recommendations are unavailable right now.")
    expect(page.get_by_role("heading", name="Browse by category")).to_be_visible()
    expect(page.locator("[data-book-id]")).to_have_count(0)
    page.get_by_role("link", name="Self-help").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Self-help")
    expect(page.get_by_role("status")).to_be_visible()
    response = page.goto(website_without_service + "/books/1/")
    assert response.status == 200
    expect(page.get_by_role("status")).to_contain_text("This book's details are unavailable")
    assert console_errors == []
