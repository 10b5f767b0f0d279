"""`make check-protos` bites: each kind of breaking change fails it with buf's own message.

Every case runs the real Makefile target with the real buf in a temporary copy of the registry.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO = Path("proto-registry/bookshop/recommendations/v1/recommendations.proto")


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A copy of what check-protos reads, using this checkout's virtual environment."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("buf.yaml", "Makefile"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("proto-registry", "ci"):
        shutil.copytree(ROOT / name, copy / name)
    return copy


def _check(repo: Path) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.prefix)
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.tools", "check-protos"],
        cwd=repo,
        env={**os.environ, "VENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )


def _edit(repo: Path, pattern: str, replacement: str) -> None:
    path = repo / PROTO
    text, count = re.subn(pattern, replacement, path.read_text(), flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} did not match exactly once"
    path.write_text(text)


def _bump(repo: Path, version: str) -> None:
    (repo / "proto-registry" / "VERSION").write_text(version + "\n")


def _add_author_field(repo: Path) -> None:
    """The compatible change the README describes: a new, commented field with a new number."""
    _edit(
        repo,
        r"^  string title = 2;\n",
        "  string title = 2;\n  // The author is who wrote the book.\n  string author = 3;\n",
    )


def test_unmodified_registry_passes(registry: Path) -> None:
    result = _check(registry)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("pattern", "replacement", "message"),
    [
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
    ],
)
def test_breaking_change_fails_even_with_a_version_bump(
    registry: Path, pattern: str, replacement: str, message: str
) -> None:
    _edit(registry, pattern, replacement)
    _bump(registry, "1.1.0")

    result = _check(registry)

    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_added_field_without_version_bump_fails(registry: Path) -> None:
    _add_author_field(registry)

    result = _check(registry)

    assert result.returncode != 0
    assert "the protos differ from release 1.0.0 but proto-registry/VERSION was not bumped" in (
        result.stderr
    )


def test_added_field_with_version_bump_passes(registry: Path) -> None:
    _add_author_field(registry)
    _bump(registry, "1.1.0")

    result = _check(registry)

    assert result.returncode == 0, result.stdout + result.stderr


def test_unformatted_proto_fails(registry: Path) -> None:
    _edit(registry, r"int32 user_id = 1;", "int32    user_id   =   1;")
    _bump(registry, "1.1.0")

    result = _check(registry)

    assert result.returncode != 0
    assert "user_id" in result.stdout


def test_element_without_comment_fails_lint(registry: Path) -> None:
    _edit(registry, r"^  // The title is .*\n", "")
    _bump(registry, "1.1.0")

    result = _check(registry)

    assert result.returncode != 0
    assert 'Field "title" should have a non-empty comment for documentation.' in result.stdout
