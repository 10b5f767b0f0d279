"""The calls the service is measured on, and unary gRPC load from h2load pinned to the load CPU.

h2load speaks HTTP/2 only: it sends one gRPC frame to one path and counts HTTP statuses. A gRPC
error travels in the trailers of an HTTP 200, so h2load's "succeeded" says nothing about gRPC
statuses: `benchmarks.answers` checks those.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v2 import recommendations_pb2 as v2

from harness.api import grpc_frame
from harness.load import LOAD_CONNECTIONS, LOAD_STREAMS
from harness.processes import taskset, tree_cpu_seconds

if TYPE_CHECKING:
    from pathlib import Path

SERVER_CPU, LOAD_CPU = "1", "0"
"""The CPU every measured server is pinned to, and the one h2load runs on."""

SERVICE_PATH = f"/{v2.DESCRIPTOR.services_by_name['RecommendationsService'].full_name}/Recommend"
SERVICE_REQUEST = v2.RecommendRequest(
    reader_id="1", category=v2.BOOK_CATEGORY_MYSTERY, page_size=3
).SerializeToString()
"""The call the service is measured on: v2 Recommend with the homepage's request (three mystery
books for a reader), what the website calls."""

V1_PATH = f"/{v1.DESCRIPTOR.services_by_name['RecommendationsService'].full_name}/Recommend"
V1_REQUEST = v1.RecommendRequest(
    user_id=1, category=v1.BOOK_CATEGORY_MYSTERY, max_results=3
).SerializeToString()
"""The deprecated v1's call, measured beside v2: the same three books, asked the old way."""


@dataclass
class Run:
    """One load run: the server's CPU per call, calls/s and latency percentiles from h2load's
    per-request log."""

    cpu_us_per_call: float
    calls_per_second: float
    p50_ms: float
    p99_ms: float


def run(
    url: str,
    request: bytes,
    calls: int,
    tmp: Path,
    *,
    pid: int | None = None,
    clients: int = LOAD_CONNECTIONS,
    streams: int = LOAD_STREAMS,
) -> Run:
    """Send `calls` unary calls of `request` to `url` over `clients` connections of `streams`
    concurrent streams each, with the CPU time per call of the process tree of `pid` (0 without
    one); raise SystemExit unless every call got an HTTP 200."""
    body, log = tmp / "h2load-body.bin", tmp / "h2load.log"
    body.write_bytes(grpc_frame(request))
    log.unlink(missing_ok=True)  # h2load appends to an existing log
    command = [
        *taskset(LOAD_CPU), "h2load", "-n", str(calls), "-c", str(clients),
        "-m", str(streams), "-H", "content-type: application/grpc", "-H", "te: trailers",
        "-d", str(body), "--log-file", str(log), url,
    ]  # fmt: skip
    cpu = tree_cpu_seconds(pid) if pid is not None else 0.0
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    cpu = tree_cpu_seconds(pid) - cpu if pid is not None else 0.0
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", output)
    if done is None or int(done.group(1)) != calls:
        raise SystemExit(f"h2load did not complete every call:\n{output}")
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output)
    if rate is None:
        raise SystemExit(f"cannot read h2load's rate:\n{output}")
    durations = sorted(int(line.split("\t")[2]) for line in log.read_text().splitlines())
    return Run(
        cpu_us_per_call=cpu / calls * 1e6,
        calls_per_second=float(rate.group(1)),
        p50_ms=_percentile(durations, 50) / 1000,
        p99_ms=_percentile(durations, 99) / 1000,
    )


def _percentile(values: list[int], percent: int) -> float:
    return float(values[min(len(values) - 1, len(values) * percent // 100)])
