from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from recommendations.settings import VARIABLES, Settings, SettingsError, TlsFiles


def test_defaults_match_the_documented_variables() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.port == 50051
    assert settings.metrics_port == 9464
    assert settings.health_port == 50052
    assert settings.reflection is True
    assert settings.drain_seconds == 0
    assert settings.grace_seconds == 10
    assert settings.tls is None
    assert settings.catalog is None
    assert settings.log_level == logging.INFO


def test_one_connection_may_never_hold_every_worker() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(
            {"RECOMMENDATIONS_WORKERS": "8", "RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION": "8"}
        )
    assert str(error.value) == (
        "RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION must be below RECOMMENDATIONS_WORKERS (8), so"
        " that one connection cannot hold every worker; got 8"
    )
    defaults = Settings.from_env({})
    assert defaults.max_calls_per_connection < defaults.workers


def test_auto_processes_are_one_per_usable_cpu() -> None:
    code = "from recommendations.settings import Settings; print(Settings.from_env({}).processes)"
    auto = "import os; os.environ['RECOMMENDATIONS_PROCESSES'] = 'auto'; " + code.replace(
        "{}", "os.environ"
    )
    for cpus in ("0", "0,1"):
        pinned = subprocess.run(
            ["taskset", "-c", cpus, sys.executable, "-c", auto],
            capture_output=True,
            text=True,
            check=True,
        )
        assert pinned.stdout.strip() == str(len(cpus.split(",")))
    assert Settings.from_env({}).processes == 1


def test_every_variable_is_read() -> None:
    # Each variable, its text, and the setting it gives (named as the variable, less its prefix).
    reads = [
        ("RECOMMENDATIONS_PORT", "6000", 6000),
        ("RECOMMENDATIONS_BIND", "127.0.0.1", "127.0.0.1"),
        ("RECOMMENDATIONS_CATALOG", "/data/books.sqlite3", Path("/data/books.sqlite3")),
        ("RECOMMENDATIONS_METRICS_PORT", "6001", 6001),
        ("RECOMMENDATIONS_REFLECTION", "false", False),
        ("RECOMMENDATIONS_DRAIN_SECONDS", "5", 5),
        ("RECOMMENDATIONS_GRACE_SECONDS", "2.5", 2.5),
        ("RECOMMENDATIONS_HEALTH_PORT", "6002", 6002),
        ("RECOMMENDATIONS_WORKERS", "4", 4),
        ("RECOMMENDATIONS_MAX_CONCURRENT_CALLS", "64", 64),
        ("RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION", "3", 3),
        ("RECOMMENDATIONS_PROCESSES", "2", 2),
        ("RECOMMENDATIONS_HANDSHAKE_TIMEOUT_SECONDS", "0.5", 0.5),
        ("RECOMMENDATIONS_KEEPALIVE_SECONDS", "30", 30),
        ("RECOMMENDATIONS_KEEPALIVE_TIMEOUT_SECONDS", "5", 5),
        ("RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS", "120", 120),
        ("RECOMMENDATIONS_MAX_CONNECTION_AGE_GRACE_SECONDS", "10", 10),
        ("RECOMMENDATIONS_LOG_LEVEL", "debug", logging.DEBUG),
    ]
    tls = {  # the three of them, one setting
        "RECOMMENDATIONS_TLS_CERT": "/tls/server.pem",
        "RECOMMENDATIONS_TLS_KEY": "/tls/server-key.pem",
        "RECOMMENDATIONS_TLS_CLIENT_CA": "/tls/ca.pem",
    }
    env = {name: text for name, text, _ in reads} | tls
    assert set(env) == {v.name for v in VARIABLES}
    fields = {name.removeprefix("RECOMMENDATIONS_").lower(): value for name, _, value in reads}
    expected = Settings(**fields, tls=TlsFiles(*(Path(path) for path in tls.values())))
    assert Settings.from_env(env) == expected


@pytest.mark.parametrize(
    ("name", "value", "form"),
    [
        ("RECOMMENDATIONS_PORT", "http", "a port 0-65535"),
        ("RECOMMENDATIONS_PORT", "70000", "a port 0-65535"),
        ("RECOMMENDATIONS_METRICS_PORT", "-1", "a port 0-65535"),
        ("RECOMMENDATIONS_REFLECTION", "maybe", "true or false"),
        ("RECOMMENDATIONS_DRAIN_SECONDS", "-3", "a number >= 0"),
        ("RECOMMENDATIONS_GRACE_SECONDS", "soon", "a number >= 0"),
        ("RECOMMENDATIONS_GRACE_SECONDS", "inf", "a number >= 0"),
        ("RECOMMENDATIONS_KEEPALIVE_SECONDS", "0", "a number > 0"),
        ("RECOMMENDATIONS_WORKERS", "1", "an integer 2-256"),
        ("RECOMMENDATIONS_WORKERS", "auto", "an integer 2-256"),
        ("RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION", "0", "an integer 1-1000"),
        ("RECOMMENDATIONS_PROCESSES", "0", "an integer 1-64, or auto"),
        ("RECOMMENDATIONS_PROCESSES", "65", "an integer 1-64, or auto"),
        ("RECOMMENDATIONS_MAX_CONCURRENT_CALLS", "0", "an integer 1-10000"),
        ("RECOMMENDATIONS_HANDSHAKE_TIMEOUT_SECONDS", "0", "a number > 0"),
        ("RECOMMENDATIONS_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING or ERROR"),
        ("RECOMMENDATIONS_BIND", " ", "a host or address"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_accepted_form(
    name: str, value: str, form: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert str(error.value) == f"{name} must be {form}, got {value.strip()!r}"


def test_tls_needs_both_certificate_and_key() -> None:
    with pytest.raises(SettingsError, match="RECOMMENDATIONS_TLS_CERT and RECOMMENDATIONS_TLS_KEY"):
        Settings.from_env({"RECOMMENDATIONS_TLS_CERT": "/tls/server.pem"})


def test_client_ca_needs_tls() -> None:
    with pytest.raises(SettingsError, match="RECOMMENDATIONS_TLS_CLIENT_CA needs"):
        Settings.from_env({"RECOMMENDATIONS_TLS_CLIENT_CA": "/tls/ca.pem"})


def test_the_readme_table_lists_every_variable_with_its_default() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(RECOMMENDATIONS_\w+)` \| (`[^`]*`|unset) \|", readme, re.M))
    assert rows == {v.name: f"`{v.default}`" if v.default else "unset" for v in VARIABLES}
