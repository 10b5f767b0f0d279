"""The harness leaves nothing running: a supervisor's processes, and what they started, stop when
it closes, also when the code using it failed or a process ignores SIGTERM; and waiting for a
process that dies or never gets ready says so, with its output."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from harness.ports import accepts, free_port
from harness.processes import Supervisor, wait_until

# Starts a child that sleeps, writes the child's pid to argv[1], then sleeps itself.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(60)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("up", flush=True)
time.sleep(60)
"""
SLEEPER = "import time; time.sleep(60)"
# Listens on argv[1] half a second after it starts.
LATE_SERVER = """
import socket, sys, time
time.sleep(0.5)
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
time.sleep(60)
"""


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def gone(pid: int) -> bool:
    """Whether the process has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def test_closing_stops_each_process_and_its_children_after_a_failure(tmp_path):
    pid_file = tmp_path / "child.pid"

    def fail_while_running(supervisor):
        supervisor.start("parent", python(PARENT, str(pid_file)), os.environ)
        assert wait_until(lambda: pid_file.is_file() and pid_file.read_text() != "", timeout=10)
        raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"), Supervisor(tmp_path) as supervisor:
        fail_while_running(supervisor)

    child = int(pid_file.read_text())
    assert wait_until(lambda: gone(child), timeout=5), f"the child {child} still runs"


def test_closing_kills_a_process_that_ignores_sigterm(tmp_path):
    with Supervisor(tmp_path) as supervisor:
        stubborn = supervisor.start("stubborn", python(STUBBORN), os.environ)
        assert wait_until(lambda: "up" in supervisor.log_of("stubborn").read_text(), timeout=10)

    assert stubborn.returncode == -9


def test_waiting_for_a_process_that_exits_raises_with_its_output(tmp_path):
    with Supervisor(tmp_path) as supervisor:
        doomed = supervisor.start(
            "doomed", python("print('no catalog'); raise SystemExit(3)"), os.environ
        )
        with pytest.raises(RuntimeError, match="doomed exited with 3:\nno catalog"):
            supervisor.wait_ready("doomed", doomed, lambda: False, timeout=10)


def test_waiting_longer_than_the_timeout_raises(tmp_path):
    with Supervisor(tmp_path) as supervisor:
        sleeper = supervisor.start("sleeper", python(SLEEPER), os.environ)
        with pytest.raises(RuntimeError, match=r"sleeper was not listening within 0\.5 s"):
            supervisor.wait_ready("sleeper", sleeper, lambda: False, what="listening", timeout=0.5)


def test_a_check_that_cannot_connect_yet_is_not_ready_yet(tmp_path):
    port = free_port()

    def connected() -> bool:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()  # refused until up
        return True

    with Supervisor(tmp_path) as supervisor:
        server = supervisor.start("server", python(LATE_SERVER, str(port)), os.environ)
        supervisor.wait_ready("server", server, connected, timeout=10)
        assert accepts(port)
