"""The README's Python call of the service, run as it stands against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.ports import free_port
from harness.processes import Supervisor
from harness.service import Replica, build_catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
# The address the README's call names: `make run`'s service.
DOCUMENTED_ADDRESS = "127.0.0.1:50051"


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"^## Calling the service$.*?^```python\n(.*?)^```$", readme, flags=re.DOTALL | re.MULTILINE
    )
    assert block is not None, "README.md has no python block under '## Calling the service'"
    assert DOCUMENTED_ADDRESS in block[1]
    return block[1]


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    work = tmp_path_factory.mktemp("service")
    catalog = work / "catalog.sqlite3"
    build_catalog(catalog)
    with Supervisor(work / "logs") as supervisor:
        server = Replica(supervisor, "recommendations", catalog)
        server.start()
        yield server


def _run(snippet: str, address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", snippet.replace(DOCUMENTED_ADDRESS, address)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_the_call_prints_three_books(replica: Replica) -> None:
    result = _run(_snippet(), replica.address)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert all(re.fullmatch(r"\d+ .+ by .+", line) for line in lines), result.stdout


def test_a_bad_request_prints_its_code_and_the_offending_field(replica: Replica) -> None:
    snippet = _snippet()
    assert 'reader_id="reader-42"' in snippet
    result = _run(snippet.replace('reader_id="reader-42"', 'reader_id=""'), replica.address)

    assert (result.returncode, result.stderr) == (1, "")
    first, *violations = result.stdout.splitlines()
    assert first.startswith("error: INVALID_ARGUMENT ")
    assert [line.split(":")[0] for line in violations] == ["  reader_id"]


def test_no_server_prints_unavailable() -> None:
    result = _run(_snippet(), f"127.0.0.1:{free_port()}")

    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.startswith("error: UNAVAILABLE ")
