"""The `recommendations-server` process: configuration errors, catalog building, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from recommendations.catalog import build_catalog, default_csv, load_catalog, read_csv
from recommendations.domain import Book, Category
from recommendations.settings import VARIABLES

from harness import api
from harness.processes import clean_environment, wait_until

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.service import Replica

COMMAND = [sys.executable, "-m", "recommendations"]
# The server, with a thread of its own that takes a SIGTERM once the file argv[1] exists: the
# kernel may deliver a process's signal to any of its threads, and a main thread asleep in a wait
# is then not woken by it.
SIGTERM_ON_ANOTHER_THREAD = """
import os, signal, sys, threading, time
from recommendations.cli import main

def take_sigterm(trigger):
    while not os.path.exists(trigger):
        time.sleep(0.05)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

threading.Thread(target=take_sigterm, args=(sys.argv.pop(1),), daemon=True).start()
sys.exit(main())
"""
DRAIN = 3  # seconds; generous, so a busy machine still fits the checks inside the window


def _env(**variables: str) -> dict[str, str]:
    return clean_environment({"RECOMMENDATIONS_BIND": "127.0.0.1", **variables})


def _run(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=_env(**variables),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_help_lists_every_variable_with_its_default() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for variable in VARIABLES:
        assert f"  {variable.name}={variable.default}\n" in result.stdout
    assert "  RECOMMENDATIONS_CATALOG=\n" in result.stdout


def _serve_from(directory: Path, **variables: str) -> tuple[list[str], dict[str, object]]:
    """Start the `recommendations-server` script in `directory`, ask it for mystery books, stop it;
    return the titles it recommended and its "catalog loaded" log entry."""
    script = Path(sys.executable).with_name("recommendations-server")
    server = subprocess.Popen(
        [str(script)],
        cwd=directory,
        env=_env(RECOMMENDATIONS_PORT="0", RECOMMENDATIONS_METRICS_PORT="0", **variables),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        entries = {}
        for line in server.stdout:
            entry = json.loads(line)
            entries[entry["message"]] = entry
            if entry["message"] == "serving":
                break
        else:
            raise AssertionError(f"the server exited with {server.wait()} before serving")
        with grpc.insecure_channel(f"127.0.0.1:{entries['serving']['port']}") as channel:
            titles = [title for _, title in api.recommend(channel)]
        return titles, entries["catalog loaded"]
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_with_no_catalog_configured_it_serves_the_packaged_one_from_any_directory(
    tmp_path: Path,
) -> None:
    titles, loaded = _serve_from(tmp_path)
    packaged = {book.title for book in read_csv(default_csv())}
    assert len(titles) == 3
    assert set(titles) <= packaged
    assert loaded["catalog"] == "packaged"
    assert loaded["books"] == len(packaged)
    assert list(tmp_path.iterdir()) == []


def test_a_configured_catalog_wins_over_the_packaged_one(tmp_path: Path) -> None:
    mine = [
        Book(id=i, title=f"Mystery {i}", author="A. Writer", category=Category.MYSTERY)
        for i in range(1, 4)
    ]
    build_catalog(mine, tmp_path / "mine.sqlite3")
    (tmp_path / "empty").mkdir()
    titles, loaded = _serve_from(
        tmp_path / "empty", RECOMMENDATIONS_CATALOG=str(tmp_path / "mine.sqlite3")
    )
    assert sorted(titles) == ["Mystery 1", "Mystery 2", "Mystery 3"]
    assert loaded["catalog"] == str(tmp_path / "mine.sqlite3")
    assert loaded["books"] == 3


def test_a_bad_variable_is_one_line_and_status_2(catalog_file: Path) -> None:
    result = _run(RECOMMENDATIONS_PORT="fifty", RECOMMENDATIONS_CATALOG=str(catalog_file))
    assert result.returncode == 2
    assert result.stderr == "error: RECOMMENDATIONS_PORT must be a port 0-65535, got 'fifty'\n"
    assert result.stdout == ""


@pytest.mark.parametrize("kind", ["missing", "empty", "junk"])
def test_an_unusable_catalog_stops_start_up_with_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "catalog.sqlite3"
    if kind == "empty":
        (tmp_path / "empty.csv").write_text("id,title,author,category\n")
        built = _run("build-catalog", "--csv", str(tmp_path / "empty.csv"), "--output", str(path))
        assert built.returncode == 0
    elif kind == "junk":
        path.write_bytes(b"\0junk" * 1000)
    result = _run(RECOMMENDATIONS_CATALOG=str(path), RECOMMENDATIONS_PORT="0")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: catalog {path} ")
    assert "Traceback" not in result.stderr + result.stdout


def test_build_catalog_writes_the_packaged_books(tmp_path: Path) -> None:
    output = tmp_path / ".cache" / "catalog.sqlite3"
    result = _run("build-catalog", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert len(load_catalog(output)) >= 150


def test_build_catalog_refuses_a_bad_csv(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(
        "id,title,author,category\n1,Dune,Frank Herbert,space opera\n"
    )
    result = _run(
        "build-catalog", "--csv", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "c")
    )
    assert result.returncode == 1
    assert "category one of mystery, science-fiction, self-help" in result.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_drains_then_exits_0(
    start_process: Callable[..., Replica],
    signum: signal.Signals,
) -> None:
    replica = start_process(RECOMMENDATIONS_DRAIN_SECONDS=str(DRAIN))
    server = replica.process
    assert server is not None
    with grpc.insecure_channel(replica.address) as channel:
        assert api.health(channel, service=api.SERVICE) == "SERVING"
        signalled = time.monotonic()
        server.send_signal(signum)
        while api.health(channel, service=api.SERVICE) != "NOT_SERVING":
            assert time.monotonic() - signalled < DRAIN - 1, "health never went NOT_SERVING"
            time.sleep(0.05)
        # Inside the drain window: NOT_SERVING, yet calls still succeed.
        assert len(api.recommend(channel, timeout=2)) == 3
        assert time.monotonic() - signalled < DRAIN - 0.1, "the call missed the drain window"
    assert server.wait(timeout=15) == 0
    assert time.monotonic() - signalled >= DRAIN
    messages = replica.log_messages()
    assert messages[messages.index("serving") + 1 :] == ["signal received", "draining", "stopped"]


def test_a_sigterm_taken_by_another_thread_stops_the_server_too(
    start_process: Callable[..., Replica], tmp_path: Path
) -> None:
    trigger = tmp_path / "sigterm"
    replica = start_process((sys.executable, "-c", SIGTERM_ON_ANOTHER_THREAD, str(trigger)))
    assert replica.process is not None
    trigger.touch()
    assert replica.process.wait(timeout=10) == 0
    messages = replica.log_messages()
    assert messages[messages.index("serving") + 1 :] == ["signal received", "draining", "stopped"]


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {int(child) for task in tasks for child in (task / "children").read_text().split()}


def _serving_pids(replica: Replica) -> set[int]:
    """The processes that logged "serving", once two have."""
    wait_until(lambda: replica.log_messages().count("serving") == 2, timeout=30)
    lines = replica.supervisor.log_of(replica.name).read_text().splitlines()
    return {json.loads(line)["pid"] for line in lines if '"message": "serving"' in line}


def test_several_processes_share_the_port_their_metrics_add_up_and_sigterm_drains_them_all(
    start_process: Callable[..., Replica],
) -> None:
    replica = start_process(RECOMMENDATIONS_PROCESSES="2")
    pids = _serving_pids(replica)
    assert len(pids) == 2
    assert pids <= _children(replica.pid)
    calls = 40
    for _ in range(calls):  # each on a connection of its own: the kernel spreads connections
        with grpc.insecure_channel(replica.address, [("grpc.use_local_subchannel_pool", 1)]) as ch:
            assert api.recommend(ch)
    assert replica.handled() == {"OK": calls}

    assert replica.terminate(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    assert replica.log_messages().count("stopped") == 2


def test_as_many_processes_as_cpus_run_each_on_a_cpu_of_its_own(
    start_process: Callable[..., Replica],
) -> None:
    cpus = sorted(os.sched_getaffinity(0))[:2]
    assert len(cpus) == 2, "this test needs two CPUs"
    replica = start_process(cpu=",".join(map(str, cpus)), RECOMMENDATIONS_PROCESSES="2")
    # Sorted as lists: sets compare by inclusion, which leaves [{1}, {0}] unsorted.
    placed = sorted(sorted(_cpus_of_threads(pid)) for pid in _serving_pids(replica))
    assert placed == [[cpu] for cpu in cpus]


def _cpus_of_threads(pid: int) -> set[int]:
    """The CPUs any thread of `pid` may run on."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {cpu for task in tasks for cpu in os.sched_getaffinity(int(task.name))}


def test_a_process_that_dies_stops_the_others_and_the_parent_fails(
    start_process: Callable[..., Replica],
) -> None:
    replica = start_process(RECOMMENDATIONS_PROCESSES="2")
    parent = replica.process
    assert parent is not None
    first, second = sorted(_serving_pids(replica))
    os.kill(first, signal.SIGKILL)
    assert parent.wait(timeout=30) == 1
    assert not Path(f"/proc/{second}").exists()
