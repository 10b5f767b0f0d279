"""What each image holds: a non-root user, no compiler, no private key, no copy of the build-time
CA bundle, exactly its lock's pins plus the two distributions built from the tree, and (the
website's) collected static files."""

from __future__ import annotations

import hashlib
import re

import pytest
from conftest import CA_BUNDLE, IMAGES, UID

# `name==version` at the start of a lock's line (hashes and markers follow it).
_PIN = re.compile(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_INSTALLED = (
    "import importlib.metadata as m\n"
    "for d in m.distributions(): print(d.metadata['Name'], d.version)"
)


def normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module", params=list(IMAGES))
def image(request, built):
    return built(request.param)


def test_it_runs_as_the_non_root_user(podman, image):
    configured = podman("image", "inspect", "--format", "{{.Config.User}}", image.id)
    assert configured.stdout.strip() == f"{UID}:{UID}"
    assert podman.shell(image.id, "id -u").stdout.strip() == str(UID)


def test_it_holds_no_compiler(podman, image):
    found = podman.shell(image.id, "for c in gcc cc c++ clang make; do command -v $c; done")
    assert found.stdout == "", f"compilers in {image.tag}: {found.stdout}"


def test_it_holds_no_private_key(podman, image):
    # As root, to read every file; the kernel's file systems hold nothing of the image.
    found = podman.shell(
        image.id,
        'grep -rlI --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "PRIVATE KEY-----" /',
        root=True,
    )
    assert found.stdout == "", f"private keys in {image.tag}: {found.stdout}"


def test_it_holds_no_copy_of_the_build_time_ca_bundle(podman, image):
    """The build secret was mounted for one step and never stored: no file is the bundle."""
    bundle = CA_BUNDLE.read_bytes()
    listing = podman.shell(
        image.id, f"find / -xdev -type f -size {len(bundle)}c -exec sha256sum {{}} +", root=True
    )
    assert listing.returncode == 0, listing.stderr
    digests = {line.split()[0]: line.split()[1] for line in listing.stdout.splitlines()}
    copy = digests.get(hashlib.sha256(bundle).hexdigest())
    assert copy is None, f"{image.tag} holds a copy of {CA_BUNDLE}: {copy}"


def test_it_holds_exactly_its_lock_and_the_two_distributions_built_from_the_tree(podman, image):
    locked = {normalized(m[1]): m[2] for m in _PIN.finditer(image.lock.read_text())}
    listing = podman.once(image.id, "python3", "-c", _INSTALLED)
    assert listing.returncode == 0, listing.stderr
    installed = {
        normalized(name): version
        for name, version in (line.split() for line in listing.stdout.splitlines())
    }
    built = {"bookshop-protos", image.distribution}

    unlocked = {f"{k}=={v}" for k, v in installed.items() if k not in built and locked.get(k) != v}
    missing = {f"{k}=={v}" for k, v in locked.items() if installed.get(k) != v}
    assert unlocked == set(), f"installed in {image.tag} but not locked in {image.lock.name}"
    assert missing == set(), f"locked in {image.lock.name} but not installed in {image.tag}"
    assert built <= installed.keys()


def test_the_website_image_holds_its_collected_static_files(podman, built):
    website = built("marketplace")
    listing = podman.shell(
        website.id, 'test -n "$DJANGO_STATIC_ROOT" && ls -A "$DJANGO_STATIC_ROOT"'
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split(), f"{website.tag} has no collected static files"
