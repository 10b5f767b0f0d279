"""`make run` stops completely however it is signalled, and listens on loopback only.

Each round starts `make run` in a process group of its own, as a terminal would, on ports of
its own (MARKETPLACE_PORT, RECOMMENDATIONS_PORT, RECOMMENDATIONS_METRICS_PORT), waits until the
website answers, then sends the whole group one to three SIGINTs and SIGTERMs in quick
succession: Ctrl+C pressed twice, `kill` of the group, and make passing the signal on. Within
10 s nothing may listen on any of the three ports, and make must have exited.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.ports import accepts, free_port
from harness.probes import answers
from harness.processes import Supervisor, clean_environment

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 20
STOP_SECONDS = 10.0
# Seeded: every run sends the same rounds, and each count (1, 2, 3) and kind occurs.
_PLAN = random.Random(20261128)
SIGNAL_ROUNDS = [
    [_PLAN.choice([signal.SIGINT, signal.SIGTERM]) for _ in range(_PLAN.randint(1, 3))]
    for _ in range(ROUNDS)
]


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every TCP socket listening on `port` (from /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


# 127.0.0.1 as /proc/net/tcp and /proc/net/tcp6 (an IPv4-mapped address) write it.
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The caller's environment without the services' settings (so the service serves its
    packaged catalog), with a development database of the test's own, and the supervisor that
    starts `make run` (and stops whatever a failed round left of make)."""
    workdir = tmp_path_factory.mktemp("make-run")
    env = clean_environment({"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}"})
    env.pop("MAKEFLAGS", None)
    with Supervisor(workdir / "logs") as supervisor:
        yield env, supervisor


def start(environment, name):
    """`make run` on fresh ports in a new process group; returns it, its ports and its log."""
    env, supervisor = environment
    ports = {
        "MARKETPLACE_PORT": free_port(),
        "RECOMMENDATIONS_PORT": free_port(),
        "RECOMMENDATIONS_METRICS_PORT": free_port(),
    }
    make = supervisor.start(
        name, ["make", "-s", "run"], {**env, **{k: str(v) for k, v in ports.items()}}, cwd=ROOT
    )
    site = f"http://127.0.0.1:{ports['MARKETPLACE_PORT']}/"
    supervisor.wait_ready(
        name,
        make,
        lambda: answers(site) and all(accepts(port) for port in ports.values()),
        what="serving on all three ports",
        timeout=60,
        interval=0.2,
    )
    return make, ports, supervisor.log_of(name)


def stopped_within(make, ports, seconds):
    """Whether make exited and no port listens within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if make.poll() is not None and not any(accepts(p) for p in ports.values()):
            return True
        time.sleep(0.1)
    return False


def listener_pids(port: int) -> set[int]:
    """The processes listening on `port` (from `ss`)."""
    table = subprocess.run(["ss", "-ltnpH"], check=True, capture_output=True, text=True).stdout
    return {
        int(part.split(",")[0])
        for line in table.splitlines()
        if f":{port} " in line
        for part in line.split("pid=")[1:]
    }


def clean_up(make, ports):
    """After a failed round: stop whatever still listens, so the next test starts clean."""
    for port in ports.values():
        for pid in listener_pids(port):
            os.kill(pid, signal.SIGKILL)
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()


def test_make_run_listens_on_loopback_only(environment):
    make, ports, log = start(environment, "loopback")
    try:
        for name, port in ports.items():
            assert listening_addresses(port) <= LOOPBACK, (name, listening_addresses(port))
            assert listening_addresses(port), name
        assert "the bookshop is open at http://127.0.0.1:" in log.read_text()
    finally:
        os.killpg(make.pid, signal.SIGINT)
        assert stopped_within(make, ports, STOP_SECONDS)


@pytest.mark.parametrize(
    "signals",
    SIGNAL_ROUNDS,
    ids=[f"round{n + 1}-" + "-".join(s.name for s in sent) for n, sent in enumerate(SIGNAL_ROUNDS)],
)
def test_make_run_stops_everything_on_one_to_three_signals(environment, signals):
    make, ports, log = start(environment, "-".join(s.name for s in signals))

    for number, sent in enumerate(signals):
        if number:
            time.sleep(random.uniform(0.0, 0.05))
        os.killpg(make.pid, sent)

    if not stopped_within(make, ports, STOP_SECONDS):
        left = {name: port for name, port in ports.items() if accepts(port)}
        clean_up(make, ports)
        pytest.fail(f"after {signals}: still listening {left}\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("stopping", ["MARKETPLACE_PORT", "RECOMMENDATIONS_PORT"])
def test_when_either_process_stops_the_other_is_stopped(environment, stopping):
    make, ports, log = start(environment, f"stop-{stopping}")
    for pid in listener_pids(ports[stopping]):
        os.kill(pid, signal.SIGKILL)

    if not stopped_within(make, ports, STOP_SECONDS):
        clean_up(make, ports)
        pytest.fail(f"the other process kept running:\n{log.read_text()[-3000:]}")
    assert make.returncode != 0
