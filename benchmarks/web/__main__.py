"""The website benchmark: homepage requests/s and server CPU per request, three contenders.

- live:     the Django site under gunicorn (production settings, two workers, as deployed) with a
            live recommendations call to this service;
- static:   the same site and page with recommendations from fixed data (`static_site.py`: no
            call), the ceiling a live page can approach;
- tutorial: BASELINE, the original tutorial's Flask marketplace served by `flask run`, calling
            the tutorial-style server (both labelled fixtures in benchmarks/baselines/).

Each web server runs pinned to CPU 1; wrk (8 connections) and the gRPC servers share CPU 0.
The contenders alternate over several rounds. For each run: requests/s, p50/p99 from wrk, and
CPU time per request of the web server's whole process tree (user + system, from /proc: steadier
than throughput on a shared machine). The live run's pages are checked from the site's own metric
(every call OK: a degraded page would be cheaper and flatter the figures). Targets: live at least
0.80 x static and at least 1.2 x tutorial requests/s (medians of the per-round ratios).

Usage: python -m benchmarks.web [--rounds 3] [--seconds 10] [--output docs/benchmarks-web.md]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from soak.harness.load import WrkRun, wrk
from soak.harness.metrics import difference
from soak.harness.ports import free_port
from soak.harness.processes import BIN, Supervisor, clean_environment, tree_cpu_seconds, wait_until
from soak.harness.service import Replica, build_catalog
from soak.harness.website import Website

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASELINES = ROOT / "benchmarks" / "baselines"
WEB_CPU, LOAD_CPU = 1, 0
CONNECTIONS = 8
STATIC_TARGET, TUTORIAL_TARGET = 0.80, 1.2


@dataclass
class Contender:
    """A web server under test: its label, homepage URL, root pid and optional page check."""

    name: str
    label: str
    url: str
    pid: Callable[[], int]
    backend_pid: Callable[[], int] | None = None
    calls: Callable[[], dict[str, float]] | None = None
    runs: list[Run] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run."""

    load: WrkRun
    cpu_us: float
    backend_cpu_us: float | None


def main() -> int:
    """Run the rounds, print the table, write the report; exit 1 if a run was invalid."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one run")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks-web.md")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bookshop-web-bench-"))
    supervisor = Supervisor(workdir / "logs")
    try:
        contenders, outage = _start(supervisor, workdir)
        for contender in contenders:
            wrk(contender.url, seconds=2, connections=CONNECTIONS, cpu=LOAD_CPU)
        for round_number in range(args.rounds):
            # Rotate the order each round, so that no contender always runs first or last.
            shift = round_number % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                run = _measure(contender, args.seconds)
                contender.runs.append(run)
                print(
                    f"round {round_number + 1} {contender.name:<8} {run.load.rate:8.0f} req/s "
                    f"{run.cpu_us:8.0f} us CPU/req  p50 {run.load.p50_ms:5.1f} ms  "
                    f"p99 {run.load.p99_ms:5.1f} ms",
                    flush=True,
                )
        down = outage()
    finally:
        supervisor.close()
    report = _report(contenders, down, args.seconds)
    print(report.summary)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.markdown)
    print(f"wrote {args.output}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.met else 1


def _start(
    supervisor: Supervisor, workdir: Path
) -> tuple[list[Contender], Callable[[], dict[str, str]]]:
    """Start the gRPC servers and the three web servers; return them and the outage check."""
    catalog = workdir / "catalog.sqlite3"
    build_catalog(catalog)
    service = Replica(supervisor, "recommendations", catalog, cpu=LOAD_CPU)
    service.start()
    live = Website(supervisor, "live", workdir, f"ipv4:{service.address}", cpu=WEB_CPU)
    static = Website(
        supervisor,
        "static",
        workdir,
        f"ipv4:{service.address}",
        app="static_site:application",
        pythonpath=HERE,
        cpu=WEB_CPU,
    )
    live.start()
    static.start()
    tutorial_server, tutorial_site = _start_tutorial(supervisor, workdir)

    for site in (live, static):
        page = site.get("/")
        if page.status != 200 or page.books != 3:
            raise RuntimeError(f"{site.name}: status {page.status} with {page.books} books")
    contenders = [
        Contender(
            "live",
            "Django site, gunicorn 2 workers, live gRPC call",
            live.url,
            lambda: live.pid,
            backend_pid=lambda: service.pid,
            calls=live.calls,
        ),
        Contender(
            "static", "the same page from static data (no call)", static.url, lambda: static.pid
        ),
        Contender(
            "tutorial",
            "BASELINE tutorial Flask marketplace (flask run) + tutorial server",
            tutorial_site[1],
            lambda: tutorial_site[0].pid,
            backend_pid=lambda: tutorial_server.pid,
        ),
    ]

    def outage() -> dict[str, str]:
        """Each site's answers with its recommendations server stopped."""
        supervisor.stop(tutorial_server)
        service.terminate()
        return {
            "live": _statuses(live.url),
            "tutorial": _statuses(tutorial_site[1]),
        }

    return contenders, outage


