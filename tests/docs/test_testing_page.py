"""docs/testing.md's table of targets lists exactly the targets `make help` lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _help_targets() -> set[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(re.findall(r"^  make (\S+)", result.stdout, flags=re.MULTILINE))


def _table_targets() -> set[str]:
    page = (ROOT / "docs" / "testing.md").read_text()
    return set(re.findall(r"^\| `make (\S+)` \|", page, flags=re.MULTILINE))


def test_the_table_lists_every_target_make_help_lists() -> None:
    listed = _help_targets()
    assert "check" in listed, "make help's format changed: this test reads '  make TARGET ...'"

    table = _table_targets()

    assert listed - table == set(), "targets missing from docs/testing.md's table"
    assert table - listed == set(), "docs/testing.md's table lists targets make help does not"
