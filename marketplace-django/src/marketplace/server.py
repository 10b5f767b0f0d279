"""The production server: `marketplace-server` serves the site with granian, and the operational
endpoints on a port of their own.

- MARKETPLACE_PORT (8000) serves the pages: `marketplace.wsgi` in WEB_CONCURRENCY worker
  processes of MARKETPLACE_THREADS threads each. granian reads requests in Rust, off the Python
  threads: a client that sends its headers slowly, or nothing at all, holds a connection, never
  a thread, and is dropped once its headers take longer than HEADER_READ_TIMEOUT_MS. (gunicorn's
  threads read the headers themselves, so 50 such clients stopped its pages.)
- Connections are cheap but not free. Each worker listens on a socket of its own (SO_REUSEPORT:
  the kernel deals new connections out among them) and holds at most CONNECTIONS_PER_WORKER
  open, idle ones included; beyond that it stops accepting, and every new reader waits in
  the worker's listen queue. granian's default (1,024 in all) let 5,000 connections that sent
  nothing stop every page. An idle connection costs a worker about 2.5 KB, so 10,000 are
  about 25 MB; granian raises the open-file limit to its hard limit, and a lower hard limit
  lowers the cap (logged). Floods larger than a server can hold belong to the Ingress
  (see the website's README).
- MARKETPLACE_INTERNAL_PORT (9000) serves /metrics, /healthz and /readyz from this process (see
  `marketplace.internal`) for Prometheus and the kubelet; nothing routes the public to it.

Before any worker starts, the settings (and the OTEL_* variables the workers will trace by) and
the collected static files' manifest are loaded here, so a configuration mistake stops the server
at once with its one-line message and exit status 2. The workers are started with
multiprocessing's "spawn": each imports the site afresh (and warms it up, `marketplace.warmup`,
before it listens), so no gRPC channel, database connection or lock held by this process's
threads is ever copied into a worker.

Metrics from all workers are summed through prometheus-client's multiprocess mode: each worker
writes its samples into PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless set, emptied
at start), which the internal port reads.

Usage: marketplace-server [APP]   (APP: the WSGI application, default marketplace.wsgi:application)
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import django
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings

from marketplace import telemetry
from marketplace.settings import environment as env
from marketplace.settings import variables

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

HEADER_READ_TIMEOUT_MS = 10_000
CONNECTIONS_PER_WORKER = 10_000
# Each worker's listen queue; Linux caps it at net.core.somaxconn (4,096 by default).
BACKLOG = 4096
# Descriptors kept for everything else a worker opens: the database, gRPC, logs, templates.
FILES_RESERVED = 256
# A stopping worker finishes its requests within Kubernetes' default 30 s termination grace.
STOP_TIMEOUT_SECONDS = 20
_APPLICATION = "marketplace.wsgi:application"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where and how the server listens, from MARKETPLACE_* and WEB_CONCURRENCY."""

    bind: str
    port: int
    internal_port: int
    workers: int
    threads: int

    @classmethod
    def from_environment(cls) -> ServerSettings:
        """Read the settings; a bad value stops the process with one line and status 2."""
        settings = cls(
            bind=env.string("MARKETPLACE_BIND"),
            port=env.integer("MARKETPLACE_PORT", minimum=1, maximum=65535),
            internal_port=env.integer("MARKETPLACE_INTERNAL_PORT", minimum=1, maximum=65535),
            workers=env.integer("WEB_CONCURRENCY", minimum=1, maximum=64),
            threads=env.integer("MARKETPLACE_THREADS", minimum=1, maximum=256),
        )
        if settings.internal_port == settings.port:
            env.refuse(
                "MARKETPLACE_INTERNAL_PORT",
                f"is the public port {settings.port}",
                "a port of its own, for /metrics, /healthz and /readyz",
            )
        return settings


