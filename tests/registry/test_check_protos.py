"""The release rules bite: `make check-protos` and `make release-protos` on copies of the repo.

Every case runs the real Makefile targets with the real buf and git in a copy that has released
whatever the protos were (see conftest), then changes it the way a contributor might.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Repo


BREAKING = [
    pytest.param(
        r"^  // The max_results.*\n(  //.*\n)*  int32 max_results = 3;\n",
        "",
        'Previously present field "3" with name "max_results" on message "RecommendRequest" '
        "was deleted",
        id="delete-field",
    ),
    pytest.param(
        r"int32 user_id = 1;",
        "int32 user_id = 4;",
        'Previously present field "1" with name "user_id" on message "RecommendRequest" '
        "was deleted",
        id="renumber-field",
    ),
    pytest.param(
        r"int32 user_id = 1;",
        "int64 user_id = 1;",
        'Field "1" with name "user_id" on message "RecommendRequest" changed type from '
        '"int32" to "int64"',
        id="change-field-type",
    ),
    pytest.param(
        r"rpc Recommend\(",
        "rpc Suggest(",
        'Previously present RPC "Recommend" on service "RecommendationsService" was deleted',
        id="rename-rpc",
    ),
]


def test_a_released_registry_passes(repo: Repo) -> None:
    result = repo.make("check-protos")
    assert result.returncode == 0, result.stderr
    assert f"protos ok: version {repo.version} (released)" in result.stdout


@pytest.mark.parametrize(("pattern", "replacement", "finding"), BREAKING)
@pytest.mark.parametrize("target", ["check-protos", "release-protos"])
def test_a_breaking_change_is_refused_whatever_the_version(
    repo: Repo, target: str, pattern: str, replacement: str, finding: str
) -> None:
    released = sorted(p.name for p in repo.release_file("x").parent.iterdir())
    repo.edit(pattern, replacement)
    repo.set_version(repo.bumped("minor"))

    result = repo.make(target)

    assert result.returncode != 0
    assert finding in result.stdout + result.stderr
    assert f"a new package directory, {repo.next_major_directory()}" in result.stderr
    assert sorted(p.name for p in repo.release_file("x").parent.iterdir()) == released


def test_a_breaking_change_is_refused_in_one_line(repo: Repo) -> None:
    # A release of the version being refused exists: that is no second reason to name.
    repo.add_probe()
    repo.set_version(repo.bumped("minor"))
    assert repo.make("release-protos").returncode == 0
    repo.edit(r"int32 user_id = 1;", "int32 user_id = 4;")

    for target in ("release-protos", "check-protos"):
        result = repo.make(target)

        assert result.returncode != 0
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: the protos break release {repo.version} (buf breaking, above): a breaking "
            "change is never released in place; put the new design in a new package directory, "
            f"{repo.next_major_directory()}, served beside the old one, and keep the released "
            "package as it was"
        ], result.stderr


@pytest.mark.parametrize("part", ["patch", "major"])
def test_an_addition_with_another_bump_is_refused(repo: Repo, part: str) -> None:
    expected = repo.bumped("minor")
    repo.add_probe()
    repo.set_version(repo.bumped(part))

    for target in ("check-protos", "release-protos"):
        result = repo.make(target)
        assert result.returncode != 0
        assert f"set proto-registry/VERSION to {expected}" in result.stderr
        assert not repo.release_file(repo.version).exists()


def test_a_comment_change_is_a_patch(repo: Repo) -> None:
    released = repo.version
    repo.edit(r"// The title is the book's title", "// The title is the title")

    unbumped = repo.make("check-protos")
    repo.set_version(repo.bumped("patch"))
    released_now = repo.make("release-protos")

    assert f"a PATCH change: set proto-registry/VERSION to {repo.version}" in unbumped.stderr
    assert released_now.returncode == 0, released_now.stderr
    changelog = (repo.path / "proto-registry" / "CHANGELOG.md").read_text()
    section = changelog.split(f"## {repo.version}\n", 1)[1].split(f"## {released}\n", 1)[0]
    assert "Comments changed:" in section
    assert "BookRecommendation.title`: The title is the title as printed" in section


def test_an_addition_is_refused_until_bumped_then_released_and_logged(repo: Repo) -> None:
    released = repo.version
    repo.add_probe()
    unbumped = repo.make("check-protos")
    repo.set_version(repo.bumped("minor"))

    checked = repo.make("check-protos")
    result = repo.make("release-protos")
    again = repo.make("release-protos")
    repo.commit("release")
    after = repo.make("check-protos")
    # A release file added since the base is no change to a release.
    against_base = repo.make("check-protos", BASE_REF="HEAD~1")

    assert unbumped.returncode != 0
    assert (
        f"the protos differ from release {released} (added message "
        "bookshop.recommendations.v1.RegistryProbe, added field "
        "bookshop.recommendations.v1.RegistryProbe.note), a MINOR change: set "
        f"proto-registry/VERSION to {repo.version}"
    ) in unbumped.stderr
    assert checked.returncode == 0, checked.stderr
    assert f"unreleased, a bump from release {released}" in checked.stdout
    assert result.returncode == 0, result.stderr
    assert repo.release_file(repo.version).is_file()
    assert again.returncode != 0
    assert f"the protos are those of release {repo.version}: there is nothing to release" in (
        again.stderr
    )
    assert after.returncode == 0, after.stderr
    assert against_base.returncode == 0, against_base.stderr
    changelog = (repo.path / "proto-registry" / "CHANGELOG.md").read_text()
    newest = changelog.split("\n## ", 2)[1]
    assert newest.startswith(f"{repo.version}\n")
    assert (
        "- message `bookshop.recommendations.v1.RegistryProbe`: RegistryProbe exists only in the "
        "registry tests' copies of the repository." in newest
    )
    assert "- field `bookshop.recommendations.v1.RegistryProbe.note`: The note is free text." in (
        newest
    )


def test_a_breaking_release_file_written_by_hand_is_refused(repo: Repo) -> None:
    released = repo.version
    repo.edit(r"int32 user_id = 1;", "int32 user_id = 4;")
    repo.set_version(repo.bumped("minor"))
    repo.forge_release()

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert f"proto-registry/releases/{repo.version}.json breaks release {released}" in result.stderr
    assert "remove it; releases only add" in result.stderr


def test_a_release_file_claiming_the_wrong_bump_is_refused(repo: Repo) -> None:
    released = repo.version
    repo.add_probe()
    repo.set_version(repo.bumped("patch"))
    repo.forge_release()

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert (
        f"proto-registry/releases/{repo.version}.json claims {repo.version}, but the change from "
        f"{released} is a MINOR change"
    ) in result.stderr


@pytest.mark.parametrize("how", ["changed", "deleted"])
def test_a_committed_release_cannot_be_changed_or_deleted(repo: Repo, how: str) -> None:
    release = repo.release_file(repo.version)
    if how == "deleted":
        release.unlink()
    else:
        image = json.loads(release.read_text())
        image["file"][0]["options"] = {"javaPackage": "com.example.forged"}
        release.write_text(json.dumps(image))
    repo.commit(f"release {how}")

    against_base = repo.make("check-protos", BASE_REF="HEAD~1")

    assert against_base.returncode != 0
    assert (
        f"proto-registry/releases/{release.name} was {how} since HEAD~1; releases are immutable"
    ) in against_base.stderr


def test_an_uncommitted_change_to_a_release_is_refused(repo: Repo) -> None:
    release = repo.release_file(repo.version)
    release.write_text(release.read_text().replace('"proto3"', '"proto3" ', 1))

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert f"{release.name} was changed since HEAD; releases are immutable" in result.stderr


def test_a_changelog_edited_by_hand_is_refused(repo: Repo) -> None:
    changelog = repo.path / "proto-registry" / "CHANGELOG.md"
    changelog.write_text(changelog.read_text() + "\nA note written by hand.\n")

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert "proto-registry/CHANGELOG.md does not match the release images" in result.stderr


def test_a_version_behind_the_protos_is_refused(repo: Repo) -> None:
    released = repo.version
    repo.set_version(repo.bumped("minor"))

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert f"the protos are those of release {released}" in result.stderr
    assert f"set it back to {released}" in result.stderr


@pytest.mark.parametrize(
    ("pattern", "replacement", "finding"),
    [
        (r"int32 user_id = 1;", "int32    user_id   =   1;", "user_id"),
        (
            r"^  // The title is .*\n",
            "",
            'Field "title" should have a non-empty comment for documentation.',
        ),
    ],
    ids=["unformatted", "uncommented"],
)
def test_a_proto_that_fails_format_or_lint_fails(
    repo: Repo, pattern: str, replacement: str, finding: str
) -> None:
    repo.edit(pattern, replacement)

    result = repo.make("check-protos")

    assert result.returncode != 0
    assert finding in result.stdout
