"""Fixtures for the bookshop-protos tests: they examine the artifacts that `make wheel` built."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def package_index(tmp_path: Path) -> Iterator[str]:
    """Run a real pypiserver on an ephemeral loopback port, empty; yield its upload URL."""
    port = _free_port()
    store = tmp_path / "packages"
    store.mkdir()
    server = subprocess.Popen(
        [
            BIN / "pypi-server",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-a",
            ".",
            "-P",
            ".",
            store,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(url + "simple/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def script_env() -> dict[str, str]:
    """The environment for running ci/ scripts with this virtual environment's tools."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
