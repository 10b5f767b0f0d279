"""`make lock`: hashed locks of everything the bookshop installs, and the check they are current.

Each `requirements/NAME.in` names what one environment needs: requirements, constraints (`-c`),
and distributions built from this tree (`./clients/python`, `./recommendations-service[test]`).
`make lock` compiles it with uv (pinned in dev.in) into `requirements/NAME.txt`: every package of
the closure at one version, with the hashes of its files, for CPython 3.11 on Linux, the platform
of the tests and the images. The local distributions are left out of the lock (they are built
from the tree); what their pyproject.toml declares is in. A lock names no index: it installs from
whichever index pip is configured with, and the hashes decide what is accepted.

Every lock records the requirements it was compiled from, as declared then. `--check` needs no
network and no installed package: it fails when a lock's record differs from what the .in files
and pyproject.toml files declare today (a range changed, a dependency came or went), when a lock
names an index, and when a lock pins a package at another version than a lock it is constrained by
(so .venv tests what the images ship).

    python ci/lock.py            # regenerate every lock (uv, the package index)
    python ci/lock.py --upgrade  # the same, moving every package to its newest allowed release
    python ci/lock.py --check    # exit 1, naming each stale lock
    python ci/lock.py --install requirements/dev.txt [--python PATH]  # install a lock

`--install` installs a lock with uv (bootstrapped from dev.txt's pin with pip), every file
checked against its hash as pip would: the same files, in about 5 s where pip takes about 65
(measured creating .venv/ from an empty cache).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PYTHON_VERSION = "3.11"
PLATFORM = "linux"
DECLARED = "# declared: "
_INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


@dataclass
class Sources:
    """What one .in file declares, with each requirement's origin."""

    declared: list[str] = field(default_factory=list)
    constraints: list[Path] = field(default_factory=list)
    local: list[str] = field(default_factory=list)


def read_sources(in_file: Path) -> Sources:
    """Parse `in_file`: its requirements, constraint files, and the local distributions it names
    (whose declared dependencies, and those of the extras asked for, count as declared here)."""
    sources = Sources()
    for raw in in_file.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-c"):
            sources.constraints.append(in_file.parent / line[2:].strip())
        elif line.startswith("."):
            path, _, extras = line.partition("[")
            project = tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"]
            name = project["name"]
            sources.local.append(name)
            sources.declared += [f"{name}: {_spaceless(r)}" for r in project["dependencies"]]
            optional = project.get("optional-dependencies", {})
            for extra in filter(None, (e.strip() for e in extras.rstrip("]").split(","))):
                sources.declared += [f"{name}[{extra}]: {_spaceless(r)}" for r in optional[extra]]
        else:
            sources.declared.append(f"{in_file.name}: {_spaceless(line)}")
    sources.declared.sort()
    return sources


def _spaceless(requirement: str) -> str:
    return "".join(requirement.split())


def _lock_of(in_file: Path) -> Path:
    return in_file.with_suffix(".txt")


def _index_options() -> list[str]:
    """uv reads no pip configuration: hand it the index pip is configured with, if any."""
    if "UV_DEFAULT_INDEX" in os.environ or "UV_INDEX_URL" in os.environ:
        return []
    url = os.environ.get("PIP_INDEX_URL", "")
    if not url:
        found = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            check=False,
        )
        url = found.stdout.strip() if found.returncode == 0 else ""
    return ["--default-index", url] if url else []


