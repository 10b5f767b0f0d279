#!/usr/bin/env bash
# End-to-end tests: both real services as processes, Debian's chromium driven by Playwright.
# Writes docs/screenshots/homepage.png (the README shows it).
source "$(dirname "$0")/lib.sh"

need_apt chromium chromium
pytest -q tests/e2e "$@"
