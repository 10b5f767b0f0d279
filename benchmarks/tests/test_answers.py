"""The status check catches a contender that answers with anything but OK, whatever h2load says."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from benchmarks.answers import check_answers
from benchmarks.baselines import bare_aio, bare_sync
from benchmarks.common import baseline
from benchmarks.h2load import SERVICE_PATH, SERVICE_REQUEST
from harness.ports import accepts, free_port
from harness.processes import Supervisor

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def bare_sync_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The bare sync baseline, running as the bench runs it, on a free port."""
    port = free_port()
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        env = {**os.environ, "BASELINE_PORT": str(port)}
        process = supervisor.start("bare-sync", baseline("bare_sync.py"), env)
        supervisor.wait_ready("bare-sync", process, lambda: accepts(port), timeout=15)
        yield port


def test_the_bare_baselines_serve_the_path_the_service_is_measured_on() -> None:
    assert "/{}/{}".format(*bare_sync.METHOD_PATH) == SERVICE_PATH
    assert "/{}/{}".format(*bare_aio.METHOD_PATH) == SERVICE_PATH
    assert ".v2." in SERVICE_PATH


def test_ok_answers_pass(bare_sync_port: int) -> None:
    assert check_answers("bare-sync", bare_sync_port, SERVICE_PATH, SERVICE_REQUEST) == b""


def test_a_wrong_path_fails_although_every_call_is_an_http_200(bare_sync_port: int) -> None:
    wrong = SERVICE_PATH.replace(".v2.", ".v1.")
    with pytest.raises(SystemExit, match=f"error: bare-sync answered {wrong} with UNIMPLEMENTED"):
        check_answers("bare-sync", bare_sync_port, wrong, SERVICE_REQUEST)
