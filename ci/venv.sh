#!/usr/bin/env bash
# Create (or update) the repository's virtual environment from its lock, requirements/dev.txt:
# the pinned tools and everything the three local distributions declare, each file checked
# against its hash. pip itself is in the lock, so it comes from there too.
source "$(dirname "$0")/lib.sh"

[ -x "$BIN/python" ] || python3 -m venv "$VENV"
"$BIN/python" -m pip install --quiet --require-hashes -r requirements/dev.txt
touch "$VENV/.tools"