def main() -> None:
    """Serve the site until SIGTERM or SIGINT, then let the workers finish their requests."""
    parser = argparse.ArgumentParser(
        prog="marketplace-server",
        description=__doc__.split("\n")[0],
        epilog="environment variables (all optional unless marked):\n" + variables.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("app", nargs="?", default=_APPLICATION, help="module:callable (WSGI)")
    app = parser.parse_args().app
    settings = ServerSettings.from_environment()
    telemetry.refuse_unusable()
    os.environ["DJANGO_SETTINGS_MODULE"] = env.string("DJANGO_SETTINGS_MODULE")
    metrics_dir = _metrics_directory()

    # prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported.
    from marketplace.internal import readiness, serve  # noqa: PLC0415

    django.setup()
    probe_path = _static_probe_path()
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        app,
        address=settings.bind,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        http=HTTPModes.http1,
        backlog=BACKLOG,
        backpressure=_connections_per_worker(),
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS),
        websockets=False,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_TIMEOUT_SECONDS,
    )
    stops: list[Callable[[], None]] = []

    def start_internal_port() -> None:
        pages = (_local(settings.bind), settings.port, probe_path)
        stops.append(serve(settings.bind, settings.internal_port, pages))
        # granian has just installed its own handlers: readiness ends first, then granian drains.
        for number in (signal.SIGTERM, signal.SIGINT):
            _before_signal(number, readiness.drain)

    def stop_internal_port() -> None:
        for stop in stops:
            stop()

    server.on_startup(start_internal_port)
    server.on_shutdown(stop_internal_port)
    try:
        server.serve()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _static_probe_path() -> str:
    """The URL path of a collected static file, which /readyz asks the pages' port for; stop
    with one line when the static files were not collected (every page would be a 500)."""
    from django.conf import settings  # noqa: PLC0415
    from django.contrib.staticfiles.storage import (  # noqa: PLC0415
        ManifestStaticFilesStorage,
        staticfiles_storage,
    )

    storage = staticfiles_storage
    if isinstance(storage, ManifestStaticFilesStorage):
        collected = storage.hashed_files
        if not collected:
            env.refuse(
                "DJANGO_STATIC_ROOT",
                "holds no collected static files",
                "the directory `manage.py collectstatic` filled (run it before the server)",
            )
        return storage.url(next(iter(collected)))
    return str(settings.STATIC_URL)


def _connections_per_worker() -> int:
    """CONNECTIONS_PER_WORKER, or fewer when the hard open-file limit is lower. (Importing
    granian's extension raises the soft limit to the hard one, in this process and so in its
    workers, which hold the connections.)"""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard - FILES_RESERVED >= CONNECTIONS_PER_WORKER:
        return CONNECTIONS_PER_WORKER
    connections = max(1, hard - FILES_RESERVED)
    logging.getLogger(__name__).warning(
        "the open-file limit %d allows %d connections per worker, not %d: raise `ulimit -Hn`",
        hard,
        connections,
        CONNECTIONS_PER_WORKER,
    )
    return connections


def _before_signal(number: signal.Signals, first: Callable[[], None]) -> None:
    """Call `first` on signal `number`, then the handler installed now."""
    previous = signal.getsignal(number)

    def handler(signum: int, frame: FrameType | None) -> None:
        first()
        if callable(previous):
            previous(signum, frame)

    signal.signal(number, handler)


def _local(bind: str) -> str:
    """The address this process reaches its own pages' port at."""
    if bind in {"0.0.0.0", ""}:  # noqa: S104  (the address bound, not one to bind)
        return "127.0.0.1"
    if bind in {"::", "[::]"}:
        return "::1"
    return bind.strip("[]")


def _metrics_directory() -> Path | None:
    """Empty PROMETHEUS_MULTIPROC_DIR, creating a temporary one when it is unset; return the
    directory to remove at exit (only one this process created)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        # Samples of an earlier run would be counted again.
        for stale in directory.glob("*.db"):
            stale.unlink()
        return None
    created = Path(tempfile.mkdtemp(prefix="marketplace-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(created)
    return created
