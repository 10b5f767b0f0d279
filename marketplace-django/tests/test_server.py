"""The production server, `marketplace-server`: two workers whose metrics add up on the internal
port, which alone serves /metrics and the probes, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.metrics import by_label
from harness.ports import free_port
from harness.probes import answers, fetch
from harness.processes import Supervisor
from harness.website import Website


def counted(site):
    """(degraded calls, homepages served) so far, all workers' samples added up."""
    samples = site.metrics()
    calls = by_label(samples, "marketplace_recommendations_calls_total", "grpc_code")
    pages = by_label(samples, "marketplace_http_requests_total", "view", method="GET", status="200")
    return calls.get("UNAVAILABLE", 0.0), pages.get("storefront:home", 0.0)


def degraded_page_pids(site):
    """The pid on each degraded-page warning the server has logged so far."""
    log = site.supervisor.log_of(site.name).read_text().splitlines()
    lines = [json.loads(line) for line in log if line.startswith("{")]
    return [
        line["pid"]
        for line in lines
        if line["level"] == "WARNING" and line["logger"] == "storefront.recommendations"
    ]


def worker_pids(site):
    """The worker processes (multiprocessing's spawned children; not its resource tracker)."""
    children = Path(f"/proc/{site.pid}/task/{site.pid}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def start_server(supervisor, workdir, **settings):
    """marketplace-server (the harness's Website: production settings, two workers, two loopback
    ports) pointed at a port where no recommendations service listens, plus `settings`; returned
    once both workers serve."""
    site = Website(supervisor, "website", workdir, f"127.0.0.1:{free_port()}", extra_env=settings)
    site.start(wait=False)
    site.wait_ready(lambda: answers(site.internal_url + "healthz") and len(worker_pids(site)) == 2)
    return site


def stop(site):
    """SIGTERM; the server must then exit 0."""
    if site.process.poll() is None:
        site.process.send_signal(signal.SIGTERM)
    log = site.supervisor.log_of(site.name)
    assert site.process.wait(timeout=30) == 0, log.read_text()[-2000:]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The static files and database every server of this module shares (each start costs
    seconds; collectstatic and migrate run once)."""
    return tmp_path_factory.mktemp("site")


@pytest.fixture
def supervisor(tmp_path):
    """Starts the test's processes and stops whatever is left after it."""
    with Supervisor(tmp_path / "logs") as supervisor:
        yield supervisor


@pytest.fixture(scope="module")
def server(workdir, tmp_path_factory):
    """One running marketplace-server (see start_server) for the tests that do not stop it."""
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        site = start_server(supervisor, workdir)
        yield site
        stop(site)


def test_metrics_add_up_across_workers_and_survive_a_dead_worker(server):
    calls, homes = counted(server)
    earlier = len(degraded_page_pids(server))

    # Pages until both workers have served some (the log line carries the pid): which worker
    # accepts a connection is up to the kernel, and on a busy machine one may take a whole batch.
    pages: list[tuple[int, str]] = []
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=6) as pool:
        while True:
            pages += pool.map(lambda _: fetch(server.url), range(24))
            warnings = degraded_page_pids(server)[earlier:]
            if len(set(warnings)) == 2:
                break
            assert time.monotonic() < deadline, f"one worker served all {len(pages)} pages"

    assert all(status == 200 for status, _ in pages)
    assert all("Recommendations are unavailable right now." in page for _, page in pages)
    assert len(warnings) == len(pages)
    # Both workers served pages, so /metrics must add them up.
    assert counted(server) == (calls + len(pages), homes + len(pages))

    os.kill(worker_pids(server)[0], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while len(worker_pids(server)) < 2 or not answers(server.url):
        assert time.monotonic() < deadline, "the server did not replace the worker"
        time.sleep(0.1)
    assert counted(server)[0] >= calls + len(pages)


def test_each_port_serves_its_own_and_static_files_carry_the_pages_security_headers(server):
    for path in ("metrics", "healthz", "readyz"):
        assert fetch(server.url + path)[0] == 404, path
        assert fetch(server.internal_url + path)[0] == 200, path
        assert fetch(server.internal_url + path, method="POST")[0] == 405, path
    assert fetch(server.internal_url)[0] == 404
    assert fetch(server.internal_url + "category/mystery/")[0] == 404
    assert fetch(server.url + "static/staticfiles.json")[0] == 404  # the manifest

    page = urllib.request.urlopen(server.url, timeout=10)
    stylesheet = re.search(r'href="/(static/[^"]+\.css)"', page.read().decode()).group(1)
    asset = urllib.request.urlopen(server.url + stylesheet, timeout=10)
    assert asset.status == 200
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
    ):
        assert asset.headers[header] == page.headers[header], header


def test_readyz_is_503_while_the_database_does_not_answer(supervisor, workdir):
    # PostgreSQL on a port where nothing listens: the pages need no database, readiness does.
    site = start_server(
        supervisor, workdir, DATABASE_URL=f"postgres://shop:unused@127.0.0.1:{free_port()}/shop"
    )
    try:
        assert fetch(site.url)[0] == 200
        assert fetch(site.internal_url + "readyz") == (503, "database unavailable\n")
        assert fetch(site.internal_url + "healthz") == (200, "ok\n")
        log = site.supervisor.log_of(site.name).read_text()
        assert "not ready: the database does not answer" in log
    finally:
        stop(site)


def status_of(url):
    """The status a GET of `url` answers, or None when nothing answers."""
    try:
        return fetch(url, timeout=2)[0]
    except OSError:
        return None


def test_a_cold_start_readiness_first_page_file_limit_and_drain(supervisor, workdir):
    """One start, since each costs seconds: /readyz says 200 only once the pages' port serves,
    the first page is quick, the workers may open as many files as the hard limit allows, and
    /readyz says 503 from SIGTERM on."""
    site = Website(supervisor, "website", workdir, f"127.0.0.1:{free_port()}")
    # Each connection a worker holds is an open file; 1,024, a common default, is far too few.
    # granian's extension raises the soft limit when it is imported; the server relies on it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        site.start(wait=False)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    polls: list[int | None] = []
    deadline = time.monotonic() + 60
    while not polls or polls[-1] != 200:
        assert time.monotonic() < deadline, f"never ready: {polls[-5:]}"
        assert site.process.poll() is None, "the server exited"
        polls.append(status_of(site.internal_url + "readyz"))
        time.sleep(0.02)
    first = site.get("/")
    print(
        f"{len(polls)} polls until ready, {polls.count(503)} of them 503; "
        f"the first page took {first.seconds * 1000:.0f} ms"
    )

    assert set(polls) <= {None, 503, 200}
    assert first.status == 200
    # 20-50 ms once warm (0.3 s is the site's deadline); a cold worker took 2.5 s on a busy host.
    assert first.seconds < 1.0
    for pid in worker_pids(site):
        limits = Path(f"/proc/{pid}/limits").read_text()
        worker_soft, worker_hard = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits).groups()
        assert worker_soft == worker_hard

    # A request under way keeps the workers draining for a while after SIGTERM.
    slow = socket.create_connection(("127.0.0.1", site.port))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    site.process.send_signal(signal.SIGTERM)
    try:
        answers_after_sigterm = []
        while (status := status_of(site.internal_url + "readyz")) is not None:
            answers_after_sigterm.append(status)
            if status == 503:
                break
            time.sleep(0.02)
        assert 503 in answers_after_sigterm, answers_after_sigterm
        assert fetch(site.internal_url + "readyz") == (503, "draining\n")
    finally:
        slow.close()
    assert site.process.wait(timeout=30) == 0
