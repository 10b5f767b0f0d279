"""Production settings: `check --deploy` is clean, and bad configuration stops with one line."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from marketplace.settings import committed_keys

from harness.ports import free_port

MANAGE = Path(__file__).resolve().parents[1] / "manage.py"
# Made at run time: a key written here would be one the repository contains, which production
# refuses.
GOOD_KEY = secrets.token_urlsafe(50)


def production(*args, cwd=None, **env):
    """Run `args` with production settings and only the environment given here."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "RECOMMENDATIONS_", "DATABASE_URL"))
    }
    base["DJANGO_SETTINGS_MODULE"] = "marketplace.settings.prod"
    return subprocess.run(
        list(args),
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def manage(*args, **env):
    return production(sys.executable, str(MANAGE), *args, **env)


def test_check_deploy_reports_no_issues():
    result = manage("check", "--deploy", DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_ALLOWED_HOSTS="shop")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "shop"}, "error: DJANGO_SECRET_KEY is not set: "),
        (
            {"DJANGO_ALLOWED_HOSTS": "shop", "DJANGO_SECRET_KEY": "django-insecure-" + GOOD_KEY},
            "error: DJANGO_SECRET_KEY is too weak: ",
        ),
        (
            {"DJANGO_ALLOWED_HOSTS": "shop", "DJANGO_SECRET_KEY": "abcde" * 20},
            "error: DJANGO_SECRET_KEY is too weak: ",
        ),
        (
            {"DJANGO_ALLOWED_HOSTS": "shop", "DJANGO_SECRET_KEY": GOOD_KEY[:49]},
            "error: DJANGO_SECRET_KEY is too weak: ",
        ),
        ({"DJANGO_SECRET_KEY": GOOD_KEY}, "error: DJANGO_ALLOWED_HOSTS is not set: "),
        (
            {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_ALLOWED_HOSTS": "shop", "DATABASE_URL": "x"},
            "error: DATABASE_URL is not a database URL: ",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "shop",
                "RECOMMENDATIONS_PORT": "http",
            },
            "error: RECOMMENDATIONS_PORT is not an integer: ",
        ),
        (
            {
                "DJANGO_SECRET_KEY": GOOD_KEY,
                "DJANGO_ALLOWED_HOSTS": "shop",
                "RECOMMENDATIONS_TLS_CA": "/nonexistent/ca.pem",
            },
            "error: RECOMMENDATIONS_TLS_CA is not a readable file: ",
        ),
    ],
)
def test_bad_configuration_stops_with_one_line_and_status_2(env, message):
    result = manage("check", **env)

    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", sorted(committed_keys.ALL))
def test_every_key_in_the_repository_is_refused(key):
    result = manage("check", DJANGO_SECRET_KEY=key, DJANGO_ALLOWED_HOSTS="shop")

    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: DJANGO_SECRET_KEY is a key committed to the repository: a random string of at "
        "least 50 characters, 20 of them different, never one in the repository, e.g. "
    )
    assert result.stderr.count("\n") == 1


def test_a_key_of_nineteen_different_characters_is_refused_and_twenty_accepted():
    nineteen = ("abcdefghijklmnopqrs" * 3)[:50]

    refused = manage("check", DJANGO_SECRET_KEY=nineteen, DJANGO_ALLOWED_HOSTS="shop")
    accepted = manage("check", DJANGO_SECRET_KEY=nineteen + "t", DJANGO_ALLOWED_HOSTS="shop")

    assert refused.returncode == 2
    assert refused.stderr.startswith("error: DJANGO_SECRET_KEY is too weak: ")
    assert accepted.returncode == 0, accepted.stderr


def server(tmp_path, **env):
    """Run marketplace-server with production settings and `env`; it must stop by itself."""
    return production(
        str(Path(sys.executable).with_name("marketplace-server")),
        cwd=tmp_path,
        MARKETPLACE_BIND="127.0.0.1",
        **{"MARKETPLACE_PORT": str(free_port()), **env},
    )


def test_the_server_refuses_to_start_without_a_secret_key(tmp_path):
    result = server(tmp_path, DJANGO_ALLOWED_HOSTS="shop")

    assert result.returncode == 2
    assert result.stderr.startswith("error: DJANGO_SECRET_KEY is not set: ")
    assert result.stderr.count("\n") == 1


def test_the_server_refuses_one_port_for_pages_and_metrics(tmp_path):
    result = server(
        tmp_path,
        DJANGO_SECRET_KEY=GOOD_KEY,
        DJANGO_ALLOWED_HOSTS="shop",
        MARKETPLACE_PORT="8123",
        MARKETPLACE_INTERNAL_PORT="8123",
    )

    assert result.returncode == 2
    assert result.stderr.startswith("error: MARKETPLACE_INTERNAL_PORT is the public port 8123: ")
    assert result.stderr.count("\n") == 1
