"""Run as a script by test_recommendations_client: forks and reports what each process sees.

Usage: python fork_probe.py preload|after-use. With `preload` the parent only loads the site
(its WSGI application and URLs, as a pre-forking server's master does) before forking; with
`after-use` it first makes a call itself. Each child makes a call and prints one JSON line: its
pid, the pid its channel belongs to, and the books it got.
"""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.test")
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from storefront import recommendations  # noqa: E402
from storefront.categories import Category  # noqa: E402


def call() -> dict[str, object]:
    result = recommendations.recommend(reader_id=7, category=Category.MYSTERY, page_size=2)
    connection = recommendations._connection
    return {
        "pid": os.getpid(),
        "channel_pid": connection.pid if connection else None,
        "books": [book.id for book in result.books],
        "failure": result.failure,
    }


def report(facts: dict[str, object]) -> None:
    # One unbuffered write per line: nothing is left in a buffer for a child to inherit.
    os.write(sys.stdout.fileno(), (json.dumps(facts) + "\n").encode())


def main(mode: str) -> None:
    get_wsgi_application()
    import marketplace.urls  # noqa: F401  (what the first request would import)

    if mode == "after-use":
        report({"parent": True, **call()})
    else:
        report({"parent": True, "opened": recommendations._connection is not None})
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            report(call())
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main(sys.argv[1])
