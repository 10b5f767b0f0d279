#!/usr/bin/env bash
# `make test-system`: the bookshop as whole processes, slower than `make check` and needing a
# browser: the registry's procedures against real package indexes, the npm package published to a real registry and used as docs/packages.md says, every
# released client against today's server and back (make check-compat), end to end in chromium,
# hostile input (connection floods, signals to `make run`), one trace across both services received over
# OTLP, and the shortened soak.
source "$(dirname "$0")/lib.sh"

ci/test_typescript.sh

log "the registry's procedures with real local indexes: publishing (again, from two checkouts), the README's walk-through, the install recipe"
pytest -q tests/registry/test_publish.py tests/registry/test_walkthrough.py \
  tests/registry/test_install_recipe.py

log "compatibility: released clients and runtimes against today's server, and back"
ci/check_compat.sh

log "end-to-end tests"
ci/e2e.sh

log "hostile input: connection floods against the website's server, signals against make run"
# Across two workers: the make run rounds each take fresh ports, and the floods' 20 s and 30 s
# are mostly waiting (their pages still loaded 500 of 500 within 1 s beside the rounds).
pytest -q -n 2 tests/hostile

log "observability: one trace across both services, received over OTLP (gRPC and HTTP)"
pytest -q tests/observability

log "soak (short)"
ci/soak.sh --short