def _start_tutorial(
    supervisor: Supervisor, workdir: Path
) -> tuple[subprocess.Popen[bytes], tuple[subprocess.Popen[bytes], str]]:
    """The tutorial-style server and the tutorial's Flask marketplace (flask run)."""
    generated = workdir / "tutorial-stubs"
    generated.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{BASELINES / 'tutorial'}",
            f"--python_out={generated}",
            f"--grpc_python_out={generated}",
            "recommendations.proto",
        ],
        check=True,
    )
    grpc_port, web_port = free_port(), free_port()
    server = supervisor.start(
        "tutorial-server",
        [sys.executable, str(BASELINES / "tutorial" / "server.py")],
        clean_environment({"PYTHONPATH": str(generated), "BASELINE_PORT": str(grpc_port)}),
        cpu=LOAD_CPU,
    )
    site = supervisor.start(
        "tutorial-marketplace",
        [str(BIN / "flask"), "run", "--host", "127.0.0.1", "--port", str(web_port)],
        clean_environment(
            {
                "PYTHONPATH": str(generated),
                "FLASK_APP": "app.py",
                "RECOMMENDATIONS_HOST": "127.0.0.1",
                "RECOMMENDATIONS_PORT": str(grpc_port),
            }
        ),
        cwd=BASELINES / "tutorial_marketplace",
        cpu=WEB_CPU,
    )
    url = f"http://127.0.0.1:{web_port}/"

    def answers() -> bool:
        return _status(url) == 200

    if not wait_until(answers, timeout=20, interval=0.1):
        raise RuntimeError("the tutorial marketplace did not serve its homepage within 20 s")
    return server, (site, url)


def _measure(contender: Contender, seconds: float) -> Run:
    calls_before = contender.calls() if contender.calls else {}
    cpu_before = tree_cpu_seconds(contender.pid())
    backend_before = tree_cpu_seconds(contender.backend_pid()) if contender.backend_pid else 0.0
    load = wrk(contender.url, seconds=seconds, connections=CONNECTIONS, cpu=LOAD_CPU)
    cpu = tree_cpu_seconds(contender.pid()) - cpu_before
    backend = (
        tree_cpu_seconds(contender.backend_pid()) - backend_before
        if contender.backend_pid
        else None
    )
    if load.non2xx or load.socket_errors or not load.requests:
        raise RuntimeError(f"{contender.name}: {load}")
    if contender.calls:
        calls = difference(contender.calls(), calls_before)
        if set(calls) != {"OK"} or calls["OK"] < load.requests:
            raise RuntimeError(f"{contender.name}: degraded pages during the run: {calls}")
    per_request = 1e6 / load.requests
    return Run(load, cpu * per_request, backend * per_request if backend is not None else None)


def _status(url: str) -> int:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _statuses(url: str, count: int = 20) -> str:
    seen: dict[int, int] = {}
    started = time.perf_counter()
    for _ in range(count):
        status = _status(url)
        seen[status] = seen.get(status, 0) + 1
    elapsed_ms = (time.perf_counter() - started) / count * 1e3
    codes = ", ".join(f"{n} x HTTP {code}" for code, n in sorted(seen.items()))
    return f"{codes} (mean {elapsed_ms:.0f} ms)"


@dataclass(frozen=True, slots=True)
class _Report:
    summary: str
    markdown: str
    met: bool


