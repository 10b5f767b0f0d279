"""The production server, `marketplace-server`: two workers whose metrics add up on the internal
port, which alone serves /metrics and the probes, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.ports import free_port
from harness.probes import answers, fetch
from harness.processes import Supervisor
from harness.website import Website


def sample(text, name, labels):
    pattern = re.escape(name + "{" + labels + "}") + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def degraded_page_pids(log):
    """The pid on each degraded-page warning the server has logged so far."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [
        line["pid"]
        for line in lines
        if line["level"] == "WARNING" and line["logger"] == "storefront.recommendations"
    ]


def worker_pids(master):
    """The worker processes (multiprocessing's spawned children; not its resource tracker)."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def start_server(supervisor, tmp_path, **settings):
    """marketplace-server (the harness's Website: production settings, two workers, two loopback
    ports) pointed at a port where no recommendations service listens, plus `settings`; returns
    the process, the pages' base URL, the internal port's base URL and the log, once both
    workers serve."""
    target = f"127.0.0.1:{free_port()}"
    site = Website(supervisor, "website", tmp_path, target, extra_env=settings)
    site.start(wait=False)
    site.wait_ready(
        lambda: answers(site.internal_url + "healthz") and len(worker_pids(site.process)) == 2
    )
    log = supervisor.log_of(site.name)
    return site.process, site.url.rstrip("/"), site.internal_url.rstrip("/"), log


def stop(process, log):
    """SIGTERM; the server must then exit 0."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()[-2000:]


@pytest.fixture
def supervisor(tmp_path):
    """Starts the test's processes and stops whatever is left after it."""
    with Supervisor(tmp_path / "logs") as supervisor:
        yield supervisor


@pytest.fixture
def server(supervisor, tmp_path):
    """A running marketplace-server (see start_server), stopped after the test."""
    started = start_server(supervisor, tmp_path)
    yield started
    stop(started[0], started[3])


def test_metrics_add_up_across_workers_and_survive_a_dead_worker(server):
    process, base, internal, log = server
    before, _ = fetch(internal + "/metrics")
    assert before == 200

    # Pages until both workers have served some (the log line carries the pid): which worker
    # accepts a connection is up to the kernel, and on a busy machine one may take a whole batch.
    pages: list[tuple[int, str]] = []
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=6) as pool:
        while True:
            pages += pool.map(lambda _: fetch(base + "/"), range(24))
            warnings = degraded_page_pids(log)
            if len(set(warnings)) == 2:
                break
            assert time.monotonic() < deadline, f"one worker served all {len(pages)} pages"

    assert all(status == 200 for status, _ in pages)
    assert all("Recommendations are unavailable right now." in page for _, page in pages)
    served = len(pages) + 1  # the fixture's own first page load
    assert len(warnings) == served
    # Both workers served pages, so /metrics must add them up.
    _, text = fetch(internal + "/metrics")
    unavailable = 'grpc_code="UNAVAILABLE"'
    assert sample(text, "marketplace_recommendations_calls_total", unavailable) == served
    home = 'method="GET",status="200",view="storefront:home"'
    assert sample(text, "marketplace_http_requests_total", home) == served

    os.kill(worker_pids(process)[0], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while len(worker_pids(process)) < 2 or not answers(base + "/"):
        assert time.monotonic() < deadline, "the server did not replace the worker"
        time.sleep(0.1)
    _, text = fetch(internal + "/metrics")
    assert sample(text, "marketplace_recommendations_calls_total", unavailable) >= served


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_metrics_and_probes_are_on_the_internal_port_only(server, path):
    _, base, internal, _ = server

    assert fetch(base + path)[0] == 404
    assert fetch(internal + path)[0] == 200
    assert fetch(internal + path, method="POST")[0] == 405


def test_the_internal_port_serves_nothing_else(server):
    _, _, internal, _ = server

    assert fetch(internal + "/")[0] == 404
    assert fetch(internal + "/category/mystery/")[0] == 404


def test_readyz_is_503_while_the_database_does_not_answer(supervisor, tmp_path):
    # PostgreSQL on a port where nothing listens: the pages need no database, readiness does.
    process, base, internal, log = start_server(
        supervisor, tmp_path, DATABASE_URL=f"postgres://shop:unused@127.0.0.1:{free_port()}/shop"
    )
    try:
        assert fetch(base + "/")[0] == 200
        assert fetch(internal + "/readyz") == (503, "database unavailable\n")
        assert fetch(internal + "/healthz") == (200, "ok\n")
        assert "not ready: the database does not answer" in log.read_text()
    finally:
        stop(process, log)
