"""Copies of the repository with a git history of their own, released as they stand.

The registry tests never assume which release is the latest: each copy first records whatever
the protos are now as a release (when `VERSION` is an unreleased bump), commits, and the tests
edit from there. So they pass at any version and after any legitimate change.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.ports import free_port
from harness.probes import answers
from harness.processes import Supervisor, wait_until

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROTO = Path("proto-registry/bookshop/recommendations/v1/recommendations.proto")
# What the registry's release rules read, and (for building and publishing) both packages'
# sources; their npm tools are linked from this checkout's (ci/lib.sh's npm_tools finds them
# installed).
_COPIED = [
    ".gitignore",
    "buf.yaml",
    "buf.gen.yaml",
    "Makefile",
    "proto-registry",
    "ci",
    "clients/python",
    "clients/typescript",
    "requirements/build.txt",
]
_IGNORED = shutil.ignore_patterns(
    "src", "build", "gen", "*.egg-info", "__pycache__", "tests", "node_modules"
)
_NPM_TOOLS = ["ci/npm-registry/node_modules", "clients/typescript/node_modules"]
# Where `make publish` keeps each local server it starts (and, in server.pid, its process id).
_LOCAL_SERVERS = [".pypi", ".npm-registry"]

# A compatible change that no real release will ever make: a message of its own at the file's end.
PROBE = """
// RegistryProbe exists only in the registry tests' copies of the repository.
message RegistryProbe {
  // The note is free text.
  string note = 1;
}
"""


@dataclass
class Repo:
    """A copy of the repository; `make` runs there with this checkout's virtual environment."""

    path: Path

    def make(self, *targets: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run make targets (the tools prerequisite is taken as built), capturing the output."""
        taken_as_built = ["-o", ".venv/.tools", "-o", ".venv/.installed"]
        return self._run(["make", "--no-print-directory", *taken_as_built, *targets], env)

    def script(self, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run one of the copy's ci/ scripts directly (without make's prerequisites)."""
        return self._run([str(self.path / "ci" / name)], env)

    def _run(self, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
        return subprocess.run(
            command,
            cwd=self.path,
            env={**os.environ, "VENV": str(BIN.parent), "PATH": path, **env},
            capture_output=True,
            text=True,
            check=False,
        )

    def git(self, *args: str) -> str:
        """Run git in the copy and return its output."""
        return subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, check=True
        ).stdout

    def commit(self, message: str) -> None:
        """Commit everything as it is now."""
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    @property
    def version(self) -> str:
        """The registry's VERSION."""
        return (self.path / "proto-registry" / "VERSION").read_text().strip()

    def set_version(self, version: str) -> None:
        """Write VERSION."""
        (self.path / "proto-registry" / "VERSION").write_text(version + "\n")

    def bumped(self, part: str) -> str:
        """The current version with `part` (major, minor or patch) bumped."""
        major, minor, patch = (int(x) for x in self.version.split("."))
        return {
            "major": f"{major + 1}.0.0",
            "minor": f"{major}.{minor + 1}.0",
            "patch": f"{major}.{minor}.{patch + 1}",
        }[part]

    def edit(self, pattern: str, replacement: str) -> None:
        """Replace what `pattern` matches (exactly once) in the v1 proto."""
        path = self.path / PROTO
        text, count = re.subn(pattern, replacement, path.read_text(), flags=re.MULTILINE)
        assert count == 1, f"{pattern!r} matched {count} times"
        path.write_text(text)

    def add_probe(self) -> None:
        """Make the compatible change: a new, commented message."""
        path = self.path / PROTO
        path.write_text(path.read_text() + PROBE)

    def forge_release(self) -> Path:
        """Write the release image of VERSION by hand, as `make release-protos` would refuse to."""
        path = self.release_file(self.version)
        subprocess.run([BIN / "buf", "build", "-o", str(path)], cwd=self.path, check=True)
        return path

    def next_major_directory(self) -> str:
        """Where a breaking change to v1 must go: the first vN directory not taken yet."""
        versions = self.path / "proto-registry" / "bookshop" / "recommendations"
        taken = {int(p.name[1:]) for p in versions.glob("v*") if p.name[1:].isdigit()}
        return f"proto-registry/bookshop/recommendations/v{max(taken) + 1}/"

    def release_file(self, version: str) -> Path:
        """The release image of `version`."""
        return self.path / "proto-registry" / "releases" / f"{version}.json"

    def local_server(self, store: str) -> int | None:
        """The process id of the local server `make publish` started with `store` (.pypi, ...)."""
        path = self.path / store / "server.pid"
        return int(path.read_text()) if path.exists() else None

    def stop_local_servers(self) -> None:
        """Stop the pypiserver and verdaccio that `make publish` left running in this copy."""
        for pid in filter(None, map(self.local_server, _LOCAL_SERVERS)):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                if wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), timeout=10):
                    break


