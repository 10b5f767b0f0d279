"""Every environment variable the website reads, with its default: the one table that the
settings, `marketplace-server --help` and the README's configuration table follow.

`marketplace.settings.environment` takes each default from here, so a variable missing from this
table cannot be read; tests/test_variables.py holds the README's table equal to this one and
checks that the code reads no variable this table lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.settings import committed_keys


@dataclass(frozen=True, slots=True)
class Variable:
    """One variable: its default as it would be written in the environment ("" is unset, and
    `unset` says what that means when it is not a value), the default of the development settings
    where it differs, and whether the production settings refuse to start without it."""

    name: str
    default: str
    meaning: str
    unset: str = ""
    dev: str | None = None
    prod_required: bool = False


VARIABLES = (
    Variable(
        "DJANGO_SETTINGS_MODULE",
        "marketplace.settings.prod",
        "which settings: marketplace.settings.dev, .prod or .test (manage.py: dev)",
        dev="marketplace.settings.dev",
    ),
    Variable(
        "DJANGO_SECRET_KEY",
        "",
        "signs sessions and CSRF tokens: at least 50 random characters, 20 of them different",
        dev=committed_keys.DEVELOPMENT,
        prod_required=True,
    ),
    Variable(
        "DJANGO_ALLOWED_HOSTS",
        "",
        "comma-separated host names the pages answer to",
        dev="localhost,127.0.0.1,[::1]",
        prod_required=True,
    ),
    Variable(
        "DJANGO_SECURE_SSL_REDIRECT",
        "true",
        "production only: redirect plain HTTP to HTTPS",
    ),
    Variable(
        "DJANGO_STATIC_ROOT",
        "staticfiles",
        "where collectstatic writes and whitenoise serves from (relative to the working directory)",
    ),
    Variable(
        "DJANGO_LOG_LEVEL",
        "INFO",
        "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    ),
    Variable(
        "DATABASE_URL",
        "sqlite:///db.sqlite3",
        "any URL dj-database-url reads (relative to the working directory)",
    ),
    Variable("RECOMMENDATIONS_HOST", "localhost", "host of the recommendations service"),
    Variable("RECOMMENDATIONS_PORT", "50051", "its port"),
    Variable(
        "RECOMMENDATIONS_TARGET",
        "",
        "a full gRPC target, overriding host and port",
        unset="`$RECOMMENDATIONS_HOST:$RECOMMENDATIONS_PORT`",
    ),
    Variable(
        "RECOMMENDATIONS_TIMEOUT_SECONDS",
        "0.3",
        "deadline of each call, retries included",
    ),
    Variable(
        "RECOMMENDATIONS_TLS_CA",
        "",
        "PEM CA bundle that signed the service's certificate: turns TLS on",
        unset="plaintext",
    ),
    Variable("RECOMMENDATIONS_TLS_CLIENT_CERT", "", "PEM client certificate for mutual TLS"),
    Variable("RECOMMENDATIONS_TLS_CLIENT_KEY", "", "PEM private key of the client certificate"),
    Variable(
        "MARKETPLACE_BIND",
        "0.0.0.0",  # noqa: S104  (a container listens on every interface)
        "address both of marketplace-server's ports listen on",
    ),
    Variable("MARKETPLACE_PORT", "8000", "the pages' port"),
    Variable(
        "MARKETPLACE_INTERNAL_PORT",
        "9000",
        "/metrics, /healthz and /readyz (must differ from the pages' port)",
    ),
    Variable("WEB_CONCURRENCY", "2", "worker processes"),
    Variable("MARKETPLACE_THREADS", "4", "threads per worker running the site"),
    Variable(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        "where the workers write their metrics; emptied when the server starts",
        unset="a fresh temporary directory",
    ),
)

_BY_NAME = {variable.name: variable for variable in VARIABLES}


def variable(name: str) -> Variable:
    """The table's entry for `name`; KeyError for a variable the table lacks."""
    return _BY_NAME[name]


def describe() -> str:
    """The variables with their defaults, for `--help`."""
    lines = []
    for entry in VARIABLES:
        notes = [f"unset: {entry.unset.strip('`')}"] if entry.unset else []
        notes += [f"dev: {entry.dev}"] if entry.dev is not None else []
        notes += ["production: required"] if entry.prod_required else []
        lines.append(f"  {entry.name}={entry.default}")
        lines.append(f"      {entry.meaning}" + (f" [{'; '.join(notes)}]" if notes else ""))
    return "\n".join(lines)
