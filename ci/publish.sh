#!/usr/bin/env bash
# `make publish`: publish release VERSION as bookshop-protos (ci/publish_pypi.sh) and
# @bookshop/protos (ci/publish_npm.sh). Everything that can refuse runs before anything is built
# or uploaded:
#   1. `make check-protos` passes and the release image of VERSION is committed (so protos that
#      fail the checks never reach dist/);
#   2. both indexes answer; a local one is this checkout's own, started here when none listens
#      (another checkout's is refused, with a line that names it);
#   3. both packages are built into dist/ (reproducibly: the same release builds the same bytes)
#      and checked: their protos are the release's, and an index that already has the version
#      has exactly these files (then that package is skipped) or the run stops;
# and only then are they uploaded. So a run that failed anywhere can simply be run again.
# Settings: those of ci/publish_pypi.sh and ci/publish_npm.sh.
source "$(dirname "$0")/lib.sh"
source ci/publish_pypi.sh
source ci/publish_npm.sh

version="$(protos_version)"
ci/check_protos.sh || die "make check-protos fails (above): fix what it reports, then publish"
image="proto-registry/releases/$version.json"
{ git ls-files --error-unmatch "$image" && git diff --quiet HEAD -- "$image"; } >/dev/null 2>&1 \
  || die "release $version is not committed: run 'make release-protos', commit $image, then publish"

pypi_index
npm_registry

ci/build_wheel.sh
ci/build_npm.sh
pypi_plan
npm_plan

pypi_upload
npm_upload
