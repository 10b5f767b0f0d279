"""Settings for the test suite: hermetic (in-memory database, fixed key), quiet and fast."""

from __future__ import annotations

from marketplace.settings import committed_keys
from marketplace.settings.base import *  # noqa: F403

SECRET_KEY = committed_keys.TEST
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Templates reference static files by name; the tests do not run collectstatic first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None
