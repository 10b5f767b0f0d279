#!/usr/bin/env bash
# ruff over the whole repository, then mypy --strict over each distribution on its own.
source "$(dirname "$0")/lib.sh"

ruff check .
ruff format --check .
for src in clients/python/setup.py recommendations-service/src marketplace-django/src; do
  mypy --config-file mypy.ini "$src"
done
mypy --config-file mypy.ini -p soak -p benchmarks
mypy --config-file mypy.ini ci/supervise.py
