"""gunicorn's configuration: `gunicorn -c python:marketplace.gunicorn marketplace.wsgi`.

Environment: GUNICORN_BIND (or PORT, on 0.0.0.0) says where to listen, default 0.0.0.0:8000;
WEB_CONCURRENCY is the number of worker processes, default 2. Anything else can be given in
GUNICORN_CMD_ARGS, which gunicorn applies on top of this file.

The application is loaded once in the master (preload) and the workers are forked from it: a
settings mistake then stops gunicorn at once with its one-line message, and the gRPC channel,
created lazily on a worker's first request, is never shared across a fork.

Metrics from all workers are summed through prometheus-client's multiprocess mode: each worker
writes its samples into PROMETHEUS_MULTIPROC_DIR, which must be set before prometheus-client is
first imported, so this file sets it before the application is loaded.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from marketplace.settings import environment as env

_port = env.integer("PORT", 8000, minimum=1, maximum=65535)
bind = [env.string("GUNICORN_BIND", f"0.0.0.0:{_port}")]
workers = env.integer("WEB_CONCURRENCY", 2, minimum=1, maximum=64)
# Threads let a worker serve other pages while one waits on the recommendations service.
worker_class = "gthread"
threads = 4
preload_app = True
# A stopping worker finishes its requests within Kubernetes' default 30 s termination grace.
timeout = 30
graceful_timeout = 20


def _remove_own_metrics_dir(directory: str, master: int) -> None:
    # Workers inherit atexit hooks through fork; only the master may remove the directory.
    if os.getpid() == master:
        shutil.rmtree(directory, ignore_errors=True)


if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="marketplace-metrics-")
    atexit.register(_remove_own_metrics_dir, os.environ["PROMETHEUS_MULTIPROC_DIR"], os.getpid())
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


class _Worker(Protocol):
    pid: int


def on_starting(server: object) -> None:
    """Start from empty metric files: samples of an earlier run would be counted again."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: object, worker: _Worker) -> None:
    """Tell prometheus-client that a worker is gone, so its live gauges are dropped."""
    from prometheus_client import multiprocess  # noqa: PLC0415  (after the directory is set)

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
