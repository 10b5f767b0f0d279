"""`make soak`: the bookshop under sustained load, restarts, outages, bad input and mutual TLS.

Each scenario in `soak.scenarios` starts real processes on 127.0.0.1 (recommendations replicas,
the website under marketplace-server, wrk and h2load), bounds every load in time, prints its
figures and reports every promise it saw broken. `python -m soak` runs them all.
"""
