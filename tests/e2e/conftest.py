"""Both real services, started as processes on free ports, and Debian's chromium for Playwright.

The recommendations service serves a catalog built from its packaged CSV; the website runs as in
production (marketplace-server, prod settings, whitenoise serving collected static files), except
that it is reached over plain HTTP on loopback.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**values):
    """This process's environment without any service settings, plus `values`."""
    prefixes = ("DJANGO_", "RECOMMENDATIONS_", "PROMETHEUS_", "DATABASE_URL", "MARKETPLACE_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    return {**env, **values}


def wait_until(ready, process, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not become ready within {timeout} s")
        time.sleep(0.1)


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def recommendations_service(workdir):
    """`recommendations-server` on a free port; yields its gRPC port."""
    catalog = workdir / "catalog.sqlite3"
    subprocess.run(
        [BIN / "recommendations-server", "build-catalog", "--output", catalog],
        check=True,
        capture_output=True,
    )
    port = free_port()
    env = clean_env(
        RECOMMENDATIONS_PORT=str(port),
        RECOMMENDATIONS_METRICS_PORT=str(free_port()),
        RECOMMENDATIONS_HEALTH_PORT=str(free_port()),
        RECOMMENDATIONS_CATALOG=str(catalog),
    )
    log = (workdir / "recommendations.log").open("w")
    process = subprocess.Popen(
        [BIN / "recommendations-server"], env=env, cwd=workdir, stdout=log, stderr=log
    )
    wait_until(lambda: accepts(port), process, "recommendations-server")
    yield port
    assert stop(process) == 0


def serve_website(workdir, name, recommendations_target):
    """Start the website (marketplace-server) with production settings; returns it and its URL."""
    port, internal_port = free_port(), free_port()
    env = clean_env(
        DJANGO_SETTINGS_MODULE="marketplace.settings.prod",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_ROOT=str(workdir / f"{name}-static"),
        DATABASE_URL=f"sqlite:///{workdir / f'{name}.sqlite3'}",
        RECOMMENDATIONS_TARGET=recommendations_target,
        MARKETPLACE_BIND="127.0.0.1",
        MARKETPLACE_PORT=str(port),
        MARKETPLACE_INTERNAL_PORT=str(internal_port),
        WEB_CONCURRENCY="2",
    )
    manage = [sys.executable, ROOT / "marketplace-django" / "manage.py"]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True)
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
    log = (workdir / f"{name}.log").open("w")
    process = subprocess.Popen(
        [BIN / "marketplace-server"],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    ready = f"http://127.0.0.1:{internal_port}/readyz"
    wait_until(lambda: answers(ready) and answers(base + "/"), process, f"the website ({name})")
    return process, base


@pytest.fixture(scope="session")
def website(request, workdir):
    """The website, using the recommendations service; yields its base URL.

    With E2E_BASE_URL set (http://127.0.0.1:8000 for `docker compose up`), the tests visit that
    running bookshop instead of starting their own processes.
    """
    external = os.environ.get("E2E_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    service_port = request.getfixturevalue("recommendations_service")
    process, base = serve_website(workdir, "website", f"127.0.0.1:{service_port}")
    yield base
    assert stop(process) == 0


@pytest.fixture(scope="session")
def website_without_service(workdir):
    """The website pointed at a port where no recommendations service listens."""
    process, base = serve_website(workdir, "website-alone", f"127.0.0.1:{free_port()}")
    yield base
    assert stop(process) == 0


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
