"""The conformance suite catches a server that breaks the contract.

The same suite `make check-compat` runs, with this checkout's client, against today's server and
against today's server with one promise broken: max_results 0 giving five books, not three.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from harness.processes import Supervisor
from harness.service import SERVER, Replica, build_catalog
from tests.compat.check import run_suite

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

# The server, with one documented value changed before it starts.
CHANGED_DEFAULT = (
    "import sys, recommendations.recommender as r; r.DEFAULT_RESULTS = 5; "
    "from recommendations.cli import main; sys.exit(main())"
)


def _suite_against(tmp_path: Path, *server: str) -> subprocess.CompletedProcess[str]:
    """The suite's run against the server that `server` starts on a fresh catalog."""
    catalog = tmp_path / "catalog.sqlite3"
    build_catalog(catalog)
    with Supervisor(tmp_path / "logs") as supervisor:
        replica = Replica(supervisor, "server", catalog, command=server)
        replica.start()
        return run_suite(sys.executable, replica.address)


def test_today_s_server_keeps_the_contract(tmp_path: Path) -> None:
    result = _suite_against(tmp_path, SERVER)
    assert result.returncode == 0, result.stdout


def test_a_changed_default_for_max_results_is_caught(tmp_path: Path) -> None:
    result = _suite_against(tmp_path, sys.executable, "-c", CHANGED_DEFAULT)
    failed = {
        line.split(" - ")[0].rsplit("::", 1)[-1]
        for line in result.stdout.splitlines()
        if line.startswith("FAILED ")
    }
    assert result.returncode != 0
    assert failed == {"test_zero_max_results_means_three"}
    assert "assert 5 == 3" in result.stdout
