"""Fixtures for the bookshop-protos tests: they examine the artifacts that `make wheel` built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import Supervisor
from harness.service import SERVER, Replica, build_catalog
from tests.compat.runtimes import End, RuntimeVenv, runtime_venv

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def version() -> str:
    return (ROOT / "proto-registry" / "VERSION").read_text().strip()


def _built(name: str) -> Path:
    path = ROOT / "dist" / name
    assert path.is_file(), f"{path} is missing: run 'make wheel'"
    return path


@pytest.fixture(scope="session")
def wheel(version: str) -> Path:
    return _built(f"bookshop_protos-{version}-py3-none-any.whl")


@pytest.fixture(scope="session")
def sdist(version: str) -> Path:
    return _built(f"bookshop_protos-{version}.tar.gz")


@pytest.fixture(scope="session", params=["lowest", "newest"])
def runtime(
    request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> RuntimeVenv:
    """A fresh venv holding the wheel and its typing extra at one end of the declared range."""
    end: End = request.param
    return runtime_venv(wheel, end, tmp_path_factory.mktemp(end) / "venv", extras=("typing",))


@pytest.fixture(scope="session")
def recommendations_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the real `recommendations-server` (from this venv: `make install`) on free loopback
    ports with a freshly built catalog; yield its gRPC address."""
    assert Path(SERVER).is_file(), f"{SERVER} is missing: run 'make install'"
    workdir = tmp_path_factory.mktemp("recommendations")
    catalog = workdir / "catalog.sqlite3"
    build_catalog(catalog)
    with Supervisor(workdir / "logs") as supervisor:
        server = Replica(
            supervisor, "recommendations", catalog, extra_env={"RECOMMENDATIONS_GRACE_SECONDS": "1"}
        )
        server.start()
        yield server.address
