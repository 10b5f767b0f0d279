"""The website under `marketplace-server`, configured as in production, on loopback ports."""

from __future__ import annotations

import http.client
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.metrics import Sample, by_label, scrape
from harness.ports import free_port
from harness.probes import answers
from harness.processes import BIN, clean_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from harness.processes import Supervisor

ROOT = Path(__file__).resolve().parents[1]
MANAGE = ROOT / "marketplace-django" / "manage.py"
CALLS = "marketplace_recommendations_calls_total"
BOOK_MARK = b"data-book-id="
AUTHOR_MARK = b'class="book__author"'
NOTICE_MARK = b'class="notice"'


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: status, how many books and authors it shows, how long it took, and
    whether it shows a notice that the service could not answer."""

    status: int
    books: int
    authors: int
    seconds: float
    notice: bool


def site_environment(workdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """Production settings over plain HTTP on loopback, with a database and static files in
    `workdir`, plus `extra` (the recommendations target and TLS files)."""
    return clean_environment(
        {
            "DJANGO_SETTINGS_MODULE": "marketplace.settings.prod",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            **extra,
        }
    )


def prepare_site(workdir: Path) -> None:
    """collectstatic and migrate into `workdir`, once: every Website there shares them."""
    if (workdir / "static").exists():
        return
    env = site_environment(workdir, {})
    for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"]):
        subprocess.run(
            [str(BIN / "python"), str(MANAGE), *command],
            env=env,
            cwd=workdir,
            check=True,
            stdout=subprocess.DEVNULL,
        )


@dataclass
class Website:
    """`marketplace-server` serving `marketplace.wsgi` (or another WSGI application) with the
    site's configuration: pages on `port`, metrics and probes on `internal_port`."""

    supervisor: Supervisor
    name: str
    workdir: Path
    target: str
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    app: str = "marketplace.wsgi:application"
    pythonpath: Path | None = None
    cpu: int | None = None
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The homepage's URL."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def internal_url(self) -> str:
        """The internal port's base URL (metrics and probes), with a trailing slash."""
        return f"http://127.0.0.1:{self.internal_port}/"

    @property
    def pid(self) -> int:
        """The server's main process id (its workers are its children)."""
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self, *, wait: bool = True) -> None:
        """Start the server; with `wait`, return once its internal /readyz and its homepage
        answer 200."""
        prepare_site(self.workdir)
        extra = {
            "RECOMMENDATIONS_TARGET": self.target,
            "MARKETPLACE_BIND": "127.0.0.1",
            "MARKETPLACE_PORT": str(self.port),
            "MARKETPLACE_INTERNAL_PORT": str(self.internal_port),
            "WEB_CONCURRENCY": str(self.workers),
            **self.extra_env,
        }
        if self.pythonpath is not None:
            extra["PYTHONPATH"] = str(self.pythonpath)
        env = site_environment(self.workdir, extra)
        argv = [str(BIN / "marketplace-server"), self.app]
        self.process = self.supervisor.start(self.name, argv, env, cwd=self.workdir, cpu=self.cpu)
        if wait:
            self.wait_ready(lambda: answers(f"{self.internal_url}readyz"))

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 30) -> None:
        """Block until `ready()` and a homepage that answers 200; raise if the server exits or
        takes longer than `timeout` seconds."""
        assert self.process is not None, f"{self.name} is not running"
        self.supervisor.wait_ready(
            self.name,
            self.process,
            lambda: ready() and self.get("/").status == 200,
            what="ready and serving",
            timeout=timeout,
        )

    def stop(self) -> int:
        """Stop the server (SIGTERM to its process group) and return its exit status."""
        assert self.process is not None, f"{self.name} is not running"
        status = self.supervisor.stop(self.process)
        self.process = None
        return status

    def get(self, path: str = "/") -> Page:
        """GET `path` on a fresh connection."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        return Page(
            response.status,
            body.count(BOOK_MARK),
            body.count(AUTHOR_MARK),
            time.perf_counter() - started,
            NOTICE_MARK in body,
        )

    def metrics(self) -> list[Sample]:
        """The site's Prometheus samples (all workers summed), from the internal port."""
        return scrape(f"{self.internal_url}metrics")

    def calls(self) -> dict[str, float]:
        """Recommendation calls so far by gRPC code: anything but OK is a degraded page."""
        return by_label(self.metrics(), CALLS, "grpc_code")
