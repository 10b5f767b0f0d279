"""docs/registry.md's "Evolving the API" procedure, run for real in a copy of the repository.

A release's wheel is published (`make publish`'s Python half, ci/publish_pypi.sh; both halves
together are test_publish.py's) to a private pypiserver (publishing it again skips it) and
installed with the documented command; an addition fails the check until VERSION is bumped to the
version the check names; it is released, published, and a consumer upgrades to it with the
documented command and uses the new message. Then a breaking change is refused by `make publish`.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from conftest import readme_commands

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Consumer, Index, Repo


def test_evolving_the_api_as_the_readme_says(
    repo: Repo, package_index: Callable[..., Index], consumer: Callable[[str], Consumer]
) -> None:
    index = package_index("private")
    publish = {"BOOKSHOP_INDEX_URL": index.url, "TWINE_USERNAME": "t", "TWINE_PASSWORD": "t"}
    install, upgrade = readme_commands(index.url)
    first = repo.version

    def publish_wheel() -> subprocess.CompletedProcess[str]:
        """`make publish`'s Python half: build the wheel, then ci/publish_pypi.sh."""
        built = repo.make("wheel")
        assert built.returncode == 0, built.stderr
        return repo.script("publish_pypi.sh", **publish)

    published = publish_wheel()
    again = publish_wheel()
    assert published.returncode == 0, published.stderr
    assert again.returncode == 0, again.stderr
    assert (
        f"bookshop-protos {first} is already published at {index.url}: nothing to upload"
    ) in again.stderr
    reader = consumer("reader")
    assert reader.pip(install).returncode == 0
    assert reader.installed() == first

    # 1-2. An addition; the check names the version it calls for.
    repo.add_probe()
    unbumped = repo.make("check-protos")
    assert unbumped.returncode != 0
    second = repo.bumped("minor")
    assert f"set proto-registry/VERSION to {second}" in unbumped.stderr
    repo.set_version(second)
    # 3-4. The check passes; release and commit.
    assert repo.make("check-protos").returncode == 0
    released = repo.make("release-protos")
    assert released.returncode == 0, released.stderr
    repo.commit(f"release {second}")
    # 5. Publish; 6. the consumer upgrades and uses the new message.
    published = publish_wheel()
    assert published.returncode == 0, published.stderr
    assert reader.pip(upgrade).returncode == 0
    assert reader.installed() == second
    note = reader.run(
        "from bookshop.recommendations.v1 import recommendations_pb2 as pb\n"
        "print(pb.RegistryProbe(note='new in this release').note)"
    )
    assert note == "new in this release"

    # A breaking change, even with a bump, is not published (test_check_protos.py shows
    # `make release-protos` and `make check-protos` refusing it, as a release file too).
    repo.edit(r"int32 max_results = 3;", "int32 max_results = 4;")
    repo.set_version(repo.bumped("minor"))
    by_publish = repo.make("publish", **publish)

    assert by_publish.returncode != 0
    assert "make check-protos fails (above): fix what it reports, then publish" in (
        by_publish.stderr
    )
    reader.pip(upgrade)
    assert reader.installed() == second
