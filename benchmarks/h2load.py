"""The calls the service is measured on, and unary gRPC load from h2load pinned to the load CPU.

h2load speaks HTTP/2 only: it sends one gRPC frame to one path and counts HTTP statuses. A gRPC
error travels in the trailers of an HTTP 200, so h2load's "succeeded" says nothing about gRPC
statuses: `benchmarks.answers` checks those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bookshop.recommendations.v2 import recommendations_pb2 as v2

from harness import api
from harness.load import LOAD_CONNECTIONS, LOAD_STREAMS, h2load_grpc
from harness.processes import tree_cpu_seconds

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

V1_PATH, V1_REQUEST = api.RECOMMEND_PATH, api.encode_request(1, api.MYSTERY, 3)
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
    address: str,
    path: str,
    request: bytes,
    calls: int,
    tmp: Path,
    *,
    pid: int | None = None,
    clients: int = LOAD_CONNECTIONS,
    streams: int = LOAD_STREAMS,
) -> Run:
    """Send `calls` unary calls of `request` to `path` at `address` over `clients` connections of
    `streams` concurrent streams each, with the CPU time per call of the process tree of `pid` (0
    without one); raise SystemExit unless every call got an HTTP 200."""
    cpu = tree_cpu_seconds(pid) if pid is not None else 0.0
    seen = h2load_grpc(
        address,
        path,
        api.grpc_frame(request),
        workdir=tmp,
        calls=calls,
        connections=clients,
        streams=streams,
        cpu=LOAD_CPU,
    )
    cpu = tree_cpu_seconds(pid) - cpu if pid is not None else 0.0
    if seen.succeeded != calls:
        failures = f"{seen.failed} failed, {seen.errored} errored"
        raise SystemExit(f"h2load: {seen.succeeded} of {calls} calls got an HTTP 200 ({failures})")
    latencies = sorted(latency for _start, latency in seen.calls)
    return Run(
        cpu_us_per_call=cpu / calls * 1e6,
        calls_per_second=seen.rate,
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
    )


def _percentile(values: list[float], percent: int) -> float:
    return values[min(len(values) - 1, len(values) * percent // 100)]
