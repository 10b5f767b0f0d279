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
from importlib.metadata import version
from pathlib import Path

from harness.processes import Supervisor, clean_environment, wait_until
from harness.service import Replica, build_catalog
from harness.website import Website
from tests.compat.runtimes import (
    End,
    RuntimeVenv,
    RuntimeVenvError,
    create_venv,
    pip_install,
    runtime_venv,
)

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
        today = f"today's (protos {_version_file()})"
        jobs: list[tuple[Client, End, Path]] = [
            (client, end, workdir / "venvs" / f"{n}-{end}")
            for n, client in enumerate(clients)
            for end in _ENDS
        ]
        with ThreadPoolExecutor(_PARALLEL) as pool:
            cells = list(
                pool.map(
                    lambda job: _conformance(job[0], job[1], job[2], server.address, today), jobs
                )
            )
        cells.append(_old_server(clients[0], supervisor, workdir, catalog, today))
    finally:
        supervisor.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    _print(cells)
    failed = [cell for cell in cells if not cell.passed]
    print(f"\n{len(cells) - len(failed)} of {len(cells)} cells passed")
    return 1 if failed else 0


def _version_file() -> str:
    return (ROOT / "proto-registry" / "VERSION").read_text(encoding="utf-8").strip()


def _clients(folder: Path) -> list[Client]:
    """Every release, oldest first, rebuilt from its image, then the wheel `make wheel` built."""
    images = sorted(RELEASES.glob("*.json"), key=lambda p: tuple(map(int, p.stem.split("."))))

    def build(image: Path) -> Client:
        subprocess.run(
            [ROOT / "ci" / "build_release_wheel.sh", image.stem, folder],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wheel = folder / f"bookshop_protos-{image.stem}-py3-none-any.whl"
        return Client(f"{image.stem} (from its release image)", image.stem, wheel)

    with ThreadPoolExecutor(_PARALLEL) as pool:
        releases = list(pool.map(build, images))
    current = _version_file()
    built = ROOT / "dist" / f"bookshop_protos-{current}-py3-none-any.whl"
    if not built.is_file():
        raise SystemExit(f"error: {built} is missing: run 'make wheel'")
    return [*releases, Client(f"{current} (the built wheel)", current, built)]


def _conformance(client: Client, end: End, where: Path, target: str, server: str) -> Cell:
    """Run the conformance suite in a fresh venv at `where`, `client` at one end of its range."""
    try:
        env = runtime_venv(client.wheel, end, where)
        _add_suite_tools(env)
    except RuntimeVenvError as error:
        return Cell(client.label, end, server, False, f"could not install: {error}")
    result = subprocess.run(
        [env.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target", target, SUITE],
        capture_output=True,
        text=True,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    runtime = f"{end}: " + ", ".join(f"{n} {v}" for n, v in env.versions.items())
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-2000:])
        return Cell(client.label, runtime, server, False, f"FAILED ({summary})")
    return Cell(client.label, runtime, server, True, f"passed ({_counts(summary)})")


def _add_suite_tools(env: RuntimeVenv) -> None:
    """pytest (this checkout's version) and the google.rpc protos, keeping the runtime as is."""
    keep = [f"{name}=={installed}" for name, installed in env.versions.items()]
    pip_install(env.python, f"pytest=={version('pytest')}", "googleapis-common-protos", *keep)


def _counts(summary: str) -> str:
    """`31 passed, 4 deselected in 2.1s` -> `31 tests, 4 of later releases deselected`."""
    passed = re.search(r"(\d+) passed", summary)
    deselected = re.search(r"(\d+) deselected", summary)
    text = f"{passed.group(1) if passed else 0} tests"
    return f"{text}, {deselected.group(1)} of later releases deselected" if deselected else text


def _old_server(
    oldest: Client, supervisor: Supervisor, workdir: Path, catalog: Path, client: str
) -> Cell:
    """Today's website against a server built only from the oldest release's code."""
    label = f"today's website (protos {_version_file()})"
    server_label = f"built from {oldest.version}'s code only"
    python = create_venv(workdir / "venvs" / "old-server")
    pip_install(
        python,
        str(oldest.wheel),
        "grpcio-health-checking",
        f"protobuf=={version('protobuf')}",
        f"grpcio=={version('grpcio')}",
    )
    pip_install(python, "--no-deps", str(ROOT / "recommendations-service"))
    script = Path(__file__).with_name("legacy_server.py")
    old = supervisor.start(
        "old-server", [str(python), str(script), str(catalog)], clean_environment({})
    )
    port = _reported_port(supervisor.log_of("old-server"), old)
    site = Website(supervisor, "website", workdir, f"127.0.0.1:{port}")
    site.start()
    pages = [site.get(path) for path in _PAGES]
    book_page = site.get(_BOOK_PAGE)
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
        for line in supervisor.log_of("website").read_text().splitlines()
        if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", line)
    ]
    if logged:
        problems.append(f"logged: {logged[:3]}")
    if problems:
        return Cell(label, "-", server_label, False, "FAILED: " + "; ".join(problems))
    books = ", ".join(str(page.books) for page in pages)
    return Cell(
        label,
        "-",
        server_label,
        True,
        f"passed ({len(pages)} pages, {books} books, "
        f"no author, {_BOOK_PAGE} a notice, nothing logged at WARNING or above)",
    )


def _reported_port(log: Path, process: subprocess.Popen[bytes]) -> int:
    """The port the legacy server prints before anything else."""

    def reported() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"error: the legacy server exited:\n{log.read_text()[-2000:]}")
        return log.read_text().split("\n", 1)[0].isdigit()

    if not wait_until(reported, timeout=30):
        raise SystemExit("error: the legacy server did not report its port")
    return int(log.read_text().split("\n", 1)[0])


def _print(cells: list[Cell]) -> None:
    print("\n| client | runtime | server | result |\n| --- | --- | --- | --- |")
    for cell in cells:
        print(f"| {cell.client} | {cell.runtime} | {cell.server} | {cell.result} |")


if __name__ == "__main__":
    sys.exit(main())
