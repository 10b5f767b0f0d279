"""Each ablation variant really replaces its trick, and answers every call as the full service.

The servers are real (`server.start` on ephemeral loopback ports, in this process); spies on the
product's classes show which code runs.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

import grpc
import pytest
from bookshop.recommendations.v1 import recommendations_pb2 as v1
from bookshop.recommendations.v2 import recommendations_pb2 as v2
from recommendations import server
from recommendations.catalog import build_catalog, default_csv, load_catalog, read_csv
from recommendations.interceptors import AccessLogInterceptor, MetricsInterceptor
from recommendations.servicer import V1_SERVICE, V2_SERVICE, RecommendationsServicerV2
from recommendations.settings import Settings

from benchmarks.ablation.check import NotInUseError
from benchmarks.ablation.pool import LibraryPool
from benchmarks.ablation.serve import check_in_use
from benchmarks.ablation.variants import FULL, VARIANTS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from recommendations.catalog import InMemoryCatalog
    from recommendations.server import RunningServer

SETTINGS = Settings(port=0, metrics_port=0, health_port=0, bind="127.0.0.1", grace_seconds=1)
V2_PATH = f"/{V2_SERVICE}/Recommend"
V1_PATH = f"/{V1_SERVICE}/Recommend"
FIRST_PAGE = v2.RecommendRequest(reader_id="7", category=v2.BOOK_CATEGORY_MYSTERY, page_size=3)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> InMemoryCatalog:
    path: Path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(read_csv(default_csv()), path)
    return load_catalog(path)


@contextmanager
def serving(name: str, catalog: InMemoryCatalog) -> Iterator[RunningServer]:
    """A server started as the full service or as variant `name`, its check passed."""
    with ExitStack() as stack:
        check = None if name == FULL else VARIANTS[name].install(stack)
        running = server.start(SETTINGS, catalog)
        try:
            if check is not None:
                check(running)
            yield running
        finally:
            running.shutdown()


def call(running: RunningServer, path: str, request: Any, response: Any) -> Any:
    """One call; the response message, or the error's status code and details."""
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        try:
            return stub(request, timeout=10)
        except grpc.RpcError as error:
            status = cast("grpc.Call", error)
            return status.code(), status.details()


def answers(running: RunningServer) -> list[Any]:
    """The answers to a set of calls of both versions, good and bad."""
    first = call(running, V2_PATH, FIRST_PAGE, v2.RecommendResponse)
    return [
        first,
        call(
            running,
            V2_PATH,
            v2.RecommendRequest(
                reader_id="7", category=v2.BOOK_CATEGORY_MYSTERY, page_token=first.next_page_token
            ),
            v2.RecommendResponse,
        ),
        call(running, V2_PATH, v2.RecommendRequest(reader_id=""), v2.RecommendResponse),
        call(
            running,
            V1_PATH,
            v1.RecommendRequest(user_id=7, category=v1.BOOK_CATEGORY_SCIENCE_FICTION),
            v1.RecommendResponse,
        ),
        call(running, V1_PATH, v1.RecommendRequest(user_id=-1), v1.RecommendResponse),
    ]


@pytest.fixture(scope="module")
def full_answers(catalog: InMemoryCatalog) -> list[Any]:
    with serving(FULL, catalog) as running:
        return answers(running)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_variant_answers_every_call_as_the_full_service(
    name: str, catalog: InMemoryCatalog, full_answers: list[Any]
) -> None:
    assert full_answers[0].books
    assert full_answers[0].next_page_token
    assert full_answers[2][0] is grpc.StatusCode.INVALID_ARGUMENT
    with serving(name, catalog) as running:
        assert answers(running) == full_answers


def test_thread_pool_executor_serves_the_calls(catalog: InMemoryCatalog) -> None:
    with serving("thread-pool-executor", catalog) as running:
        pool: object = running.pool
        assert isinstance(pool, LibraryPool)
        assert not pool._threads  # ThreadPoolExecutor starts its threads on the first submit
        assert call(running, V2_PATH, FIRST_PAGE, v2.RecommendResponse).books
        assert pool._threads


@pytest.mark.parametrize(("name", "product_calls"), [(FULL, 2), ("built-responses", 0)])
def test_built_responses_never_reach_the_pre_encoding_servicer(
    name: str, product_calls: int, catalog: InMemoryCatalog
) -> None:
    original = RecommendationsServicerV2.Recommend
    with mock.patch.object(
        RecommendationsServicerV2, "Recommend", autospec=True, side_effect=original
    ) as spy:
        with serving(name, catalog) as running:
            for _ in range(2):
                assert call(running, V2_PATH, FIRST_PAGE, v2.RecommendResponse).books
        assert spy.call_count == product_calls


@pytest.mark.parametrize(("name", "created"), [(FULL, False), ("prometheus-metrics", True)])
def test_prometheus_metrics_count_the_calls_in_library_metrics(
    name: str, created: bool, catalog: InMemoryCatalog
) -> None:
    labels = {"grpc_service": V2_SERVICE, "grpc_method": "Recommend", "grpc_type": "unary"}
    wrap = MetricsInterceptor.wrap
    with mock.patch.object(MetricsInterceptor, "wrap", autospec=True, side_effect=wrap) as spy:
        with serving(name, catalog) as running:
            for _ in range(3):
                call(running, V2_PATH, FIRST_PAGE, v2.RecommendResponse)
            handled = {**labels, "grpc_code": "OK"}
            assert running.registry.get_sample_value("grpc_server_handled_total", handled) == 3
            assert running.registry.get_sample_value("grpc_server_started_total", labels) == 3
            # Only prometheus-client's own Counter shows when each series was created.
            has_created = running.registry.get_sample_value("grpc_server_started_created", labels)
            assert (has_created is not None) is created
        assert spy.called is not created


@pytest.mark.parametrize(("name", "per_call"), [(FULL, False), ("grpc-interceptors", True)])
def test_grpc_interceptors_wrap_every_call(
    name: str, per_call: bool, catalog: InMemoryCatalog
) -> None:
    wrap = AccessLogInterceptor.wrap
    with (
        mock.patch.object(AccessLogInterceptor, "wrap", autospec=True, side_effect=wrap) as spy,
        serving(name, catalog) as running,
    ):
        at_start = spy.call_count
        for _ in range(3):
            assert call(running, V2_PATH, FIRST_PAGE, v2.RecommendResponse).books
        assert spy.call_count - at_start == (3 if per_call else 0)


def test_a_variant_that_is_not_in_use_is_caught(catalog: InMemoryCatalog) -> None:
    # The pool's replacement installed, then undone before the server starts.
    with ExitStack() as stack:
        check = VARIANTS["thread-pool-executor"].install(stack)
        stack.close()
        running = server.start(SETTINGS, catalog)
        try:
            with pytest.raises(NotInUseError, match="WorkerPool"):
                check(running)
        finally:
            running.shutdown()


def test_the_launcher_stops_a_server_whose_variant_is_not_in_use(catalog: InMemoryCatalog) -> None:
    def never(running: RunningServer) -> None:
        raise NotInUseError("not this one")

    shutdown = server.RunningServer.shutdown
    with (
        mock.patch.object(
            server.RunningServer, "shutdown", autospec=True, side_effect=shutdown
        ) as spy,
        ExitStack() as stack,
    ):
        check_in_use(stack, never)
        with pytest.raises(SystemExit, match="the variant is not in use: not this one"):
            server.start(SETTINGS, catalog, None)  # as server.serve calls it
        spy.assert_called_once()
