"""The wheel at both ends of the protobuf and grpcio ranges it declares, each in a fresh venv:
it installs, imports without a warning, round-trips a message and calls the real server; and one
release below either floor is refused by the generated code itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from tests.compat.runtimes import (
    RuntimeVenv,
    create_venv,
    declared_requirements,
    floor,
    installed_versions,
    pip_install,
)

HERE = Path(__file__).resolve().parent
PACKAGE = "bookshop.recommendations.v1"
# Consumers' other dependencies hold protobuf 6 or protobuf 7: the wheel must load beside either.
PROTOBUF_MAJOR_AT = {"lowest": 6, "newest": 7}


def _run(python: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *args], capture_output=True, text=True, check=False, timeout=120)


def _newest_on_the_index(runtime: RuntimeVenv, requirement: Requirement) -> Version:
    pip = ["-m", "pip", "--python", runtime.python, "index", "versions", "--json"]
    listing = _run(Path(sys.executable), *pip, "--only-binary=:all:", requirement.name)
    assert listing.returncode == 0, listing.stderr
    released = [Version(v) for v in json.loads(listing.stdout)["versions"]]
    return max(requirement.specifier.filter(released))


def test_each_end_holds_the_declared_floors_or_the_newest_admitted_releases(
    runtime: RuntimeVenv, wheel: Path
) -> None:
    requirements = declared_requirements(wheel, ["typing"])
    names = {r.name for r in requirements}
    assert names == {"protobuf", "grpcio", "types-protobuf", "types-grpcio"}
    for requirement in requirements:
        if runtime.end == "lowest":
            expected = floor(requirement)
        else:
            expected = _newest_on_the_index(runtime, requirement)
        assert Version(runtime.versions[requirement.name]) == expected, str(runtime)
    # The range spans protobuf 6 and 7.
    assert Version(runtime.versions["protobuf"]).major == PROTOBUF_MAJOR_AT[runtime.end]


def test_the_generated_modules_import_without_any_warning(runtime: RuntimeVenv) -> None:
    imported = _run(
        runtime.python, "-W", "error", "-c", f"import {PACKAGE}.recommendations_pb2_grpc"
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == ""


def test_a_message_round_trips_and_recommend_reaches_the_real_server(
    runtime: RuntimeVenv, recommendations_address: str
) -> None:
    called = _run(
        runtime.python, "-W", "error", HERE / "recommend_once.py", recommendations_address
    )
    assert called.returncode == 0, called.stderr
    report = json.loads(called.stdout)
    assert report["round_trip"] is True
    assert len(set(report["titles"])) == 3
    # The call ran on the versions this end installed, with protobuf's native (upb) backend.
    assert report["protobuf"] == runtime.versions["protobuf"]
    assert report["grpcio"] == runtime.versions["grpcio"]
    assert report["protobuf_implementation"] == "upb"


def test_one_release_below_either_floor_is_refused_at_import(wheel: Path, tmp_path: Path) -> None:
    # The floors are where the generated code's own runtime checks start to pass, not a guess.
    floors = {r.name: floor(r) for r in declared_requirements(wheel)}
    python = create_venv(tmp_path / "venv")

    at_floor = {name: f"{name}=={version}" for name, version in floors.items()}
    pip_install(python, "--no-deps", str(wheel), at_floor["protobuf"], f"grpcio<{floors['grpcio']}")
    below = installed_versions(python, ["grpcio"])["grpcio"]
    refused = _run(python, "-c", f"import {PACKAGE}.recommendations_pb2_grpc")
    assert refused.returncode != 0, f"grpcio {below} was accepted"
    assert f"RuntimeError: The grpc package installed is at version {below}" in refused.stderr
    assert f"depends on grpcio>={floors['grpcio']}" in refused.stderr

    pip_install(python, "--no-deps", f"protobuf<{floors['protobuf']}", at_floor["grpcio"])
    below = installed_versions(python, ["protobuf"])["protobuf"]
    refused = _run(python, "-c", f"import {PACKAGE}.recommendations_pb2")
    assert refused.returncode != 0, f"protobuf {below} was accepted"
    assert "google.protobuf.runtime_version.VersionError" in refused.stderr
    assert f"gencode {floors['protobuf']} runtime {below}" in refused.stderr
