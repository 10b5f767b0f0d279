"""Configuration: every setting comes from one environment variable, validated here only."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_T = TypeVar("_T")


class SettingsError(ValueError):
    """A variable has a value the service cannot use; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: its name, default (as text), accepted form and meaning."""

    name: str
    default: str
    form: str
    help: str


DEFAULT_WORKERS = 10
"""Threads handling calls unless RECOMMENDATIONS_WORKERS says otherwise.

A call holds a thread from its headers on, even while its client withholds the request, so the
threads must outnumber what one connection may hold (RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION)
with room for everyone else. No more than that: one process runs one thread's Python at a time,
and under `make bench`'s load (64 calls at once) 16 threads cost about a tenth more CPU per call
than 10. The threads start as calls need them: an idle server has few."""

DEFAULT_CALLS_PER_CONNECTION = 8
"""Calls one connection may have open at once unless the variable says otherwise: twice what
one website process runs at once (MARKETPLACE_THREADS, 4), because gRPC core counts a finished
call against the limit until the server has let go of it, and refuses the streams beyond."""

VARIABLES = (
    Variable("RECOMMENDATIONS_PORT", "50051", "a port 0-65535", "gRPC port (0 picks a free one)"),
    Variable("RECOMMENDATIONS_BIND", "[::]", "a host or address", "address the ports listen on"),
    Variable(
        "RECOMMENDATIONS_CATALOG",
        "",
        "a file path",
        "SQLite catalog built by `recommendations-server build-catalog`; unset: the catalog"
        " packaged with the service",
    ),
    Variable(
        "RECOMMENDATIONS_METRICS_PORT", "9464", "a port 0-65535", "Prometheus /metrics HTTP port"
    ),
    Variable("RECOMMENDATIONS_REFLECTION", "true", "true or false", "serve gRPC server reflection"),
    Variable(
        "RECOMMENDATIONS_DRAIN_SECONDS",
        "0",
        "a number >= 0",
        "on SIGTERM/SIGINT, seconds to keep serving with health NOT_SERVING",
    ),
    Variable(
        "RECOMMENDATIONS_GRACE_SECONDS",
        "10",
        "a number >= 0",
        "then seconds in-flight calls get to finish",
    ),
    Variable("RECOMMENDATIONS_TLS_CERT", "", "a PEM file path", "server certificate: turns on TLS"),
    Variable("RECOMMENDATIONS_TLS_KEY", "", "a PEM file path", "private key of the certificate"),
    Variable(
        "RECOMMENDATIONS_TLS_CLIENT_CA",
        "",
        "a PEM file path",
        "CA for client certificates: turns on mutual TLS",
    ),
    Variable(
        "RECOMMENDATIONS_HEALTH_PORT",
        "50052",
        "a port 0-65535",
        "plaintext health-only port, opened when TLS is on",
    ),
    Variable(
        "RECOMMENDATIONS_WORKERS",
        str(DEFAULT_WORKERS),
        "an integer 2-256",
        "threads handling calls, started as calls need them",
    ),
    Variable(
        "RECOMMENDATIONS_PROCESSES",
        "1",
        "an integer 1-64, or auto",
        "server processes sharing the ports (SO_REUSEPORT), each with its own workers; auto: one"
        " per CPU the process may use",
    ),
    Variable(
        "RECOMMENDATIONS_MAX_CONCURRENT_CALLS",
        "256",
        "an integer 1-10000",
        "calls served or waiting for a worker at once (beyond it, RESOURCE_EXHAUSTED at once)",
    ),
    Variable(
        "RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION",
        str(DEFAULT_CALLS_PER_CONNECTION),
        "an integer 1-1000",
        "calls one connection may have open at once (HTTP/2 max concurrent streams); below"
        " RECOMMENDATIONS_WORKERS, so that no one connection can hold every worker",
    ),
    Variable(
        "RECOMMENDATIONS_HANDSHAKE_TIMEOUT_SECONDS",
        "5",
        "a number > 0",
        "close a connection that has not finished its TLS and HTTP/2 handshake this long after"
        " it opened",
    ),
    Variable(
        "RECOMMENDATIONS_KEEPALIVE_SECONDS",
        "60",
        "a number > 0",
        "ping idle connections this often",
    ),
    Variable(
        "RECOMMENDATIONS_KEEPALIVE_TIMEOUT_SECONDS",
        "20",
        "a number > 0",
        "close a connection whose ping is unanswered this long",
    ),
    Variable(
        "RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS",
        "300",
        "a number > 0",
        "close connections this old, so clients re-resolve DNS and spread to new replicas",
    ),
    Variable(
        "RECOMMENDATIONS_MAX_CONNECTION_AGE_GRACE_SECONDS",
        "30",
        "a number >= 0",
        "time calls on an aged connection get to finish",
    ),
    Variable(
        "RECOMMENDATIONS_LOG_LEVEL",
        "INFO",
        "DEBUG, INFO, WARNING or ERROR",
        "JSON log level; DEBUG adds one access line per call",
    ),
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths of the server's certificate and key, and of the CA for client certificates."""

    cert: Path
    key: Path
    client_ca: Path | None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server is configured with; build it with `Settings.from_env`."""

    port: int = 50051
    bind: str = "[::]"
    catalog: Path | None = None
    metrics_port: int = 9464
    reflection: bool = True
    drain_seconds: float = 0.0
    grace_seconds: float = 10.0
    tls: TlsFiles | None = None
    health_port: int = 50052
    workers: int = DEFAULT_WORKERS
    processes: int = 1
    max_concurrent_calls: int = 256
    max_calls_per_connection: int = DEFAULT_CALLS_PER_CONNECTION
    handshake_timeout_seconds: float = 5.0
    keepalive_seconds: float = 60.0
    keepalive_timeout_seconds: float = 20.0
    max_connection_age_seconds: float = 300.0
    max_connection_age_grace_seconds: float = 30.0
    log_level: int = logging.INFO

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate the variables; raise `SettingsError` naming the first bad one."""
        get = _Reader(env)
        cert = get("RECOMMENDATIONS_TLS_CERT", _path_or_none)
        key = get("RECOMMENDATIONS_TLS_KEY", _path_or_none)
        client_ca = get("RECOMMENDATIONS_TLS_CLIENT_CA", _path_or_none)
        if (cert is None) != (key is None):
            raise SettingsError(
                "RECOMMENDATIONS_TLS_CERT and RECOMMENDATIONS_TLS_KEY must be set together"
            )
        if client_ca is not None and cert is None:
            raise SettingsError(
                "RECOMMENDATIONS_TLS_CLIENT_CA needs RECOMMENDATIONS_TLS_CERT and "
                "RECOMMENDATIONS_TLS_KEY (mutual TLS is TLS first)"
            )
        tls = TlsFiles(cert, key, client_ca) if cert is not None and key is not None else None
        workers = get("RECOMMENDATIONS_WORKERS", _workers)
        per_connection = get("RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION", _calls_per_connection)
        if per_connection >= workers:
            raise SettingsError(
                f"RECOMMENDATIONS_MAX_CALLS_PER_CONNECTION must be below RECOMMENDATIONS_WORKERS"
                f" ({workers}), so that one connection cannot hold every worker;"
                f" got {per_connection}"
            )
        return cls(
            port=get("RECOMMENDATIONS_PORT", _port),
            bind=get("RECOMMENDATIONS_BIND", _text),
            catalog=get("RECOMMENDATIONS_CATALOG", _path_or_none),
            metrics_port=get("RECOMMENDATIONS_METRICS_PORT", _port),
            reflection=get("RECOMMENDATIONS_REFLECTION", _boolean),
            drain_seconds=get("RECOMMENDATIONS_DRAIN_SECONDS", _non_negative),
            grace_seconds=get("RECOMMENDATIONS_GRACE_SECONDS", _non_negative),
            tls=tls,
            health_port=get("RECOMMENDATIONS_HEALTH_PORT", _port),
            workers=workers,
            processes=get("RECOMMENDATIONS_PROCESSES", _processes),
            max_concurrent_calls=get("RECOMMENDATIONS_MAX_CONCURRENT_CALLS", _concurrent_calls),
            max_calls_per_connection=per_connection,
            handshake_timeout_seconds=get("RECOMMENDATIONS_HANDSHAKE_TIMEOUT_SECONDS", _positive),
            keepalive_seconds=get("RECOMMENDATIONS_KEEPALIVE_SECONDS", _positive),
            keepalive_timeout_seconds=get("RECOMMENDATIONS_KEEPALIVE_TIMEOUT_SECONDS", _positive),
            max_connection_age_seconds=get("RECOMMENDATIONS_MAX_CONNECTION_AGE_SECONDS", _positive),
            max_connection_age_grace_seconds=get(
                "RECOMMENDATIONS_MAX_CONNECTION_AGE_GRACE_SECONDS", _non_negative
            ),
            log_level=get("RECOMMENDATIONS_LOG_LEVEL", _log_level),
        )