def install(lock: Path, python: str) -> None:
    """Install `lock` into the environment of `python`, every file checked against its hash, with
    the uv of this interpreter's environment (bootstrapped from the development lock's own pin,
    with pip, when missing)."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        lines = (REQUIREMENTS / "dev.txt").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as pin:
            pin.write("\n".join(lines[start:end]) + "\n")
            pin.flush()
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--require-hashes"]
            subprocess.run([*pip, "--no-deps", "-r", pin.name], check=True)
    command = [
        str(uv), "pip", "install", "--quiet", "--python", python,
        "--require-hashes", "-r", str(lock), *_index_options(),
    ]  # fmt: skip
    subprocess.run(command, check=True)


def compile_lock(in_file: Path, *, upgrade: bool = False) -> None:
    """Compile `in_file` into its lock with uv, keeping the versions already locked where the
    declared ranges still allow them (unless `upgrade`), and write the declared requirements
    above the pins."""
    sources = read_sources(in_file)
    lock = _lock_of(in_file)
    command = [
        "uv", "pip", "compile", str(in_file.relative_to(ROOT)),
        "--generate-hashes", "--no-header", "--quiet",
        "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
        "--output-file", str(lock.relative_to(ROOT)),
        *(option for name in sources.local for option in ("--no-emit-package", name)),
        *(["--upgrade"] if upgrade else []),
        *_index_options(),
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    header = [
        f"# The locked closure of requirements/{in_file.name} for CPython {PYTHON_VERSION} on",
        "# Linux, written by `make lock` (uv pip compile --generate-hashes), never by hand. It was",
        "# compiled from the requirements below, as declared then; `make lint` fails when they",
        "# change.",
        *(DECLARED + line for line in sources.declared),
    ]
    lock.write_text("\n".join(header) + "\n" + lock.read_text())


def lock_all(*, upgrade: bool = False) -> None:
    """Regenerate every lock, each after the locks it is constrained by."""
    done: set[Path] = set()

    def lock(in_file: Path) -> None:
        if in_file in done:
            return
        for constraint in read_sources(in_file).constraints:
            lock(constraint.with_suffix(".in"))
        print(f"==> make lock: requirements/{in_file.name}", file=sys.stderr)
        compile_lock(in_file, upgrade=upgrade)
        done.add(in_file)

    for in_file in sorted(REQUIREMENTS.glob("*.in")):
        lock(in_file)


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def problems() -> list[str]:
    """Every reason a lock is stale or unsafe, one line each; empty when all are current."""
    found = []
    for in_file in sorted(REQUIREMENTS.glob("*.in")):
        lock = _lock_of(in_file)
        where = lock.relative_to(ROOT)
        if not lock.is_file():
            found.append(f"{where} is missing")
            continue
        text = lock.read_text().splitlines()
        recorded = [line.removeprefix(DECLARED) for line in text if line.startswith(DECLARED)]
        sources = read_sources(in_file)
        for line in sorted(set(sources.declared) - set(recorded)):
            found.append(f"{where} is stale: declared now, not when it was compiled: {line}")
        for line in sorted(set(recorded) - set(sources.declared)):
            found.append(f"{where} is stale: declared when it was compiled, not now: {line}")
        found += [
            f"{where} names an index or a place to find packages: {line.strip()}"
            for line in text
            if line.strip().split("=")[0].split(" ")[0] in _INDEX_OPTIONS
        ]
        pins = _pins(lock)
        for constraint in sources.constraints:
            if not constraint.is_file():
                continue
            for name, version in sorted(_pins(constraint).items()):
                if pins.get(name, version) != version:
                    found.append(
                        f"{where} pins {name}=={pins[name]}, "
                        f"{constraint.relative_to(ROOT)} {version}"
                    )
    return found


def main(argv: list[str] | None = None) -> int:
    """Regenerate the locks, or with --check report the stale ones and return 1."""
    parser = argparse.ArgumentParser(prog="make lock", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; needs no network")
    parser.add_argument("--upgrade", action="store_true", help="move to the newest releases")
    parser.add_argument("--install", type=Path, metavar="LOCK", help="install LOCK, then stop")
    parser.add_argument("--python", default=sys.executable, help="where --install installs")
    args = parser.parse_args(argv)
    if args.install:
        install(args.install.resolve(), args.python)
        return 0
    if not args.check:
        lock_all(upgrade=args.upgrade)
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        print("error: the locks are stale: run 'make lock', commit requirements/", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
