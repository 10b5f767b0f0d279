"""The harness removes what a run made with podman when it closes, also after a failure."""

from __future__ import annotations

import os

import pytest
from conftest import PODMAN_CONFIG

from harness.podman import Podman


def test_closing_removes_the_run_s_containers_networks_and_secrets(podman, base_image, tmp_path):
    (tmp_path / "secret").write_text("not for keeps\n")
    run = Podman(f"bookshop-images-close-{os.getpid()}", config=PODMAN_CONFIG)
    made = {}

    def fail_while_running():
        made["network"] = run.network()
        made["secret"] = run.secret("secret", tmp_path / "secret")
        # On no network of the run's: removing a network removes the containers on it.
        sleeper = run.run(base_image, "sleeper", "--entrypoint", '["sleep", "60"]')
        made["container"] = sleeper.name
        running = podman("container", "inspect", "--format", "{{.State.Running}}", sleeper.name)
        assert running.stdout.strip() == "true"
        raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"), run:
        fail_while_running()

    assert podman("container", "exists", made["container"], check=False).returncode == 1
    assert podman("network", "exists", made["network"], check=False).returncode == 1
    assert podman("secret", "inspect", made["secret"], check=False).returncode != 0
