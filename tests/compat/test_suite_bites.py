"""The conformance suite catches a server that breaks the contract.

The same suite `make check-compat` runs, with this checkout's client, against today's server and
against today's server with one promise broken: max_results 0 giving five books, not three.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.processes import Supervisor
from harness.service import SERVER, Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = Path(__file__).with_name("conformance")
# The server, with one documented value changed before it starts.
CHANGED_DEFAULT = (
    "import sys, recommendations.recommender as r; r.DEFAULT_RESULTS = 5; "
    "from recommendations.cli import main; sys.exit(main())"
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(path)
    return path


def _server(tmp_path: Path, catalog: Path, command: tuple[str, ...]) -> Iterator[str]:
    with Supervisor(tmp_path / "logs") as supervisor:
        server = Replica(supervisor, "server", catalog, command=command)
        server.start()
        yield server.address


def _suite(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target", target, SUITE],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path, catalog: Path) -> Iterator[str]:
    yield from _server(tmp_path, catalog, (SERVER,))


@pytest.fixture
def broken_server(tmp_path: Path, catalog: Path) -> Iterator[str]:
    yield from _server(tmp_path, catalog, (sys.executable, "-c", CHANGED_DEFAULT))


def test_today_s_server_keeps_the_contract(server: str) -> None:
    result = _suite(server)
    assert result.returncode == 0, result.stdout


def test_a_changed_default_for_max_results_is_caught(broken_server: str) -> None:
    result = _suite(broken_server)
    failed = {
        line.split(" - ")[0].rsplit("::", 1)[-1]
        for line in result.stdout.splitlines()
        if line.startswith("FAILED ")
    }
    assert result.returncode != 0
    assert failed == {"test_zero_max_results_means_three"}
    assert "assert 5 == 3" in result.stdout
