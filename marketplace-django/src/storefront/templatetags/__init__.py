"""Template filters of the storefront."""

from __future__ import annotations
