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
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
VERDACCIO = ROOT / "ci" / "npm-registry" / "node_modules" / ".bin" / "verdaccio"
EXAMPLE = ROOT / "clients" / "typescript" / "examples"
# What a consumer copies from the example (the README's steps), without anything built there.
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not become ready within 30 s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


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


@contextmanager
def running_registry(store: Path) -> Iterator[Registry]:
    """Run an empty verdaccio, configured as `make publish`'s local one, on an ephemeral port."""
    store.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "ci" / "npm-registry" / "config.yaml", store / "config.yaml")
    port = free_port()
    log = (store / "server.log").open("wb")
    process = subprocess.Popen(
        [VERDACCIO, "--config", store / "config.yaml", "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _answers(url + "-/ping"), process, "verdaccio")
        yield Registry(url, _register_publisher(url))
    finally:
        stop(process)


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
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The session's registry, to which `published` uploads the package."""
    with running_registry(tmp_path_factory.mktemp("npm-registry")) as running:
        yield running


@pytest.fixture
def empty_registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry of the test's own, holding nothing."""
    with running_registry(tmp_path / "npm-registry") as running:
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
    """A fresh folder set up as the README says, with the example built by `tsc --strict`."""
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
    subprocess.run(
        [BIN / "recommendations-server", "build-catalog", "--output", path],
        check=True,
        capture_output=True,
    )
    return path


def _serve(folder: Path, catalog: Path, **settings: str) -> Iterator[int]:
    """Run recommendations-server on free loopback ports; yield its gRPC port."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RECOMMEND")}
    env.update(
        RECOMMENDATIONS_BIND="127.0.0.1",
        RECOMMENDATIONS_PORT=str(port),
        RECOMMENDATIONS_METRICS_PORT=str(free_port()),
        RECOMMENDATIONS_HEALTH_PORT=str(free_port()),
        RECOMMENDATIONS_CATALOG=str(catalog),
        **settings,
    )
    log = (folder / "recommendations.log").open("wb")
    process = subprocess.Popen(
        [BIN / "recommendations-server"], env=env, cwd=folder, stdout=log, stderr=log
    )
    wait_until(lambda: _accepts(port), process, "recommendations-server")
    yield port
    stop(process)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, catalog: Path) -> Iterator[int]:
    """The recommendations service in plaintext; yields its port."""
    yield from _serve(tmp_path_factory.mktemp("plaintext"), catalog)


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
def mtls_service(
    tmp_path_factory: pytest.TempPathFactory, catalog: Path, pki: Pki
) -> Iterator[int]:
    """The recommendations service requiring client certificates signed by `pki.ca`."""
    yield from _serve(
        tmp_path_factory.mktemp("mtls"),
        catalog,
        RECOMMENDATIONS_TLS_CERT=str(pki.server_cert),
        RECOMMENDATIONS_TLS_KEY=str(pki.server_key),
        RECOMMENDATIONS_TLS_CLIENT_CA=str(pki.ca),
    )


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
