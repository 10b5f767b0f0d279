"""ci/publish_npm.sh against real verdaccios: it publishes, and each guard refuses before upload."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from conftest import Registry, publish, run

from harness.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
PROTO = "package/bookshop/recommendations/v1/recommendations.proto"


def _view(env: dict[str, str], registry: Registry, spec: str) -> subprocess.CompletedProcess[str]:
    return run(["npm", "view", spec, "version", "--registry", registry.url], env)


def _member(npm_package: Path, name: str) -> bytes:
    """The content of file `name` in the tarball."""
    with tarfile.open(npm_package) as archive:
        member = archive.extractfile(name)
        assert member is not None
        return member.read()


def _repository_with(tmp_path: Path, npm_package: Path, edit: dict[str, bytes]) -> Path:
    """A copy of what publish_npm.sh reads, its tarball rewritten with `edit` (path -> content)."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "ci", copy / "ci", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(ROOT / "proto-registry", copy / "proto-registry")
    shutil.copy2(ROOT / "buf.yaml", copy / "buf.yaml")
    (copy / "dist").mkdir()
    with (
        tarfile.open(npm_package) as original,
        tarfile.open(copy / "dist" / npm_package.name, "w:gz") as rewritten,
    ):
        for member in original.getmembers():
            content = original.extractfile(member)
            assert content is not None
            data = edit.get(member.name, content.read())
            member.size = len(data)
            rewritten.addfile(member, io.BytesIO(data))
    return copy


def test_publish_uploads_the_version_and_the_registry_serves_no_other_package(
    published: subprocess.CompletedProcess[str],
    registry: Registry,
    npm_env: dict[str, str],
    version: str,
) -> None:
    assert f"published @bookshop/protos {version}" in published.stderr
    assert _view(npm_env, registry, f"@bookshop/protos@{version}").stdout.strip() == version
    # No uplink: a public name is not fetched from elsewhere, so nothing can stand in for ours.
    other = _view(npm_env, registry, "@bufbuild/protobuf")
    assert other.returncode != 0
    assert "E404" in other.stderr


def test_publishing_the_same_tarball_again_is_skipped(
    published: subprocess.CompletedProcess[str],
    registry: Registry,
    npm_env: dict[str, str],
    npm_package: Path,
    version: str,
) -> None:
    again = publish(npm_env, registry)

    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"==> {npm_package.name} is already on {registry.url}, the same tarball: skipped",
        f"==> @bookshop/protos {version} is already published at {registry.url}: nothing to upload",
    ]


def test_another_tarball_of_a_published_version_is_refused_before_upload(
    published: subprocess.CompletedProcess[str],
    tmp_path: Path,
    npm_package: Path,
    registry: Registry,
    npm_env: dict[str, str],
    version: str,
) -> None:
    text = _member(npm_package, "package/README.md") + b"\nA line added after publishing.\n"
    copy = _repository_with(tmp_path, npm_package, {"package/README.md": text})

    result = publish(npm_env, registry, root=copy)

    assert result.returncode != 0
    # The script's own refusal, not the registry's answer to a second upload.
    assert result.stderr.splitlines() == [
        f"error: @bookshop/protos {version} is already published at {registry.url} with another "
        "tarball; releases are immutable: change the protos, bump proto-registry/VERSION and "
        "release again"
    ]


def test_a_package_with_other_protos_is_refused_and_nothing_uploaded(
    tmp_path: Path,
    npm_package: Path,
    empty_registry: Registry,
    npm_env: dict[str, str],
    version: str,
) -> None:
    changed, count = re.subn(
        r"^  string title = 2;\n",
        "  string title = 2;\n  // The author is who wrote the book.\n  string author = 3;\n",
        _member(npm_package, PROTO).decode(),
        flags=re.MULTILINE,
    )
    assert count == 1
    copy = _repository_with(tmp_path, npm_package, {PROTO: changed.encode()})

    result = publish(npm_env, empty_registry, root=copy)

    assert result.returncode != 0
    assert result.stderr.splitlines()[-1] == (
        f"error: {copy / 'dist' / npm_package.name} was not built from the protos of release "
        f"{version}: run 'make clean' and build it again from the committed release"
    )
    assert "E404" in _view(npm_env, empty_registry, "@bookshop/protos").stderr


def test_a_package_of_another_version_is_refused(
    tmp_path: Path,
    npm_package: Path,
    empty_registry: Registry,
    npm_env: dict[str, str],
    version: str,
) -> None:
    manifest = json.loads(_member(npm_package, "package/package.json"))
    manifest["version"] = "0.9.0"
    copy = _repository_with(
        tmp_path, npm_package, {"package/package.json": json.dumps(manifest).encode()}
    )

    result = publish(npm_env, empty_registry, root=copy)

    assert result.returncode != 0
    assert f"holds @bookshop/protos@0.9.0, not @bookshop/protos@{version}" in result.stderr
    assert "E404" in _view(npm_env, empty_registry, "@bookshop/protos").stderr


def test_a_registry_that_does_not_answer_is_named(
    npm_package: Path, npm_env: dict[str, str]
) -> None:
    nowhere = Registry(f"http://127.0.0.1:{free_port()}/", "unused")

    result = publish(npm_env, nowhere)

    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"error: no npm registry answers at {nowhere.url} (BOOKSHOP_NPM_REGISTRY): start it or "
        "fix the URL"
    ]


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(500, "broken")

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def broken_registry() -> Iterator[Registry]:
    """An HTTP server that answers every request with 500."""
    server = HTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Registry(f"http://127.0.0.1:{server.server_port}/", "unused")
    server.shutdown()
    server.server_close()


def test_a_registry_that_cannot_say_whether_the_version_exists_gets_no_upload(
    npm_package: Path, npm_env: dict[str, str], broken_registry: Registry, version: str
) -> None:
    result = publish({**npm_env, "npm_config_fetch_retries": "0"}, broken_registry)

    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"error: cannot tell whether @bookshop/protos {version} is on {broken_registry.url}: "
    )
    assert "500" in line


def test_the_docs_show_the_scoped_line_for_the_local_registry() -> None:
    script = (ROOT / "ci" / "publish_npm.sh").read_text()
    port = re.search(r"port_setting BOOKSHOP_NPM_PORT (\d+)", script)
    assert port is not None
    line = f"@bookshop:registry=http://127.0.0.1:{port[1]}/"
    for page in (ROOT / "docs" / "registry.md", ROOT / "clients" / "typescript" / "README.md"):
        assert line in page.read_text(), page
