"""Build-time code generation for the bookshop-protos distribution.

The .proto files are the only source: protoc (from the pinned grpcio-tools) and mypy-protobuf
write the Python modules and their stubs into ``src/`` while the distribution is built, so no
generated file is ever committed. Built from the repository, the protos, the version and the API
changelog come from ``../../proto-registry``; built from the sdist, from the sdist's own copy in
``proto/``.

With ``BOOKSHOP_PROTOS_RELEASE_IMAGE`` set to a release image (``proto-registry/releases/X.json``),
the build makes release X's package instead, from the descriptors the image holds (no .proto
sources then ship): any release's client can be rebuilt without its git history.

setuptools runs ``egg_info`` before ``build_py`` in every build route and checks there that the
package folders exist (``egg_base`` as early as ``finalize_options``), so generation hooks into both
commands; it is cheap and idempotent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
REGISTRY = HERE.parent.parent / "proto-registry"
SDIST_PROTOS = HERE / "proto"
GENERATED = HERE / "src"
RELEASE_IMAGE = os.environ.get("BOOKSHOP_PROTOS_RELEASE_IMAGE", "")


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


def _release_descriptors(image: Path) -> tuple[bytes, list[Path]]:
    """The release image as a binary FileDescriptorSet for protoc, and the files it holds."""
    from google.protobuf import descriptor_pb2, json_format  # noqa: PLC0415 (a build dependency)

    descriptors = json_format.Parse(
        image.read_text(encoding="utf-8"),
        descriptor_pb2.FileDescriptorSet(),
        ignore_unknown_fields=True,  # buf's own extensions
    )
    return descriptors.SerializeToString(), sorted(Path(f.name) for f in descriptors.file)


def _generate() -> None:
    if GENERATED.exists():
        shutil.rmtree(GENERATED)
    GENERATED.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        if RELEASE_IMAGE:
            descriptors, protos = _release_descriptors(Path(RELEASE_IMAGE))
            cwd = Path(tmp)
            (cwd / "release.binpb").write_bytes(descriptors)
            inputs = ["--descriptor_set_in=release.binpb"]
        else:
            cwd = _proto_root()
            protos = _protos(cwd)
            inputs = [f"--proto_path={cwd}"]
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            *inputs,
            f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
            f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
            f"--python_out={GENERATED}",
            f"--grpc_python_out={GENERATED}",
            f"--mypy_out={GENERATED}",
            f"--mypy_grpc_out={GENERATED}",
            *(str(p) for p in protos),
        ]
        subprocess.run(command, cwd=cwd, check=True)
    for package in _packages(protos):
        folder = GENERATED.joinpath(*package.split("."))
        # "bookshop" stays a namespace package so that other bookshop-* distributions can share it.
        if package != "bookshop":
            (folder / "__init__.py").touch()
            (folder / "py.typed").touch()
    if not RELEASE_IMAGE:
        for proto in protos:
            shutil.copy2(_proto_root() / proto, GENERATED / proto)


class _GenerateOnEggInfo(egg_info):
    def finalize_options(self) -> None:
        _generate()
        super().finalize_options()


class _GenerateOnBuildPy(build_py):
    def run(self) -> None:
        _generate()
        super().run()


class _SdistWithProtos(sdist):
    """Ship the registry's protos, VERSION and changelog in the sdist so that it builds the same
    wheel."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = _proto_root()
        target = Path(base_dir) / "proto"
        for relative in [Path("VERSION"), Path("CHANGELOG.md"), *_protos(root)]:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, target / relative)


def _version_and_description() -> tuple[str, str, list[str]]:
    """The version, the long description (the README, then the API changelog) and packages."""
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    if RELEASE_IMAGE:
        image = Path(RELEASE_IMAGE)
        _, protos = _release_descriptors(image)
        return image.stem, readme, _packages(protos)
    root = _proto_root()
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    # The changelog's headings move one level down under the README's title.
    nested = changelog.replace("\n## ", "\n### ").replace("# API changelog", "## API changelog", 1)
    return version, f"{readme.rstrip()}\n\n{nested}", _packages(_protos(root))


_VERSION, _DESCRIPTION, _PACKAGES = _version_and_description()

setup(
    version=_VERSION,
    long_description=_DESCRIPTION,
    long_description_content_type="text/markdown",
    package_dir={"": "src"},
    packages=_PACKAGES,
    package_data={"": ["*.pyi", "*.proto", "py.typed"]},
    cmdclass={
        "egg_info": _GenerateOnEggInfo,
        "build_py": _GenerateOnBuildPy,
        "sdist": _SdistWithProtos,
    },
)
