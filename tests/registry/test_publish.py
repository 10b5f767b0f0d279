"""`make publish`: only what a committed release says, every check before anything is built or
uploaded, a second run that finishes what the first left, and no other checkout's servers.

Real pypiservers and verdaccios throughout: the local ones `make publish` starts in each copy of
the repository (on free ports, as BOOKSHOP_INDEX_PORT and BOOKSHOP_NPM_PORT allow), and for an
index of the test's own, `package_index`. (The walk through a release, with docs/registry.md's
install commands, is test_walkthrough.py; the npm half's guards alone are in
clients/typescript/tests.)
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from typing import TYPE_CHECKING

from conftest import ROOT

from harness.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Index, Repo


def _artifact_names(version: str) -> list[str]:
    return [f"bookshop_protos-{version}.tar.gz", f"bookshop_protos-{version}-py3-none-any.whl"]


def _local_ports() -> dict[str, str]:
    return {"BOOKSHOP_INDEX_PORT": str(free_port()), "BOOKSHOP_NPM_PORT": str(free_port())}


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def _published(repo: Repo) -> list[str]:
    """What the copy's local package index holds."""
    return sorted(p.name for p in (repo.path / ".pypi" / "packages").iterdir())


def _append(repo: Repo, path: str, text: str) -> None:
    file = repo.path / path
    file.write_text(file.read_text() + text)


def test_a_second_publish_skips_the_same_files_and_refuses_others_before_any_upload(
    repo: Repo, package_index: Callable[..., Index]
) -> None:
    ports = _local_ports()
    index = f"http://127.0.0.1:{ports['BOOKSHOP_INDEX_PORT']}/"
    registry = f"http://127.0.0.1:{ports['BOOKSHOP_NPM_PORT']}/"

    first = repo.make("publish", **ports)
    again = repo.make("publish", **ports)
    # The same protos, other packaging: the descriptions both packages carry.
    _append(repo, "clients/python/README.md", "\nA line added after publishing.\n")
    python = repo.make("publish", **ports)
    shutil.copy2(ROOT / "clients/python/README.md", repo.path / "clients/python/README.md")
    _append(repo, "clients/typescript/README.md", "\nA line added after publishing.\n")
    npm = repo.make("publish", **ports)
    # The wheel is new to a fresh index, but the npm package is refused: neither goes up.
    fresh = package_index("fresh")
    npm_to_fresh = repo.make("publish", **ports, BOOKSHOP_INDEX_URL=fresh.url)

    assert first.returncode == 0, first.stderr
    assert f"==> published bookshop-protos {repo.version} to {index}" in first.stderr
    assert f"==> published @bookshop/protos {repo.version} to {registry}" in first.stderr
    assert again.returncode == 0, again.stderr
    skipped = [line for line in again.stderr.splitlines() if line.endswith("skipped")]
    assert skipped == [
        *(f"==> {name} is already on {index}, the same file: skipped" for name in
          _artifact_names(repo.version)),
        f"==> bookshop-protos-{repo.version}.tgz is already on {registry}, the same tarball: "
        "skipped",
    ]  # fmt: skip
    assert _published(repo) == sorted(_artifact_names(repo.version))
    assert python.returncode != 0
    assert _errors(python) == [
        f"error: bookshop-protos {repo.version} is already published at {index} with another "
        f"bookshop_protos-{repo.version}.tar.gz; releases are immutable: change the protos, bump "
        "proto-registry/VERSION and release again"
    ]
    assert npm.returncode != 0
    assert _errors(npm) == [
        f"error: @bookshop/protos {repo.version} is already published at {registry} with another "
        "tarball; releases are immutable: change the protos, bump proto-registry/VERSION and "
        "release again"
    ]
    assert npm_to_fresh.returncode != 0
    assert _errors(npm_to_fresh)[0].startswith("error: @bookshop/protos")
    assert not any(fresh.store.iterdir()), "the wheel went up before the npm package was checked"


def test_protos_that_fail_the_checks_leave_dist_alone(repo: Repo) -> None:
    built = repo.make("wheel", "npm-package")
    assert built.returncode == 0, built.stderr
    dist = repo.path / "dist"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in dist.iterdir()}
    repo.edit(r"int32 user_id = 1;", "int32    user_id   =   1;")

    result = repo.make("publish", **_local_ports())

    assert result.returncode != 0
    assert _errors(result)[-1] == (
        "error: make check-protos fails (above): fix what it reports, then publish"
    )
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in dist.iterdir()} == before
    assert not (repo.path / ".pypi").exists(), "no server is started either"


