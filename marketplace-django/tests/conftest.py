from __future__ import annotations

import grpc
import pytest
from prometheus_client import REGISTRY
from storefront import recommendations

from harness.ports import free_port
from tests.servers import ScriptedServicer, start


@pytest.fixture
def serve(settings):
    """Starts a real server in the given API versions, points the site at it and returns its
    ScriptedServicer; every server is stopped after the test."""
    servicer, servers = ScriptedServicer(), []

    def serving(versions: tuple[str, ...] = ("v2", "v1")) -> ScriptedServicer:
        server, port = start(servicer, versions=versions)
        servers.append(server)
        settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{port}"
        recommendations.close()
        return servicer

    yield serving
    servicer.released.set()
    for server in servers:
        server.stop(grace=0)
    recommendations.close()


@pytest.fixture
def recommendations_server(serve):
    """A real recommendations server on an ephemeral port, which the site is pointed at."""
    return serve()


@pytest.fixture
def nothing_listening(settings):
    """The site pointed at a port where no server listens."""
    settings.RECOMMENDATIONS_TARGET = f"127.0.0.1:{free_port()}"
    recommendations.close()
    yield
    recommendations.close()


@pytest.fixture
def calls_counted():
    """How many recommendation calls ended with a given gRPC code since the test began."""
    name = "marketplace_recommendations_calls_total"

    def value(code: str) -> float:
        return REGISTRY.get_sample_value(name, {"grpc_code": code}) or 0.0

    before = {code.name: value(code.name) for code in grpc.StatusCode}
    return lambda code: value(code) - before[code]
