"""The soak scenarios, in the order `python -m soak` runs them."""

from __future__ import annotations

from soak.scenarios import bad_input, connection_churn, outage, rolling_restart, sustained, tls

ALL = (sustained, rolling_restart, outage, bad_input, tls, connection_churn)
