"""Unary gRPC load from h2load, pinned to the load CPU, and what it measured.

h2load speaks HTTP/2 only: it sends one gRPC frame (the body file) to one path and counts HTTP
statuses. A gRPC error travels in the trailers of an HTTP 200, so h2load's "succeeded" says
nothing about gRPC statuses: check those another way (`benchmarks.answers`, the service's own
counters).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.ports import accepts
from harness.processes import taskset, wait_until

if TYPE_CHECKING:
    from pathlib import Path

SERVER_CPU, LOAD_CPU = "1", "0"
"""The CPU every measured server is pinned to, and the one h2load runs on."""


@dataclass
class Run:
    """One measured load run: the server's CPU per call (filled in by the caller), calls/s and
    latency percentiles from h2load's per-request log."""

    cpu_us_per_call: float
    calls_per_second: float
    p50_ms: float
    p99_ms: float


def write_frame(path: Path, request: bytes) -> Path:
    """Write `request` as one uncompressed gRPC frame (a flag byte, a 4-byte big-endian length,
    the message) to `path`, h2load's body file, and return `path`."""
    path.write_bytes(b"\0" + len(request).to_bytes(4, "big") + request)
    return path


def h2load(url: str, body: Path, calls: int, clients: int, streams: int, log: Path) -> Run:
    """Send `calls` unary calls of `body` to `url` over `clients` connections of `streams`
    concurrent streams each; raise SystemExit unless every call got an HTTP 200."""
    log.unlink(missing_ok=True)  # h2load appends to an existing log
    command = [
        *taskset(LOAD_CPU), "h2load", "-n", str(calls), "-c", str(clients),
        "-m", str(streams), "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-d", str(body), "--log-file", str(log), url,
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", output)
    if done is None or int(done.group(1)) != calls:
        raise SystemExit(f"h2load did not complete every call:\n{output}")
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output)
    if rate is None:
        raise SystemExit(f"cannot read h2load's rate:\n{output}")
    durations = sorted(int(line.split("\t")[2]) for line in log.read_text().splitlines())
    return Run(
        cpu_us_per_call=0.0,
        calls_per_second=float(rate.group(1)),
        p50_ms=_percentile(durations, 50) / 1000,
        p99_ms=_percentile(durations, 99) / 1000,
    )


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`; SystemExit after
    `timeout` seconds."""
    if not wait_until(lambda: accepts(port), timeout=timeout):
        raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def _percentile(values: list[int], percent: int) -> float:
    return float(values[min(len(values) - 1, len(values) * percent // 100)])
