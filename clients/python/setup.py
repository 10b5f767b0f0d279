"""Build-time code generation for the bookshop-protos distribution.

The .proto files are the only source: protoc (from the pinned grpcio-tools) and mypy-protobuf
write the Python modules and their stubs into ``src/`` while the distribution is built, so no
generated file is ever committed. Built from the repository, the protos and the version come from
``../../proto-registry``; built from the sdist, from the sdist's own copy in ``proto/``.

setuptools runs ``egg_info`` before ``build_py`` in every build route and checks there that the
package folders exist (``egg_base`` as early as ``finalize_options``), so generation hooks into both
commands; it is cheap and idempotent.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
REGISTRY = HERE.parent.parent / "proto-registry"
SDIST_PROTOS = HERE / "proto"
GENERATED = HERE / "src"


def _proto_root() -> Path:
    """Return the folder holding VERSION and the .proto tree: the registry, else the sdist copy."""
    if (REGISTRY / "VERSION").is_file():
        return REGISTRY
    if (SDIST_PROTOS / "VERSION").is_file():
        return SDIST_PROTOS
    sys.exit(f"bookshop-protos: no protos found in {REGISTRY} or {SDIST_PROTOS}")


def _protos(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.proto"))


def _packages(protos: list[Path]) -> list[str]:
    """Every package folder on the way to each .proto: directory = package = version."""
    names: set[str] = set()
    for proto in protos:
        parts = proto.parent.parts
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(names)


def _plugin(name: str) -> str:
    """Locate a protoc plugin installed in the build environment (it may not be on PATH)."""
    found = shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))
    if found is None:
        sys.exit(f"bookshop-protos: {name} not found; is mypy-protobuf in build-system.requires?")
    return found


def _generate() -> None:
    root = _proto_root()
    protos = _protos(root)
    if GENERATED.exists():
        shutil.rmtree(GENERATED)
    GENERATED.mkdir()
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={root}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={GENERATED}",
        f"--grpc_python_out={GENERATED}",
        f"--mypy_out={GENERATED}",
        f"--mypy_grpc_out={GENERATED}",
        *(str(p) for p in protos),
    ]
    subprocess.run(command, cwd=root, check=True)
    for package in _packages(protos):
        folder = GENERATED.joinpath(*package.split("."))
        # "bookshop" stays a namespace package so that other bookshop-* distributions can share it.
        if package != "bookshop":
            (folder / "__init__.py").touch()
            (folder / "py.typed").touch()
    for proto in protos:
        shutil.copy2(root / proto, GENERATED / proto)


class _GenerateOnEggInfo(egg_info):
    def finalize_options(self) -> None:
        _generate()
        super().finalize_options()


class _GenerateOnBuildPy(build_py):
    def run(self) -> None:
        _generate()
        super().run()


class _SdistWithProtos(sdist):
    """Ship the registry's protos and VERSION inside the sdist so that it builds the same wheel."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = _proto_root()
        target = Path(base_dir) / "proto"
        for relative in [Path("VERSION"), *_protos(root)]:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target / relative)


_ROOT = _proto_root()

setup(
    version=(_ROOT / "VERSION").read_text(encoding="utf-8").strip(),
    package_dir={"": "src"},
    packages=_packages(_protos(_ROOT)),
    package_data={"": ["*.pyi", "*.proto", "py.typed"]},
    cmdclass={
        "egg_info": _GenerateOnEggInfo,
        "build_py": _GenerateOnBuildPy,
        "sdist": _SdistWithProtos,
    },
)
