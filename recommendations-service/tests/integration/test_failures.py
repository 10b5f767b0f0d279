"""An unexpected failure inside the service, through the full interceptor stack."""

from __future__ import annotations

import logging

import grpc
import pytest
from bookshop.recommendations.v1.recommendations_pb2 import BOOK_CATEGORY_MYSTERY, RecommendRequest
from bookshop.recommendations.v1.recommendations_pb2_grpc import RecommendationsServiceStub


def test_a_bug_is_internal_with_a_generic_message_and_one_traceback(
    start_server, catalog_that_breaks, caplog: pytest.LogCaptureFixture
) -> None:
    broken = catalog_that_breaks
    running = start_server(broken)
    broken.broken = True
    with (
        caplog.at_level(logging.INFO),
        grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        RecommendationsServiceStub(channel).Recommend(
            RecommendRequest(user_id=1, category=BOOK_CATEGORY_MYSTERY), timeout=5
        )
    assert error.value.code() is grpc.StatusCode.INTERNAL
    assert error.value.details() == "internal error"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "disk on fire" in str(tracebacks[0].exc_info[1])
    access = [r for r in caplog.records if r.name == "recommendations.access"]
    assert [r.fields["grpc_code"] for r in access] == ["INTERNAL"]
    handled = {
        "grpc_service": "bookshop.recommendations.v1.RecommendationsService",
        "grpc_method": "Recommend",
        "grpc_type": "unary",
        "grpc_code": "INTERNAL",
    }
    assert running.registry.get_sample_value("grpc_server_handled_total", handled) == 1
