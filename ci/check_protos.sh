#!/usr/bin/env bash
# Guard the proto registry (ci/registry): buf format and lint; every committed release against
# the one before it; releases only ever added (compared with BASE_REF, a pull request's target
# branch, or HEAD); no breaking change against the latest release; VERSION exactly the bump the
# change calls for; CHANGELOG.md derived from the releases. Every check runs, so one run reports
# every problem.
#
# Releases are buf images committed as proto-registry/releases/<version>.json (made by
# `make release-protos`), so no check needs git tags or the network.
source "$(dirname "$0")/lib.sh"

python -m ci.registry check --base "${BASE_REF:-HEAD}"
