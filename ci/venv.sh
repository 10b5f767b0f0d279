#!/usr/bin/env bash
# Create (or update) the repository's virtual environment from its lock, requirements/dev.txt:
# the pinned tools and everything the three local distributions declare, each file checked
# against its hash, installed with uv (see ci/lock.py --install). pip itself is in the lock, so it
# comes from there too.
source "$(dirname "$0")/lib.sh"

[ -x "$BIN/python" ] || python3 -m venv "$VENV"
"$BIN/python" ci/lock.py --install requirements/dev.txt
touch "$VENV/.tools"