def _copy(path: Path) -> Iterator[Repo]:
    """A copy of the repository at a released state, committed in a git history of its own; its
    local servers stop when the test is done with it."""
    copy = Repo(path)
    copy.path.mkdir()
    for name in _COPIED:
        source, target = ROOT / name, copy.path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=_IGNORED)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in _NPM_TOOLS:
        if (ROOT / name).is_dir():
            (copy.path / name).symlink_to(ROOT / name)
    copy.git("init", "-q", "-b", "main")
    copy.git("config", "user.email", "registry-tests@example.invalid")
    copy.git("config", "user.name", "registry tests")
    copy.commit("the registry as it stands")
    if not copy.release_file(copy.version).exists():
        released = copy.make("release-protos")
        assert released.returncode == 0, released.stderr
        copy.commit(f"release {copy.version}")
    yield copy
    copy.stop_local_servers()


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """A copy of the repository at a released state."""
    yield from _copy(tmp_path / "repo")


@pytest.fixture
def other_repo(tmp_path: Path) -> Iterator[Repo]:
    """A second copy, as another checkout on the same machine."""
    yield from _copy(tmp_path / "other")


@dataclass(frozen=True)
class Index:
    """A running pypiserver: its URL (for twine and pip) and the folder it serves."""

    url: str
    store: Path


@pytest.fixture
def package_index(tmp_path: Path) -> Iterator[Callable[..., Index]]:
    """Start real pypiservers on loopback: `start(name, fallback=URL)`.

    Each serves the names in its own store, and only from there, and refers any other name to
    `fallback` (pypiserver's default, the public index, when None). All stop after the test.
    """
    with Supervisor(tmp_path / "logs") as supervisor:

        def start(name: str, *, fallback: str | None = None) -> Index:
            port, store = free_port(), tmp_path / f"index-{name}"
            store.mkdir()
            command = [str(BIN / "pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port)]
            command += ["-a", ".", "-P", "."]
            if fallback is not None:
                command += ["--fallback-url", f"{fallback}simple/"]
            server = supervisor.start(f"index-{name}", [*command, str(store)], os.environ)
            url = f"http://127.0.0.1:{port}/"
            supervisor.wait_ready(f"index-{name}", server, lambda: answers(f"{url}simple/"))
            return Index(url, store)

        yield start


README_INDEX = "http://127.0.0.1:8080/"
"""The index URL the documented install commands name (the local pypiserver's)."""


def readme_commands(index: str) -> tuple[list[str], list[str]]:
    """docs/registry.md's install and upgrade commands for bookshop-protos, aimed at `index`."""
    lines = (ROOT / "docs" / "registry.md").read_text().splitlines()
    install = next(line for line in lines if line.startswith("pip install --index-url"))
    upgrade = next(line for line in lines if line.startswith("pip install --upgrade --index-url"))
    return tuple(  # type: ignore[return-value]
        shlex.split(command.replace(README_INDEX, index)) for command in (install, upgrade)
    )


@dataclass(frozen=True)
class Consumer:
    """A fresh virtual environment, as a user of the published package has.

    It holds no pip of its own: this checkout's pip (pinned in the lock) installs into it with
    `--python`, as for the runtime venvs of tests/compat/runtimes.py; installing pip into every
    consumer would cost seconds each and test nothing of the recipe.
    """

    path: Path

    def pip(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a `pip ...` command line against this environment."""
        assert command[0] == "pip", command
        python = str(self.path / "bin" / "python")
        return subprocess.run(
            [sys.executable, "-m", "pip", "--python", python, *command[1:]],
            capture_output=True,
            text=True,
            check=False,
        )

    def run(self, code: str) -> str:
        """Run Python code in the environment; return what it printed."""
        return subprocess.run(
            [str(self.path / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def installed(self) -> str:
        """The installed version of bookshop-protos."""
        return self.run("from importlib.metadata import version; print(version('bookshop-protos'))")


@pytest.fixture
def consumer(tmp_path: Path) -> Callable[[str], Consumer]:
    """Make fresh virtual environments: `consumer(name)`."""

    def make(name: str) -> Consumer:
        path = tmp_path / f"consumer-{name}"
        venv.create(path, with_pip=False)
        return Consumer(path)

    return make


@pytest.fixture(scope="session")
def release_wheel(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The wheel of a committed release, built from its image once per session."""
    folder = tmp_path_factory.mktemp("release-wheels")

    def build(version: str) -> Path:
        wheel = folder / f"bookshop_protos-{version}-py3-none-any.whl"
        if not wheel.exists():
            subprocess.run(
                [ROOT / "ci" / "build_release_wheel.sh", version, folder],
                check=True,
                capture_output=True,
            )
        return wheel

    return build
