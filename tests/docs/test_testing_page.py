"""docs/testing.md's table of targets lists exactly the targets `make help` lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_lists_every_target_make_help_lists() -> None:
    help_text = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = set(re.findall(r"^  make (\S+)", help_text, flags=re.MULTILINE))
    assert "check" in listed, "make help's format changed: this test reads '  make TARGET ...'"
    page = (ROOT / "docs" / "testing.md").read_text()
    table = set(re.findall(r"^\| `make (\S+)` \|", page, flags=re.MULTILINE))

    assert listed - table == set(), "targets missing from docs/testing.md's table"
    assert table - listed == set(), "docs/testing.md's table lists targets make help does not"
