"""Benchmark the recommendations service at growing catalog sizes; write a report.

For each size (generated catalogs in the CSV format `build-catalog` reads; 196 is the packaged
one) it starts the real `recommendations-server`, pinned to one CPU, and measures: the time from
start to SERVING, its resident memory then, the latency of the first call of a new reader, its
CPU time per call (user + system time of its process tree, from /proc) under h2load pinned to the
other CPU for a v1 call, a v2 first page and a page from the middle of the order, relative to the
196-book service in the same round, and its resident memory after that many distinct readers.
It then compares N server processes with one (`RECOMMENDATIONS_PROCESSES`). Every h2load run
must be counted OK by the service's own counters. Exits 1, after writing the report, when a
target is missed.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from recommendations import paging
from recommendations.domain import Category

from benchmarks import h2load, stats
from benchmarks.answers import require_ok
from benchmarks.common import finish, rotated, row
from benchmarks.h2load import LOAD_CPU, SERVER_CPU, SERVICE_PATH, V1_PATH, V1_REQUEST
from benchmarks.targets import Target, missed
from harness.load import LOAD_STREAMS
from harness.processes import Supervisor, resident_bytes, tree_pids
from harness.service import SERVER, Replica

SIZES = (196, 10_000, 100_000, 1_000_000)
"""The catalog sizes measured by default; the first is the baseline of the CPU ratios."""

START_MAX_S, RSS_MAX_MB, FIRST_CALL_MAX_MS, CPU_RATIO_MAX = 5.0, 200.0, 5.0, 1.10
"""Targets at `TARGET_SIZE` books: start to SERVING, RSS after start, a new reader's first call,
CPU per call against the baseline size (each kind of call)."""

TARGET_SIZE = 1_000_000
READERS_SIZE, READERS_GROWTH_MAX_MB = 100_000, 20.0
"""At `READERS_SIZE` books, RSS may grow by at most this much over the distinct readers."""

KINDS = ("v1", "v2 first page", "v2 deep page")
_CATEGORIES = list(Category)
_MB = 1024 * 1024
_CPUS = os.cpu_count() or 1
_NEW_READERS = 20  # first calls timed per size


@dataclass
class Size:
    """What was measured of the server of one catalog size."""

    start_s: float
    rss_start_mb: float
    first_call_ms: list[float]
    cpu_us: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    rss_readers_mb: float | None = None


def generate_csv(path: Path, books: int) -> Path:
    """Write `books` generated books (ids 1 to `books`, the categories in turn) to `path`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("id", "title", "author", "category"))
        for n in range(1, books + 1):
            title = f"The {n}th generated book of the bookshop"
            writer.writerow((n, title, f"Author {n % 9_973}", _CATEGORIES[n % 3].value))
    return path


def build(tmp: Path, books: int) -> Path:
    """The SQLite catalog of `books` books, built by `recommendations-server build-catalog`."""
    output = tmp / f"catalog-{books}.sqlite3"
    command = [SERVER, "build-catalog", "--output", str(output)]
    if books != SIZES[0]:
        command += ["--csv", str(generate_csv(tmp / f"books-{books}.csv", books))]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with closing(sqlite3.connect(output)) as db:
        (count,) = db.execute("SELECT count(*) FROM books").fetchone()
    if count != books:
        raise SystemExit(f"error: the catalog for {books} books holds {count}")
    return output


def start(
    supervisor: Supervisor, name: str, catalog: Path, env: dict[str, str], *, pinned: bool = True
) -> tuple[Replica, float]:
    """Start a server with extra `env`, pinned to `SERVER_CPU` (or free to use every CPU), and
    return it with its seconds from start to SERVING."""
    # Every CPU by name: this process is pinned to h2load's, and a child inherits that.
    cpu = SERVER_CPU if pinned else f"0-{_CPUS - 1}"
    replica = Replica(supervisor, name, catalog, cpu=cpu, extra_env=env)
    began = time.monotonic()
    replica.start(wait=False)
    replica.wait_serving(timeout=120)
    return replica, time.monotonic() - began


def rss_mb(replica: Replica) -> float:
    """The resident memory of the server's whole process tree, in MB."""
    return sum(resident_bytes(pid) for pid in tree_pids(replica.pid)) / _MB


def v2_request(reader: str, *, token: str = "") -> bytes:
    """A v2 request for a page of ten of `reader`'s mystery books."""
    return v2.RecommendRequest(
        reader_id=reader, category=v2.BOOK_CATEGORY_MYSTERY, page_size=10, page_token=token
    ).SerializeToString()


