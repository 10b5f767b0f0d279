"""The wheel's stubs let mypy --strict check consumer code, and catch a misspelled field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
"""

MISSPELLED = """
from __future__ import annotations

from bookshop.recommendations.v1 import recommendations_pb2

request = recommendations_pb2.RecommendRequest(user_idd=1)
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "consumer.py"
    module.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", module],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_mypy_strict_accepts_correct_consumer_code(tmp_path: Path) -> None:
    result = _mypy(tmp_path, CORRECT)
    assert result.returncode == 0, result.stdout


def test_mypy_strict_rejects_a_misspelled_field(tmp_path: Path) -> None:
    result = _mypy(tmp_path, MISSPELLED)
    assert result.returncode == 1
    assert 'Unexpected keyword argument "user_idd"' in result.stdout
