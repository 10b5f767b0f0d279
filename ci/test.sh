#!/usr/bin/env bash
# Everything CI checks, in three tiers: `make check` (lint and the fast suites), `make
# test-system` (browser, compatibility, hostile input, soak) and `make test-images` (the
# deployment checks, then both images built and run with podman).
source "$(dirname "$0")/lib.sh"

ci/check.sh
ci/test_system.sh
ci/test_images.sh
