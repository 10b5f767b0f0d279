"""`make check-compat`: old clients against today's server, today's client against an old server.

- Every committed release's Python package, generated from its release image alone, and the wheel
  `make wheel` built, each installed in fresh venvs at the lowest and at the newest end of its
  declared protobuf and grpcio range, runs the conformance suite (tests/compat/conformance)
  against today's `recommendations-server`; each release checks what it promised.
- Today's website, through its client module, against a server built only from the oldest
  release's generated code (tests/compat/legacy_server.py): its pages render, without authors,
  a book's page (no GetBook there) answers 200 with a notice, and it logs nothing at WARNING or
  above.

Prints the table of every cell and exits 1 if any failed.

Usage: python -m tests.compat.check [--keep]   (from the repository root, in .venv)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path

from harness.ports import accepts, free_port
from harness.processes import Supervisor, clean_environment
from harness.service import Replica, build_catalog
from harness.website import Website
from tests.compat.runtimes import End, RuntimeVenvError, create_venv, pip_install, runtime_venv

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "compat" / "conformance"
RELEASES = ROOT / "proto-registry" / "releases"
_PAGES = ("/", "/category/mystery/", "/category/self-help/")
_BOOK_PAGE = "/books/1/"
_PARALLEL = 2  # the machine's cores: builds and installs are CPU-bound
_ENDS: tuple[End, ...] = ("lowest", "newest")


@dataclass(frozen=True)
class Client:
    """A bookshop-protos package to test: a release rebuilt from its image, or today's wheel."""

    label: str
    version: str
    wheel: Path


@dataclass(frozen=True)
class Cell:
    """One row of the table."""

    client: str
    runtime: str
    server: str
    passed: bool
    result: str


def main(argv: list[str] | None = None) -> int:
    """Run every cell, print the table; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.compat.check", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bookshop-compat-"))
    supervisor = Supervisor(workdir / "logs")
    try:
        clients = _clients(workdir / "wheels")
        catalog = workdir / "catalog.sqlite3"
        build_catalog(catalog)
        server = Replica(supervisor, "server", catalog)
        server.start()
        venvs = workdir / "venvs"
        jobs = [(c, end, venvs / f"{n}-{end}") for n, c in enumerate(clients) for end in _ENDS]
        with ThreadPoolExecutor(_PARALLEL) as pool:
            cells = list(pool.map(partial(_conformance, server.address), jobs))
        cells.append(_old_server(clients[0], supervisor, workdir, catalog))
    finally:
        supervisor.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n| client | runtime | server | result |\n| --- | --- | --- | --- |")
    for cell in cells:
        print(f"| {cell.client} | {cell.runtime} | {cell.server} | {cell.result} |")
    failed = [cell for cell in cells if not cell.passed]
    print(f"\n{len(cells) - len(failed)} of {len(cells)} cells passed")
    return 1 if failed else 0


def _version_file() -> str:
    return (ROOT / "proto-registry" / "VERSION").read_text(encoding="utf-8").strip()


def _clients(folder: Path) -> list[Client]:
    """Every release, oldest first, rebuilt from its image, then the wheel `make wheel` built."""
    images = sorted(RELEASES.glob("*.json"), key=lambda p: tuple(map(int, p.stem.split("."))))

    def build(image: Path) -> Client:
        command = [str(ROOT / "ci" / "build_release_wheel.sh"), image.stem, str(folder)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wheel = folder / f"bookshop_protos-{image.stem}-py3-none-any.whl"
        return Client(f"{image.stem} (from its release image)", image.stem, wheel)

    with ThreadPoolExecutor(_PARALLEL) as pool:
        releases = list(pool.map(build, images))
    current = _version_file()
    built = ROOT / "dist" / f"bookshop_protos-{current}-py3-none-any.whl"
    if not built.is_file():
        raise SystemExit(f"error: {built} is missing: run 'make wheel'")
    return [*releases, Client(f"{current} (the built wheel)", current, built)]


def run_suite(python: Path | str, target: str) -> subprocess.CompletedProcess[str]:
    """The conformance suite, run by `python` against the server at `target` (host:port)."""
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target", target, SUITE]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _conformance(target: str, job: tuple[Client, End, Path]) -> Cell:
    """Run the conformance suite against `target` in a fresh venv at `where`, holding `client`
    at one `end` of its range."""
    client, end, where = job
    server = f"today's (protos {_version_file()})"
    try:
        env = runtime_venv(client.wheel, end, where)
        # pytest (this checkout's version) and the google.rpc protos, keeping the runtime as is.
        keep = [f"{name}=={installed}" for name, installed in env.versions.items()]
        pip_install(env.python, f"pytest=={version('pytest')}", "googleapis-common-protos", *keep)
    except RuntimeVenvError as error:
        return Cell(client.label, end, server, False, f"could not install: {error}")
    result = run_suite(env.python, target)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-2000:])
        return Cell(client.label, str(env), server, False, f"FAILED ({summary})")
    return Cell(client.label, str(env), server, True, f"passed ({_counts(summary)})")


def _counts(summary: str) -> str:
    """`31 passed, 4 deselected in 2.1s` -> `31 tests, 4 of later releases deselected`."""
    passed = re.search(r"(\d+) passed", summary)
    deselected = re.search(r"(\d+) deselected", summary)
    text = f"{passed.group(1) if passed else 0} tests"
    return f"{text}, {deselected.group(1)} of later releases deselected" if deselected else text


def _old_server(oldest: Client, supervisor: Supervisor, workdir: Path, catalog: Path) -> Cell:
    """Today's website against a server built only from the oldest release's code."""
    label = f"today's website (protos {_version_file()})"
    server_label = f"built from {oldest.version}'s code only"
    python = create_venv(workdir / "venvs" / "old-server")
    runtime = [f"protobuf=={version('protobuf')}", f"grpcio=={version('grpcio')}"]
    pip_install(python, str(oldest.wheel), "grpcio-health-checking", *runtime)
    pip_install(python, "--no-deps", str(ROOT / "recommendations-service"))
    port = free_port()
    argv = [str(python), str(Path(__file__).with_name("legacy_server.py")), str(catalog), str(port)]
    old = supervisor.start("old-server", argv, clean_environment({}))
    supervisor.wait_ready("old-server", old, lambda: accepts(port), what="listening")
    site = Website(supervisor, "website", workdir, f"127.0.0.1:{port}")
    site.start()
    pages = [site.get(path) for path in _PAGES]
    book_page = site.get(_BOOK_PAGE)
    # Judged as written while serving: on a busy machine granian's stop can warn that it is
    # killing a worker that has already stopped (its watcher thread reaped the worker first).
    served_log = supervisor.log_of("website").read_text()
    site.stop()
    problems = []
    if any(page.status != 200 or page.books == 0 for page in pages):
        problems.append(f"pages {[(p.status, p.books) for p in pages]}")
    if book_page.status != 200 or not book_page.notice:
        problems.append(f"{_BOOK_PAGE} answered {book_page.status} without the notice")
    if any(page.authors for page in pages):
        problems.append("authors shown")
    logged = [
        line
        for line in served_log.splitlines()
        if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", line)
    ]
    if logged:
        problems.append(f"logged: {logged[:3]}")
    if problems:
        return Cell(label, "-", server_label, False, "FAILED: " + "; ".join(problems))
    books = ", ".join(str(page.books) for page in pages)
    result = f"passed ({len(pages)} pages, {books} books, no author, {_BOOK_PAGE} a notice, "
    result += "nothing logged at WARNING or above while serving)"
    return Cell(label, "-", server_label, True, result)


if __name__ == "__main__":
    sys.exit(main())
