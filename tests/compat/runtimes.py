"""Fresh virtual environments holding the bookshop-protos wheel at either end of its runtime range.

The wheel's own metadata is the one source of the range: `lowest` installs every declared
requirement at its floor (the version in its `>=` clause), `newest` lets pip pick the newest
versions the declared ranges admit on the configured package index. Either way the venv is new,
holds nothing else, and reports exactly what it got:

    env = runtime_venv(wheel, "lowest", tmp_path / "lowest", extras=("typing",))
    env.versions  # {"protobuf": "6.30.0", "grpcio": "1.72.1", "types-protobuf": ..., ...}
    subprocess.run([env.python, "-W", "error", "-c", "import bookshop.recommendations.v1"])

pip is the repository's own (the caller's interpreter's), aimed at the new venv with `--python`,
so the venv needs no pip of its own and uses the index pip is configured with.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from typing import TYPE_CHECKING, Literal

from packaging.requirements import Requirement
from packaging.version import Version

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from pathlib import Path

End = Literal["lowest", "newest"]

_REPORT_VERSIONS = (
    "import importlib.metadata, json, sys\n"
    "print(json.dumps({name: importlib.metadata.version(name) for name in sys.argv[1:]}))"
)


class RuntimeVenvError(RuntimeError):
    """The venv could not be made as asked; the message holds the failing command's output."""


@dataclass(frozen=True, slots=True)
class RuntimeVenv:
    """A venv holding the wheel at one end of its range; `versions` maps each requirement the
    wheel declares for the installed extras ("protobuf", "grpcio", ...) to the version installed.
    """

    end: End
    root: Path
    versions: Mapping[str, str]

    @property
    def python(self) -> Path:
        """The venv's interpreter: run consumer code with it."""
        return self.root / "bin" / "python"

    def __str__(self) -> str:
        installed = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        return f"{self.end}: {installed}"


def declared_requirements(wheel: Path, extras: Collection[str] = ()) -> list[Requirement]:
    """The wheel's `Requires-Dist` entries that apply with `extras` installed, in its order."""
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [
            name
            for name in archive.namelist()
            if name.endswith(".dist-info/METADATA") and name.count("/") == 1
        ]
        message = Parser().parsestr(archive.read(metadata).decode())
    requirements = [Requirement(line) for line in message.get_all("Requires-Dist") or []]
    return [
        requirement
        for requirement in requirements
        if requirement.marker is None
        or any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))
    ]


def floor(requirement: Requirement) -> Version:
    """The version in the requirement's one `>=` clause: the oldest release it declares (a
    ValueError without exactly one, since then the range has no single lowest end to test)."""
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    if len(floors) != 1:
        raise ValueError(f"{requirement} must declare exactly one floor (>=), got {len(floors)}")
    return floors[0]


def create_venv(where: Path) -> Path:
    """Create an empty venv (no pip) at `where`, a path that must not exist yet; return its
    interpreter."""
    if where.exists():
        raise RuntimeVenvError(f"{where} already exists: a runtime venv is always a new one")
    venv.create(where, with_pip=False)
    return where / "bin" / "python"


def pip_install(python: Path, *arguments: str) -> None:
    """Run `pip install ARGUMENTS` into the environment of `python`, wheels only (a missing
    wheel fails at once rather than compiling grpcio from source)."""
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _run([*pip, "install", "--quiet", "--only-binary=:all:", *arguments])


def installed_versions(python: Path, names: Collection[str]) -> dict[str, str]:
    """The versions of the distributions `names` installed in the environment of `python`."""
    versions: dict[str, str] = json.loads(_run([str(python), "-c", _REPORT_VERSIONS, *names]))
    return versions


def runtime_venv(
    wheel: Path, end: End, where: Path, *, extras: Collection[str] = ()
) -> RuntimeVenv:
    """A new venv at `where` holding `wheel` (and `extras`) at the given `end` of its declared
    range (see the module's docstring), reporting the versions installed; RuntimeVenvError, with
    pip's output, when pip cannot install that."""
    python = create_venv(where)
    requirements = declared_requirements(wheel, extras)
    pins = [f"{r.name}=={floor(r)}" for r in requirements] if end == "lowest" else []
    target = f"{wheel}[{','.join(sorted(extras))}]" if extras else str(wheel)
    pip_install(python, target, *pins)
    versions = installed_versions(python, [r.name for r in requirements])
    return RuntimeVenv(end=end, root=where, versions=versions)


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeVenvError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout
