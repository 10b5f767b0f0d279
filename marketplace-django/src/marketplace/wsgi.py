"""The WSGI application marketplace-server serves; production settings unless told otherwise.

Each worker imports this module before it listens, and warms the site up here
(`marketplace.warmup`). Tracing is installed first, when the OTEL_* variables turn it on
(`marketplace.telemetry`): the Django instrumentation must add its middleware before Django loads
the middleware.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from marketplace import telemetry, warmup
from marketplace.settings import environment as env

os.environ["DJANGO_SETTINGS_MODULE"] = env.string("DJANGO_SETTINGS_MODULE")

telemetry.install()
application = get_wsgi_application()
warmup.warm_up()
