"""Development settings: debug pages, a throwaway secret key, local hosts only."""

from __future__ import annotations

from marketplace.settings import environment as env
from marketplace.settings.base import *  # noqa: F403
from marketplace.settings.base import INSTALLED_APPS

DEBUG = True
SECRET_KEY = env.string("DJANGO_SECRET_KEY", dev=True)
ALLOWED_HOSTS = env.words("DJANGO_ALLOWED_HOSTS", dev=True)

# whitenoise serves static files in development too, so the runserver matches production.
INSTALLED_APPS = ["whitenoise.runserver_nostatic", *INSTALLED_APPS]
# Static files come straight from the apps' static/ folders; collectstatic is for production.
STATIC_ROOT = None
