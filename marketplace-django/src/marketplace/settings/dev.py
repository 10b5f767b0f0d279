"""Development settings: debug pages, a throwaway secret key, local hosts only."""

from __future__ import annotations

from marketplace.settings import committed_keys
from marketplace.settings import environment as env
from marketplace.settings.base import *  # noqa: F403
from marketplace.settings.base import INSTALLED_APPS

DEBUG = True
SECRET_KEY = env.string("DJANGO_SECRET_KEY", committed_keys.DEVELOPMENT)
ALLOWED_HOSTS = env.words("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# whitenoise serves static files in development too, so the runserver matches production.
INSTALLED_APPS = ["whitenoise.runserver_nostatic", *INSTALLED_APPS]
# Static files come straight from the apps' static/ folders; collectstatic is for production.
STATIC_ROOT = None