def describe_variables() -> str:
    """Return the help text listing every variable with its default."""
    return "\n".join(f"  {v.name}={v.default}\n      {v.help} [{v.form}]" for v in VARIABLES)


class _Reader:
    """Reads a variable (or its default), converting it and turning a failure into one line."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._variables = {v.name: v for v in VARIABLES}

    def __call__(self, name: str, convert: Callable[[str], _T]) -> _T:
        variable = self._variables[name]
        raw = self._env.get(name, variable.default).strip()
        try:
            return convert(raw)
        except ValueError:
            raise SettingsError(f"{name} must be {variable.form}, got {raw!r}") from None


def _text(raw: str) -> str:
    if not raw:
        raise ValueError(raw)
    return raw


def _path_or_none(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError(raw)
    return port


def _workers(raw: str) -> int:
    workers = int(raw)
    if not 2 <= workers <= 256:
        raise ValueError(raw)
    return workers


def _processes(raw: str) -> int:
    if raw == "auto":
        # The CPUs this process may run on (taskset, a cpuset), not the machine's.
        return len(os.sched_getaffinity(0))
    processes = int(raw)
    if not 1 <= processes <= 64:
        raise ValueError(raw)
    return processes


def _concurrent_calls(raw: str) -> int:
    calls = int(raw)
    if not 1 <= calls <= 10_000:
        raise ValueError(raw)
    return calls


def _calls_per_connection(raw: str) -> int:
    calls = int(raw)
    if not 1 <= calls <= 1000:
        raise ValueError(raw)
    return calls


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(raw)


def _non_negative(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise ValueError(raw)
    return value


def _positive(raw: str) -> float:
    value = _non_negative(raw)
    if value == 0:
        raise ValueError(raw)
    return value


def _log_level(raw: str) -> int:
    if raw.upper() not in _LOG_LEVELS:
        raise ValueError(raw)
    return logging.getLevelNamesMapping()[raw.upper()]
