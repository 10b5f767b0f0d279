#!/usr/bin/env bash
# The registry and wheel tests alone, for people working on the protos: the release rules bite
# (tests/registry, on copies of the repository with histories of their own), and the built sdist
# and wheel are complete, publishable and installable (clients/python/tests).
source "$(dirname "$0")/lib.sh"

pytest -q tests/registry "$@"
(cd clients/python && pytest -q tests "$@")
