"""Readiness: whether the database answers. Served on the internal port (`marketplace.internal`)."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def database_answers() -> bool:
    """Whether the database answers `SELECT 1` now.

    Each check uses a connection of its own and closes it: the internal port answers every
    request on a new thread, and a connection must not outlive its thread.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("not ready: the database does not answer: %s", error)
        return False
    finally:
        connection.close()
    return True
