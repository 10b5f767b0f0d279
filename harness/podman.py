"""Containers, networks and secrets made with podman for one test run, all removed by `close`.

Every name starts with the run's prefix, so runs side by side (and other worktrees sharing
rootful podman's storage) never meet:

    with Podman("bookshop-images-4242", config=ROOT / "ci/podman/containers.conf") as podman:
        network = podman.network()
        service = podman.run(image, "recommendations", "--network", network)
        service.exec("python3", "-c", "...")
        assert service.stop() == 0
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# netavark says so on stderr on machines without syslog, for every container it connects.
_NOISE = "failed to connect to syslog"


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the command and what it printed."""


class Podman:
    """Runs podman with this run's settings (`CONTAINERS_CONF`) and remembers what it made."""

    def __init__(self, prefix: str, *, config: Path) -> None:
        self.prefix = prefix
        self._env = {**os.environ, "CONTAINERS_CONF": str(config)}
        self._containers: list[str] = []
        self._networks: list[str] = []
        self._secrets: list[str] = []

    def __call__(
        self, *args: str, check: bool = True, timeout: float | None = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run `podman ARGS`, capturing its output; raise PodmanError on failure (`check`)."""
        result = subprocess.run(
            ["podman", *args],
            env=self._env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args)} exited with {result.returncode}:\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        return result

    def image_exists(self, image: str) -> bool:
        """Whether the local storage holds `image`."""
        return self("image", "exists", image, check=False).returncode == 0

    def once(
        self, image: str, program: str, *args: str, root: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run `program ARGS` in a throwaway container of `image`, as the image's user (or as
        root, to read every file); its status is not checked."""
        user = ["--user", "0"] if root else []
        return self("run", "--rm", *user, "--entrypoint", program, image, *args, check=False)

    def shell(
        self, image: str, script: str, *, root: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`once` with `sh -c SCRIPT`."""
        return self.once(image, "/bin/sh", "-c", script, root=root)

    def network(self) -> str:
        """Create a network of this run; its name."""
        name = f"{self.prefix}-network-{len(self._networks)}"
        self("network", "create", name)
        self._networks.append(name)
        return name

    def secret(self, name: str, source: Path) -> str:
        """Store the file `source` as a podman secret of this run; the secret's name."""
        secret = f"{self.prefix}-{name}"
        self("secret", "create", secret, str(source))
        self._secrets.append(secret)
        return secret

    def run(self, image: str, name: str, *options: str) -> Container:
        """Start a detached container of `image` named after `name`, with `podman run` options."""
        container = Container(self, f"{self.prefix}-{name}")
        self._containers.append(container.name)
        self("run", "--detach", "--name", container.name, *options, image)
        return container

    def remove(self, container: Container) -> None:
        """Remove a container, stopping it first if it runs."""
        self("rm", "--force", "--ignore", "--time", "5", container.name)
        if container.name in self._containers:
            self._containers.remove(container.name)

    def close(self) -> None:
        """Remove every container, network and secret this run made, whatever their state."""
        for name in self._containers:
            with contextlib.suppress(PodmanError, subprocess.TimeoutExpired):
                self("rm", "--force", "--ignore", "--time", "5", name)
        for name in self._networks:
            with contextlib.suppress(PodmanError, subprocess.TimeoutExpired):
                self("network", "rm", "--force", name)
        if self._secrets:
            with contextlib.suppress(PodmanError, subprocess.TimeoutExpired):
                self("secret", "rm", *self._secrets)
        self._containers, self._networks, self._secrets = [], [], []

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Container:
    """A container started by `Podman.run`."""

    podman: Podman
    name: str

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the container; its status is not checked."""
        return self.podman("exec", self.name, *argv, check=False, timeout=60)

    def address(self, port: int) -> str:
        """host:port where the container's published `port` is reached from this machine."""
        return self.podman("port", self.name, f"{port}/tcp").stdout.splitlines()[0]

    def stop(self, timeout: int = 15) -> int:
        """SIGTERM, SIGKILL after `timeout` seconds; the exit status."""
        self.podman("stop", "--time", str(timeout), self.name, timeout=timeout + 60)
        return int(self.podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def logs(self, tail: int = 30) -> str:
        """The last `tail` lines of its output, without podman's own noise."""
        result = self.podman("logs", "--tail", str(tail), self.name, check=False)
        lines = (result.stdout + result.stderr).splitlines()
        return "\n".join(line for line in lines if not line.startswith(_NOISE))
