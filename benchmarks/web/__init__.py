"""The website benchmark: `python -m benchmarks.web` (part of `make bench`)."""
