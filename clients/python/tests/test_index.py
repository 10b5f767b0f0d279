"""Publishing to a real package index, and installing from it into a fresh virtual environment."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _publish(index: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOT / "ci" / "publish.sh"],
        env={**env, "BOOKSHOP_INDEX_URL": index, "TWINE_USERNAME": "ci", "TWINE_PASSWORD": "ci"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_publish_then_install_from_the_index(
    package_index: str, script_env: dict[str, str], tmp_path: Path, version: str
) -> None:
    first = _publish(package_index, script_env)
    assert first.returncode == 0, first.stderr

    consumer = tmp_path / "consumer"
    venv.create(consumer, with_pip=True)
    python = consumer / "bin" / "python"
    # The one index the README's recipe names: it refers protobuf and grpcio to the public index.
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--index-url",
            f"{package_index}simple/",
            f"bookshop-protos=={version}",
        ],
        check=True,
        capture_output=True,
    )
    imported = subprocess.run(
        [
            python,
            "-c",
            "from importlib.metadata import version\n"
            "from bookshop.recommendations.v1 import recommendations_pb2 as pb, "
            "recommendations_pb2_grpc as rpc\n"
            "request = pb.RecommendRequest(user_id=7, category=pb.BOOK_CATEGORY_MYSTERY)\n"
            "assert pb.RecommendRequest.FromString(request.SerializeToString()) == request\n"
            "assert rpc.RecommendationsServiceStub\n"
            "print(version('bookshop-protos'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert imported.stdout.strip() == version


def test_publishing_an_existing_version_is_refused(
    package_index: str, script_env: dict[str, str], version: str
) -> None:
    assert _publish(package_index, script_env).returncode == 0

    again = _publish(package_index, script_env)

    assert again.returncode != 0
    assert f"bookshop-protos {version} is already published" in again.stderr
    assert "releases are immutable" in again.stderr
