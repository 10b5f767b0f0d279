"""The wheel's stubs let mypy --strict check consumer code, and catch a misspelled field, with the
typing extra at both ends of the declared range (mypy from this venv, checking the packages
installed in the runtime venv)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from tests.compat.runtimes import RuntimeVenv

# A client, a servicer and the wire form: each leans on the wheel's stubs and on the typing
# extra's (without types-protobuf, `encode` returns Any; without types-grpcio, `grpc` is untyped).
CORRECT = """
from __future__ import annotations

import grpc
from bookshop.recommendations.v1 import recommendations_pb2, recommendations_pb2_grpc


def titles(channel: grpc.Channel) -> list[str]:
    stub = recommendations_pb2_grpc.RecommendationsServiceStub(channel)
    request = recommendations_pb2.RecommendRequest(
        user_id=1, category=recommendations_pb2.BOOK_CATEGORY_MYSTERY, max_results=3
    )
    response: recommendations_pb2.RecommendResponse = stub.Recommend(request, timeout=0.3)
    return [book.title for book in response.recommendations]


class Servicer(recommendations_pb2_grpc.RecommendationsServiceServicer):
    def Recommend(
        self, request: recommendations_pb2.RecommendRequest, context: grpc.ServicerContext
    ) -> recommendations_pb2.RecommendResponse:
        book = recommendations_pb2.BookRecommendation(id=request.user_id, title="Emma")
        return recommendations_pb2.RecommendResponse(recommendations=[book])


def serve(server: grpc.Server) -> None:
    recommendations_pb2_grpc.add_RecommendationsServiceServicer_to_server(Servicer(), server)


def encode(request: recommendations_pb2.RecommendRequest) -> bytes:
    return request.SerializeToString()
"""

MISSPELLED = """
from __future__ import annotations

from bookshop.recommendations.v1 import recommendations_pb2

request = recommendations_pb2.RecommendRequest(user_idd=1)
"""


@pytest.mark.parametrize(
    ("source", "status", "error"),
    [(CORRECT, 0, ""), (MISSPELLED, 1, 'Unexpected keyword argument "user_idd"')],
    ids=["accepts-correct-consumer-code", "rejects-a-misspelled-field"],
)
def test_mypy_strict(
    runtime: RuntimeVenv, tmp_path: Path, source: str, status: int, error: str
) -> None:
    module = tmp_path / "consumer.py"
    module.write_text(source)
    against = ["--python-executable", str(runtime.python)]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *against, module],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == status, f"{runtime}\n{result.stdout}"
    assert error in result.stdout
