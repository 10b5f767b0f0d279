"""`python -m ci.registry check|release|changelog`: the registry's version and release rules.

- `check`: every committed release against the one before it (buf breaking, image against image,
  and the bump its version claims); releases only added, never changed or deleted, compared with
  `--base` (the pull request's target branch) or HEAD; the protos against the latest release
  (breaking refused, VERSION exactly the bump the change calls for); the changelog up to date.
- `release`: the same rules for the protos, then record them as `releases/<VERSION>.json` and
  rewrite the changelog.
- `changelog`: rewrite the changelog from the release images.

Every problem is one line saying what to do; all of them are reported, then the exit status is 1.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ci.registry import changelog, images
from ci.registry.versions import Bump, Difference, Version, compare

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import FileDescriptorSet

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "proto-registry"
RELEASES = REGISTRY / "releases"
VERSION_FILE = REGISTRY / "VERSION"
CHANGELOG = REGISTRY / "CHANGELOG.md"


class RegistryError(Exception):
    """A rule the protos or releases break; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ci.registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check releases, protos, version and changelog")
    check.add_argument("--base", default="", help="git ref releases are compared with (HEAD)")
    commands.add_parser("release", help="record the protos as release VERSION")
    commands.add_parser("changelog", help="rewrite CHANGELOG.md from the release images")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args.base or "HEAD")
        if args.command == "release":
            return _release()
        CHANGELOG.write_text(_changelog_text(), encoding="utf-8")
        return 0
    except RegistryError as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1


def _check(base: str) -> int:
    releases = _releases()
    problems = _style_problems()
    for older, newer in itertools.pairwise(releases):
        problems += _release_problems(older, newer)
    problems += _immutability_problems(base)
    version = _version()
    with tempfile.TemporaryDirectory() as tmp:
        current = _build(Path(tmp))
        problems += _protos_problems(version, releases[-1], current, releasing=False)
    if not CHANGELOG.is_file() or CHANGELOG.read_text(encoding="utf-8") != _changelog_text():
        problems.append(
            "proto-registry/CHANGELOG.md does not match the release images: rewrite it with "
            "'python -m ci.registry changelog' (make release-protos does this), never by hand"
        )
    if _report(problems):
        return 1
    latest = releases[-1][0]
    state = "released" if version == latest else f"unreleased, a bump from release {latest}"
    count = f"{len(releases)} release{'s' if len(releases) > 1 else ''}"
    print(f"protos ok: version {version} ({state}); {count} checked")
    return 0


def _release() -> int:
    version = _version()
    releases = _releases()
    target = RELEASES / f"{version}.json"
    problems = _style_problems()
    with tempfile.TemporaryDirectory() as tmp:
        current = _build(Path(tmp))
        # The version must be a bump from the latest release, so no release of it exists yet.
        problems += _protos_problems(version, releases[-1], current, releasing=True)
        if _report(problems):
            return 1
        shutil.copyfile(current, target)
    CHANGELOG.write_text(_changelog_text(), encoding="utf-8")
    print(f"released protos {version}: commit {_relative(target)} and {_relative(CHANGELOG)}")
    return 0


def _report(problems: list[str]) -> bool:
    """Print each problem on a line of its own; True when there was any."""
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return bool(problems)


def _style_problems() -> list[str]:
    """buf's formatting and lint findings (buf prints them itself)."""
    problems = []
    if subprocess.run(["buf", "format", "--diff", "--exit-code"], cwd=ROOT, check=False).returncode:
        problems.append("the protos are not formatted (the diff above): run 'buf format -w'")
    if subprocess.run(["buf", "lint"], cwd=ROOT, check=False).returncode:
        problems.append("buf lint fails (above): fix the protos")
    return problems


def _protos_problems(
    version: Version, latest: _Release, current: Path, *, releasing: bool
) -> list[str]:
    """Whether the protos may carry `version` after release `latest`."""
    try:
        found = _next_version(latest, current)
    except RegistryError as refusal:
        return [str(refusal)]
    released = latest[0]
    if found is None:
        if releasing:
            return [f"the protos are those of release {released}: there is nothing to release"]
        if version == released:
            return []
        return [
            f"the protos are those of release {released}, but proto-registry/VERSION is "
            f"{version}: set it back to {released}"
        ]
    expected, difference = found
    if version == expected:
        return []
    instead = "" if version == released else f", not {version}"
    return [
        f"the protos differ from release {released} ({difference.summary()}), a "
        f"{difference.bump.name} change: set proto-registry/VERSION to {expected}{instead}"
    ]


def _version() -> Version:
    text = VERSION_FILE.read_text(encoding="utf-8")
    try:
        return Version.parse(text)
    except ValueError as error:
        raise RegistryError(f"proto-registry/VERSION: {error}") from None


