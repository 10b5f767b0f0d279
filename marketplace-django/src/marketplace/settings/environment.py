"""The one place that reads the process environment into typed setting values.

Each variable's default comes from `marketplace.settings.variables` (its `dev` default where the
reader says `dev=True`) and is converted like a value from the environment, so a variable outside
that table cannot be read. A missing or malformed value stops the process with one line naming the
variable and the accepted form, and exit status 2: a configuration mistake is not a crash, so no
traceback.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from marketplace.settings.variables import variable

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def refuse(name: str, problem: str, accepted: str) -> NoReturn:
    """Stop the process because the variable `name` is unusable, saying what it must be."""
    print(f"error: {name} {problem}: {accepted}", file=sys.stderr)
    raise SystemExit(2)


def _raw(name: str, *, dev: bool = False) -> str:
    """The variable's text, or its default (the development default if `dev`) when unset or
    empty."""
    entry = variable(name)
    default = entry.dev if dev and entry.dev is not None else entry.default
    return os.environ.get(name) or default


def string(name: str, *, dev: bool = False) -> str:
    """The variable's value, or its default when it is unset or empty."""
    return _raw(name, dev=dev)


def required(name: str, accepted: str) -> str:
    """The variable's value; the process stops when it is unset or empty."""
    variable(name)
    value = os.environ.get(name, "")
    if not value:
        refuse(name, "is not set", accepted)
    return value


def optional(name: str) -> str | None:
    """The variable's value, or its default; None when both are empty."""
    return _raw(name) or None


def integer(name: str, *, minimum: int, maximum: int) -> int:
    """The variable (or its default) as an integer within [minimum, maximum]."""
    raw = _raw(name)
    accepted = f"an integer from {minimum} to {maximum}, got {raw!r}"
    try:
        value = int(raw)
    except ValueError:
        refuse(name, "is not an integer", accepted)
    if not minimum <= value <= maximum:
        refuse(name, "is out of range", accepted)
    return value


def seconds(name: str) -> float:
    """The variable (or its default) as a positive number of seconds."""
    raw = _raw(name)
    accepted = f"a positive number of seconds such as 0.3, got {raw!r}"
    try:
        value = float(raw)
    except ValueError:
        refuse(name, "is not a number", accepted)
    if not 0 < value < float("inf"):
        refuse(name, "is out of range", accepted)
    return value


def boolean(name: str) -> bool:
    """The variable (or its default) as a boolean: true/false, yes/no, on/off, 1/0."""
    raw = _raw(name)
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    refuse(name, "is not a boolean", f"true or false, got {raw!r}")


def words(name: str, *, dev: bool = False) -> list[str]:
    """The variable (or its default) as a comma-separated list, blanks dropped."""
    raw = _raw(name, dev=dev)
    return [item.strip() for item in raw.split(",") if item.strip()]


def readable_file(name: str) -> str | None:
    """The variable (or its default) as the path of a readable file; None when both are empty."""
    path = _raw(name)
    if not path:
        return None
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        refuse(name, "is not a readable file", f"the path of a PEM file, got {path!r}")
    return path