def _report(contenders: list[Contender], down: dict[str, str], seconds: float) -> _Report:
    by_name = {c.name: c for c in contenders}
    live, static, tutorial = by_name["live"], by_name["static"], by_name["tutorial"]
    rounds = len(live.runs)
    vs_static = [a.load.rate / b.load.rate for a, b in zip(live.runs, static.runs, strict=True)]
    vs_tutorial = [a.load.rate / b.load.rate for a, b in zip(live.runs, tutorial.runs, strict=True)]
    cpu_static = [a.cpu_us / b.cpu_us for a, b in zip(live.runs, static.runs, strict=True)]
    cpu_tutorial = [a.cpu_us / b.cpu_us for a, b in zip(live.runs, tutorial.runs, strict=True)]
    median_static, median_tutorial = statistics.median(vs_static), statistics.median(vs_tutorial)
    met_static, met_tutorial = median_static >= STATIC_TARGET, median_tutorial >= TUTORIAL_TARGET

    def verdict(met: bool) -> str:
        return "met" if met else "NOT MET"

    lines = [
        "| Contender | req/s (median) | web CPU per request | gRPC server CPU per request "
        "| p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for contender in contenders:
        runs = contender.runs
        backend = [r.backend_cpu_us for r in runs if r.backend_cpu_us is not None]
        lines.append(
            f"| {contender.label} | {statistics.median(r.load.rate for r in runs):,.0f} "
            f"| {statistics.median(r.cpu_us for r in runs):,.0f} us "
            f"| {f'{statistics.median(backend):,.0f} us' if backend else '-'} "
            f"| {statistics.median(r.load.p50_ms for r in runs):.1f} ms "
            f"| {statistics.median(r.load.p99_ms for r in runs):.1f} ms |"
        )
    table = "\n".join(lines)

    def listed(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    ratios = "\n".join(
        [
            "| Ratio (live / other), per round | Rounds | Median | Target |",
            "| --- | --- | ---: | --- |",
            f"| req/s vs static data | {listed(vs_static)} | {median_static:.2f} "
            f"| >= {STATIC_TARGET:.2f}: {verdict(met_static)} |",
            f"| req/s vs tutorial | {listed(vs_tutorial)} | {median_tutorial:.2f} "
            f"| >= {TUTORIAL_TARGET:.2f}: {verdict(met_tutorial)} |",
            f"| web CPU per request vs static data | {listed(cpu_static)} "
            f"| {statistics.median(cpu_static):.2f} | - |",
            f"| web CPU per request vs tutorial | {listed(cpu_tutorial)} "
            f"| {statistics.median(cpu_tutorial):.2f} | - |",
        ]
    )
    rounds_table = "\n".join(
        [
            "| Round | " + " | ".join(c.name for c in contenders) + " |",
            "| --- |" + " ---: |" * len(contenders),
            *(
                f"| {i + 1} | "
                + " | ".join(
                    f"{c.runs[i].load.rate:,.0f} req/s, {c.runs[i].cpu_us:,.0f} us"
                    for c in contenders
                )
                + " |"
                for i in range(rounds)
            ),
        ]
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    markdown = f"""# Website benchmark: the homepage

Written by `make bench` (`python -m benchmarks.web`) on {when}, {platform.machine()}, Python
{platform.python_version()}: {rounds} alternating rounds of {seconds:.0f} s per contender, wrk
with {CONNECTIONS} connections on `/`. Each web server is pinned to CPU {WEB_CPU}; wrk and the
gRPC servers share CPU {LOAD_CPU}. "Web CPU per request" is the user + system time of the web
server's whole process tree (gunicorn master and workers, or `flask run`) divided by the
requests wrk completed; the gRPC server's own CPU is shown beside it. The live site's own metric
confirmed every page of every run had its recommendations (no degraded page).

The contenders:
- **live**: the Django site as deployed (`gunicorn -c python:marketplace.gunicorn
  marketplace.wsgi`, production settings, 2 workers x 4 threads) with a live call to this
  recommendations service (full default stack) on every page.
- **static**: the same site, settings and template, with `storefront.recommendations.recommend`
  replaced by fixed data (`benchmarks/web/static_site.py`, bench only): the page without the call.
- **tutorial** (BASELINE): the original tutorial's Flask marketplace served by `flask run`
  (`benchmarks/baselines/tutorial_marketplace/`) against the tutorial-style server
  (`benchmarks/baselines/tutorial/`).

{table}

{ratios}

Per round (requests/s, web CPU per request):

{rounds_table}

With the recommendations server stopped (20 sequential requests each):
- live site: {down["live"]} (degraded pages, recommendations marked unavailable);
- tutorial marketplace: {down["tutorial"]}.
"""
    summary = (
        f"{table}\n\n{ratios}\n\nservice down: live {down['live']}; tutorial {down['tutorial']}"
    )
    return _Report(summary, markdown, met_static and met_tutorial)


if __name__ == "__main__":
    sys.exit(main())
