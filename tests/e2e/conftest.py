"""Both real services, started as processes on free ports, and Debian's chromium for Playwright.

The recommendations service serves a catalog built from its packaged CSV; the website runs as in
production (marketplace-server, prod settings, whitenoise serving collected static files), except
that it is reached over plain HTTP on loopback.
"""

from __future__ import annotations

import os

import pytest

from harness.ports import free_port
from harness.processes import Supervisor
from harness.service import Replica, build_catalog
from harness.website import Website

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def supervisor(workdir):
    """Starts the session's processes (logs in workdir/logs) and stops whatever is left."""
    with Supervisor(workdir / "logs") as supervisor:
        yield supervisor


@pytest.fixture(scope="session")
def recommendations_service(supervisor, workdir):
    """`recommendations-server` on free ports, serving a catalog built from its packaged CSV."""
    catalog = workdir / "catalog.sqlite3"
    build_catalog(catalog)
    service = Replica(supervisor, "recommendations", catalog)
    service.start()
    yield service
    assert service.terminate() == 0


@pytest.fixture(scope="session")
def website(request, supervisor, workdir):
    """The website, using the recommendations service; yields its base URL.

    With E2E_BASE_URL set (http://127.0.0.1:8000 for `docker compose up`), the tests visit that
    running bookshop instead of starting their own processes.
    """
    external = os.environ.get("E2E_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    service = request.getfixturevalue("recommendations_service")
    site = Website(supervisor, "website", workdir, service.address)
    site.start()
    yield site.url.rstrip("/")
    assert site.stop() == 0


@pytest.fixture(scope="session")
def website_without_service(supervisor, workdir):
    """The website pointed at a port where no recommendations service listens."""
    site = Website(supervisor, "website-alone", workdir, f"127.0.0.1:{free_port()}")
    site.start()
    yield site.url.rstrip("/")
    assert site.stop() == 0


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium: Playwright cannot download a browser of its own here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def console_errors(page):
    """Every console error and uncaught page error the test's page produces."""
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
