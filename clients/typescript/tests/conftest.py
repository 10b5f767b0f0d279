"""Real processes for the @bookshop/protos tests: verdaccio, recommendations-server and node.

`ci/test_typescript.sh` builds the package (dist/bookshop-protos-<version>.tgz) and installs
verdaccio from ci/npm-registry/ before pytest runs. npm keeps its cache in a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from harness.ports import free_port
from harness.probes import answers
from harness.processes import Supervisor
from harness.service import Replica, ServerTls, build_catalog

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
VERDACCIO = ROOT / "ci" / "npm-registry" / "node_modules" / ".bin" / "verdaccio"
EXAMPLE = ROOT / "clients" / "typescript" / "examples"
# What a consumer copies from the example (docs/packages.md's steps), without anything built there.
EXAMPLE_FILES = ("package.json", "package-lock.json", "tsconfig.json", "recommend.ts")


@dataclass(frozen=True)
class Registry:
    """A running verdaccio: its URL and a token of its publisher account."""

    url: str
    token: str


def run(
    command: Sequence[str | Path], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `command` to its end (two minutes at most), capturing its output."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture(scope="session")
def version() -> str:
    return (ROOT / "proto-registry" / "VERSION").read_text().strip()


@pytest.fixture(scope="session")
def npm_package(version: str) -> Path:
    path = ROOT / "dist" / f"bookshop-protos-{version}.tgz"
    assert path.is_file(), f"{path} is missing: run 'make npm-package'"
    return path


@pytest.fixture(scope="session")
def npm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for npm, node and ci/ scripts: this venv's tools, npm's cache in tmp."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BOOKSHOP_")}
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env['PATH']}",
        "npm_config_cache": str(tmp_path_factory.mktemp("npm-cache")),
        "npm_config_update_notifier": "false",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
    }


@pytest.fixture(scope="session")
def supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """Starts the session's processes and stops whatever is left at its end."""
    with Supervisor(tmp_path_factory.mktemp("logs")) as supervisor:
        yield supervisor


@contextmanager
def running_registry(supervisor: Supervisor, store: Path) -> Iterator[Registry]:
    """Run an empty verdaccio, configured as `make publish`'s local one, on a free port."""
    store.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "ci" / "npm-registry" / "config.yaml", store / "config.yaml")
    port = free_port()
    name = f"verdaccio-{port}"
    process = supervisor.start(
        name,
        [str(VERDACCIO), "--config", str(store / "config.yaml"), "--listen", f"127.0.0.1:{port}"],
        os.environ,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        supervisor.wait_ready(name, process, lambda: answers(url + "-/ping"))
        yield Registry(url, _register_publisher(url))
    finally:
        supervisor.stop(process)


def _register_publisher(url: str) -> str:
    account = {"name": "publisher", "password": "publisher-for-tests"}
    request = urllib.request.Request(
        f"{url}-/user/org.couchdb.user:publisher",
        data=json.dumps(account).encode(),
        headers={"content-type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["token"])


@pytest.fixture(scope="session")
def registry(
    supervisor: Supervisor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """The session's registry, to which `published` uploads the package."""
    with running_registry(supervisor, tmp_path_factory.mktemp("npm-registry")) as running:
        yield running


@pytest.fixture
def empty_registry(supervisor: Supervisor, tmp_path: Path) -> Iterator[Registry]:
    """A registry of the test's own, holding nothing."""
    with running_registry(supervisor, tmp_path / "npm-registry") as running:
        yield running


def publish(
    env: dict[str, str], registry: Registry, root: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run `root`'s ci/publish_npm.sh against `registry` as its publisher."""
    publisher = {"BOOKSHOP_NPM_REGISTRY": registry.url, "BOOKSHOP_NPM_TOKEN": registry.token}
    return run([root / "ci" / "publish_npm.sh"], {**env, "VENV": sys.prefix, **publisher})


@pytest.fixture(scope="session")
def published(
    registry: Registry, npm_package: Path, npm_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The first `ci/publish_npm.sh` to the session's registry; it must succeed."""
    result = publish(npm_env, registry)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def consumer(
    tmp_path_factory: pytest.TempPathFactory,
    registry: Registry,
    published: subprocess.CompletedProcess[str],
    npm_env: dict[str, str],
) -> Path:
    """A fresh folder set up as docs/packages.md says, with the example built by `tsc --strict`."""
    folder = tmp_path_factory.mktemp("consumer")
    for name in EXAMPLE_FILES:
        shutil.copy2(EXAMPLE / name, folder / name)
    (folder / ".npmrc").write_text(f"@bookshop:registry={registry.url}\n")
    for command in (
        ["npm", "ci"],
        ["npm", "install", "@bookshop/protos"],
        ["npx", "tsc", "--strict"],
    ):
        result = run(command, npm_env, cwd=folder)
        assert result.returncode == 0, f"{' '.join(command)}: {result.stdout}{result.stderr}"
    return folder


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite3"
    build_catalog(path)
    return path


@pytest.fixture(scope="session")
def service(supervisor: Supervisor, catalog: Path) -> int:
    """The recommendations service in plaintext; its port."""
    replica = Replica(supervisor, "plaintext", catalog)
    replica.start()
    return replica.port


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of trustme certificates, named as `make certs` names its own: ca.pem, a server's
    server.pem and server-key.pem, a client's client.pem and client-key.pem."""
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    server = ca.issue_cert("localhost", "127.0.0.1")
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(folder / "server.pem"), append=True)
    server.private_key_pem.write_to_path(str(folder / "server-key.pem"))
    client = ca.issue_cert("consumer.bookshop.test")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client.private_key_pem.write_to_path(str(folder / "client-key.pem"))
    return folder


@pytest.fixture(scope="session")
def mtls_service(supervisor: Supervisor, catalog: Path, pki: Path) -> int:
    """The recommendations service requiring client certificates from the pki's CA; its port."""
    tls = ServerTls(cert=pki / "server.pem", key=pki / "server-key.pem", client_ca=pki / "ca.pem")
    replica = Replica(supervisor, "mtls", catalog, tls=tls)
    replica.start()
    return replica.port


@pytest.fixture
def silent_peer() -> Iterator[socket.socket]:
    """A TCP listener that never accepts, so never sends a byte: the kernel completes each
    connection's handshake and keeps it in the backlog (`connections` counts them)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        yield listener


def connections(listener: socket.socket) -> int:
    """How many connections reached `listener` since it last counted (taken from its backlog)."""
    count = 0
    while True:
        try:
            listener.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1