_Release = tuple[Version, Path]


def _releases() -> list[_Release]:
    """The committed release images, oldest first."""
    found = []
    for path in RELEASES.glob("*.json"):
        try:
            found.append((Version.parse(path.stem), path))
        except ValueError as error:
            message = f"{_relative(path)}: a release is named by its version ({error})"
            raise RegistryError(message) from None
    if not found:
        message = f"no release image in {_relative(RELEASES)}: run 'make release-protos' once"
        raise RegistryError(message)
    return sorted(found)


def _build(tmp: Path) -> Path:
    """Build the registry's protos into an image file; buf's errors end the command."""
    image = tmp / "image.json"
    if subprocess.run(["buf", "build", "-o", str(image)], cwd=ROOT, check=False).returncode:
        raise RegistryError("buf build failed (above): fix the protos")
    return image


def _breaking(new: Path, old: Path) -> list[str]:
    """buf breaking's findings for `new` against `old` (its output goes to stderr as is)."""
    result = subprocess.run(
        ["buf", "breaking", str(new), "--against", str(old)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    sys.stderr.write(result.stdout + result.stderr)
    return [line for line in result.stdout.splitlines() if line.strip()] or [result.stderr]


def _next_version(latest: _Release, current: Path) -> tuple[Version, Difference] | None:
    """The version the protos must carry after `latest`, and why; None when they are that release.

    Raises `RegistryError` for a breaking change, naming the new package directory to create.
    """
    version, image = latest
    if current.read_bytes() == image.read_bytes():
        return None
    old = images.load(image)
    findings = _breaking(current, image)
    if findings:
        new_directories = _new_directories(_packages_of_files(findings, old), images.load(current))
        raise RegistryError(
            f"the protos break release {version} (buf breaking, above): a breaking change is "
            f"never released in place; put the new design in a new package directory, "
            f"{new_directories}, served beside the old one, and keep the released package as it "
            "was"
        )
    difference = compare(old, images.load(current))
    if difference.bump is Bump.NONE:
        return None
    return version.bumped(difference.bump), difference


def _release_problems(older: _Release, newer: _Release) -> list[str]:
    (old_version, old_path), (new_version, new_path) = older, newer
    name = _relative(new_path)
    if _breaking(new_path, old_path):
        return [f"{name} breaks release {old_version} (above): remove it; releases only add"]
    difference = compare(images.load(old_path), images.load(new_path))
    if difference.bump is Bump.NONE:
        return [f"{name} is identical to release {old_version}: remove it"]
    expected = old_version.bumped(difference.bump)
    if new_version != expected:
        return [
            f"{name} claims {new_version}, but the change from {old_version} is a "
            f"{difference.bump.name} change ({difference.summary()}): it must be {expected}"
        ]
    return []


def _immutability_problems(base: str) -> list[str]:
    """Release files that differ from `base` other than by being added."""
    git = ["git", "-C", str(ROOT)]
    merge_base = subprocess.run(
        [*git, "merge-base", base, "HEAD"], capture_output=True, text=True, check=False
    )
    if merge_base.returncode:
        return [f"cannot compare the releases with {base!r}: {merge_base.stderr.strip()}"]
    since = merge_base.stdout.strip()
    listing = subprocess.run(
        [*git, "diff", "--name-status", "--no-renames", since, "--", _relative(RELEASES)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    problems = []
    for line in listing.splitlines():
        status, path = line.split("\t", 1)
        if status != "A":
            change = "deleted" if status == "D" else "changed"
            problems.append(
                f"{path} was {change} since {base}; releases are immutable: restore it with "
                f"'git checkout {since[:12]} -- {path}'"
            )
    return problems


def _changelog_text() -> str:
    return changelog.render([(version, images.load(path)) for version, path in _releases()])


def _packages_of_files(findings: list[str], image: FileDescriptorSet) -> set[str]:
    """The packages of the files that buf's findings (`file.proto:line:col:message`) name."""
    files = {line.split(":", 1)[0] for line in findings}
    return {file.package for file in image.file if file.name in files}


def _new_directories(packages: set[str], image: FileDescriptorSet) -> str:
    """`proto-registry/a/b/v2/` for each package `a.b.vN`, the next major version not taken."""
    taken = {file.package for file in image.file}
    directories = []
    for package in sorted(packages):
        match = re.fullmatch(r"(.+)\.v(\d+)", package)
        stem, major = (match.group(1), int(match.group(2))) if match else (package, 1)
        while f"{stem}.v{major}" in taken:
            major += 1
        directories.append(f"proto-registry/{stem.replace('.', '/')}/v{major}/")
    return " and ".join(directories) or "a new vN directory"


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


if __name__ == "__main__":
    sys.exit(main())
