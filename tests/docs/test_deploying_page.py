"""docs/deploying.md's image tags are the versions of the distributions the images ship."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"recommendations": "recommendations-service", "marketplace": "marketplace-django"}


def _version(image: str) -> str:
    pyproject = (ROOT / FOLDERS[image] / "pyproject.toml").read_text()
    version: str = tomllib.loads(pyproject)["project"]["version"]
    return version


def test_every_image_tag_on_the_page_is_its_distributions_version() -> None:
    page = (ROOT / "docs" / "deploying.md").read_text()
    tags = re.findall(r"bookshop[/-](recommendations|marketplace|\*):([\w.-]+)", page)
    assert len(tags) >= 4

    for image, tag in tags:
        images = FOLDERS if image == "*" else [image]
        assert {_version(name) for name in images} == {tag}, f"bookshop {image}:{tag}"
