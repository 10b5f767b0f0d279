"""`make soak`: the bookshop under sustained load, restarts, outages, bad input and mutual TLS
(`python -m soak` runs every scenario of `soak.scenarios`; soak/README.md says what each does)."""
