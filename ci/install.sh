#!/usr/bin/env bash
# Install the built bookshop-protos wheel and both services (editable) into .venv/. Their
# dependencies are already there, from the lock (ci/venv.sh): nothing here resolves a version.
source "$(dirname "$0")/lib.sh"

python ci/lock.py --check
wheel="$(protos_wheel)"
[ -f "$wheel" ] || die "$wheel is missing: run 'make wheel'"
# The local wheel goes in by path, so no index is ever asked for a package of that name.
python -m pip install --quiet --force-reinstall --no-deps "$wheel"
python -m pip install --quiet --no-deps -e recommendations-service -e marketplace-django
python -m pip check >/dev/null || { python -m pip check; die "the lock misses a dependency: run 'make lock'"; }
touch "$VENV/.installed"
