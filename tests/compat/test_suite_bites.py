"""The conformance suite catches a server that breaks the contract.

The same suite `make check-compat` runs, with this checkout's client, against today's server and
against today's server with one promise broken: max_results 0 giving five books, not three.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

SUITE = Path(__file__).with_name("conformance")
BIN = Path(sys.executable).parent
# The server, with one documented value changed before it starts.
CHANGED_DEFAULT = (
    "import sys, recommendations.recommender as r; r.DEFAULT_RESULTS = 5; "
    "from recommendations.cli import main; sys.exit(main())"
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    subprocess.run(
        [BIN / "recommendations-server", "build-catalog", "--output", path],
        check=True,
        capture_output=True,
    )
    return path


def _server(catalog: Path, *command: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDATIONS_")}
    env |= {
        "RECOMMENDATIONS_BIND": "127.0.0.1",
        "RECOMMENDATIONS_PORT": "0",
        "RECOMMENDATIONS_METRICS_PORT": "0",
        "RECOMMENDATIONS_CATALOG": str(catalog),
    }
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:
            entry = json.loads(line)
            if entry["message"] == "serving":
                yield f"127.0.0.1:{entry['port']}"
                return
        raise AssertionError(f"the server exited with {server.wait()}")
    finally:
        server.kill()
        server.wait()


def _suite(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target", target, SUITE],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def server(catalog: Path) -> Iterator[str]:
    yield from _server(catalog, str(BIN / "recommendations-server"))


@pytest.fixture
def broken_server(catalog: Path) -> Iterator[str]:
    yield from _server(catalog, sys.executable, "-c", CHANGED_DEFAULT)


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
