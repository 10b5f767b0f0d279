#!/usr/bin/env bash
# Record the protos as release VERSION: proto-registry/releases/<VERSION>.json (a buf image that
# later checks compare against) and the changelog derived from the releases. Refuses unformatted
# or unlinted protos, a breaking change (that is a new package directory, served beside the old
# one), and any VERSION other than the bump the change calls for: PATCH for comments, layout or
# options, MINOR for additions.
source "$(dirname "$0")/lib.sh"

python -m ci.registry release
