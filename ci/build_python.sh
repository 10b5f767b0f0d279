#!/usr/bin/env bash
# Print the interpreter of the bookshop-protos wheel's build environment (build_python in
# ci/lib.sh: the pinned build-system.requires, installed once), creating it on first use. For
# tests that build the wheel as ci/build_wheel.sh does:
#   "$(ci/build_python.sh)" -m build --no-isolation
source "$(dirname "$0")/lib.sh"

build_python
echo
