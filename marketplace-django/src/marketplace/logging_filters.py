"""Logging filters the site's LOGGING setting refers to."""

from __future__ import annotations

import logging


class WithoutTraceback(logging.Filter):
    """Keeps a record's message and drops its traceback.

    For errors that are the client's doing, such as a request for a Host the site does not
    serve: the message says all there is to say, and a traceback per request would let anyone
    fill the log at will.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Clear the record's exception information; keep the record."""
        record.exc_info = None
        record.exc_text = None
        return True
