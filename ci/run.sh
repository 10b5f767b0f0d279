#!/usr/bin/env bash
# `make run`: the recommendations service and the website together, in the foreground.
# Builds the catalog into .cache/ when it is missing and migrates the development database
# first; then ci/supervise.py runs both: Ctrl+C or SIGTERM (once or many times) stops both, and
# if either stops on its own, the other is stopped too.
#
# Everything listens on 127.0.0.1 only. The ports are the services' own settings:
# MARKETPLACE_PORT (the website, 8000), RECOMMENDATIONS_PORT (50051) and
# RECOMMENDATIONS_METRICS_PORT (9464).
#
# The website runs Django's development server (auto-reload, debug pages) with the dev
# settings; the production server (marketplace-server) is what the end-to-end tests run.
source "$(dirname "$0")/lib.sh"

catalog="${RECOMMENDATIONS_CATALOG:-$ROOT/.cache/catalog.sqlite3}"
if [ ! -f "$catalog" ]; then
  log "building the catalog into $catalog"
  mkdir -p "$(dirname "$catalog")"
  recommendations-server build-catalog --output "$catalog"
fi

export DJANGO_SETTINGS_MODULE=marketplace.settings.dev
export RECOMMENDATIONS_CATALOG="$catalog"
export RECOMMENDATIONS_BIND=127.0.0.1
export RECOMMENDATIONS_HOST=127.0.0.1
log "migrating the development database"
(cd marketplace-django && python manage.py migrate --noinput -v0)

exec python ci/supervise.py
