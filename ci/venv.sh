#!/usr/bin/env bash
# Create (or update) the repository's virtual environment with the pinned tools.
source "$(dirname "$0")/lib.sh"

[ -x "$BIN/python" ] || python3 -m venv "$VENV"
"$BIN/python" -m pip install --quiet --upgrade pip
"$BIN/python" -m pip install --quiet -r ci/requirements-dev.txt
touch "$VENV/.tools"
