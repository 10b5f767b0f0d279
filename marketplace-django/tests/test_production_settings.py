"""Production settings: `check --deploy` is clean, and bad configuration stops with one line."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from marketplace.settings import committed_keys

from harness.ports import free_port
from harness.processes import clean_environment

CHECK = (sys.executable, str(Path(__file__).resolve().parents[1] / "manage.py"), "check")
SERVER = (str(Path(sys.executable).with_name("marketplace-server")),)
# Made at run time: a key written here would be one the repository contains, which production
# refuses.
GOOD_KEY = secrets.token_urlsafe(50)
NINETEEN_DIFFERENT = ("abcdefghijklmnopqrs" * 3)[:50]
WEAK = "DJANGO_SECRET_KEY is too weak: "
COMMITTED = (
    "DJANGO_SECRET_KEY is a key committed to the repository: a random string of at least 50 "
    "characters, 20 of them different, never one in the repository, e.g. "
)


def production(command, cwd, **env):
    """Run `command` with production settings, a good key, DJANGO_ALLOWED_HOSTS and a free port,
    changed by `env` (None unsets), and no other variable of the site's."""
    site = clean_environment({"DJANGO_SETTINGS_MODULE": "marketplace.settings.prod"})
    site.pop("DATABASE_URL", None)
    site |= {
        "DJANGO_SECRET_KEY": GOOD_KEY,
        "DJANGO_ALLOWED_HOSTS": "shop",
        "MARKETPLACE_BIND": "127.0.0.1",
        "MARKETPLACE_PORT": str(free_port()),
    }
    return subprocess.run(
        list(command),
        env={key: value for key, value in (site | env).items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize("key", [GOOD_KEY, NINETEEN_DIFFERENT + "t"])
def test_check_deploy_reports_no_issues(tmp_path, key):
    result = production((*CHECK, "--deploy"), tmp_path, DJANGO_SECRET_KEY=key)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (CHECK, {"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY is not set: "),
        (CHECK, {"DJANGO_SECRET_KEY": "django-insecure-" + GOOD_KEY}, WEAK),
        (CHECK, {"DJANGO_SECRET_KEY": "abcde" * 20}, WEAK),
        (CHECK, {"DJANGO_SECRET_KEY": GOOD_KEY[:49]}, WEAK),
        (CHECK, {"DJANGO_SECRET_KEY": NINETEEN_DIFFERENT}, WEAK),
        *[(CHECK, {"DJANGO_SECRET_KEY": key}, COMMITTED) for key in sorted(committed_keys.ALL)],
        (CHECK, {"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS is not set: "),
        (CHECK, {"DATABASE_URL": "x"}, "DATABASE_URL is not a database URL: "),
        (CHECK, {"RECOMMENDATIONS_PORT": "http"}, "RECOMMENDATIONS_PORT is not an integer: "),
        (
            CHECK,
            {"RECOMMENDATIONS_TLS_CA": "/nonexistent/ca.pem"},
            "RECOMMENDATIONS_TLS_CA is not a readable file: ",
        ),
        (SERVER, {"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY is not set: "),
        (
            SERVER,
            {"MARKETPLACE_PORT": "8123", "MARKETPLACE_INTERNAL_PORT": "8123"},
            "MARKETPLACE_INTERNAL_PORT is the public port 8123: ",
        ),
        (
            SERVER,
            {"OTEL_TRACES_EXPORTER": "zipkin"},
            "OTEL_TRACES_EXPORTER must be otlp or none, got 'zipkin'\n",
        ),
        (
            SERVER,
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio"},
            "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 for traceidratio, got ''\n",
        ),
        (  # a directory in the command's working directory, never filled
            SERVER,
            {"DJANGO_STATIC_ROOT": "empty"},
            "DJANGO_STATIC_ROOT holds no collected static files: the directory "
            "`manage.py collectstatic` filled",
        ),
    ],
)
def test_bad_configuration_stops_with_one_line_and_status_2(tmp_path, command, env, message):
    result = production(command, tmp_path, **env)

    assert result.returncode == 2
    assert result.stderr.startswith("error: " + message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
