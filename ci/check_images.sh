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

version_of() { # version_of DIR: the distribution version in DIR/pyproject.toml
  python -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$1/pyproject.toml"
}
BASE_IMAGE=localhost/bookshop-base:bookworm-python3.11
BASE_PACKAGES=python3,python3-venv
CACHE="$ROOT/.cache/images"
BASE_TARBALL="$CACHE/debian-bookworm-minbase-python3.11.tar"
# Tagged as the dev overlay expects them (localhost/bookshop-*:VERSION).
SERVICE_IMAGE="localhost/bookshop-recommendations:$(version_of recommendations-service)"
WEBSITE_IMAGE="localhost/bookshop-marketplace:$(version_of marketplace-django)"
CA_BUNDLE="${CHECK_IMAGES_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
RUN_ID="bookshop-check-$$"
NETWORK="$RUN_ID"
SERVICE_CONTAINER="$RUN_ID-recommendations"
WEBSITE_CONTAINER="$RUN_ID-marketplace"
certs="" # a temporary folder of test certificates while the mutual-TLS pair runs

started=$SECONDS
phase_started=$SECONDS
phase() {
  log "$1 done in $((SECONDS - phase_started)) s"
  phase_started=$SECONDS
}

cleanup() {
  podman rm --force --ignore --time 5 "$WEBSITE_CONTAINER" "$SERVICE_CONTAINER" >/dev/null 2>&1 || true
  podman network rm --force "$NETWORK" >/dev/null 2>&1 || true
  podman secret ls --format '{{.Name}}' 2>/dev/null | grep "^$RUN_ID-" | xargs -r podman secret rm >/dev/null 2>&1 || true
  [ -z "$certs" ] || rm -rf "$certs"
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
mkdir -p "$CACHE"
[ -s "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE not found (set CHECK_IMAGES_CA_BUNDLE)"
build() { # build DOCKERFILE IMAGE; the output goes to .cache/images/build-NAME.log
  local output
  output="$CACHE/build-$(basename "$(dirname "$1")").log"
  log "podman build $1 -> $2 (output in ${output#"$ROOT"/})"
  # No layer cache: podman reuses the final stage's install step even when the wheels it mounts
  # from the builder stage have changed (seen: an image still running the previous server).
  podman build --no-cache \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --secret "id=pip_cert,src=$CA_BUNDLE" \
    --file "$1" --tag "$2" "$ROOT" >"$output" 2>&1 \
    || { tail -n 30 "$output" >&2; die "podman build $1 failed"; }
}
build recommendations-service/Dockerfile "$SERVICE_IMAGE"
phase "recommendations image build"
build marketplace-django/Dockerfile "$WEBSITE_IMAGE"
phase "marketplace image build"

# --- what the images hold ----------------------------------------------------------------------
in_image() { # in_image IMAGE SHELL-COMMAND, as the image's user
  podman run --rm --entrypoint /bin/sh "$1" -c "$2"
}
as_root_in_image() { # as_root_in_image IMAGE SHELL-COMMAND: to search files the user cannot read
  podman run --rm --user 0 --entrypoint /bin/sh "$1" -c "$2"
}
for image in "$SERVICE_IMAGE" "$WEBSITE_IMAGE"; do
  user="$(podman image inspect --format '{{.Config.User}}' "$image")"
  [ "$user" = "10001:10001" ] || die "$image runs as '$user', not the non-root 10001:10001"
  in_image "$image" '[ "$(id -u)" = 10001 ]' || die "$image does not run as uid 10001"
  if in_image "$image" 'command -v gcc cc c++ clang make' >/dev/null; then
    die "$image contains a compiler"
  fi
  if as_root_in_image "$image" 'grep -rlI --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "PRIVATE KEY-----" / 2>/dev/null'; then
    die "$image contains a private key (the files listed above)"
  fi
  # The build secret must not have been stored: no file in the image is the machine's bundle.
  bundle_sha="$(sha256sum <"$CA_BUNDLE" | cut -d' ' -f1)"
  if as_root_in_image "$image" "find / -xdev -type f -size $(wc -c <"$CA_BUNDLE")c -exec sha256sum {} + \
      | grep -q '^$bundle_sha '"; then
    die "$image holds a copy of the build-time CA bundle $CA_BUNDLE"
  fi
done
in_image "$WEBSITE_IMAGE" '[ -n "$(ls -A "$DJANGO_STATIC_ROOT")" ]' \
  || die "$WEBSITE_IMAGE has no collected static files in DJANGO_STATIC_ROOT"
# holds_exactly IMAGE LOCK DISTRIBUTION: the image's venv holds LOCK's pins and nothing else but
# bookshop-protos and DISTRIBUTION, the two built from the tree.
holds_exactly() {
  local listing
  listing="$(mktemp)"
  in_image "$1" "python3 -c 'import importlib.metadata as m
for d in m.distributions(): print(d.metadata[\"Name\"], d.version)'" >"$listing"
  python - "$2" "$listing" "$3" <<'PY' || { rm -f "$listing"; die "$1 does not hold exactly what $2 locks"; }
import re
import sys
from pathlib import Path

lock, listing, distribution = sys.argv[1:]
pin = re.compile(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


locked = {name(found[1]): found[2] for found in pin.finditer(Path(lock).read_text())}
installed = dict(line.split() for line in Path(listing).read_text().splitlines())
installed = {name(key): value for key, value in installed.items()}
built = {"bookshop-protos", distribution}
extra = {k: v for k, v in installed.items() if k not in built and locked.get(k) != v}
missing = {k: v for k, v in locked.items() if installed.get(k) != v}
for key, value in sorted(extra.items()):
    print(f"  installed but not locked: {key}=={value}", file=sys.stderr)
for key, value in sorted(missing.items()):
    print(f"  locked but not installed: {key}=={value}", file=sys.stderr)
sys.exit(1 if extra or missing or not built <= installed.keys() else 0)
PY
  rm -f "$listing"
}
holds_exactly "$SERVICE_IMAGE" requirements/recommendations.txt bookshop-recommendations
holds_exactly "$WEBSITE_IMAGE" requirements/marketplace.txt bookshop-marketplace
log "images: exactly their locks, non-root, no compiler, no private key, no build-time CA bundle, static files"
phase "image contents"

# --- run both, as the deployment does ----------------------------------------------------------
locked_down=(--read-only --tmpfs /tmp:rw,size=64m --cap-drop ALL --security-opt no-new-privileges)
secret_key="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
podman network create "$NETWORK" >/dev/null

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
website_internal() { # website_internal PATH: a 200 body from the website's internal port (9000),
  # read inside its container: only the pages' port is published.
  podman exec "$WEBSITE_CONTAINER" python3 -c \
    'import sys, urllib.request as u; print(u.urlopen("http://127.0.0.1:9000" + sys.argv[1], timeout=5).read().decode())' "$1"
}
status_of() { # status_of URL: the HTTP status, whatever it is
  python - "$1" <<'PY'
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:  # noqa: S310
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code)
PY
}
service_serving() { # service_serving PORT: the standard gRPC health check, inside the container
  podman exec "$SERVICE_CONTAINER" python3 -c '
import grpc, sys
from grpc_health.v1 import health_pb2 as pb, health_pb2_grpc as rpc
reply = rpc.HealthStub(grpc.insecure_channel(sys.argv[1])).Check(pb.HealthCheckRequest(), timeout=2)
sys.exit(reply.status != pb.HealthCheckResponse.SERVING)' "127.0.0.1:$1"
}
show_logs_and_die() {
  for container in "$SERVICE_CONTAINER" "$WEBSITE_CONTAINER"; do
    log "logs of $container:"
    podman logs --tail 30 "$container" >&2 || true
  done
  die "$1"
}

make_certificates() { # make_certificates DIR: a CA, the service's and the website's certificates
  python - "$1" <<'PY'
import sys
from pathlib import Path

import trustme

folder = Path(sys.argv[1])
ca = trustme.CA()
ca.cert_pem.write_to_path(folder / "ca.pem")
for name, identities in (("server", ["recommendations", "localhost"]), ("client", ["marketplace"])):
    issued = ca.issue_cert(*identities)
    issued.private_key_pem.write_to_path(folder / f"{name}-key.pem")
    for pem in issued.cert_chain_pems:
        pem.write_to_path(folder / f"{name}.pem", append=True)
PY
}
# secret_file NAME FILE TARGET: podman's form of a Secret volume, /run/secrets/TARGET readable by
# uid 10001 only (files, not folders: the root filesystem is read-only).
secret_file() {
  podman secret create "$RUN_ID-$1" "$2" >/dev/null
  printf '%s,type=mount,target=%s,uid=10001,gid=10001,mode=0400' "$RUN_ID-$1" "$3"
}

run_pair() { # run_pair plaintext|mutual-tls: start both containers, load the homepage, stop them
  local mode="$1" service_args=() website_args=() health_port=50051
  local limits=("${locked_down[@]}")
  if [ "$mode" = mutual-tls ]; then
    health_port=50052
    # A tmpfs to hold the secret files: on a read-only root podman cannot create them in /run.
    limits+=(--tmpfs /run/secrets:rw,size=1m)
    certs="$(mktemp -d)"
    make_certificates "$certs"
    service_args=(
      --secret "$(secret_file server-cert "$certs/server.pem" server.crt)"
      --secret "$(secret_file server-key "$certs/server-key.pem" server.key)"
      --secret "$(secret_file client-ca "$certs/ca.pem" client-ca.crt)"
      --env RECOMMENDATIONS_TLS_CERT=/run/secrets/server.crt
      --env RECOMMENDATIONS_TLS_KEY=/run/secrets/server.key
      --env RECOMMENDATIONS_TLS_CLIENT_CA=/run/secrets/client-ca.crt
      --env RECOMMENDATIONS_HEALTH_PORT="$health_port"
    )
    website_args=(
      --secret "$(secret_file client-cert "$certs/client.pem" client.crt)"
      --secret "$(secret_file client-key "$certs/client-key.pem" client.key)"
      --secret "$(secret_file server-ca "$certs/ca.pem" ca.crt)"
      --env RECOMMENDATIONS_TLS_CA=/run/secrets/ca.crt
      --env RECOMMENDATIONS_TLS_CLIENT_CERT=/run/secrets/client.crt
      --env RECOMMENDATIONS_TLS_CLIENT_KEY=/run/secrets/client.key
    )
    rm -rf "$certs"
  fi
  # netavark reports on stderr that this machine has no syslog: that line is dropped.
  podman run --detach --name "$SERVICE_CONTAINER" --network "$NETWORK" \
    --network-alias recommendations "${limits[@]}" "${service_args[@]}" \
    --env RECOMMENDATIONS_DRAIN_SECONDS=1 \
    "$SERVICE_IMAGE" > /dev/null 2> >(grep -v '^failed to connect to syslog' >&2)
  podman run --detach --name "$WEBSITE_CONTAINER" --network "$NETWORK" "${limits[@]}" \
    "${website_args[@]}" \
    --publish 127.0.0.1::8000 \
    --env DJANGO_SECRET_KEY="$secret_key" \
    --env DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost \
    --env DJANGO_SECURE_SSL_REDIRECT=false \
    --env DATABASE_URL=sqlite:////tmp/marketplace.sqlite3 \
    --env RECOMMENDATIONS_HOST=recommendations \
    --env WEB_CONCURRENCY=2 \
    "$WEBSITE_IMAGE" > /dev/null 2> >(grep -v '^failed to connect to syslog' >&2)
  local address site
  address="$(podman port "$WEBSITE_CONTAINER" 8000/tcp | head -1)"
  site="http://${address/0.0.0.0/127.0.0.1}"

  for _ in $(seq 60); do
    service_serving "$health_port" 2>/dev/null && website_internal /readyz >/dev/null 2>&1 && break
    sleep 1
  done
  service_serving "$health_port" || show_logs_and_die "$mode: the service is not SERVING on $health_port"
  website_internal /readyz >/dev/null || show_logs_and_die "$mode: the website never became ready"
  phase "$mode: containers started, service SERVING on plaintext port $health_port"

  local page books ok_calls served
  page="$(fetch "$site/")" || show_logs_and_die "$mode: the homepage did not answer 200"
  books="$(grep -c 'data-book-id=' <<<"$page" || true)"
  [ "$books" -gt 0 ] || show_logs_and_die "$mode: the homepage shows no books"
  ok_calls="$(website_internal /metrics | awk '/^marketplace_recommendations_calls_total\{.*grpc_code="OK"/ {s += $2} END {print s + 0}')"
  served="$(service_metrics | awk '/^grpc_server_handled_total\{/ && /Recommend"/ && /grpc_code="OK"/ {s += $2} END {print s + 0}')"
  [ "${ok_calls%.*}" -gt 0 ] || show_logs_and_die "$mode: the homepage had no successful recommendations call"
  [ "${served%.*}" -gt 0 ] || show_logs_and_die "$mode: the recommendations container answered no call"
  log "$mode: homepage from $site shows $books books; site's OK recommendation calls: $ok_calls; service's OK Recommend calls: $served"
  local path
  for path in /metrics /healthz /readyz; do
    [ "$(status_of "$site$path")" = 404 ] || show_logs_and_die "$mode: the pages' port serves $path"
  done
  log "$mode: metrics and probes on the website's internal port only"

  # A clean stop: SIGTERM, drain, exit 0 (podman stop waits up to 15 s before SIGKILL).
  podman stop --time 15 "$WEBSITE_CONTAINER" "$SERVICE_CONTAINER" >/dev/null
  local status
  status="$(podman inspect --format '{{.State.ExitCode}}' "$SERVICE_CONTAINER")"
  [ "$status" = 0 ] || show_logs_and_die "$mode: the service exited with status $status on SIGTERM"
  status="$(podman inspect --format '{{.State.ExitCode}}' "$WEBSITE_CONTAINER")"
  [ "$status" = 0 ] || show_logs_and_die "$mode: the website exited with status $status on SIGTERM"
  podman rm "$WEBSITE_CONTAINER" "$SERVICE_CONTAINER" >/dev/null
  phase "$mode: homepage with live recommendations, clean stop"
}

run_pair plaintext
run_pair mutual-tls

log "check-images passed in $((SECONDS - started)) s"
