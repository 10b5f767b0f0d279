"""Measure what each of the service's speed tricks is worth: the ablation benchmark.

The full service, a second copy of it (the control: what identical servers differ by), and one
variant per trick (`benchmarks.ablation.variants`) run side by side, each in its own process
pinned to the server CPU, all resident for the whole run. In each round every one of them takes
the same h2load load in turn, the order rotated each round; the server's CPU time per call (from
/proc) and calls/s are compared with the full service's in the same round. Every server must
answer a few grpcio calls OK with the same books as the full service before and after, and its
own counters must show every measured call OK.

Usage: python -m benchmarks.ablation --catalog PATH [--rounds 15] [--calls 20000]
       [--variants NAME,...] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bookshop.recommendations.v2 import recommendations_pb2

from benchmarks import counters
from benchmarks.ablation.report import Measurements, report
from benchmarks.ablation.variants import FULL, VARIANTS
from benchmarks.answers import AnswerError, check_answers
from benchmarks.h2load import SERVER_CPU, h2load, wait_for_port, write_frame
from benchmarks.run import SERVICE_PATH, SERVICE_REQUEST
from soak.harness.ports import free_port
from soak.harness.processes import Supervisor, clean_environment, tree_cpu_seconds

if TYPE_CHECKING:
    import subprocess
    from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
CONTROL = "full-again"
"""The second copy of the full service."""

CLIENTS, STREAMS = 4, 16
"""h2load's connections and streams per connection, as in `make bench`."""


@dataclass(frozen=True, slots=True)
class _Server:
    """One resident contender: its process and ports."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    metrics_port: int


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ablation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=15, help="at least 2; 9 or more to decide")
    parser.add_argument("--calls", type=int, default=20_000, help="measured calls per run")
    parser.add_argument("--warm-up", type=int, default=2_000, help="calls per server first")
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
        raise SystemExit(128 + signum)  # so that the servers are stopped on the way out

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)

    names = _cycle(args.variants)
    measurements = Measurements(names, args.rounds, args.calls, args.warm_up)
    measurements.load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ablation-") as tmp:
        supervisor = Supervisor(Path(tmp) / "logs")
        try:
            servers = [_start(supervisor, name, args.catalog) for name in names]
            for server in servers:
                _wait(supervisor, server)
            _check_same_answers(servers)
            body = write_frame(Path(tmp) / "request.bin", SERVICE_REQUEST)
            log = Path(tmp) / "h2load.log"
            for server in servers:
                h2load(_url(server), body, args.warm_up, CLIENTS, STREAMS, log)
            for round_number in range(args.rounds):
                shift = round_number % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    cpu, rate = _measure(server, body, args.calls, log)
                    measurements.add(server.name, cpu, rate)
                    print(
                        f"round {round_number + 1} {server.name:<22}"
                        f" {cpu:7.1f} us CPU/call {rate:8.0f} calls/s",
                        flush=True,
                    )
            _check_same_answers(servers)
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


def _start(supervisor: Supervisor, name: str, catalog: Path) -> _Server:
    port, metrics_port = free_port(), free_port()
    variant = FULL if name == CONTROL else name
    env = clean_environment(
        {
            "RECOMMENDATIONS_CATALOG": str(catalog),
            "RECOMMENDATIONS_BIND": "127.0.0.1",
            "RECOMMENDATIONS_PORT": str(port),
            "RECOMMENDATIONS_METRICS_PORT": str(metrics_port),
        }
    )
    process = supervisor.start(
        name,
        [sys.executable, "-m", "benchmarks.ablation.serve", variant],
        env,
        cwd=ROOT,
        cpu=int(SERVER_CPU),
    )
    return _Server(name, process, port, metrics_port)


def _wait(supervisor: Supervisor, server: _Server) -> None:
    try:
        wait_for_port(server.port)
    except SystemExit:
        log = supervisor.log_of(server.name).read_text(errors="replace")
        raise SystemExit(f"{server.name} did not start:\n{log[-2000:]}") from None


def _check_same_answers(servers: list[_Server]) -> None:
    """Every server answers OK, with the full service's books (orders are per reader and day:
    the same for every copy of the service)."""
    answers = {}
    for server in servers:
        try:
            encoded = check_answers(server.name, server.port, SERVICE_PATH, SERVICE_REQUEST)
        except AnswerError as error:
            raise SystemExit(f"error: {error}") from None
        answers[server.name] = recommendations_pb2.RecommendResponse.FromString(encoded)
    expected = answers[FULL]
    if not expected.books:
        raise SystemExit(f"error: the full service answered no books: {expected}")
    for name, answer in answers.items():
        if answer != expected:
            raise SystemExit(f"error: {name} answered {answer}, the full service {expected}")


def _measure(server: _Server, body: Path, calls: int, log: Path) -> tuple[float, float]:
    """One run of `calls` calls: the server's CPU microseconds per call and calls/s."""
    before = counters.read(server.metrics_port)
    cpu_before = tree_cpu_seconds(server.process.pid)
    run = h2load(_url(server), body, calls, CLIENTS, STREAMS, log)
    cpu = (tree_cpu_seconds(server.process.pid) - cpu_before) / calls * 1e6
    problem = counters.missing(before, counters.read(server.metrics_port), calls)
    if problem is not None:
        raise SystemExit(f"error: {server.name} {problem}")
    return cpu, run.calls_per_second


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.port}{SERVICE_PATH}"


if __name__ == "__main__":
    sys.exit(main())
