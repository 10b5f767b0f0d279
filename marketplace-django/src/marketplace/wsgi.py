"""The WSGI application marketplace-server serves; production settings unless told otherwise."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from marketplace.settings import environment as env

os.environ["DJANGO_SETTINGS_MODULE"] = env.string("DJANGO_SETTINGS_MODULE")

application = get_wsgi_application()
