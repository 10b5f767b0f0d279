"""Settings shared by every environment, read from the process environment.

`dev`, `prod` and `test` import everything from here and change only what differs. Every
variable is read through `marketplace.settings.environment`, which names the variable and the
accepted form when a value is unusable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from marketplace.settings import environment as env

DEBUG = False
SECRET_KEY = env.string("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.words("DJANGO_ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "storefront",
]

# Every header-setting middleware comes before WhiteNoise, which answers static files itself:
# the files get the same security headers as the pages.
MIDDLEWARE = [
    "marketplace.access_log.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "marketplace.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "marketplace.metrics.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

# Jinja2 through Django's own backend: the homepage renders in a fraction of the Django template
# language's CPU time (measured in docs/performance.md). The templates stay in the
# storefront app, namespaced under templates/storefront/; the backend adds `request` and the
# CSRF token to every context itself.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [Path(__file__).resolve().parents[2] / "storefront" / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "storefront.templating.environment",
            "context_processors": ["storefront.context_processors.navigation"],
        },
    },
]


def _database(url: str) -> dict[str, Any]:
    try:
        return dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError:
        env.refuse(
            "DATABASE_URL",
            "is not a database URL",
            "sqlite:///PATH or postgres://USER:PASSWORD@HOST:5432/NAME",
        )


# SQLite in the working directory unless DATABASE_URL names another database (PostgreSQL in
# production). The site stores only Django's own tables: sessions live in signed cookies.
DATABASES = {"default": _database(env.string("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Signed-cookie sessions keep a page view free of database writes: the only thing a visitor's
# session holds is the anonymous personalisation id.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_AGE = 365 * 24 * 60 * 60

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
# The shop is English only. Translation machinery off saves a thread-local language lookup in
# every URL reversal and template value (about a quarter of the homepage's CPU when it was on).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT: Path | None = Path(env.string("DJANGO_STATIC_ROOT")).resolve()

# Security headers on every response. Django sends nosniff, the referrer policy and the
# opener policy from SecurityMiddleware and X-Frame-Options from XFrameOptionsMiddleware.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy, in the shape of Django 6's SECURE_CSP so that moving to its
# built-in middleware later is a one-line change: nothing but the site itself may be loaded.
SECURE_CSP = {
    "default-src": ["'self'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
}

# The recommendations service: a full gRPC target, or host and port.
RECOMMENDATIONS_TARGET = env.optional("RECOMMENDATIONS_TARGET") or "{}:{}".format(
    env.string("RECOMMENDATIONS_HOST"),
    env.integer("RECOMMENDATIONS_PORT", minimum=1, maximum=65535),
)
RECOMMENDATIONS_TIMEOUT_SECONDS = env.seconds("RECOMMENDATIONS_TIMEOUT_SECONDS")
RECOMMENDATIONS_TLS_CA = env.readable_file("RECOMMENDATIONS_TLS_CA")
RECOMMENDATIONS_TLS_CLIENT_CERT = env.readable_file("RECOMMENDATIONS_TLS_CLIENT_CERT")
RECOMMENDATIONS_TLS_CLIENT_KEY = env.readable_file("RECOMMENDATIONS_TLS_CLIENT_KEY")
if (RECOMMENDATIONS_TLS_CLIENT_CERT is None) != (RECOMMENDATIONS_TLS_CLIENT_KEY is None):
    env.refuse(
        "RECOMMENDATIONS_TLS_CLIENT_KEY",
        "and RECOMMENDATIONS_TLS_CLIENT_CERT must be set together",
        "the PEM paths of the client's private key and certificate, for mutual TLS",
    )

_LOG_LEVEL = env.string("DJANGO_LOG_LEVEL").upper()
if _LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    env.refuse("DJANGO_LOG_LEVEL", "is not a log level", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
# JSON lines, each with the ids of the page's trace when tracing is on (`marketplace.logs`);
# `marketplace.access` logs one line per request at INFO.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "marketplace.logs.JsonFormatter"}},
    "filters": {"without_traceback": {"()": "marketplace.logging_filters.WithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        # Replaces Django's own console handler, which would print its records a second time.
        "django": {"handlers": ["console"], "level": _LOG_LEVEL, "propagate": False},
        # Any client can send any Host: one line each, not a traceback of Django's internals.
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
    },
}
