#!/usr/bin/env bash
# Create (or update) .venv/ from uv.lock with `uv sync --locked`: the tools (pyproject.toml's dev
# group) and the two services (editable) with everything they declare, each file checked against
# the lock's hashes. bookshop-protos is left to ci/install.sh, which installs the built wheel. uv
# itself comes first, from its pin in uv.lock, with pip and the lock's hashes.
source "$(dirname "$0")/lib.sh"

if [ ! -x "$BIN/uv" ]; then
  [ -x "$BIN/python" ] || python3 -m venv "$VENV"
  pin="$(mktemp)"
  trap 'rm -f "$pin"' EXIT
  "$BIN/python" - uv.lock >"$pin" <<'PYTHON'
import sys, tomllib
uv = next(p for p in tomllib.load(open(sys.argv[1], "rb"))["package"] if p["name"] == "uv")
print(f"uv=={uv['version']}", *(f"--hash={wheel['hash']}" for wheel in uv["wheels"]))
PYTHON
  "$BIN/python" -m pip install --quiet --require-hashes --no-deps -r "$pin"
fi
sync_venv
touch "$VENV/.tools"
