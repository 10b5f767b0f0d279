#!/usr/bin/env bash
# Install the built bookshop-protos wheel and both services (editable) into .venv/.
source "$(dirname "$0")/lib.sh"

wheel="$(protos_wheel)"
[ -f "$wheel" ] || die "$wheel is missing: run 'make wheel'"
# The local wheel goes in first and explicitly, so that the services' `bookshop-protos>=1.1,<2`
# is already satisfied and no index is ever asked for a package of that name.
python -m pip install --quiet --force-reinstall --no-deps "$wheel"
python -m pip install --quiet "$wheel"
python -m pip install --quiet -e "recommendations-service[test]" -e "marketplace-django[test]"
touch "$VENV/.installed"
