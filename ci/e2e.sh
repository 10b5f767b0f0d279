#!/usr/bin/env bash
# End-to-end tests: both real services as processes, Debian's chromium driven by Playwright.
# Saves the homepage's screenshot in .cache/screenshots/; E2E_SCREENSHOT_DIR=docs/screenshots
# refreshes the one the README shows.
source "$(dirname "$0")/lib.sh"

need_apt chromium chromium
pytest -q tests/e2e "$@"
