"""The `recommendations-server` command: serve (the default) or build the catalog."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from opentelemetry import trace

from recommendations.catalog import CatalogError, build_catalog, default_csv, load_catalog, read_csv
from recommendations.logs import configure_logging
from recommendations.processes import serve_processes
from recommendations.server import StartupError, serve
from recommendations.settings import Settings, SettingsError, describe_variables
from recommendations.telemetry import TelemetryError, check_tracing
from recommendations.telemetry import configure as configure_tracing

EXIT_CONFIG = 2
"""Exit status for a bad environment variable or command line."""

EXIT_STARTUP = 1
"""Exit status when the catalog or a port or file the settings name cannot be used."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the process's exit status."""
    args = _parser().parse_args(argv)
    if args.command == "build-catalog":
        return _build_catalog(args.csv, args.output)
    return _serve()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recommendations-server",
        description=(
            "Serve bookshop.recommendations.v2.RecommendationsService and the deprecated v1 over"
            " gRPC (with no command), or build the catalog they serve from."
        ),
        epilog=(
            "environment variables (all optional):\n"
            + describe_variables()
            + "\n\ntracing (off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER=otlp"
            " is set) takes OpenTelemetry's standard OTEL_* variables"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="[COMMAND]")
    build = commands.add_parser(
        "build-catalog",
        help="build the SQLite catalog from a CSV (id,title,author,category)",
        description="Build the SQLite catalog file the server loads at start-up.",
    )
    build.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="the books to load (default: the catalog shipped with the package)",
    )
    build.add_argument("--output", type=Path, required=True, help="the SQLite file to write")
    return parser


def _build_catalog(csv_path: Path | None, output: Path) -> int:
    source = csv_path or default_csv()
    try:
        books = read_csv(source)
        build_catalog(books, output)
    except CatalogError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_STARTUP
    print(f"wrote {len(books)} books from {source} to {output}")
    return 0


def _serve() -> int:
    try:
        settings = Settings.from_env(os.environ)
        check_tracing(os.environ)
    except (SettingsError, TelemetryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if settings.processes == 1:
        return run_server(settings)
    configure_logging(settings.log_level)
    try:
        return serve_processes(settings)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_STARTUP


def run_server(settings: Settings, *, shared_port: bool = False) -> int:
    """Load the catalog and serve it until a signal; the exit status (settings and the OTEL_*
    variables already checked)."""
    configure_logging(settings.log_level)
    tracer_provider = configure_tracing(os.environ)
    if tracer_provider is not None:
        # Installed for the whole process: spans a handler starts with trace.get_tracer(__name__)
        # join the server's.
        trace.set_tracer_provider(tracer_provider)
    try:
        catalog = load_catalog(settings.catalog)
        source = "packaged" if settings.catalog is None else str(settings.catalog)
        logging.getLogger(__name__).info(
            "catalog loaded", extra={"fields": {"catalog": source, "books": len(catalog)}}
        )
        serve(settings, catalog, tracer_provider, shared_port=shared_port)
    except (CatalogError, StartupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_STARTUP
    return 0
