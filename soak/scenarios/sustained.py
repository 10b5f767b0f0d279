"""1. Sustained load: Recommend at 64 concurrent streams (h2load, 16 connections x 4 streams).

Promises: every call returns OK by the service's own counters; resident memory grows less than
10% from second 10 (second 5 in --short) to the end of the load.
"""

from __future__ import annotations

import statistics
import threading
from typing import TYPE_CHECKING

from harness import api
from harness.load import h2load_grpc
from harness.metrics import difference
from harness.processes import resident_bytes
from harness.service import Replica
from soak.scenarios.base import Outcome

if TYPE_CHECKING:
    from soak.scenarios.base import Context

TITLE = "Sustained load"
_MAX_GROWTH = 0.10


def run(context: Context) -> Outcome:
    """Load one replica for 60 s (20 s in --short) and check its counters and memory."""
    outcome = Outcome("sustained", TITLE)
    seconds = context.seconds(60, 20)
    baseline_at = context.seconds(10, 5)
    # Not pinned: the promise is about correctness and memory, not speed, and on a shared
    # machine a pinned server suffers from whatever else is pinned to its CPU.
    replica = Replica(context.supervisor, "sustained", context.catalog)
    replica.start()
    before = replica.handled()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    outcome.start_clock()

    def sample_memory() -> None:
        while not stop.wait(1.0 - outcome.now() % 1.0):
            samples.append((outcome.now(), resident_bytes(replica.pid) / 2**20))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    frame = api.grpc_frame(api.encode_request(42, api.MYSTERY, 3))
    try:
        load = h2load_grpc(
            replica.address, api.RECOMMEND_PATH, frame, workdir=context.workdir, seconds=seconds
        )
    finally:
        stop.set()
        sampler.join()
    codes = difference(replica.handled(), before)
    status = replica.terminate()

    latencies = sorted(latency for _, latency in load.calls)
    outcome.figure("calls", f"{load.done:,} in {load.seconds:.1f} s ({load.rate:,.0f} calls/s)")
    outcome.figure("latency p50 / p99", f"{_pct(latencies, 50):.1f} / {_pct(latencies, 99):.1f} ms")
    outcome.figure("service counters (Recommend, by code)", codes or "none")
    outcome.promise(
        set(codes) == {"OK"}
        and load.done <= codes["OK"] <= load.started
        and load.errored == load.failed == 0,
        "every call returned OK per the service's own counters",
        f"{codes}; h2load started {load.started:,}, done {load.done:,}, "
        f"failed {load.failed}, errored {load.errored}",
    )
    early = [mib for at, mib in samples if at <= baseline_at + 0.5]
    if not early or len(samples) < 2:
        outcome.promise(False, "resident memory sampled every second", f"{len(samples)} samples")
    else:
        first, last = early[-1], samples[-1][1]
        growth = (last - first) / first
        outcome.figure(
            f"resident memory at {baseline_at:.0f} s / at {samples[-1][0]:.0f} s",
            f"{first:.1f} / {last:.1f} MiB ({growth:+.1%})",
        )
        outcome.promise(
            growth < _MAX_GROWTH, "resident memory grew less than 10%", f"{growth:+.1%}"
        )
    outcome.promise(status == 0, "the replica exited 0 on SIGTERM", status)

    start = load.calls[0][0] if load.calls else 0.0
    per_second: dict[int, list[float]] = {}
    for began, latency in load.calls:
        per_second.setdefault(int(began - start), []).append(latency)
    seconds_in_order = sorted(per_second.items())
    outcome.series["p50 ms"] = [(s + 0.5, statistics.median(v) * 1e3) for s, v in seconds_in_order]
    outcome.series["p99 ms"] = [(s + 0.5, _pct(sorted(v), 99)) for s, v in seconds_in_order]
    outcome.series["RSS MiB"] = samples
    return outcome


def _pct(ordered: list[float], percent: float) -> float:
    """The `percent` percentile of sorted latencies in seconds, in milliseconds."""
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))
    return ordered[index] * 1e3
