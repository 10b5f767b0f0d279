#!/usr/bin/env bash
# Build both images with podman, run them on a podman network the way the deployment does
# (read-only root, /tmp on tmpfs, no capabilities), and load the homepage with live
# recommendations through them. Needs root (debootstrap, rootful podman) and the Debian package
# mirror plus the Python package index (for pip inside the builds).
#
# No image registry is reachable here, so the base image is Debian bookworm made with debootstrap
# (python3 is CPython 3.11, as for the tests) and imported into podman; the tarball is cached in
# .cache/images/. The machine's CA bundle reaches pip as a build secret, mounted for one build step
# and never stored in an image. Prints how long each phase took.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "check-images needs root (debootstrap and rootful podman)"
need_apt podman podman
need_apt runc runc
need_apt debootstrap debootstrap
# runc and ulimits below this machine's hard limits (see ci/podman/containers.conf).
export CONTAINERS_CONF="$ROOT/ci/podman/containers.conf"

TAG="$(protos_version)"
BASE_IMAGE=localhost/bookshop-base:bookworm-python3.11
BASE_PACKAGES=python3,python3-venv
CACHE="$ROOT/.cache/images"
BASE_TARBALL="$CACHE/debian-bookworm-minbase-python3.11.tar"
SERVICE_IMAGE="localhost/bookshop-recommendations:$TAG"
WEBSITE_IMAGE="localhost/bookshop-marketplace:$TAG"
CA_BUNDLE="${CHECK_IMAGES_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
RUN_ID="bookshop-check-$$"
NETWORK="$RUN_ID"
SERVICE_CONTAINER="$RUN_ID-recommendations"
WEBSITE_CONTAINER="$RUN_ID-marketplace"

started=$SECONDS
phase_started=$SECONDS
phase() {
  log "$1 done in $((SECONDS - phase_started)) s"
  phase_started=$SECONDS
}

