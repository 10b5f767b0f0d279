"""The production server: `marketplace-server` serves the site with granian, and the operational
endpoints on a port of their own.

- MARKETPLACE_PORT (8000) serves the pages: `marketplace.wsgi` in WEB_CONCURRENCY worker
  processes of MARKETPLACE_THREADS threads each. granian reads requests in Rust, off the Python
  threads: a client that sends its headers slowly, or nothing at all, holds a connection, never
  a thread, and is dropped once its headers take longer than HEADER_READ_TIMEOUT_MS. (gunicorn's
  threads read the headers themselves, so 50 such clients stopped its pages.)
- MARKETPLACE_INTERNAL_PORT (9000) serves /metrics, /healthz and /readyz from this process (see
  `marketplace.internal`) for Prometheus and the kubelet; nothing routes the public to it.

Before any worker starts, the settings (and the OTEL_* variables the workers will trace by) are
loaded here, so a configuration mistake stops the server at once with its one-line message and
exit status 2. The workers are started with multiprocessing's "spawn": each imports the site
afresh, so no gRPC channel, database connection or lock held by this process's threads is ever
copied into a worker.

Metrics from all workers are summed through prometheus-client's multiprocess mode: each worker
writes its samples into PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless set, emptied
at start), which the internal port reads.

Usage: marketplace-server [APP]   (APP: the WSGI application, default marketplace.wsgi:application)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
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

HEADER_READ_TIMEOUT_MS = 10_000
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
    from marketplace.internal import serve  # noqa: PLC0415

    django.setup()
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        app,
        address=settings.bind,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS),
        websockets=False,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_TIMEOUT_SECONDS,
    )
    stops: list[Callable[[], None]] = []

    def start_internal_port() -> None:
        stops.append(serve(settings.bind, settings.internal_port))

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
