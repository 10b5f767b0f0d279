"""Fixtures shared by the unit and integration tests: a real catalog and real servers."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import grpc
import pytest
from bookshop.recommendations.v1 import recommendations_pb2_grpc
from recommendations.catalog import build_catalog, default_csv, load_catalog, read_csv
from recommendations.server import RunningServer, start
from recommendations.settings import Settings

from harness.processes import Supervisor
from harness.service import SERVER, Replica

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from opentelemetry.sdk.trace import TracerProvider
    from recommendations.catalog import Catalog, InMemoryCatalog
    from recommendations.domain import Book, Category

# Every test server binds ephemeral ports on loopback.
TEST_SETTINGS = Settings(port=0, metrics_port=0, health_port=0, bind="127.0.0.1", grace_seconds=1)


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite catalog built from the committed CSV, as `build-catalog` makes it."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(read_csv(default_csv()), path)
    return path


@pytest.fixture(scope="session")
def catalog(catalog_file: Path) -> InMemoryCatalog:
    return load_catalog(catalog_file)


@pytest.fixture
def start_server(catalog: InMemoryCatalog) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with settings overrides (or another catalog); all stop after the test."""
    started: list[RunningServer] = []

    def _start(
        catalog_: Catalog | None = None,
        tracer_provider: TracerProvider | None = None,
        **overrides: object,
    ) -> RunningServer:
        settings = dataclasses.replace(TEST_SETTINGS, **overrides)
        running = start(settings, catalog if catalog_ is None else catalog_, tracer_provider)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop(None)


class CatalogThatBreaks:
    """Serves its books while the server starts, then (once `broken`) fails like a bug would."""

    def __init__(self, catalog: InMemoryCatalog) -> None:
        self._catalog = catalog
        self.broken = False

    def _check(self) -> None:
        if self.broken:
            raise RuntimeError("secret detail: disk on fire")

    def count(self, category: Category) -> int:
        self._check()
        return self._catalog.count(category)

    def book_at(self, category: Category, position: int) -> Book:
        self._check()
        return self._catalog.book_at(category, position)

    def books_at(self, category: Category, positions: Iterable[int]) -> list[Book]:
        self._check()
        return self._catalog.books_at(category, positions)

    def get(self, book_id: int) -> Book | None:
        self._check()
        return self._catalog.get(book_id)

    def __len__(self) -> int:
        return len(self._catalog)


@pytest.fixture
def catalog_that_breaks(catalog: InMemoryCatalog) -> CatalogThatBreaks:
    return CatalogThatBreaks(catalog)


@pytest.fixture(scope="module")
def server(catalog: InMemoryCatalog) -> Iterator[RunningServer]:
    """One plaintext server with the default stack, shared by a test module."""
    running = start(TEST_SETTINGS, catalog)
    yield running
    running.stop(None)


@pytest.fixture(scope="module")
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> recommendations_pb2_grpc.RecommendationsServiceStub:
    return recommendations_pb2_grpc.RecommendationsServiceStub(channel)


@pytest.fixture
def start_process(tmp_path: Path, catalog_file: Path) -> Iterator[Callable[..., Replica]]:
    """Start `recommendations-server` processes (the harness's `Replica`; another `command`
    serving it may be given) on free loopback ports, serving `catalog_file` and logging at INFO,
    with extra variables; each returns once its health service says SERVING. Any still running
    after the test are stopped."""
    started: list[Replica] = []
    with Supervisor(tmp_path / "logs") as supervisor:

        def _start(command: tuple[str, ...] = (SERVER,), **variables: str) -> Replica:
            env = {"RECOMMENDATIONS_LOG_LEVEL": "INFO", **variables}
            name = f"server-{len(started)}"
            replica = Replica(supervisor, name, catalog_file, extra_env=env, command=command)
            started.append(replica)
            replica.start()
            return replica

        yield _start
