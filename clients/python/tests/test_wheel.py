"""What the built bookshop-protos wheel and sdist hold, and that they agree with the generator."""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]

PACKAGE = "bookshop/recommendations/v1"


def _metadata(wheel: Path, version: str) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"bookshop_protos-{version}.dist-info/METADATA").decode()
    message = Parser().parsestr(text)
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def _output(*command: str | Path) -> str:
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_wheel_holds_generated_code_stubs_marker_and_protos(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "recommendations_pb2.py",
        "recommendations_pb2.pyi",
        "recommendations_pb2_grpc.py",
        "recommendations_pb2_grpc.pyi",
        "recommendations.proto",
        "py.typed",
        "__init__.py",
    ):
        assert f"{PACKAGE}/{name}" in names
    # "bookshop" is a namespace package shared with any future bookshop-* distribution.
    assert "bookshop/__init__.py" not in names


def test_wheel_has_the_registry_protos_and_version(wheel: Path, version: str) -> None:
    shipped = zipfile.ZipFile(wheel).read(f"{PACKAGE}/recommendations.proto")
    assert shipped == (ROOT / "proto-registry" / PACKAGE / "recommendations.proto").read_bytes()
    assert _metadata(wheel, version)["Version"] == [version]


def test_runtime_ranges_admit_only_versions_the_generated_code_accepts(
    wheel: Path, version: str
) -> None:
    archive = zipfile.ZipFile(wheel)
    pb2 = archive.read(f"{PACKAGE}/recommendations_pb2.py").decode()
    pb2_grpc = archive.read(f"{PACKAGE}/recommendations_pb2_grpc.py").decode()
    protobuf_gencode = Version(re.search(r"Protobuf Python Version: (\S+)", pb2)[1])
    grpc_gencode = Version(re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", pb2_grpc)[1])

    requirements = {
        req.name: req.specifier
        for req in map(Requirement, _metadata(wheel, version)["Requires-Dist"])
        if req.marker is None
    }
    protobuf, grpcio = requirements["protobuf"], requirements["grpcio"]
    # protobuf gencode refuses an older runtime, and protobuf supports it on runtimes of its own
    # major and the next one: the range spans exactly those two majors.
    assert protobuf_gencode in protobuf
    assert _just_below(protobuf_gencode) not in protobuf
    assert Version(f"{protobuf_gencode.major + 1}.999.0") in protobuf
    assert Version(f"{protobuf_gencode.major + 2}.0.0") not in protobuf
    # grpcio gencode refuses any runtime older than the generator.
    assert grpc_gencode in grpcio
    assert _just_below(grpc_gencode) not in grpcio


def _just_below(version: Version) -> Version:
    major, minor, micro = version.release[:3]
    if micro:
        return Version(f"{major}.{minor}.{micro - 1}")
    return Version(f"{major}.{minor - 1}.999")


def test_sdist_carries_the_protos_and_no_generated_code(sdist: Path, version: str) -> None:
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    top = f"bookshop_protos-{version}"
    assert f"{top}/proto/VERSION" in names
    assert f"{top}/proto/{PACKAGE}/recommendations.proto" in names
    assert not [name for name in names if name.endswith((".pyi", "_pb2.py", "_pb2_grpc.py"))]


def test_sdist_builds_the_same_wheel_as_the_repository(
    wheel: Path, sdist: Path, tmp_path: Path
) -> None:
    # `make wheel` builds its wheel from the sdist; build one straight from the tree and compare.
    epoch = _output("git", "log", "-1", "--format=%ct", "--", "proto-registry", "clients/python")
    # With the generators `make wheel` uses (its cached build environment).
    python = _output(ROOT / "ci" / "build_python.sh")
    build = [python, "-m", "build", "--no-isolation", "--wheel", "--outdir", tmp_path]
    subprocess.run(
        [*build, ROOT / "clients" / "python"],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": epoch or "315532800"},
    )
    direct = zipfile.ZipFile(tmp_path / wheel.name)
    from_sdist = zipfile.ZipFile(wheel)
    assert sorted(direct.namelist()) == sorted(from_sdist.namelist())
    for name in direct.namelist():
        assert direct.read(name) == from_sdist.read(name), name
