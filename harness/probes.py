"""HTTP requests for tests and readiness checks: a page's status and body, whatever the status."""

from __future__ import annotations

import urllib.error
import urllib.request


def fetch(url: str, *, method: str = "GET", timeout: float = 5) -> tuple[int, str]:
    """The status and body of one request to `url`, error statuses included; raises OSError
    when nothing answers."""
    request = urllib.request.Request(url, method=method)  # noqa: S310 (the caller's URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def answers(url: str, *, timeout: float = 2) -> bool:
    """Whether a GET of `url` answers 200 (False when it answers otherwise or nothing answers)."""
    try:
        return fetch(url, timeout=timeout)[0] == 200
    except OSError:
        return False
