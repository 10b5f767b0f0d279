"""Bounded loads: wrk on web pages (whole runs or back-to-back one-second slices) and h2load
on gRPC, with their figures as numbers."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.processes import taskset

if TYPE_CHECKING:
    from collections.abc import Sequence

_SUMMARY = Path(__file__).with_name("wrk_summary.lua")


@dataclass(frozen=True, slots=True)
class WrkRun:
    """What wrk saw: requests, non-2xx/3xx answers, socket errors and latency percentiles."""

    started: float
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    cpu: int | None = None,
    started: float = 0.0,
) -> WrkRun:
    """Load `url` for `seconds` with `connections` keep-alive connections."""
    command = [
        *taskset(cpu),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(_SUMMARY),
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(x for x in reversed(output.splitlines()) if x.startswith("{"))
    data = json.loads(line)
    return WrkRun(
        started=started,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50_ms=data["p50_us"] / 1e3,
        p90_ms=data["p90_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        max_ms=data["max_us"] / 1e3,
    )


class SlicedLoad:
    """wrk on a page in back-to-back one-second runs until stopped: a time series of the load.

    Use it as a context manager; `slices` are stamped with their start, in seconds since
    `origin` (time.monotonic()), so that a scenario can tell which phase each belongs to.
    """

    def __init__(self, url: str, *, origin: float, connections: int = 8) -> None:
        self._url = url
        self._origin = origin
        self._connections = connections
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wrk-slices", daemon=True)
        self.slices: list[WrkRun] = []
        self.error: BaseException | None = None

    def __enter__(self) -> SlicedLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic() - self._origin
                self.slices.append(
                    wrk(self._url, seconds=1, connections=self._connections, started=started)
                )
        except BaseException as error:  # re-raised in the scenario's thread
            self.error = error

    def between(self, start: float, end: float) -> list[WrkRun]:
        """The slices that started in [start, end) (seconds since the origin)."""
        return [s for s in self.slices if start <= s.started < end]


def total(runs: Sequence[WrkRun]) -> tuple[int, int, int]:
    """(requests, non-2xx answers, socket errors) over several runs."""
    return (
        sum(r.requests for r in runs),
        sum(r.non2xx for r in runs),
        sum(r.socket_errors for r in runs),
    )


@dataclass(frozen=True, slots=True)
class H2loadRun:
    """What h2load saw, plus per-call (start, latency) pairs from its log file.

    With a duration (-D), the calls in flight when it ends are `started` but not `done`.
    """

    started: int
    done: int
    succeeded: int
    failed: int
    errored: int
    seconds: float
    calls: list[tuple[float, float]]

    @property
    def rate(self) -> float:
        """Calls per second."""
        return self.done / self.seconds if self.seconds else 0.0


LOAD_CONNECTIONS, LOAD_STREAMS = 16, 4
"""The shape of the benchmarks' and the soak's gRPC load: 64 calls at once, as 16 connections of 4
streams. The service lets a connection have 8 calls open and counts a finished one until it has
let go of it; h2load opens the next stream the moment one ends, so at 8 or more streams a
connection some of its streams are refused (a gRPC client would retry them: h2load counts them
as failures)."""


def h2load_grpc(
    address: str,
    path: str,
    frame: bytes,
    *,
    workdir: Path,
    seconds: float | None = None,
    calls: int | None = None,
    connections: int = LOAD_CONNECTIONS,
    streams: int = LOAD_STREAMS,
    cpu: int | str | None = None,
) -> H2loadRun:
    """Unary gRPC calls of the framed request `frame` on `path`: for `seconds` (h2load -D), or
    `calls` of them (-n)."""
    if (seconds is None) == (calls is None):
        raise ValueError("give either seconds or calls")
    body, log = workdir / "h2load-body.bin", workdir / "h2load-calls.log"
    body.write_bytes(frame)
    log.unlink(missing_ok=True)  # h2load appends to an existing log
    command = [
        *taskset(cpu),
        "h2load",
        f"-c{connections}",
        f"-m{streams}",
        f"-D{round(seconds)}" if seconds is not None else f"-n{calls}",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "-d",
        str(body),
        f"--log-file={log}",
        f"http://{address}{path}",
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    counts = re.search(
        r"requests: \d+ total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored",
        output,
    )
    elapsed = re.search(r"finished in ([\d.]+)(m?s)", output)
    if counts is None or elapsed is None:
        raise RuntimeError(f"unexpected h2load output:\n{output}")
    seconds_taken = float(elapsed.group(1)) / (1000 if elapsed.group(2) == "ms" else 1)
    timings: list[tuple[float, float]] = []
    for line in log.read_text().splitlines():
        start_us, _status, latency_us = line.split("\t")[:3]
        timings.append((int(start_us) / 1e6, int(latency_us) / 1e6))
    started, done, succeeded, failed, errored = (int(counts.group(i)) for i in range(1, 6))
    return H2loadRun(started, done, succeeded, failed, errored, seconds_taken, timings)
