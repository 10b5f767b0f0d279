"""The production server: gunicorn with two workers sums its metrics across them."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.servers import unused_port

BIN = Path(sys.executable).parent
KEY = secrets.token_urlsafe(50)


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def answers(url):
    try:
        fetch(url)
    except OSError:
        return False
    return True


def sample(text, name, labels):
    pattern = re.escape(name + "{" + labels + "}") + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def gunicorn(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "RECOMMENDATIONS_", "PROMETHEUS_", "DATABASE_URL"))
    }
    port = unused_port()
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings.prod",
        DJANGO_SECRET_KEY=KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        RECOMMENDATIONS_TARGET=f"127.0.0.1:{unused_port()}",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
    subprocess.run([BIN / "django-admin", "collectstatic", "--noinput", "-v0"], env=env, check=True)
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", "python:marketplace.gunicorn", "marketplace.wsgi"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not (answers(base + "/healthz") and len(worker_pids(server)) == 2):
        assert server.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, "gunicorn did not start two workers"
        time.sleep(0.1)
    yield server, base, log
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


def worker_pids(master):
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def test_metrics_add_up_across_workers_and_survive_a_dead_worker(gunicorn):
    server, base, log = gunicorn
    assert len(worker_pids(server)) == 2

    with ThreadPoolExecutor(max_workers=6) as pool:
        pages = list(pool.map(lambda _: fetch(base + "/"), range(24)))

    assert all(status == 200 for status, _ in pages)
    assert all("Recommendations are unavailable right now." in page for _, page in pages)
    # Both workers served pages (the log line carries the pid), so /metrics must add them up.
    warnings = re.findall(r" WARNING storefront.recommendations (\d+) ", log.read_text())
    assert len(warnings) == 24
    assert len(set(warnings)) == 2
    for _ in range(4):  # whichever worker answers /metrics, it reports both workers' samples
        _, text = fetch(base + "/metrics")
        assert (
            sample(text, "marketplace_recommendations_calls_total", 'grpc_code="UNAVAILABLE"') == 24
        )
        home = 'method="GET",status="200",view="storefront:home"'
        assert sample(text, "marketplace_http_requests_total", home) == 24

    os.kill(worker_pids(server)[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while len(worker_pids(server)) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.1)
    _, text = fetch(base + "/metrics")
    assert sample(text, "marketplace_recommendations_calls_total", 'grpc_code="UNAVAILABLE"') == 24
