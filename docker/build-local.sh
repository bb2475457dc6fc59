#!/usr/bin/env bash
# Build both images on a machine without a Docker daemon (the dev machines and CI): buildah with
# chroot isolation and vfs storage, on a Python 3.11 base made with debootstrap from Debian's archive,
# because no container registry (Docker Hub, ghcr) is reachable from here. Where Docker runs, use
# `make images` (docker build on python:3.11-slim) instead.
#
#   docker/build-local.sh            # base image (cached in buildah's storage), then server + operator
#   docker/build-local.sh operator   # just one
#
# Needs: root, `apt-get install buildah debootstrap`, PyPI and Debian's archive. Prints each image's size.
# Images land in buildah's storage (`buildah --storage-driver vfs images`), tagged like the real ones.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${VERSION:-0.1.0}
REGISTRY=${REGISTRY:-ghcr.io/ocr-crnn}
BASE_IMAGE=${BASE_IMAGE:-localhost/ocr-crnn-python:3.11-bookworm}
BUILDAH=(buildah --storage-driver vfs)
log() { printf '[build-local] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install buildah debootstrap"
done
[[ $(id -u) == 0 ]] || die "run as root (debootstrap, buildah chroot isolation)"
# pyproject.toml names README.md as the package readme: pip refuses to build without it.
[[ -f $REPO/README.md ]] || die "README.md missing at the repo root (pyproject.toml's readme)"

make_base() {
  if "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base $BASE_IMAGE: cached"
    return
  fi
  local rootfs ctr mnt t0=$SECONDS
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  log "base: debootstrap bookworm (python3, python3-venv) ..."
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" >/dev/null
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
  local mounts=()
  # Let pip inside the build trust the same CAs as this machine (a TLS-inspecting proxy's, if any).
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    local pipconf
    pipconf=$(mktemp)
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$pipconf"
    mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro -v "$pipconf:/etc/pip.conf:ro")
  fi
  log "$tag: building ..."
  # --format docker keeps the HEALTHCHECK (OCI images drop it).
  "${BUILDAH[@]}" bud --quiet --format docker --isolation chroot --layers=false "${mounts[@]}" \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" -f "$REPO/docker/$name.Dockerfile" -t "$tag" "$REPO" >/dev/null
  log "$tag: built in $((SECONDS - t0))s, $("${BUILDAH[@]}" images --format '{{.Size}}' "$tag")"
}

targets=("$@")
((${#targets[@]})) || targets=(server operator)
make_base
for name in "${targets[@]}"; do
  [[ -f $REPO/docker/$name.Dockerfile ]] || die "no docker/$name.Dockerfile"
  build "$name"
done
