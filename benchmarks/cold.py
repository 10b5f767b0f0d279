"""What the service's per-call Python costs with cold caches, as a loaded server runs it.

Under load, grpcio's threads, the kernel and the other calls run between one call's Python steps,
and each step finds the CPU's caches holding their data instead of its own. A `timeit` loop runs
the same steps with everything cached and reports a few microseconds; the loaded server pays
several times that, and more for code that touches many objects than for a tight loop. This
measures each piece of a call's work in-process twice: hot (a `timeit` loop) and cold (writing to
every cache line of 8 MiB before each call). The cold figures, not the hot ones, predicted what a
change was worth under `make bench` (benchmarks/README.md has the figures).

Usage: python -m benchmarks.cold [--calls 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from concurrent.futures import Future
from contextlib import contextmanager
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, cast

from bookshop.recommendations.v2 import recommendations_pb2 as v2
from prometheus_client import CollectorRegistry
from recommendations.catalog import load_catalog
from recommendations.executor import CallFuture, WorkerPool
from recommendations.interceptors import ServerMetrics, apply_interceptors
from recommendations.receiving import Watchdog
from recommendations.recommender import Recommender
from recommendations.server import compose_interceptors
from recommendations.servicer import V2_SERVICE, method_handlers

from benchmarks.run import SERVICE_PATH, SERVICE_REQUEST

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import grpc

CACHE_BYTES = 8 << 20
"""Written before each cold call: several times the CPU's own caches."""

_LINE = 64


class _Context:
    """The one thing the interceptors ask a call's context: its status code (none: OK so far)."""

    def code(self) -> None:
        """No status set."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cold", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=3_000, help="cold calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with _pieces() as pieces:
        print("| Piece of a call | hot (us) | cold (us) |\n| --- | ---: | ---: |")
        for name, piece in pieces.items():
            hot = min(timeit.repeat(piece, number=20_000, repeat=3)) / 20_000 * 1e6
            cold = statistics.median(_cold(piece, args.calls) for _ in range(args.rounds))
            print(f"| {name} | {hot:.2f} | {cold:.2f} |", flush=True)
    return 0


def _cold(piece: Callable[[], object], calls: int) -> float:
    """Microseconds per call of `piece`, each call after writing every line of CACHE_BYTES."""
    memory = bytearray(CACHE_BYTES)
    ones = b"\x01" * (CACHE_BYTES // _LINE)
    total = 0
    for _ in range(calls):
        memory[::_LINE] = ones
        start = perf_counter_ns()
        piece()
        total += perf_counter_ns() - start
    return total / calls / 1000


@contextmanager
def _pieces() -> Iterator[dict[str, Callable[[], object]]]:
    """The service's per-call pieces, composed as `server.start` composes them, by name."""
    catalog = load_catalog(None)
    registry = CollectorRegistry()
    pool = WorkerPool(1, max_workers=2)
    watchdog = Watchdog(pool, timeout=10, registry=registry)
    handler = method_handlers(Recommender(catalog), catalog)[V2_SERVICE]["Recommend"]
    intercepted = apply_interceptors(
        SERVICE_PATH, handler, compose_interceptors(ServerMetrics(registry), None)
    )
    watched = watchdog.wrap(SERVICE_PATH, intercepted)
    parse = handler.request_deserializer
    handle, intercept, watch = handler.unary_unary, intercepted.unary_unary, watched.stream_unary
    assert parse is not None
    assert handle is not None
    assert intercept is not None
    assert watch is not None
    # The interceptors only ask a context for its code: a stand-in will do in-process.
    request, context = parse(SERVICE_REQUEST), cast("grpc.ServicerContext", _Context())
    if not v2.RecommendResponse.FromString(handle(request, context)).books:
        raise SystemExit("error: the v2 handler answered no books")
    try:
        yield {
            "an empty call (the instrument's floor)": lambda: None,
            "parse the request": lambda: parse(SERVICE_REQUEST),
            "v2 handler": lambda: handle(request, context),
            "interceptors + v2 handler": lambda: intercept(request, context),
            "watchdog + interceptors + v2 handler": lambda: watch(iter((request,)), context),
            "concurrent.futures.Future: made, a callback, a result": _future_life(Future),
            "CallFuture (the worker pool's): made, a callback, a result": _future_life(CallFuture),
        }
    finally:
        watchdog.stop()
        pool.shutdown()


def _future_life(make: Callable[[], Any]) -> Callable[[], None]:
    """What a worker pool does with a call's future: make it, add grpcio's callback, finish it."""

    def life() -> None:
        future = make()
        future.add_done_callback(_ignore)
        if isinstance(future, Future):
            future.set_running_or_notify_cancel()
        future.set_result(None)

    return life


def _ignore(_future: object) -> None:
    """A done callback that does nothing."""


if __name__ == "__main__":
    sys.exit(main())
