"""The one place that reads the process environment into typed setting values.

A missing or malformed value stops the process with one line naming the variable and the
accepted form, and exit status 2: a configuration mistake is not a crash, so no traceback.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def refuse(name: str, problem: str, accepted: str) -> NoReturn:
    """Stop the process because the variable `name` is unusable, saying what it must be."""
    print(f"error: {name} {problem}: {accepted}", file=sys.stderr)
    raise SystemExit(2)


def string(name: str, default: str) -> str:
    """The variable's value, or `default` when it is unset or empty."""
    return os.environ.get(name) or default


def required(name: str, accepted: str) -> str:
    """The variable's value; the process stops when it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        refuse(name, "is not set", accepted)
    return value


def optional(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(name) or None


def integer(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """The variable as an integer within [minimum, maximum], or `default` when unset."""
    raw = os.environ.get(name)
    if not raw:
        return default
    accepted = f"an integer from {minimum} to {maximum}, got {raw!r}"
    try:
        value = int(raw)
    except ValueError:
        refuse(name, "is not an integer", accepted)
    if not minimum <= value <= maximum:
        refuse(name, "is out of range", accepted)
    return value


def seconds(name: str, default: float) -> float:
    """The variable as a positive number of seconds, or `default` when unset."""
    raw = os.environ.get(name)
    if not raw:
        return default
    accepted = f"a positive number of seconds such as 0.3, got {raw!r}"
    try:
        value = float(raw)
    except ValueError:
        refuse(name, "is not a number", accepted)
    if not 0 < value < float("inf"):
        refuse(name, "is out of range", accepted)
    return value


def boolean(name: str, default: bool) -> bool:
    """The variable as a boolean (true/false, yes/no, on/off, 1/0), or `default` when unset."""
    raw = os.environ.get(name)
    if not raw:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    refuse(name, "is not a boolean", f"true or false, got {raw!r}")


def words(name: str, default: list[str]) -> list[str]:
    """The variable as a comma-separated list (blanks dropped), or `default` when unset."""
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def readable_file(name: str) -> str | None:
    """The variable as the path of a readable file, or None when it is unset."""
    path = os.environ.get(name)
    if not path:
        return None
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        refuse(name, "is not a readable file", f"the path of a PEM file, got {path!r}")
    return path
