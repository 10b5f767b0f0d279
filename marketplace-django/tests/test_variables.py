"""The table of environment variables is the one source: the README, `--help` and the code agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from marketplace.settings.variables import VARIABLES, Variable

PROJECT = Path(__file__).resolve().parents[1]
# A variable's name passed to a reader of marketplace.settings.environment or of os.environ.
READ = re.compile(
    r'(?:\benv\.\w+\(|\bos\.environ(?:\.get\(|\.setdefault\(|\[))\s*"([A-Z][A-Z0-9_]+)"'
)


def documented(variable: Variable) -> str:
    """The README's Default cell for `variable`."""
    if variable.default:
        cell = [f"`{variable.default}`"]
    else:
        cell = [f"unset: {variable.unset}" if variable.unset else "unset"]
    if variable.dev is not None:
        cell.append(f"dev: `{variable.dev}`")
    if variable.prod_required:
        cell.append("**prod: required**")
    return "; ".join(cell)


def test_the_readme_table_lists_every_variable_with_its_default():
    readme = (PROJECT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|", readme, re.MULTILINE))
    assert rows == {variable.name: documented(variable) for variable in VARIABLES}


def test_the_code_reads_exactly_the_variables_of_the_table():
    sources = [*sorted((PROJECT / "src").rglob("*.py")), PROJECT / "manage.py"]
    read = {name for source in sources for name in READ.findall(source.read_text())}
    assert read == {variable.name for variable in VARIABLES}


def test_help_lists_every_variable_with_its_default():
    server = Path(sys.executable).with_name("marketplace-server")
    result = subprocess.run(
        [server, "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    for variable in VARIABLES:
        assert f"\n  {variable.name}={variable.default}\n" in result.stdout
    assert "\n  RECOMMENDATIONS_TARGET=\n" in result.stdout
