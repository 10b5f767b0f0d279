"""The internal port: /metrics, /healthz and /readyz, for Prometheus and the kubelet.

`marketplace-server` serves this small WSGI application from its main process on
MARKETPLACE_INTERNAL_PORT, a port no public route leads to (the Ingress, the dev overlay's
LoadBalancer and compose publish only the pages' port). The pages' port has no such paths.

- /metrics: every worker's samples, summed from prometheus-client's multiprocess directory.
- /healthz: liveness; the server answers HTTP, and calls nothing.
- /readyz: readiness; 200 while the database answers `SELECT 1`, else 503. The recommendations
  service is not required: pages degrade without it.
"""

from __future__ import annotations

import logging
import socket
import threading
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


def _readyz() -> _Answer:
    if health.database_answers():
        return "200 OK", _TEXT, b"ready\n"
    return "503 Service Unavailable", _TEXT, b"database unavailable\n"


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


def serve(host: str, port: int) -> Callable[[], None]:
    """Serve `application` on host:port (IPv4 or IPv6) from a background thread; returns the
    function that stops it."""
    server_class = _Server6 if ":" in host else _Server
    server = make_server(
        host.strip("[]"), port, application, server_class=server_class, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="internal-port", daemon=True)
    thread.start()
    logging.getLogger(__name__).info("internal port: http://%s:%d/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