def requests(catalog: Path) -> dict[str, tuple[str, bytes]]:
    """The path and request of each kind of call; the deep page starts mid-order, today."""
    with closing(sqlite3.connect(catalog)) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM books WHERE category = ?", (Category.MYSTERY.value,)
        ).fetchone()
    day = int(time.time() // 86_400)
    token = paging.encode(day, count // 2, zlib.crc32(b"1"), Category.MYSTERY)
    return {
        "v1": (V1_PATH, V1_REQUEST),
        "v2 first page": (SERVICE_PATH, v2_request("1")),
        "v2 deep page": (SERVICE_PATH, v2_request("1", token=token)),
    }


def _v2_call(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(SERVICE_PATH, request_serializer=None, response_deserializer=None)


def first_calls(replica: Replica, tag: int) -> list[float]:
    """Milliseconds of the first call of each of `_NEW_READERS` new readers (a warmed channel)."""
    with grpc.insecure_channel(replica.address) as channel:
        call = _v2_call(channel)
        call(v2_request(f"warm-up-{tag}"), timeout=30)
        times = []
        for n in range(_NEW_READERS):
            began = time.perf_counter()
            call(v2_request(f"new-{tag}-{n}"), timeout=30)
            times.append((time.perf_counter() - began) * 1000)
    return times


def distinct_readers(replica: Replica, readers: int, in_flight: int = LOAD_STREAMS) -> None:
    """One first page for each of `readers` distinct readers, `in_flight` calls at a time (on one
    connection, within the service's limit of calls a connection may have open)."""
    with grpc.insecure_channel(replica.address) as channel:
        call = _v2_call(channel)
        pending: deque[grpc.Future[bytes]] = deque()
        for n in range(readers):
            pending.append(call.future(v2_request(f"reader-{n}"), timeout=60))
            if len(pending) >= in_flight:
                pending.popleft().result()
        for future in pending:
            future.result()


def cpu_per_call(replica: Replica, path: str, request: bytes, calls: int, tmp: Path) -> float:
    """The server's CPU microseconds per call over `calls` h2load calls, all counted OK."""
    before = replica.handled()
    run = h2load.run(replica.address, path, request, calls, tmp, pid=replica.pid)
    require_ok(f"{replica.name} {path}:", replica.metrics_port, before, calls)
    return run.cpu_us_per_call


def ratios(size: Size, base: Size) -> dict[str, float]:
    """The median over rounds of `size`'s CPU per call over the baseline's, per kind."""
    return {
        kind: statistics.median(stats.ratios(size.cpu_us[kind], base.cpu_us[kind]))
        for kind in KINDS
    }


def verdicts(sizes: dict[int, Size]) -> list[Target]:
    """The targets whose sizes were measured."""
    targets = []
    big, at = sizes.get(TARGET_SIZE), f"{TARGET_SIZE:,} books:"
    if big is not None:
        first_call = statistics.median(big.first_call_ms)
        targets += [
            Target(f"{at} start to SERVING", big.start_s, "<=", START_MAX_S, " s"),
            Target(f"{at} RSS after start", big.rss_start_mb, "<=", RSS_MAX_MB, " MB"),
            Target(f"{at} first call of a new reader", first_call, "<=", FIRST_CALL_MAX_MS, " ms"),
        ]
        targets += [
            Target(f"{at} CPU per call, {kind}", value, "<=", CPU_RATIO_MAX, f" x {SIZES[0]}")
            for kind, value in ratios(big, sizes[SIZES[0]]).items()
        ]
    mid = sizes.get(READERS_SIZE)
    if mid is not None and mid.rss_readers_mb is not None:
        growth = mid.rss_readers_mb - mid.rss_start_mb
        what = f"{READERS_SIZE:,} books: RSS growth over the readers"
        targets.append(Target(what, growth, "<=", READERS_GROWTH_MAX_MB, " MB"))
    return targets


def processes_row(supervisor: Supervisor, catalog: Path, n: int, calls: int, tmp: Path) -> str:
    """N processes free to use every CPU (each pins itself to one when there are N) against one
    pinned to `SERVER_CPU`, as in a 1-CPU pod, on the baseline catalog; with the CPU h2load used."""
    path, request = requests(catalog)["v2 first page"]
    rows = []
    for count in (n, 1):
        env = {"RECOMMENDATIONS_PROCESSES": str(count)}
        replica, _ = start(supervisor, f"processes-{count}", catalog, env, pinned=count == 1)
        if len(tree_pids(replica.pid)) < count:
            raise SystemExit(f"error: the server runs fewer than {count} processes")
        # h2load is the only child that ends during the run: the children's CPU time grows by its.
        load_cpu = _children_cpu_seconds()
        run = h2load.run(replica.address, path, request, calls, tmp, pid=replica.pid)
        load_share = (_children_cpu_seconds() - load_cpu) * run.calls_per_second / calls
        replica.terminate()
        rate, used = f"{run.calls_per_second:,.0f}", f"{run.cpu_us_per_call:.0f}"
        rows.append(row(count, rate, used, f"{load_share:.2f}"))
    return "\n".join([
        "| processes | calls/s | CPU per call (us) | CPUs h2load used |",
        "| --- | --- | --- | --- |",
        *reversed(rows),
        "",
        f"One process pinned to CPU {SERVER_CPU}; {n} free to use all {_CPUS} CPUs, h2load on CPU"
        f" {LOAD_CPU}: the CPU h2load used is taken from the {n}, so on a node whose load comes"
        " from elsewhere they have that much more.",
    ])  # fmt: skip


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(sizes: dict[int, Size], processes: str, args: argparse.Namespace) -> str:
    """The Markdown report."""
    base = sizes[SIZES[0]]
    lines = [
        "# The service at catalog sizes",
        "",
        f"Written by `make bench-scale` (`python -m benchmarks.scale`) on"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.rounds} rounds of {args.calls:,} calls"
        f" per kind of call, the server on CPU {SERVER_CPU} and h2load on CPU {LOAD_CPU}; load"
        f" average {args.load[0]:.2f} before, {args.load[1]:.2f} after. How each figure is"
        " measured: the docstring of `benchmarks/scale.py`.",
        "",
        f"| books | start to SERVING | RSS after start | first call of a new reader"
        f" | CPU per call ({' / '.join(KINDS)}) | RSS after {args.readers:,} readers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for books, size in sizes.items():
        cpu = " / ".join(f"{r:.2f}" for r in ratios(size, base).values())
        readers = "-" if size.rss_readers_mb is None else f"{size.rss_readers_mb:.0f} MB"
        lines.append(
            f"| {books:,} | {size.start_s:.1f} s | {size.rss_start_mb:.0f} MB"
            f" | {statistics.median(size.first_call_ms):.1f} ms (max"
            f" {max(size.first_call_ms):.1f}) | {cpu} | {readers} |"
        )
    absolute = ", ".join(f"{k} {statistics.median(base.cpu_us[k]):.0f} us" for k in KINDS)
    lines += ["", f"CPU per call at {SIZES[0]} books (the 1.00s): {absolute}.", ""]
    lines += [f"- {'met' if t.met else 'MISSED'}: {t}" for t in verdicts(sizes)]
    return "\n".join([*lines, "", "## N processes against one", "", processes, ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(n) for n in s.split(",")], default=SIZES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.sizes[0] != SIZES[0] or args.rounds < 1:
        parser.error(f"--sizes must start with {SIZES[0]} (the baseline), --rounds be 1 or more")
    args.load = [os.getloadavg()[0]]
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # the clients' work stays off the servers' CPU
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp_name,
        Supervisor(Path(tmp_name) / "logs") as supervisor,
    ):
        tmp, sizes, replicas = Path(tmp_name), {}, {}
        for books in args.sizes:
            replica, seconds = start(supervisor, f"books-{books}", build(tmp, books), {})
            replicas[books] = replica
            size = sizes[books] = Size(seconds, rss_mb(replica), first_calls(replica, books))
            print(f"{books:>9,} books: SERVING after {seconds:.1f} s, {size.rss_start_mb:.0f} MB")
        calls = {books: requests(replica.catalog) for books, replica in replicas.items()}
        for number in range(args.rounds):
            for books in rotated(list(sizes), number):
                for kind, (path, request) in calls[books].items():
                    used = cpu_per_call(replicas[books], path, request, args.calls, tmp)
                    sizes[books].cpu_us[kind].append(used)
            done = (f"{b:,} books {sizes[b].cpu_us['v2 first page'][-1]:.0f} us" for b in sizes)
            print(f"round {number + 1}, v2 first page: {', '.join(done)}", flush=True)
        for books, replica in replicas.items():
            distinct_readers(replica, args.readers)
            sizes[books].rss_readers_mb = rss_mb(replica)
            replica.terminate()
        baseline = replicas[SIZES[0]].catalog
        processes = processes_row(supervisor, baseline, args.processes, args.calls, tmp)
    args.load.append(os.getloadavg()[0])
    return finish(report(sizes, processes, args), args.output, missed(verdicts(sizes)))


if __name__ == "__main__":
    sys.exit(main())
