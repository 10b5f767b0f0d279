"""What each worker does once, before it accepts a connection, so that its first page costs what
the later ones do: the first page after a start took seconds, spent importing the views,
compiling the templates and connecting to the recommendations service.

Nothing here waits for the service: the connection is only started, so a worker whose service
is down starts (and serves degraded pages) as quickly as one whose service is up.
"""

from __future__ import annotations

from django.template import engines
from django.template.backends.jinja2 import Jinja2
from django.urls import resolve
from storefront import recommendations


def warm_up() -> None:
    """Import the views, compile every template, and start the recommendations channel."""
    resolve("/")
    for engine in engines.all():
        if isinstance(engine, Jinja2):
            for name in engine.env.list_templates():
                engine.env.get_template(name)
    recommendations.connect()
