#!/usr/bin/env bash
# `make run`: the recommendations service and the website together, in the foreground.
# Migrates the development database first; then ci/supervise.py runs both: Ctrl+C or SIGTERM
# (once or many times) stops both, and if either stops on its own, the other is stopped too. The
# service serves its packaged catalog unless RECOMMENDATIONS_CATALOG names a file.
#
# Everything listens on 127.0.0.1 only. The ports are the services' own settings:
# MARKETPLACE_PORT (the website, 8000), RECOMMENDATIONS_PORT (50051) and
# RECOMMENDATIONS_METRICS_PORT (9464).
#
# The website runs Django's development server (auto-reload, debug pages) with the dev
# settings; the production server (marketplace-server) is what the end-to-end tests run.
source "$(dirname "$0")/lib.sh"

export DJANGO_SETTINGS_MODULE=marketplace.settings.dev
export RECOMMENDATIONS_BIND=127.0.0.1
export RECOMMENDATIONS_HOST=127.0.0.1
log "migrating the development database"
(cd marketplace-django && python manage.py migrate --noinput -v0)

exec python ci/supervise.py
