"""The proto registry's release tooling: what a change to the protos is, and its changelog.

`python -m ci.registry check` and `python -m ci.registry release` are what `make check-protos`
and `make release-protos` run after buf's format and lint checks.
"""
