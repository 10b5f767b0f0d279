"""Several server processes on one port, to use every core of a node (RECOMMENDATIONS_PROCESSES).

One Python process runs one call's Python at a time, so one process uses about one core. As in
grpcio's own multiprocessing example, this parent reserves the ports with SO_REUSEPORT and starts
N processes that each build a whole server on the same ports; the kernel spreads new connections
over them. The parent creates no gRPC object, and each child is started with multiprocessing's
"spawn", so no gRPC state, lock or thread is ever copied into a child.

CPUs: when the parent may run on exactly as many CPUs as it starts processes (`auto`, or a
cpuset of N CPUs), each child is pinned to one of them. A process free to move hands the GIL
between threads running on different CPUs, which cost 1.7 times the CPU per call
(docs/performance.md). With more CPUs than processes the kernel places them, so that pods
sharing a node do not crowd the same CPUs.

Metrics: the children count in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
a fresh directory the parent makes and removes), and the parent serves their sum on the metrics
port. SIGTERM or SIGINT to the parent is passed to every child, each drains as a single server
does, and the parent exits 0 once all have; a child that exits on its own stops the others and
the parent exits 1, so that the orchestrator restarts the whole.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from contextlib import ExitStack, closing
from dataclasses import replace
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from recommendations.server import StartupError, start_metrics

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from multiprocessing.process import BaseProcess
    from types import FrameType
    from wsgiref.simple_server import WSGIServer

    from recommendations.settings import Settings

EXIT_CHILD_FAILED = 1
"""The parent's exit status when a child stopped without being asked to."""

_log = logging.getLogger(__name__)


def serve_processes(settings: Settings) -> int:
    """Run `settings.processes` servers on shared ports until SIGTERM or SIGINT; return the exit
    status. Raises `StartupError` if a port cannot be reserved."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    metrics_dir = tempfile.mkdtemp(prefix="recommendations-metrics-")
    # The children read it when they first import prometheus-client.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        with ExitStack() as reserved:
            port = _reserve(reserved, settings.bind, settings.port)
            health_port = settings.health_port
            if settings.tls is not None:
                health_port = _reserve(reserved, settings.bind, settings.health_port)
            child_settings = replace(settings, port=port, health_port=health_port, processes=1)
            metrics = _serve_metrics(settings, metrics_dir)
            try:
                return _supervise(child_settings, settings.processes, received)
            finally:
                metrics.shutdown()
                metrics.server_close()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def cpus_of(count: int, allowed: Collection[int]) -> list[int | None]:
    """The CPU each of `count` processes is pinned to (None: not pinned), for a parent that may
    run on the CPUs `allowed`: one each when there are exactly `count` of them.

    >>> cpus_of(2, {3, 1})
    [1, 3]
    >>> cpus_of(2, {0, 1, 2})
    [None, None]
    """
    pinned: list[int | None] = [*sorted(allowed)]
    return pinned if len(pinned) == count else [None] * count


def _supervise(settings: Settings, count: int, received: list[int]) -> int:
    context = multiprocessing.get_context("spawn")
    cpus = cpus_of(count, os.sched_getaffinity(0))
    children = [
        context.Process(target=_child, args=(settings, cpu), name=f"recommendations-{n}")
        for n, cpu in enumerate(cpus)
    ]
    for child in children:
        child.start()
    pids = [c.pid for c in children]
    _log.info(
        "processes started",
        extra={"fields": {"processes": count, "port": settings.port, "pids": pids, "cpus": cpus}},
    )
    while not received:
        ended = [child for child in children if not child.is_alive()]
        if ended:
            _log.error(
                "a server process stopped on its own: stopping the others",
                extra={"fields": {"pid": ended[0].pid, "exit_code": ended[0].exitcode}},
            )
            _stop(children, settings)
            return EXIT_CHILD_FAILED
        time.sleep(0.1)
    _log.info("signal received", extra={"fields": {"signal": signal.Signals(received[0]).name}})
    return 0 if _stop(children, settings) else EXIT_CHILD_FAILED


def _stop(children: Sequence[BaseProcess], settings: Settings) -> bool:
    """SIGTERM every child still running, wait for them to drain; whether all exited 0."""
    for child in children:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + settings.drain_seconds + settings.grace_seconds + 10
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()
            child.join()
    codes = [child.exitcode for child in children]
    _log.info("processes stopped", extra={"fields": {"exit_codes": codes}})
    return all(code == 0 for code in codes)


def _child(settings: Settings, cpu: int | None) -> None:
    """One server process, on `cpu` if given: the same start-up as a single server, on the
    shared ports."""
    if cpu is not None:  # before any thread starts: threads inherit the affinity
        os.sched_setaffinity(0, {cpu})
    # Imported here, in the child: prometheus-client must see PROMETHEUS_MULTIPROC_DIR first.
    from recommendations.cli import run_server  # noqa: PLC0415

    raise SystemExit(run_server(settings, shared_port=True))


def _reserve(stack: ExitStack, bind: str, port: int) -> int:
    """Hold `port` on `bind` with SO_REUSEPORT, not listening (so it takes no connection), for
    the children to bind beside; return the port (a free one for 0)."""
    host = bind.removeprefix("[").removesuffix("]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = stack.enter_context(closing(socket.socket(family, socket.SOCK_STREAM)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        raise StartupError(
            f"cannot listen on {bind}:{port}: the port is taken or invalid"
        ) from None
    reserved: int = sock.getsockname()[1]
    return reserved


def _serve_metrics(settings: Settings, metrics_dir: str) -> WSGIServer:
    """The children's metrics, summed, on the metrics port. prometheus-client's multiprocess
    mode sums counters and histograms; the `process_*` and `python_*` collectors describe one
    process, so they are not served here."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
    return start_metrics(settings, registry)
