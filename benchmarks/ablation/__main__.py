"""Measure what each of the service's speed tricks is worth: the ablation benchmark.

The contenders are the full service, the full service again (the control: how far two runs of
the same code differ), and one variant per trick (`benchmarks.ablation.variants`). In each round
each of them, in turn and in an order rotated every round, is started afresh pinned to the
server CPU, warmed up, given the same h2load load, and stopped, as `make bench` does; its CPU
time per call (from /proc) and calls/s are compared with the full service's in the same round.
A fresh process per run matters: one process's layout (addresses, hash seeds) can make it a few
percent cheaper or dearer than another of the same code for its whole life, a bias no number of
rounds would average out if the processes stayed. Every run must answer a few grpcio calls OK
with the product's own answer before and after its load, and the server's counters must show
every measured call OK.

Usage: python -m benchmarks.ablation --catalog PATH [--rounds 15] [--calls 20000]
       [--variants NAME,...] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bookshop.recommendations.v2.recommendations_pb2 import RecommendResponse
from recommendations.catalog import load_catalog
from recommendations.recommender import Recommender
from recommendations.servicer import V2_SERVICE, method_handlers

from benchmarks import counters
from benchmarks.ablation.report import Measurements, report
from benchmarks.ablation.variants import FULL, VARIANTS
from benchmarks.answers import AnswerError, check_answers
from benchmarks.h2load import SERVER_CPU, h2load, wait_for_port, write_frame
from benchmarks.run import SERVICE_PATH, SERVICE_REQUEST
from harness.ports import free_port
from harness.processes import Supervisor, clean_environment, tree_cpu_seconds

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    import grpc

ROOT = Path(__file__).resolve().parents[2]
CONTROL = "full-again"
"""The second run of the full service in each round."""

CLIENTS, STREAMS = 4, 16
"""h2load's connections and streams per connection, as in `make bench`."""


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ablation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=15, help="at least 2; 9 or more to decide")
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls per run")
    parser.add_argument("--warm-up", type=int, default=1_000, help="calls before each run")
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=list(VARIANTS),
        help=f"comma-separated, default all: {','.join(VARIANTS)}",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be 2 or more: a spread needs two rounds")
    unknown = set(args.variants) - set(VARIANTS)
    if unknown or len(set(args.variants)) != len(args.variants):
        parser.error(f"--variants takes each of {','.join(VARIANTS)} at most once")

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # so that the running server is stopped on the way out

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)

    names = _cycle(args.variants)
    measurements = Measurements(names, args.rounds, args.calls, args.warm_up)
    measurements.load_before = os.getloadavg()[0]
    expected = _product_answer(args.catalog)
    with tempfile.TemporaryDirectory(prefix="ablation-") as tmp:
        supervisor = Supervisor(Path(tmp) / "logs")
        runner = _Runner(supervisor, args.catalog, Path(tmp), expected)
        try:
            for round_number in range(args.rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    cpu, rate = runner.measure(name, args.warm_up, args.calls)
                    measurements.add(name, cpu, rate)
                    print(
                        f"round {round_number + 1} {name:<22}"
                        f" {cpu:7.1f} us CPU/call {rate:8.0f} calls/s",
                        flush=True,
                    )
        finally:
            supervisor.close()
    measurements.load_after = os.getloadavg()[0]
    text = report(measurements, CONTROL)
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


def _cycle(variants: list[str]) -> list[str]:
    """The contenders in the order each round rotates: the full service first, the control
    halfway round the cycle from it.

    Neighbours in the cycle run a few seconds apart in most rounds and so share the machine's
    drift. The control, as far round the cycle from the full service as any contender can be,
    runs as long after or before it as any variant, so the control's spread includes as much of
    that drift as a variant's ratios carry.
    """
    names = [FULL, *variants]
    names.insert((len(names) + 1) // 2, CONTROL)
    return names


def _product_answer(catalog: Path) -> Callable[[], bytes]:
    """What the product answers the benchmark's request right now, computed in this process
    by the product's own handler (orders change with the UTC day, so ask just before use)."""
    books = load_catalog(catalog)
    recommend = method_handlers(Recommender(books), books)[V2_SERVICE]["Recommend"]
    behavior, parse = recommend.unary_unary, recommend.request_deserializer
    if behavior is None or parse is None:
        raise SystemExit(f"error: {V2_SERVICE} Recommend is not a unary call with a parser")
    # The context is only touched to refuse a request, and this one is good.
    no_context = cast("grpc.ServicerContext", None)
    return lambda: bytes(behavior(parse(SERVICE_REQUEST), no_context))


class _Runner:
    """Runs one contender at a time: start, check, warm up, measure, check, stop."""

    def __init__(
        self, supervisor: Supervisor, catalog: Path, tmp: Path, expected: Callable[[], bytes]
    ) -> None:
        self._supervisor = supervisor
        self._catalog = catalog
        self._body = write_frame(tmp / "request.bin", SERVICE_REQUEST)
        self._log = tmp / "h2load.log"
        self._expected = expected

    def measure(self, name: str, warm_up: int, calls: int) -> tuple[float, float]:
        """One run of contender `name`: its CPU microseconds per call and calls/s."""
        port, metrics_port = free_port(), free_port()
        env = clean_environment(
            {
                "RECOMMENDATIONS_CATALOG": str(self._catalog),
                "RECOMMENDATIONS_BIND": "127.0.0.1",
                "RECOMMENDATIONS_PORT": str(port),
                "RECOMMENDATIONS_METRICS_PORT": str(metrics_port),
            }
        )
        variant = FULL if name == CONTROL else name
        process = self._supervisor.start(
            name,
            [sys.executable, "-m", "benchmarks.ablation.serve", variant],
            env,
            cwd=ROOT,
            cpu=int(SERVER_CPU),
        )
        url = f"http://127.0.0.1:{port}{SERVICE_PATH}"
        try:
            self._wait(name, port)
            self._check_answer(name, port)
            h2load(url, self._body, warm_up, CLIENTS, STREAMS, self._log)
            before = counters.read(metrics_port)
            cpu_before = tree_cpu_seconds(process.pid)
            run = h2load(url, self._body, calls, CLIENTS, STREAMS, self._log)
            cpu = (tree_cpu_seconds(process.pid) - cpu_before) / calls * 1e6
            problem = counters.missing(before, counters.read(metrics_port), calls)
            if problem is not None:
                raise SystemExit(f"error: {name} {problem}")
            self._check_answer(name, port)
        finally:
            self._supervisor.stop(process)
        return cpu, run.calls_per_second

    def _wait(self, name: str, port: int) -> None:
        try:
            wait_for_port(port)
        except SystemExit:
            log = self._supervisor.log_of(name).read_text(errors="replace")
            raise SystemExit(f"error: {name} did not start:\n{log[-2000:]}") from None

    def _check_answer(self, name: str, port: int) -> None:
        """OK, and the same response as the product's own (compared as messages: the variants
        may encode it differently)."""
        try:
            encoded = check_answers(name, port, SERVICE_PATH, SERVICE_REQUEST)
        except AnswerError as error:
            raise SystemExit(f"error: {error}") from None
        answer = RecommendResponse.FromString(encoded)
        expected = RecommendResponse.FromString(self._expected())
        if answer != expected or not answer.books:
            raise SystemExit(f"error: {name} answered {answer}, the product {expected}")


if __name__ == "__main__":
    sys.exit(main())
