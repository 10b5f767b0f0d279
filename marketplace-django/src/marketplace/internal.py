"""The internal port: /metrics, /healthz and /readyz, for Prometheus and the kubelet.

`marketplace-server` serves this small WSGI application from its main process on
MARKETPLACE_INTERNAL_PORT, a port no public route leads to (the Ingress, the dev overlay's
LoadBalancer and compose publish only the pages' port). The pages' port has no such paths.

- /metrics: every worker's samples, summed from prometheus-client's multiprocess directory.
- /healthz: liveness; the server answers HTTP, and calls nothing.
- /readyz: readiness; 200 once the pages' port has served a request and while the database
  answers `SELECT 1`; 503 before that, and from SIGTERM on while the workers drain (see
  `Readiness`). The recommendations service is not required: pages degrade without it.
"""

from __future__ import annotations

import http.client
import logging
import signal
import socket
import threading
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from marketplace import health, metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from wsgiref.types import StartResponse, WSGIEnvironment

_Answer = tuple[str, str, bytes]
_TEXT = "text/plain; charset=utf-8"


def _metrics() -> _Answer:
    return "200 OK", CONTENT_TYPE_LATEST, metrics.exposition()


def _healthz() -> _Answer:
    return "200 OK", _TEXT, b"ok\n"


@dataclass
class Readiness:
    """Whether this server should be sent readers.

    Not before a worker serves the pages' port: the workers load and warm the site, and only
    then listen, seconds after this process started. `pages` is (host, port, path) of a static
    file there; any answer to it proves a worker serves. Once one has answered it is not asked
    again: a worker that dies is started again by granian, and a crash loop stops the whole
    server. Not after `drain()` either (SIGTERM): the workers finish their requests and accept
    no more.
    """

    pages: tuple[str, int, str] | None = None
    _serving: threading.Event = field(default_factory=threading.Event)
    _draining: threading.Event = field(default_factory=threading.Event)

    def drain(self) -> None:
        """Answer 503 from now on."""
        self._draining.set()

    def problem(self) -> str | None:
        """Why not ready now, or None when ready."""
        if self._draining.is_set():
            return "draining"
        if not self._serving.is_set():
            if not self._pages_answer():
                return "the pages' port does not serve yet"
            self._serving.set()
        if not health.database_answers():
            return "database unavailable"
        return None

    def _pages_answer(self) -> bool:
        if self.pages is None:
            return True
        host, port, path = self.pages
        connection = http.client.HTTPConnection(host, port, timeout=2)
        try:
            # As the Ingress would send it: plain HTTP here is not redirected to HTTPS.
            connection.request("HEAD", path, headers={"X-Forwarded-Proto": "https"})
            connection.getresponse()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        return True


readiness = Readiness()


def _readyz() -> _Answer:
    problem = readiness.problem()
    if problem is None:
        return "200 OK", _TEXT, b"ready\n"
    return "503 Service Unavailable", _TEXT, f"{problem}\n".encode()


ROUTES: dict[str, Callable[[], _Answer]] = {
    "/metrics": _metrics,
    "/healthz": _healthz,
    "/readyz": _readyz,
}


def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The internal endpoints; 404 for any other path, 405 for methods but GET and HEAD."""
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    method = environ["REQUEST_METHOD"]
    headers = []
    if route is None:
        status, content_type, body = "404 Not Found", _TEXT, b"not found\n"
    elif method not in {"GET", "HEAD"}:
        status, content_type, body = "405 Method Not Allowed", _TEXT, b"method not allowed\n"
        headers.append(("Allow", "GET, HEAD"))
    else:
        status, content_type, body = route()
    headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [b"" if method == "HEAD" else body]


class _Server(ThreadingMixIn, WSGIServer):
    # One thread per request: a slow scrape never holds up a probe.
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        # Probes and scrapes every few seconds are not news; errors still reach the log.
        return


def _serve_forever(server: _Server) -> None:
    # Signals are for the main thread, where granian waits for them. One this thread (or a
    # request's thread, which inherits the mask) took would wake nothing there: SIGTERM sat
    # unhandled until the next signal.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    server.serve_forever()


def serve(host: str, port: int, pages: tuple[str, int, str]) -> Callable[[], None]:
    """Serve `application` on host:port (IPv4 or IPv6) from a background thread, ready once
    `pages` (host, port, path) answers 200; returns the function that stops it."""
    readiness.pages = pages
    server_class = _Server6 if ":" in host else _Server
    server = make_server(
        host.strip("[]"), port, application, server_class=server_class, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=_serve_forever, args=(server,), name="internal-port", daemon=True
    )
    thread.start()
    logging.getLogger(__name__).info("internal port: http://%s:%d/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
