"""docs/registry.md's install recipe cannot be hijacked, and its upgrade command upgrades.

Two real pypiservers: a "public" one holding a decoy `bookshop-protos` 99.0.0 (and referring every
other name to the real public index), and the private one holding releases 1.0.0 and 1.1.0, built
from their release images, and referring every name it does not hold to the "public" one.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from typing import TYPE_CHECKING

from conftest import readme_commands

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import Consumer, Index

DECOY_VERSION = "99.0.0"


def test_the_recipe_installs_the_private_release_and_upgrades_it(
    package_index: Callable[..., Index],
    consumer: Callable[[str], Consumer],
    release_wheel: Callable[[str], Path],
) -> None:
    public = package_index("public")
    _decoy(public.store)
    private = package_index("private", fallback=public.url)
    for version in ("1.0.0", "1.1.0"):
        shutil.copy(release_wheel(version), private.store)
    install, upgrade = readme_commands(private.url)

    fresh = consumer("fresh")
    assert fresh.pip(install).returncode == 0
    assert fresh.installed() == "1.1.0"

    older = consumer("older")
    assert older.pip([*install[:-1], "bookshop-protos==1.0.0"]).returncode == 0
    assert older.installed() == "1.0.0"
    assert "Requirement already satisfied" in older.pip(install).stdout
    assert older.installed() == "1.0.0"
    assert older.pip(upgrade).returncode == 0
    assert older.installed() == "1.1.0"
    assert (
        older.run(
            "from bookshop.recommendations.v1 import recommendations_pb2 as pb\n"
            "print(pb.BookRecommendation(author='Dorothy L. Sayers').author)"
        )
        == "Dorothy L. Sayers"
    )


def test_the_threat_is_real_with_an_extra_index(
    package_index: Callable[..., Index],
    consumer: Callable[[str], Consumer],
    release_wheel: Callable[[str], Path],
) -> None:
    """What docs/registry.md warns against: with the public index added, the decoy wins."""
    public = package_index("public")
    _decoy(public.store)
    private = package_index("private", fallback=public.url)
    shutil.copy(release_wheel("1.1.0"), private.store)
    install, _ = readme_commands(private.url)
    unsafe = [*install[:-1], "--extra-index-url", f"{public.url}simple/", install[-1]]

    hijacked = consumer("hijacked")
    assert hijacked.pip(unsafe).returncode == 0
    assert hijacked.installed() == DECOY_VERSION


def _decoy(store: Path) -> None:
    """A `bookshop-protos` 99.0.0 wheel as an attacker would publish it."""
    name = f"bookshop_protos-{DECOY_VERSION}"
    files = {
        "bookshop_decoy.py": b"PAYLOAD = 'this would run on every install'\n",
        f"{name}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: bookshop-protos\nVersion: {DECOY_VERSION}\n"
        ).encode(),
        f"{name}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: decoy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{name}.dist-info/RECORD,,")
    files[f"{name}.dist-info/RECORD"] = "".join(f"{line}\n" for line in record).encode()
    with zipfile.ZipFile(store / f"{name}-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
