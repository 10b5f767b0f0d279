#!/usr/bin/env bash
# Create (or update) .venv/ from uv.lock with `uv sync --locked`: the tools (pyproject.toml's dev
# group) and the two services (editable) with everything they declare, each file checked against
# the lock's hashes. bookshop-protos is left to ci/install.sh, which installs the built wheel. uv
# itself comes first (need_uv in ci/lib.sh).
source "$(dirname "$0")/lib.sh"

need_uv
sync_venv
touch "$VENV/.tools"
