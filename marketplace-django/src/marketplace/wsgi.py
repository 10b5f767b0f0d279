"""The WSGI application marketplace-server serves; production settings unless told otherwise."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.prod")

application = get_wsgi_application()
