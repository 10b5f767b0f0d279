#!/usr/bin/env bash
# Install the built bookshop-protos wheel into .venv/ beside the locked rest (ci/venv.sh). uv.lock
# knows bookshop-protos only as the workspace's source folder, so every `uv sync` removes the
# wheel: this syncs, then puts the wheel back, by path, so no index is ever asked for a package of
# that name and the services import the package the wheel tests test.
source "$(dirname "$0")/lib.sh"

wheel="$(protos_wheel)"
[ -f "$wheel" ] || die "$wheel is missing: run 'make wheel'"
sync_venv
uv pip install --quiet --python "$BIN/python" --no-deps --reinstall "$wheel"
uv pip check --quiet --python "$BIN/python" || die "the environment is inconsistent: run 'make lock'"
touch "$VENV/.installed"
