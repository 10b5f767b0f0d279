"""Slow and idle clients against what the website image serves: `marketplace-server` with the
image's configuration (production settings, two workers), in front of a real recommendations
server.

Fifty connections are held for 30 s: half send their request headers a byte a second and never
finish them, half connect and send nothing; a connection the server drops is opened again at
once, so fifty stay in the attack throughout. Meanwhile a reader loads the homepage every two
seconds or so on a fresh connection: at least 90% of those loads must complete within one second.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from harness.processes import Supervisor
from harness.service import Replica, build_catalog
from harness.website import Website

ATTACKERS = 50
ATTACK_SECONDS = 30.0
PAGE_LOADS = 12
PAGE_DEADLINE_SECONDS = 1.0


@pytest.fixture(scope="module")
def website(tmp_path_factory):
    """The site as the image runs it, calling a live recommendations server."""
    workdir = tmp_path_factory.mktemp("slow-clients")
    supervisor = Supervisor(workdir / "logs")
    try:
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        service = Replica(supervisor, "recommendations", catalog)
        service.start()
        site = Website(supervisor, "website", workdir, f"ipv4:{service.address}")
        site.start()
        yield site
    finally:
        supervisor.close()


@dataclass
class SlowClients:
    """ATTACKERS connections to `port`, kept open and slow from a background thread."""

    port: int
    connections: list[tuple[socket.socket, bool]] = field(default_factory=list)
    reopened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _open(self, sends_headers: bool) -> tuple[socket.socket, bool]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if sends_headers:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # Non-blocking from here: checking whether the server closed it must not wait.
        sock.setblocking(False)
        return sock, sends_headers

    def _closed_by_server(self, sock: socket.socket) -> bool:
        try:
            # Anything to read (an error response or end of file) means the server gave up on it.
            sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for index, (sock, sends_headers) in enumerate(self.connections):
                try:
                    if self._closed_by_server(sock):
                        raise ConnectionResetError
                    if sends_headers:
                        sock.sendall(b"a")
                except OSError:
                    sock.close()
                    self.connections[index] = self._open(sends_headers)
                    self.reopened += 1

    def __enter__(self) -> SlowClients:
        self.connections = [self._open(n % 2 == 0) for n in range(ATTACKERS)]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        for sock, _ in self.connections:
            sock.close()


def load_homepage(port: int) -> tuple[int, int, float] | None:
    """(status, books shown, seconds) of one page load on a new connection, or None when it
    did not complete within PAGE_DEADLINE_SECONDS."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PAGE_DEADLINE_SECONDS)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read()
    except OSError:
        return None
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    if elapsed > PAGE_DEADLINE_SECONDS:
        return None
    return response.status, body.count(b"data-book-id="), elapsed


def test_pages_load_while_fifty_slow_clients_are_held_for_thirty_seconds(website):
    loads = []
    with SlowClients(website.port) as attack:
        started = time.monotonic()
        time.sleep(2.0)  # every attacker connected and under way
        interval = (ATTACK_SECONDS - 4.0) / PAGE_LOADS
        for number in range(PAGE_LOADS):
            time.sleep(max(0.0, started + 2.0 + number * interval - time.monotonic()))
            loads.append(load_homepage(website.port))
        time.sleep(max(0.0, started + ATTACK_SECONDS - time.monotonic()))
        held = sum(1 for sock, _ in attack.connections if not attack._closed_by_server(sock))

    full = [load for load in loads if load is not None and load[:2] == (200, 3)]
    report = (
        f"{len(full)} of {len(loads)} page loads within 1 s: {loads}; "
        f"connections the server dropped and the attack opened again: {attack.reopened}"
    )
    print(report)
    assert held >= ATTACKERS * 0.8, f"the attack did not hold its connections: {held} open"
    assert len(full) >= 0.9 * len(loads), report
