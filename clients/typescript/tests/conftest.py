"""Real processes for the @bookshop/protos tests: verdaccio, recommendations-server and node.

`ci/test_typescript.sh` builds the package (dist/bookshop-protos-<version>.tgz) and installs
verdaccio from ci/npm-registry/ before pytest runs. npm keeps its cache in a temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
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


@dataclass(frozen=True)
class Pki:
    """Certificates made by trustme: a CA, a server certificate and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


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
    return subprocess.run(
        [root / "ci" / "publish_npm.sh"],
        env={
            **env,
            "VENV": sys.prefix,
            "BOOKSHOP_NPM_REGISTRY": registry.url,
            "BOOKSHOP_NPM_TOKEN": registry.token,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


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
        result = subprocess.run(
            command, cwd=folder, env=npm_env, capture_output=True, text=True, check=False
        )
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
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert("consumer.bookshop.test")
    pki = Pki(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client-key.pem",
    )
    ca.cert_pem.write_to_path(str(pki.ca))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(pki.server_cert), append=True)
    server.private_key_pem.write_to_path(str(pki.server_key))
    client.cert_chain_pems[0].write_to_path(str(pki.client_cert))
    client.private_key_pem.write_to_path(str(pki.client_key))
    return pki


@pytest.fixture(scope="session")
def mtls_service(supervisor: Supervisor, catalog: Path, pki: Pki) -> int:
    """The recommendations service requiring client certificates signed by `pki.ca`; its port."""
    tls = ServerTls(cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca)
    replica = Replica(supervisor, "mtls", catalog, tls=tls)
    replica.start()
    return replica.port


@dataclass
class SilentPeer:
    """A TCP listener that accepts connections and never sends a byte; counts what it accepted."""

    port: int
    accepted: int = 0


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    peer = SilentPeer(port=listener.getsockname()[1])
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            peer.accepted += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield peer
    done.set()
    thread.join(timeout=5)
    listener.close()
    for connection in held:
        connection.close()


def sha512_integrity(path: Path) -> str:
    """The `integrity` npm records for a tarball (Subresource Integrity, sha512)."""
    return "sha512-" + b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
