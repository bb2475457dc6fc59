#!/usr/bin/env bash
# Build both images on a machine without a Docker daemon (the dev machines and CI): buildah with
# chroot isolation and vfs storage, on a Python 3.11 base made with debootstrap from Debian's archive,
# because no container registry (Docker Hub, ghcr) is reachable from here. Where Docker runs, use
# `make images` (docker build on python:3.11-slim) instead.
#
#   docker/build-local.sh            # base image (cached in buildah's storage), then server + operator
#   docker/build-local.sh operator   # just one
#   docker/build-local.sh --base     # only the base; prints its tag (for other images built on it)
#
# Needs: root, `apt-get install buildah debootstrap`, PyPI and Debian's archive. Prints each image's size.
# Images land in buildah's storage (`buildah --storage-driver vfs images`), tagged like the real ones.
#
# Nothing is downloaded twice on one machine: the base image is tagged with a hash of its recipe (the
# make_base function below) and reused from buildah's storage; debootstrap keeps its .debs in
# $CACHE_DIR/debootstrap; the builds mount the host's uv cache (`uv cache dir`, already filled by
# `make setup`'s `uv sync` from the same uv.lock) and a pip cache ($CACHE_DIR/pip, for the pinned uv).
# CACHE_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/ocr-crnn: outside the clone, like Go's caches.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${VERSION:-0.1.0}
REGISTRY=${REGISTRY:-ghcr.io/ocr-crnn}
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocr-crnn}
BUILDAH=(buildah --storage-driver vfs)
log() { printf '[build-local] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install buildah debootstrap"
done
[[ $(id -u) == 0 ]] || die "run as root (debootstrap, buildah chroot isolation)"

make_base() {
  if "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base $BASE_IMAGE: cached"
    return
  fi
  local rootfs ctr mnt t0=$SECONDS
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  log "base: debootstrap bookworm (python3, python3-venv) ..."
  mkdir -p "$CACHE_DIR/debootstrap"
  debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debootstrap" \
    --include=python3,python3-venv,ca-certificates bookworm "$rootfs" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  ctr=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  cp -a "$rootfs"/. "$mnt"/
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$ctr"
  "${BUILDAH[@]}" commit --quiet "$ctr" "$BASE_IMAGE" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  log "base $BASE_IMAGE: built in $((SECONDS - t0))s"
}

build() {
  local name=$1 tag="$REGISTRY/ocr-$1:$VERSION" t0=$SECONDS
  local mounts=() uv_cache
  # Let pip and uv inside the build trust the same CAs as this machine (a TLS-inspecting proxy's, if any).
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    local pipconf
    pipconf=$(mktemp)
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$pipconf"
    mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro -v "$pipconf:/etc/pip.conf:ro")
  fi
  # The host's uv cache (wheels of uv.lock, already there after `make setup`) and a pip cache for uv
  # itself: the build stage reads and fills them, the final image never contains them.
  uv_cache=${UV_CACHE_DIR:-$( (uv cache dir || "$REPO/.uv/bin/uv" cache dir) 2>/dev/null || echo "$CACHE_DIR/uv")}
  mkdir -p "$uv_cache" "$CACHE_DIR/pip"
  mounts+=(-v "$uv_cache:/root/.cache/uv" -v "$CACHE_DIR/pip:/root/.cache/pip")
  log "$tag: building ..."
  # --format docker keeps the HEALTHCHECK (OCI images drop it).
  "${BUILDAH[@]}" bud --quiet --format docker --isolation chroot --layers=false "${mounts[@]}" \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -f "$REPO/docker/$name.Dockerfile" -t "$tag" "$REPO" >/dev/null
  log "$tag: built in $((SECONDS - t0))s, $("${BUILDAH[@]}" images --format '{{.Size}}' "$tag")"
}

# The base's tag names its recipe: editing make_base makes a new base instead of reusing a stale one.
BASE_IMAGE=${BASE_IMAGE:-localhost/ocr-crnn-python:3.11-bookworm-$(declare -f make_base | sha256sum | cut -c1-12)}

targets=("$@")
if [[ ${targets[*]} == --base ]]; then
  make_base
  echo "$BASE_IMAGE"
  exit 0
fi
((${#targets[@]})) || targets=(server operator)
make_base
for name in "${targets[@]}"; do
  [[ -f $REPO/docker/$name.Dockerfile ]] || die "no docker/$name.Dockerfile"
  build "$name"
done
