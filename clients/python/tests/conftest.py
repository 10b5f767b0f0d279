"""Fixtures for the bookshop-protos tests: they examine the artifacts that `make wheel` built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.runtimes import End, RuntimeVenv, runtime_venv

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def version() -> str:
    return (ROOT / "proto-registry" / "VERSION").read_text().strip()


@pytest.fixture(scope="session")
def wheel(version: str) -> Path:
    path = ROOT / "dist" / f"bookshop_protos-{version}-py3-none-any.whl"
    assert path.is_file(), f"{path} is missing: run 'make wheel'"
    return path


@pytest.fixture(scope="session")
def sdist(version: str) -> Path:
    path = ROOT / "dist" / f"bookshop_protos-{version}.tar.gz"
    assert path.is_file(), f"{path} is missing: run 'make wheel'"
    return path


@pytest.fixture(scope="session", params=["lowest", "newest"])
def runtime(
    request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> RuntimeVenv:
    """A fresh venv holding the wheel and its typing extra at one end of the declared range."""
    end: End = request.param
    return runtime_venv(wheel, end, tmp_path_factory.mktemp(end) / "venv", extras=("typing",))


@pytest.fixture(scope="session")
def recommendations_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real `recommendations-server` (from this venv: `make install`) on ephemeral
    loopback ports with a freshly built catalog; yield its gRPC address."""
    command = BIN / "recommendations-server"
    assert command.is_file(), f"{command} is missing: run 'make install'"
    catalog = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    subprocess.run([command, "build-catalog", "--output", catalog], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDATIONS_")}
    env |= {
        "RECOMMENDATIONS_BIND": "127.0.0.1",
        "RECOMMENDATIONS_PORT": "0",
        "RECOMMENDATIONS_METRICS_PORT": "0",
        "RECOMMENDATIONS_CATALOG": str(catalog),
        "RECOMMENDATIONS_GRACE_SECONDS": "1",
    }
    server = subprocess.Popen([command], env=env, stdout=subprocess.PIPE, text=True)
    try:
        yield f"127.0.0.1:{_serving_port(server)}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _serving_port(server: subprocess.Popen[str]) -> int:
    """Read the server's JSON log lines until it says it is serving, and on which port."""
    assert server.stdout is not None
    for line in server.stdout:
        entry = json.loads(line)
        if entry["message"] == "serving":
            return int(entry["port"])
    raise AssertionError(f"recommendations-server exited with {server.wait()} before serving")
