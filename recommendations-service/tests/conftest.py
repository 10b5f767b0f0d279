"""Fixtures shared by the unit and integration tests: a real catalog and real servers."""

from __future__ import annotations

import dataclasses
import itertools
from concurrent import futures
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
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from opentelemetry.sdk.trace import TracerProvider
    from recommendations.catalog import Catalog, InMemoryCatalog

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


@pytest.fixture(scope="session")
def stop_later() -> Iterator[Callable[[RunningServer], None]]:
    """Stop servers in the background: a metrics port takes half a second to close (the poll
    interval of its `serve_forever`), which the next test need not wait for. All have stopped,
    and a failure to stop is raised, before the session ends."""
    stops: list[futures.Future[None]] = []
    with futures.ThreadPoolExecutor(thread_name_prefix="stopping") as pool:
        yield lambda running: stops.append(pool.submit(running.stop, None))
    for stop in stops:
        stop.result()


@pytest.fixture
def start_server(
    catalog: InMemoryCatalog, stop_later: Callable[[RunningServer], None]
) -> Iterator[Callable[..., RunningServer]]:
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
        stop_later(running)


class CatalogThatBreaks:
    """Serves its books while the server starts, then (once `broken`) fails like a bug would."""

    def __init__(self, catalog: InMemoryCatalog) -> None:
        self._catalog = catalog
        self.broken = False

    def __getattr__(self, name: str) -> Callable[..., object]:
        lookup = getattr(self._catalog, name)

        def checked(*args: object) -> object:
            if self.broken:
                raise RuntimeError("secret detail: disk on fire")
            return lookup(*args)

        return checked

    def __len__(self) -> int:
        return len(self._catalog)


@pytest.fixture
def catalog_that_breaks(catalog: InMemoryCatalog) -> CatalogThatBreaks:
    return CatalogThatBreaks(catalog)


@pytest.fixture(scope="module")
def server(
    catalog: InMemoryCatalog, stop_later: Callable[[RunningServer], None]
) -> Iterator[RunningServer]:
    """One plaintext server with the default stack, shared by a test module."""
    running = start(TEST_SETTINGS, catalog)
    yield running
    stop_later(running)


@pytest.fixture(scope="module")
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> recommendations_pb2_grpc.RecommendationsServiceStub:
    return recommendations_pb2_grpc.RecommendationsServiceStub(channel)


@pytest.fixture
def start_process(tmp_path: Path, catalog_file: Path) -> Iterator[Callable[..., Replica]]:
    """Start `recommendations-server` processes (or another `command` serving it) on free loopback
    ports, serving `catalog_file` and logging at INFO; each returns once its health says SERVING,
    and any still running after the test are stopped."""
    names = (f"server-{n}" for n in itertools.count())
    with Supervisor(tmp_path / "logs") as supervisor:

        def _start(
            command: tuple[str, ...] = (SERVER,), *, cpu: str | None = None, **variables: str
        ) -> Replica:
            env = {"RECOMMENDATIONS_LOG_LEVEL": "INFO", **variables}
            replica = Replica(
                supervisor, next(names), catalog_file, cpu=cpu, extra_env=env, command=command
            )
            replica.start()
            return replica

        yield _start
