"""The secret keys this repository contains, in one place.

Development and the test suite use them; production refuses every one of them, since anyone
who can read the repository knows them.
"""

from __future__ import annotations

DEVELOPMENT = "django-insecure-development-only-never-deploy-this"
TEST = "test-only-secret-key-used-by-the-marketplace-test-suite-0123456789"
ALL = frozenset({DEVELOPMENT, TEST})
