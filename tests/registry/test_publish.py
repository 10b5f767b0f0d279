"""`make publish` ships only what a committed release says, built from exactly its protos.

(Refusing a failing `make check-protos` is walked through in test_walkthrough.py, and refusing a
version the index has in clients/python/tests/test_index.py.)
"""

from __future__ import annotations

import shutil
import zipfile
from typing import TYPE_CHECKING

from conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Index, Repo


def _artifact_names(version: str) -> list[str]:
    return [f"bookshop_protos-{version}.tar.gz", f"bookshop_protos-{version}-py3-none-any.whl"]


def test_an_uncommitted_release_is_not_published(
    repo: Repo, package_index: Callable[..., Index]
) -> None:
    repo.add_probe()
    repo.set_version(repo.bumped("minor"))
    assert repo.make("release-protos").returncode == 0
    (repo.path / "dist").mkdir()
    for name in _artifact_names(repo.version):
        (repo.path / "dist" / name).touch()

    result = repo.script("publish.sh", BOOKSHOP_INDEX_URL=package_index("private").url)

    assert result.returncode != 0
    assert (
        f"error: release {repo.version} is not committed: run 'make release-protos', commit "
        f"proto-registry/releases/{repo.version}.json, then publish"
    ) in result.stderr


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

    result = repo.script("publish.sh", BOOKSHOP_INDEX_URL=index.url)

    assert result.returncode != 0
    assert (
        f"error: {wheel_name} was not built from the protos of release {repo.version}"
    ) in result.stderr
    assert not any(index.store.iterdir()), "nothing may be uploaded"
