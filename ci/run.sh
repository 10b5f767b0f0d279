#!/usr/bin/env bash
# `make run`: the recommendations service and the website together, in the foreground.
# Builds the catalog into .cache/ when it is missing and migrates the development database
# first. Ctrl+C (or SIGTERM) stops both; if either stops on its own, the other is stopped too.
#
# The website runs Django's development server (auto-reload, debug pages) with the dev
# settings; the production setup (gunicorn + whitenoise) is what the end-to-end tests run.
source "$(dirname "$0")/lib.sh"

SITE="127.0.0.1:8000"
catalog="${RECOMMENDATIONS_CATALOG:-$ROOT/.cache/catalog.sqlite3}"
if [ ! -f "$catalog" ]; then
  log "building the catalog into $catalog"
  mkdir -p "$(dirname "$catalog")"
  recommendations-server build-catalog --output "$catalog"
fi

export DJANGO_SETTINGS_MODULE=marketplace.settings.dev
log "migrating the development database"
(cd marketplace-django && python manage.py migrate --noinput -v0)

pids=()
stop() {
  trap - INT TERM EXIT
  # Each process was started as its own process group: this reaches the dev server's
  # auto-reloading child too. Signal them before saying so: when the output goes through a
  # pipe (`make run | tee run.log`), Ctrl+C also stops the reader, and the first write after
  # that ends this script with SIGPIPE.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  log "stopping the website and the recommendations service"
  wait || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

set -m
RECOMMENDATIONS_CATALOG="$catalog" recommendations-server &
pids+=("$!")
(cd marketplace-django && exec python manage.py runserver "$SITE") &
pids+=("$!")
set +m

for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${SITE%:*}/${SITE#*:}") 2>/dev/null && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a process stopped during start-up"; done
  sleep 0.2
done
log "the bookshop is open at http://$SITE/ (Ctrl+C stops it)"
wait -n
