"""`ci/lock.sh --check` (run by `make lint` and `make install`) fails, without the network,
naming the file, when a lock is not what the pyproject.toml files declare today or an image's
export is not what uv.lock says; on the committed tree it passes and writes nothing.

Each test checks a copy of the files the locks are made from, with an empty uv cache and uv
offline: the check may rely on nothing downloaded before.
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
BIN = Path(sys.executable).parent
_COPIED = [
    "pyproject.toml",
    "uv.lock",
    "requirements",
    "ci/lib.sh",
    "ci/lock.sh",
    "proto-registry",
    "clients/python/pyproject.toml",
    "clients/python/setup.py",
    "recommendations-service/pyproject.toml",
    "marketplace-django/pyproject.toml",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the locks are made from."""
    copy = tmp_path / "repo"
    for name in _COPIED:
        source, target = ROOT / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return copy


def check(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VENV": str(BIN.parent),
        "UV_CACHE_DIR": str(tree.parent / "uv-cache"),
        "UV_OFFLINE": "1",
    }
    return subprocess.run(
        [str(tree / "ci" / "lock.sh"), "--check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_pass_and_nothing_is_written(tree: Path) -> None:
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    result = check(tree)
    assert result.returncode == 0, result.stderr
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        # A range narrowed.
        (
            "recommendations-service/pyproject.toml",
            '"prometheus-client>=0.21,<1"',
            '"prometheus-client>=0.22,<1"',
        ),
        # A dependency added.
        (
            "recommendations-service/pyproject.toml",
            '"grpcio>=1.85.1,<2",',
            '"grpcio>=1.85.1,<2",\n    "opentelemetry-instrumentation-grpc>=0.66b2,<1",',
        ),
        # A dependency removed.
        ("marketplace-django/pyproject.toml", '    "whitenoise>=6.8,<7",\n', ""),
        # A tool's pin moved.
        ("pyproject.toml", '"ruff==0.17.6"', '"ruff==0.17.5"'),
    ],
    ids=["range-narrowed", "dependency-added", "dependency-removed", "tool-pin-moved"],
)
def test_a_stale_declaration_fails_naming_the_lock(
    tree: Path, path: str, old: str, new: str
) -> None:
    edit(tree / path, old, new)
    result = check(tree)
    assert result.returncode != 0
    assert "uv.lock" in result.stderr, result.stderr
    assert "make lock" in result.stderr, result.stderr


def test_a_stale_checkov_declaration_fails_naming_its_lock(tree: Path) -> None:
    edit(tree / "requirements/checkov/pyproject.toml", '"checkov==3.3.30"', '"checkov==3.3.29"')
    result = check(tree)
    assert result.returncode != 0
    assert "requirements/checkov/uv.lock" in result.stderr, result.stderr


@pytest.mark.parametrize("image", ["recommendations", "marketplace"])
def test_an_image_export_that_differs_from_the_lock_fails_naming_it(tree: Path, image: str) -> None:
    export = tree / "requirements" / f"{image}.txt"
    pin = re.search(r"(?m)^grpcio==(\S+)", export.read_text())
    assert pin, f"{export} pins no grpcio"
    edit(export, f"grpcio=={pin[1]}", "grpcio==1.85.1")
    result = check(tree)
    assert result.returncode != 0
    assert f"requirements/{image}.txt" in result.stderr, result.stderr