cleanup() {
  podman rm --force --ignore --time 5 "$WEBSITE_CONTAINER" "$SERVICE_CONTAINER" >/dev/null 2>&1 || true
  podman network rm --force "$NETWORK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- base image --------------------------------------------------------------------------------
if ! podman image exists "$BASE_IMAGE"; then
  if [ ! -s "$BASE_TARBALL" ]; then
    log "debootstrap: Debian bookworm (minbase) with $BASE_PACKAGES"
    mkdir -p "$CACHE"
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" >"$CACHE/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . >"$BASE_TARBALL.partial"
    mv "$BASE_TARBALL.partial" "$BASE_TARBALL"
    rm -rf "$rootfs"
  fi
  log "podman import $BASE_TARBALL as $BASE_IMAGE"
  podman import --quiet "$BASE_TARBALL" "$BASE_IMAGE" >/dev/null
fi
podman run --rm "$BASE_IMAGE" python3 -c \
  'import sys, venv; assert sys.version_info[:2] == (3, 11), sys.version' \
  || die "$BASE_IMAGE does not provide CPython 3.11 with venv"
phase "base image"

# --- builds ------------------------------------------------------------------------------------
[ -s "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE not found (set CHECK_IMAGES_CA_BUNDLE)"
build() { # build DOCKERFILE IMAGE
  log "podman build $1 -> $2"
  podman build --quiet --layers \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --secret "id=pip_cert,src=$CA_BUNDLE" \
    --file "$1" --tag "$2" "$ROOT" >/dev/null
}
build recommendations-service/Dockerfile "$SERVICE_IMAGE"
phase "recommendations image build"
build marketplace-django/Dockerfile "$WEBSITE_IMAGE"
phase "marketplace image build"

# --- what the images hold ----------------------------------------------------------------------
in_image() { # in_image IMAGE SHELL-COMMAND
  podman run --rm --entrypoint /bin/sh "$1" -c "$2"
}
for image in "$SERVICE_IMAGE" "$WEBSITE_IMAGE"; do
  user="$(podman image inspect --format '{{.Config.User}}' "$image")"
  [ "$user" = "10001:10001" ] || die "$image runs as '$user', not the non-root 10001:10001"
  in_image "$image" '[ "$(id -u)" = 10001 ]' || die "$image does not run as uid 10001"
  if in_image "$image" 'command -v gcc cc c++ clang make' >/dev/null; then
    die "$image contains a compiler"
  fi
  if in_image "$image" 'grep -rlI --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "PRIVATE KEY-----" / 2>/dev/null'; then
    die "$image contains a private key (the files listed above)"
  fi
  # The build secret must not have been stored: no file in the image is the machine's bundle.
  bundle_sha="$(sha256sum <"$CA_BUNDLE" | cut -d' ' -f1)"
  if in_image "$image" "find / -xdev -type f -size $(wc -c <"$CA_BUNDLE")c -exec sha256sum {} + \
      | grep -q '^$bundle_sha '"; then
    die "$image holds a copy of the build-time CA bundle $CA_BUNDLE"
  fi
done
in_image "$SERVICE_IMAGE" '[ -s "$RECOMMENDATIONS_CATALOG" ]' \
  || die "$SERVICE_IMAGE has no catalog at RECOMMENDATIONS_CATALOG"
in_image "$WEBSITE_IMAGE" '[ -n "$(ls -A "$DJANGO_STATIC_ROOT")" ]' \
  || die "$WEBSITE_IMAGE has no collected static files in DJANGO_STATIC_ROOT"
log "images: non-root, no compiler, no private key, no build-time CA bundle, catalog and static files present"
phase "image contents"

# --- run both, as the deployment does ----------------------------------------------------------
locked_down=(--read-only --tmpfs /tmp:rw,size=64m --cap-drop ALL --security-opt no-new-privileges)
podman network create "$NETWORK" >/dev/null
podman run --detach --name "$SERVICE_CONTAINER" --network "$NETWORK" \
  --network-alias recommendations "${locked_down[@]}" \
  --env RECOMMENDATIONS_DRAIN_SECONDS=1 \
  "$SERVICE_IMAGE" >/dev/null
secret_key="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
podman run --detach --name "$WEBSITE_CONTAINER" --network "$NETWORK" "${locked_down[@]}" \
  --publish 127.0.0.1::8000 \
  --env DJANGO_SECRET_KEY="$secret_key" \
  --env DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost \
  --env DJANGO_SECURE_SSL_REDIRECT=false \
  --env DATABASE_URL=sqlite:////tmp/marketplace.sqlite3 \
  --env RECOMMENDATIONS_HOST=recommendations \
  --env WEB_CONCURRENCY=2 \
  "$WEBSITE_IMAGE" >/dev/null
address="$(podman port "$WEBSITE_CONTAINER" 8000/tcp | head -1)"
site="http://${address/0.0.0.0/127.0.0.1}"
log "website container serves $site"

fetch() { # fetch URL: the body of a 200 response, else fail
  python - "$1" <<'PY'
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:  # noqa: S310
    sys.stdout.write(response.read().decode())
PY
}
service_metrics() { # the service's own Prometheus text, read inside its container
  podman exec "$SERVICE_CONTAINER" python3 -c \
    'import urllib.request as u; print(u.urlopen("http://127.0.0.1:9464/metrics", timeout=5).read().decode())'
}

for _ in $(seq 60); do
  fetch "$site/readyz" >/dev/null 2>&1 && break
  sleep 1
done
fetch "$site/readyz" >/dev/null || {
  podman logs "$WEBSITE_CONTAINER" >&2
  die "the website container never became ready"
}
# The service may finish starting after the site; a page rendered before that is degraded.
for _ in $(seq 30); do
  service_metrics >/dev/null 2>&1 && break
  sleep 1
done
phase "containers started"

page="$(fetch "$site/")" || {
  podman logs "$WEBSITE_CONTAINER" >&2
  die "the homepage did not answer 200"
}
books="$(grep -c 'data-book-id=' <<<"$page" || true)"
[ "$books" -gt 0 ] || die "the homepage shows no books"
ok_calls="$(fetch "$site/metrics" | awk '/^marketplace_recommendations_calls_total\{.*grpc_code="OK"/ {s += $2} END {print s + 0}')"
served="$(service_metrics | awk '/^grpc_server_handled_total\{.*grpc_code="OK"/ {s += $2} END {print s + 0}')"
[ "${ok_calls%.*}" -gt 0 ] || {
  podman logs "$WEBSITE_CONTAINER" >&2
  die "the homepage rendered without a successful recommendations call"
}
[ "${served%.*}" -gt 0 ] || die "the recommendations container answered no call"
log "homepage: $books books; site's successful recommendation calls: $ok_calls; service's OK calls: $served"
phase "homepage with live recommendations"

log "check-images passed in $((SECONDS - started)) s"
