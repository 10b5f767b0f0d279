"""Connection floods against one port, and a reader who loads pages while they last.

A `Flood` holds `size` TCP connections from a background thread: idle ones send nothing after
connecting; slowloris ones send a request line and then one header byte a second, never
finishing. A connection the server drops (end of file or reset) is opened again at once, so the
flood keeps its size throughout, as a determined attacker would. Connections are opened without
waiting for the handshake (non-blocking connect), so a server that stops accepting cannot slow
the attack down.
"""

from __future__ import annotations

import errno
import http.client
import resource
import select
import socket
import threading
import time
from dataclasses import dataclass, field

_REQUEST_START = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def raise_file_limit(needed: int) -> None:
    """Raise this process's open-file limit as far as its hard limit allows; fail the caller
    when that is still below `needed` descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        message = f"the open-file limit is {soft}, the flood needs {needed}: raise `ulimit -Hn`"
        raise RuntimeError(message)


@dataclass
class Flood:
    """`size` connections to 127.0.0.1:`port`, held (idle, or dribbling headers with
    `slowloris`) until the context ends."""

    port: int
    size: int
    slowloris: bool = False
    dropped: int = 0
    held: int = 0  # how many were established when the flood ended
    _sockets: dict[int, socket.socket] = field(default_factory=dict)
    _started: set[int] = field(default_factory=set)  # slowloris ones whose request line went out
    _poll: select.epoll = field(default_factory=select.epoll)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        status = sock.connect_ex(("127.0.0.1", self.port))
        if status not in {0, errno.EINPROGRESS}:
            sock.close()
            raise OSError(status, f"connecting to port {self.port}: {errno.errorcode[status]}")
        self._sockets[sock.fileno()] = sock
        # Readable means the server answered (an error page) or closed it: either way, dropped.
        self._poll.register(sock, select.EPOLLIN | select.EPOLLRDHUP)

    def _reopen(self, fd: int) -> None:
        """Count a connection the server dropped, and open another in its place."""
        self._poll.unregister(fd)
        self._sockets.pop(fd).close()
        self._started.discard(fd)
        self.dropped += 1
        self._open()

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            for fd, _events in self._poll.poll(0.2):
                if fd in self._sockets:
                    self._reopen(fd)
            if not self.slowloris or time.monotonic() < next_tick:
                continue
            next_tick += 1.0
            for fd, sock in list(self._sockets.items()):
                if self._sockets.get(fd) is not sock:
                    continue  # dropped above; its number may be a new connection's already
                try:
                    sock.send(b"a" if fd in self._started else _REQUEST_START)
                except (BlockingIOError, InterruptedError):
                    continue  # still connecting, or its buffer is full: the next second tries
                except OSError:
                    self._reopen(fd)
                    continue
                self._started.add(fd)

    def __enter__(self) -> Flood:
        for _ in range(self.size):
            self._open()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.held = sum(1 for sock in self._sockets.values() if _established(sock))
        for sock in self._sockets.values():
            sock.close()
        self._poll.close()


def _established(sock: socket.socket) -> bool:
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
        return False
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Load:
    """One page load: its status and books shown (None when it did not complete), and time."""

    status: int | None
    books: int
    seconds: float


def load_page(port: int, deadline: float) -> Load:
    """GET / on a new connection, giving up after `deadline` seconds."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=deadline)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read()
    except OSError:
        return Load(None, 0, time.monotonic() - started)
    finally:
        connection.close()
    return Load(response.status, body.count(b"data-book-id="), time.monotonic() - started)


def read_pages(port: int, *, seconds: float, every: float, deadline: float) -> list[Load]:
    """Load the homepage every `every` seconds for `seconds`, each within `deadline`."""
    loads = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        loads.append(load_page(port, deadline))
        time.sleep(max(0.0, started + every * len(loads) - time.monotonic()))
    return loads