def test_another_checkouts_local_servers_are_refused_by_name(repo: Repo, other_repo: Repo) -> None:
    ports = _local_ports()
    index, registry = ports["BOOKSHOP_INDEX_PORT"], ports["BOOKSHOP_NPM_PORT"]
    assert repo.make("publish", **ports).returncode == 0
    published = _published(repo)
    first = repo.path.resolve()

    on_both = other_repo.make("publish", **ports)
    own_index = str(free_port())
    on_npm = other_repo.make("publish", **{**ports, "BOOKSHOP_INDEX_PORT": own_index})
    built = (other_repo.path / "dist").exists()
    # That run started the second checkout's own index: a third on yet another port is refused.
    elsewhere = other_repo.make("publish", **_local_ports())
    own = other_repo.make(
        "publish", BOOKSHOP_INDEX_PORT=own_index, BOOKSHOP_NPM_PORT=str(free_port())
    )

    assert on_both.returncode != 0
    assert _errors(on_both) == [
        f"error: 127.0.0.1:{index} is another checkout's package index or another program "
        f"(process {repo.local_server('.pypi')}, started in {first}): publish there on purpose "
        f"with BOOKSHOP_INDEX_URL=http://127.0.0.1:{index}/, or start this checkout's own with "
        "BOOKSHOP_INDEX_PORT=<a free port>"
    ]
    assert on_npm.returncode != 0
    assert _errors(on_npm) == [
        f"error: 127.0.0.1:{registry} is another checkout's npm registry or another program "
        f"(process {repo.local_server('.npm-registry')}, started in {first}): publish there on "
        f"purpose with BOOKSHOP_NPM_REGISTRY=http://127.0.0.1:{registry}/ and its "
        "BOOKSHOP_NPM_TOKEN, or start this checkout's own with BOOKSHOP_NPM_PORT=<a free port>"
    ]
    assert not built, "refused before anything was built"
    assert _errors(elsewhere) == [
        "error: this checkout's local package index runs on another port (process "
        f"{other_repo.local_server('.pypi')}): set BOOKSHOP_INDEX_PORT to its port, or stop it "
        "with kill $(cat .pypi/server.pid)"
    ]
    assert own.returncode == 0, own.stderr
    assert f"published @bookshop/protos {other_repo.version}" in own.stderr
    assert _published(repo) == published


def test_an_uncommitted_release_is_not_published(
    repo: Repo, package_index: Callable[..., Index]
) -> None:
    repo.add_probe()
    repo.set_version(repo.bumped("minor"))
    assert repo.make("release-protos").returncode == 0

    result = repo.script("publish.sh", BOOKSHOP_INDEX_URL=package_index("private").url)

    assert result.returncode != 0
    assert _errors(result) == [
        f"error: release {repo.version} is not committed: run 'make release-protos', commit "
        f"proto-registry/releases/{repo.version}.json, then publish"
    ]
    assert not (repo.path / "dist").exists()


def test_a_wheel_with_other_protos_is_not_published(
    repo: Repo, package_index: Callable[..., Index]
) -> None:
    # This checkout's sdist and wheel, built from the protos the copy has released.
    (repo.path / "dist").mkdir()
    for name in _artifact_names(repo.version):
        shutil.copy(ROOT / "dist" / name, repo.path / "dist" / name)
    wheel_name = _artifact_names(repo.version)[1]
    wheel = repo.path / "dist" / wheel_name
    proto = "bookshop/recommendations/v1/recommendations.proto"
    with zipfile.ZipFile(wheel) as original:
        members = {info.filename: original.read(info) for info in original.infolist()}
    members[proto] = members[proto].replace(b"// The title is", b"// The title was", 1)
    with zipfile.ZipFile(wheel, "w") as tampered:
        for name, data in members.items():
            tampered.writestr(name, data)
    index = package_index("private")

    result = repo.script("publish_pypi.sh", BOOKSHOP_INDEX_URL=index.url)

    assert result.returncode != 0
    assert _errors(result) == [
        f"error: {wheel_name} was not built from the protos of release {repo.version}: run "
        "'make clean' and build it again from the committed release"
    ]
    assert not any(index.store.iterdir()), "nothing may be uploaded"
