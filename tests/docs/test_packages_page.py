"""docs/packages.md states the runtime ranges the packages declare."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "packages.md").read_text()


def test_the_page_states_every_range_the_wheel_declares() -> None:
    project = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["typing"]]

    assert len(declared) == 4
    assert [d for d in declared if f"`{d}`" not in PAGE] == []


def test_the_page_states_the_npm_packages_runtime_range() -> None:
    package = json.loads((ROOT / "clients/typescript/package.json").read_text())

    assert package["dependencies"].keys() == {"@bufbuild/protobuf"}
    assert f"`@bufbuild/protobuf` `{package['dependencies']['@bufbuild/protobuf']}`" in PAGE
