"""Production settings: a real secret key and host list are required; HTTPS everywhere.

With the defaults here `manage.py check --deploy` reports no issues. Behind a proxy that
terminates TLS, the proxy must set `X-Forwarded-Proto: https` (and strip it from clients).
"""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage

from marketplace.settings import committed_keys
from marketplace.settings import environment as env
from marketplace.settings.base import *  # noqa: F403

# A key signs sessions and CSRF tokens: long, varied (Django's own check asks for only 5
# different characters; 50 random URL-safe characters have about 40), and known to no one else.
KEY_LENGTH, KEY_VARIETY = 50, 20
_KEY_FORM = (
    f"a random string of at least {KEY_LENGTH} characters, {KEY_VARIETY} of them different, "
    "never one in the repository, "
    "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)

DEBUG = False
SECRET_KEY = env.required("DJANGO_SECRET_KEY", _KEY_FORM)
if SECRET_KEY.strip() in committed_keys.ALL:
    env.refuse("DJANGO_SECRET_KEY", "is a key committed to the repository", _KEY_FORM)
if (
    len(SECRET_KEY) < KEY_LENGTH
    or len(set(SECRET_KEY)) < KEY_VARIETY
    or SECRET_KEY.startswith("django-insecure-")
):
    env.refuse("DJANGO_SECRET_KEY", "is too weak", _KEY_FORM)
ALLOWED_HOSTS = env.words("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    env.refuse(
        "DJANGO_ALLOWED_HOSTS", "is not set", "comma-separated host names, e.g. books.example.com"
    )

# The manifest (every asset's hashed name) is for the server, not for readers: it is kept beside
# STATIC_ROOT, since WhiteNoise serves everything in it.
assert STATIC_ROOT is not None  # noqa: F405
STATIC_MANIFEST_ROOT = STATIC_ROOT.with_name(f"{STATIC_ROOT.name}-manifest")  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "OPTIONS": {"manifest_storage": FileSystemStorage(location=STATIC_MANIFEST_ROOT)},
    },
}

# Plain HTTP is redirected to HTTPS (probes and Prometheus use the internal port, which is not
# Django's). DJANGO_SECURE_SSL_REDIRECT=false is for local runs over plain HTTP.
SECURE_SSL_REDIRECT = env.boolean("DJANGO_SECURE_SSL_REDIRECT")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
