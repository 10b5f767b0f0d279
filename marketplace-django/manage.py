#!/usr/bin/env python
"""Django's command-line utility for the website; development settings unless told otherwise."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a management command, e.g. `python manage.py runserver`."""
    from marketplace.settings import environment as env  # noqa: PLC0415

    os.environ["DJANGO_SETTINGS_MODULE"] = env.string("DJANGO_SETTINGS_MODULE", dev=True)
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
