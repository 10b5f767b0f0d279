#!/usr/bin/env bash
# `make lock`: compile every requirements/*.in into its hashed lock, requirements/*.txt (uv, from
# the package index; see ci/lock.py). `ci/lock.sh --check` only checks that they are current.
source "$(dirname "$0")/lib.sh"

python ci/lock.py "$@"
