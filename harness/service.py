"""Recommendations replicas: `recommendations-server` processes on loopback ports."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from harness import api
from harness.metrics import Sample, by_label, scrape
from harness.ports import free_port
from harness.processes import BIN, clean_environment

if TYPE_CHECKING:
    from pathlib import Path

    from harness.processes import Supervisor

SERVER = str(BIN / "recommendations-server")


def handled_calls(metrics_port: int) -> dict[str, float]:
    """Recommend calls the server with this metrics port has handled, by gRPC status code.

    Read from the server's own `grpc_server_handled_total`: h2load counts HTTP 200s only, and a
    gRPC error arrives in the trailers of a 200.
    """
    samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    return by_label(samples, "grpc_server_handled_total", "grpc_code", grpc_method="Recommend")


def build_catalog(output: Path) -> None:
    """Build the SQLite catalog from the service's packaged CSV, as its operators would."""
    subprocess.run([SERVER, "build-catalog", "--output", str(output)], check=True)


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The server's certificate and key, and the CA of client certificates for mutual TLS."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass
class Replica:
    """One recommendations server (`command`, `recommendations-server` unless another program
    serving it is given). Its ports stay the same across restarts."""

    supervisor: Supervisor
    name: str
    catalog: Path
    drain_seconds: float = 0
    tls: ServerTls | None = None
    cpu: int | str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = (SERVER,)
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """host:port of the gRPC port."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running server's process id."""
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self, *, wait: bool = True) -> None:
        """Start the server; with `wait`, return once its health service says SERVING."""
        env = {
            "RECOMMENDATIONS_BIND": "127.0.0.1",
            "RECOMMENDATIONS_PORT": str(self.port),
            "RECOMMENDATIONS_METRICS_PORT": str(self.metrics_port),
            "RECOMMENDATIONS_HEALTH_PORT": str(self.health_port),
            "RECOMMENDATIONS_CATALOG": str(self.catalog),
            "RECOMMENDATIONS_DRAIN_SECONDS": str(self.drain_seconds),
            "RECOMMENDATIONS_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        if self.tls is not None:
            env["RECOMMENDATIONS_TLS_CERT"] = str(self.tls.cert)
            env["RECOMMENDATIONS_TLS_KEY"] = str(self.tls.key)
            if self.tls.client_ca is not None:
                env["RECOMMENDATIONS_TLS_CLIENT_CA"] = str(self.tls.client_ca)
        self.process = self.supervisor.start(
            self.name, self.command, clean_environment(env), cpu=self.cpu
        )
        if wait:
            self.wait_serving()

    def wait_serving(self, timeout: float = 20) -> None:
        """Block until health says SERVING; raise if the server exits or takes too long."""
        assert self.process is not None, f"{self.name} is not running"
        # With TLS on, the plaintext health port is the one a probe can use.
        port = self.health_port if self.tls is not None else self.port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            self.supervisor.wait_ready(
                self.name,
                self.process,
                lambda: api.health(channel, timeout=0.5) == "SERVING",
                what="SERVING",
                timeout=timeout,
                interval=0.05,
            )

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (drain, then graceful stop) and the exit status."""
        assert self.process is not None, f"{self.name} is not running"
        status = self.supervisor.stop(self.process, timeout=timeout)
        self.process = None
        return status

    def log_messages(self) -> list[str]:
        """The `message` of every JSON line in the server's log so far (its output's file; lines
        that are not JSON, such as a traceback, are left out)."""
        lines = self.supervisor.log_of(self.name).read_text(errors="replace").splitlines()
        return [json.loads(line)["message"] for line in lines if line.startswith("{")]

    def metrics(self) -> list[Sample]:
        """The server's own Prometheus samples."""
        return scrape(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def handled(self) -> dict[str, float]:
        """Recommend calls handled so far, by gRPC status code (the server's own counter)."""
        return handled_calls(self.metrics_port)
