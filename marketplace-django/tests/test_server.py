"""The production server, `marketplace-server`: two workers whose metrics add up on the internal
port, which alone serves /metrics and the probes, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.ports import free_port
from harness.probes import answers, fetch
from harness.processes import BIN, Supervisor
from harness.website import Website, site_environment


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


def test_a_cold_start_readiness_first_page_file_limit_and_drain(supervisor, tmp_path):
    """One start, since each costs seconds: /readyz says 200 only once the pages' port serves,
    the first page is quick, the workers may open as many files as the hard limit allows, and
    /readyz says 503 from SIGTERM on."""
    site = Website(supervisor, "website", tmp_path, f"127.0.0.1:{free_port()}")
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
    for pid in worker_pids(site.process):
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


def status_of(url):
    """The status a GET of `url` answers, or None when nothing answers."""
    try:
        return fetch(url, timeout=2)[0]
    except OSError:
        return None


def test_the_server_refuses_to_start_without_collected_static_files(tmp_path):
    env = site_environment(tmp_path, {"DJANGO_STATIC_ROOT": str(tmp_path / "empty")})
    started = subprocess.run(
        [str(BIN / "marketplace-server")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert started.returncode == 2
    assert started.stderr.count("\n") == 1, started.stderr
    assert started.stderr.startswith("error: DJANGO_STATIC_ROOT ")
    assert "collectstatic" in started.stderr


def test_static_files_carry_the_pages_security_headers_but_not_the_manifest(server):
    _, base, _, _ = server
    page = urllib.request.urlopen(base + "/", timeout=10)
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.read().decode()).group(1)
    asset = urllib.request.urlopen(base + stylesheet, timeout=10)

    assert asset.status == 200
    for header in SECURITY_HEADERS:
        assert asset.headers[header] == page.headers[header], header
    assert fetch(base + "/static/staticfiles.json")[0] == 404


SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "Cross-Origin-Opener-Policy",
)
