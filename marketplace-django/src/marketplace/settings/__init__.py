"""Settings for the website: `base` holds everything, `dev`, `prod` and `test` adjust it."""

from __future__ import annotations
