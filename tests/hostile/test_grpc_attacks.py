"""Attacks on the recommendations server's HTTP/2, from a raw client, while another client calls.

A real `recommendations-server` with its default settings. The attacker is a small HTTP/2 client
(`h2`) that ignores what the server advertises; the other client is an ordinary gRPC channel
calling with the website's deadline (0.3 s). What the server itself guarantees:

- header-only calls: a call holds a worker from its headers on, so one connection may have only
  RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION calls open (HTTP/2 max concurrent streams, counted
  until the server has let go of each stream), fewer than the workers;
- a burst of stream resets: a reset stream counts against that limit until the server has let go
  of it, so resets cannot pile up calls (gRPC core's overload protection refuses the streams);
- connections that never start HTTP/2 are closed after the handshake timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v2.recommendations_pb2 import BOOK_CATEGORY_MYSTERY, RecommendRequest
from bookshop.recommendations.v2.recommendations_pb2_grpc import RecommendationsServiceStub
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated, StreamEnded, StreamReset

from harness.processes import Supervisor, wait_until
from harness.service import Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

METHOD = "/bookshop.recommendations.v2.RecommendationsService/Recommend"
WEBSITE_DEADLINE = 0.3  # RECOMMENDATIONS_TIMEOUT_SECONDS' default
ATTACK_SECONDS = 20.0
HEADER_ONLY_CALLS = 300
RESETS = 10_000
SILENT_CONNECTIONS = 1_000
HANDSHAKE_TIMEOUT = 5.0  # RECOMMENDATIONS_HANDSHAKE_TIMEOUT_SECONDS' default


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    workdir = tmp_path_factory.mktemp("grpc-attacks")
    with Supervisor(workdir / "logs") as supervisor:
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        replica = Replica(supervisor, "recommendations", catalog)
        replica.start()
        yield replica


def _calls_while(address: str, attacking: Callable[[], bool]) -> Counter[str]:
    """Call Recommend with the website's deadline, one call after another, while `attacking()`;
    how the calls ended, by status code name."""
    calls: Counter[str] = Counter()
    request = RecommendRequest(reader_id="reader", category=BOOK_CATEGORY_MYSTERY, page_size=3)
    with grpc.insecure_channel(address) as channel:
        stub = RecommendationsServiceStub(channel)
        stub.Recommend(request, timeout=5)  # connected before the attack's clock starts
        while attacking():
            try:
                stub.Recommend(request, timeout=WEBSITE_DEADLINE)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            calls[code] += 1
            time.sleep(0.005)
    return calls


class RawClient:
    """One HTTP/2 connection that opens gRPC streams with no regard for the server's limits."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.01)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.open: set[int] = set()
        self.refused = 0
        self.goaway: ErrorCodes | None = None
        self.closed = False
        self._flush()

    def start_call(self, *, reset: bool = False) -> None:
        """Send a call's headers and no message (and, with `reset`, cancel it at once)."""
        # The attacker ignores the server's MAX_CONCURRENT_STREAMS.
        self.h2.remote_settings.max_concurrent_streams = 2**31 - 1
        self.h2.remote_settings.acknowledge()
        stream = self.h2.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", METHOD),
            (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        self.h2.send_headers(stream, headers)
        if reset:
            self.h2.reset_stream(stream, ErrorCodes.CANCEL)
        else:
            self.open.add(stream)
        self._flush()

    def read(self) -> None:
        """Take in what the server sent: streams it ended or refused, a GOAWAY."""
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        for event in self.h2.receive_data(data):
            if isinstance(event, StreamReset | StreamEnded):
                if isinstance(event, StreamReset) and event.error_code == ErrorCodes.REFUSED_STREAM:
                    self.refused += 1
                self.open.discard(event.stream_id)
            elif isinstance(event, ConnectionTerminated):
                self.goaway = ErrorCodes(event.error_code)
        self._flush()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True


def _ok_share(calls: Counter[str]) -> float:
    return calls["OK"] / max(1, calls.total())


def _attack(server: Replica, step: Callable[[RawClient], bool]) -> tuple[RawClient, Counter[str]]:
    """Run `step` on a raw connection until it returns False or ATTACK_SECONDS pass, while
    another client calls; return the raw client and the other client's calls."""
    client = RawClient(server.port)
    deadline = time.monotonic() + ATTACK_SECONDS
    done = threading.Event()
    # The pool's thread is joined before the raw connection closes.
    with client.sock, ThreadPoolExecutor(1) as pool:
        victim = pool.submit(_calls_while, server.address, lambda: not done.is_set())
        try:
            while time.monotonic() < deadline and not client.closed and step(client):
                client.read()
        finally:
            done.set()
    return client, victim.result()


def test_one_connection_refilling_header_only_calls_leaves_others_their_calls(
    server: Replica,
) -> None:
    def refill(client: RawClient) -> bool:
        while len(client.open) < HEADER_ONLY_CALLS:
            client.start_call()
        return True

    client, calls = _attack(server, refill)
    print(f"header-only: {calls}, the attacker's streams refused {client.refused} times")
    assert _ok_share(calls) >= 0.95, calls
    assert client.refused > 0  # the limit, not luck, held the attacker back


def test_a_burst_of_stream_resets_leaves_others_their_calls(server: Replica) -> None:
    sent = 0

    def resets(client: RawClient) -> bool:
        nonlocal sent
        for _ in range(100):
            client.start_call(reset=True)
        sent += 100
        return True

    client, calls = _attack(server, resets)
    print(f"resets: {sent} sent, {calls}, GOAWAY {client.goaway}, refused {client.refused}")
    assert sent >= RESETS or client.goaway is not None or client.closed
    assert _ok_share(calls) >= 0.99, calls


def test_connections_that_never_start_http2_are_closed_after_the_handshake_timeout(
    server: Replica,
) -> None:
    sockets = [
        socket.create_connection(("127.0.0.1", server.port)) for _ in range(SILENT_CONNECTIONS)
    ]
    opened = time.monotonic()
    for sock in sockets:
        sock.setblocking(False)
    still_open = list(sockets)

    def all_closed() -> bool:
        still_open[:] = [s for s in still_open if not _closed_by_server(s)]
        return not still_open

    try:
        assert wait_until(all_closed, timeout=HANDSHAKE_TIMEOUT + 30, interval=0.2), len(still_open)
        elapsed = time.monotonic() - opened
        print(f"{SILENT_CONNECTIONS} silent connections all closed after {elapsed:.1f} s")
        assert elapsed >= HANDSHAKE_TIMEOUT - 0.5  # by the timeout, not refused at once
        with grpc.insecure_channel(server.address) as channel:  # and the server still serves
            request = RecommendRequest(reader_id="r", category=BOOK_CATEGORY_MYSTERY)
            assert RecommendationsServiceStub(channel).Recommend(request, timeout=5).books
    finally:
        for sock in sockets:
            sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (reading off whatever it sent before: SETTINGS)."""
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
