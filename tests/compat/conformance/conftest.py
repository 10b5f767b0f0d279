"""The client conformance suite: the recommendations API's contract, written as tests that run
in a virtual environment holding one bookshop-protos release, against a live server.

    python -m pytest tests/compat/conformance --target 127.0.0.1:50051

Each test is marked with the release whose contract it checks (`@pytest.mark.since("1.1.0")`);
tests of contracts newer than the installed release are deselected, and the modules of API
versions the release does not have (test_v2.py before 1.2.0) are not collected, so an old
client's run checks exactly what its release promised. The suite needs pytest, grpcio, the
release, and googleapis-common-protos for the error details.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import version
from typing import TYPE_CHECKING

import grpc
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RELEASE = tuple(int(part) for part in version("bookshop-protos").split("."))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--target", required=True, help="host:port of the server under test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "since(release): the release that made this promise")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out test_vN.py when the installed release has no bookshop.recommendations.vN."""
    stem = collection_path.stem
    if stem.startswith("test_v") and stem[len("test_v") :].isdigit():
        return importlib.util.find_spec(f"bookshop.recommendations.{stem[5:]}") is None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests of promises made after the installed release."""
    kept, newer = [], []
    for item in items:
        marker = item.get_closest_marker("since")
        if marker is None:
            raise pytest.UsageError(f"{item.nodeid} does not say which release promised it")
        since = tuple(int(part) for part in marker.args[0].split("."))
        (newer if since > RELEASE else kept).append(item)
    if newer:
        config.hook.pytest_deselected(items=newer)
        items[:] = kept


@pytest.fixture(scope="session")
def channel(request: pytest.FixtureRequest) -> Iterator[grpc.Channel]:
    """A channel to the server under test."""
    with grpc.insecure_channel(request.config.getoption("--target")) as channel:
        yield channel
