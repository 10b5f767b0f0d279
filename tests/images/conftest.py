"""Both images, built with podman against a Debian base made with debootstrap.

No image registry is reachable here, so the base image is Debian bookworm made with debootstrap
(python3 is CPython 3.11, as for the tests) and imported into podman; its tarball is cached in
.cache/images/. This machine's CA bundle reaches pip as a build secret, mounted for one build step
and never stored in an image. Needs root (debootstrap, rootful podman), the Debian package mirror
and the Python package index. The time each phase took is printed at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.podman import Podman

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "images"
BASE_IMAGE = "localhost/bookshop-base:bookworm-python3.11"
BASE_PACKAGES = "python3,python3-venv"
BASE_TARBALL = CACHE / "debian-bookworm-minbase-python3.11.tar"
PODMAN_CONFIG = ROOT / "ci" / "podman" / "containers.conf"
CA_BUNDLE = Path(os.environ.get("TEST_IMAGES_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
UID = 10001
_PHASES: list[tuple[str, float]] = []


@dataclass(frozen=True)
class Image:
    """One service's image: where it is built from, what it must hold, and the built image's id."""

    name: str
    folder: str
    lock: Path
    distribution: str
    id: str = ""

    @property
    def tag(self) -> str:
        """Tagged as the dev overlay expects it: localhost/bookshop-NAME:VERSION."""
        with (ROOT / self.folder / "pyproject.toml").open("rb") as file:
            version = tomllib.load(file)["project"]["version"]
        return f"localhost/bookshop-{self.name}:{version}"


FOLDERS = {"recommendations": "recommendations-service", "marketplace": "marketplace-django"}
IMAGES = {
    name: Image(name, folder, ROOT / "requirements" / f"{name}.txt", f"bookshop-{name}")
    for name, folder in FOLDERS.items()
}


@contextmanager
def phase(name: str):
    """Time what the block does, for the summary at the end."""
    started = time.monotonic()
    yield
    _PHASES.append((name, time.monotonic() - started))


def pytest_terminal_summary(terminalreporter):
    if _PHASES:
        terminalreporter.section("phases")
        for name, seconds in _PHASES:
            terminalreporter.write_line(f"{name}: {seconds:.0f} s")


@pytest.fixture(scope="session")
def podman():
    """podman with ci/podman/containers.conf (runc, lowered ulimits); everything the session
    made is removed at its end."""
    if os.geteuid() != 0:
        raise pytest.UsageError("the image tests need root (debootstrap and rootful podman)")
    with Podman(f"bookshop-images-{os.getpid()}", config=PODMAN_CONFIG) as podman:
        yield podman


@pytest.fixture(scope="session")
def base_image(podman):
    """Debian bookworm (minbase) with CPython 3.11 and venv, imported into podman once."""
    with phase("base image"):
        if not podman.image_exists(BASE_IMAGE):
            if not BASE_TARBALL.is_file() or BASE_TARBALL.stat().st_size == 0:
                _debootstrap(BASE_TARBALL)
            podman("import", "--quiet", str(BASE_TARBALL), BASE_IMAGE)
        check = "import sys, venv; assert sys.version_info[:2] == (3, 11), sys.version"
        result = podman("run", "--rm", BASE_IMAGE, "python3", "-c", check, check=False)
        assert result.returncode == 0, f"{BASE_IMAGE} has no CPython 3.11 with venv: {result}"
    return BASE_IMAGE


def _debootstrap(tarball: Path) -> None:
    """Make the base image's root filesystem with debootstrap and pack it into `tarball`."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs.", dir=tarball.parent))
    try:
        argv = ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm"]
        with (tarball.parent / "debootstrap.log").open("w") as log:
            subprocess.run([*argv, str(rootfs)], stdout=log, stderr=subprocess.STDOUT, check=True)
        # Neither the downloaded packages nor the package lists belong in the image.
        for leftover in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            leftover.unlink()
        for leftover in (rootfs / "var/lib/apt/lists").iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        partial = tarball.with_name(tarball.name + ".partial")
        with partial.open("wb") as output:
            subprocess.run(["tar", "-C", str(rootfs), "-c", "."], stdout=output, check=True)
        partial.rename(tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


@pytest.fixture(scope="session")
def built(podman, base_image):
    """`built(name)`: the image of that service, built (without a layer cache) on first use."""
    assert CA_BUNDLE.is_file(), f"CA bundle {CA_BUNDLE} not found (set TEST_IMAGES_CA_BUNDLE)"

    @functools.cache
    def build(name: str) -> Image:
        with phase(f"{name} image build"):
            return _build(podman, base_image, IMAGES[name])

    return build


def _build(podman: Podman, base_image: str, image: Image) -> Image:
    """Build `image`; its output goes to .cache/images/build-FOLDER.log."""
    CACHE.mkdir(parents=True, exist_ok=True)
    log = CACHE / f"build-{image.folder}.log"
    image_id = CACHE / f"build-{image.folder}.id"
    # No layer cache: podman reuses the final stage's install step even when the wheels it
    # mounts from the builder stage have changed (seen: an image still running the previous
    # server). The tests use the built image's id, not its tag, which another build on this
    # machine's shared storage could move.
    result = podman(
        "build",
        "--no-cache",
        "--build-arg", f"BASE_IMAGE={base_image}",
        "--secret", f"id=pip_cert,src={CA_BUNDLE}",
        "--iidfile", str(image_id),
        "--file", str(ROOT / image.folder / "Dockerfile"),
        "--tag", image.tag,
        str(ROOT),
        check=False,
        timeout=None,
    )  # fmt: skip
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        pytest.fail(f"podman build of {image.folder} failed (output in {log}):\n{tail}")
    return dataclasses.replace(image, id=image_id.read_text().strip())
