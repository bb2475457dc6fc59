#!/usr/bin/env bash
# Build the local test cluster's tools from the Go module proxy into .tools/bin.
#
# Why: no package registry reachable here ships kube-apiserver & co, but the Go
# module proxy ships their source and the machine has Go. Versions are pinned in
# tests/cluster/versions.env (the only place); the Kubernetes and etcd binaries
# are built through the wrapper modules in tests/cluster/gomod/ because their
# upstream go.mod files carry local `replace` directives that make a plain
# `go install ...@version` impossible. kwok and helm have no such directives and
# are built with `go install pkg@version` (checked against the Go checksum DB).
# CoreDNS is built through gomod/coredns too, for another reason: its own main
# compiles every upstream plugin and their cloud SDKs; the wrapper links only the
# plugins the real node's Corefile can use (a fraction of the cold build).
#
# Idempotent: a binary is skipped when it exists and its stamp (version + build
# inputs) matches. Each built binary is also kept outside the clone, in
# $BIN_CACHE/<name>-<hash of its stamp> (like Go's own caches), so a fresh clone on
# a machine that built the same pins before copies it instead of relinking (CI).
# Exits non-zero with a message naming the failed step.
#
# Usage: tests/cluster/build.sh [--force] [--sync] [--check] [TOOL...]
#   TOOL     any of: kubernetes etcd kwok helm (the default set), and the real-node
#            tools (built only when named, see `make node-build`): node (kubelet,
#            kube-proxy through the wrapper module gomod/node), metrics-server, coredns
#            (the plugins we use, through gomod/coredns)
#   --force  rebuild even when the stamp matches
#   --sync   rewrite the wrapper modules (go.mod/go.sum) from versions.env first
#   --check  only report whether every binary is present and current (exit 1 if not)
# Environment: GO (go binary), TOOLS_DIR (default <repo>/.tools), BIN_CACHE (default
#   ${XDG_CACHE_HOME:-~/.cache}/ocr-crnn/bin; empty: no cache),
#   BUILD_JOBS (go build -p, default 2), BUILD_NICE (nice level, default 10).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOLS_DIR=${TOOLS_DIR:-$ROOT/.tools}
BIN_DIR=$TOOLS_DIR/bin
STAMP_DIR=$BIN_DIR/.stamps
BIN_CACHE=${BIN_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/ocr-crnn/bin}
GOMOD_DIR=$HERE/gomod
BUILD_JOBS=${BUILD_JOBS:-2}
BUILD_NICE=${BUILD_NICE:-10}
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
# The real node's binaries: their own wrapper module (same pins as gomod/kubernetes),
# so adding them never changes the stamps (and rebuilds) of the control plane.
NODE_BINARIES=(kubelet kube-proxy)
ALL_TOOLS='kubernetes|etcd|kwok|helm|node|metrics-server|coredns'

log() { printf 'build.sh: %s\n' "$*"; }
die() { printf 'build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# Any unexpected failure (set -e) still names the line that failed.
set -E
trap 'printf "build.sh: ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR
SCRATCH_DIRS=()
trap 'rm -rf "${SCRATCH_DIRS[@]}"' EXIT

load_versions() {
  # shellcheck source=versions.env
  source "$HERE/versions.env"
  local var
  for var in KUBERNETES_VERSION KUBERNETES_COMMIT ETCD_VERSION KWOK_VERSION HELM_VERSION \
    METRICS_SERVER_VERSION COREDNS_VERSION; do
    [[ -n ${!var:-} ]] || die "$var is not set in $HERE/versions.env"
  done
  [[ $KUBERNETES_VERSION =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "KUBERNETES_VERSION must look like v1.Y.Z"
  KUBE_MAJOR=1
  KUBE_MINOR=${BASH_REMATCH[1]}
  STAGING_VERSION="v0.${KUBERNETES_VERSION#v1.}"
}

find_go() {
  # The toolchain must not be swapped behind our back (GOTOOLCHAIN=local), so an
  # old Go fails here with a clear message instead of downloading another one.
  GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  [[ -x $GO ]] || die "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go); install Go >= 1.26 or set GO=/path/to/go"
  export GOTOOLCHAIN=local CGO_ENABLED=0
  local v
  v=$("$GO" env GOVERSION) || die "'$GO env GOVERSION' failed"
  [[ $v =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] >= 26 )) \
    || die "$GO is $v; these pins need Go >= 1.26 (kwok/helm/etcd declare go 1.26.0)"
  log "using $GO ($v), go build -p $BUILD_JOBS, nice $BUILD_NICE"
}

gobuild() { nice -n "$BUILD_NICE" "$GO" "$@"; }

# Of the files' contents only (not their paths): the same pins give the same stamp in every clone.
sha_of() { cat "$@" | sha256sum | cut -c1-16; }

k8s_ldflags() {
  local pkg flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$KUBE_MINOR"
    flags+=" -X $pkg.gitCommit=$KUBERNETES_COMMIT -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

kwok_ldflags() {
  echo "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"
}

helm_ldflags() {
  # Helm's default Capabilities.KubeVersion (used without --kube-version) and the
  # version its lint deprecation rules check against are link-time variables
  # (default v1.20). Upstream's Makefile sets both pairs from its client-go
  # version; here they follow the Kubernetes version the test cluster runs.
  local pkg flags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    flags+=" -X $pkg.k8sVersionMajor=$KUBE_MAJOR -X $pkg.k8sVersionMinor=$KUBE_MINOR"
  done
  echo "$flags"
}

# ---- wrapper modules: keep them in line with versions.env --------------------

require_of() {  # print the version that go.mod in $1 requires for module $2
  awk -v m="$2" '{for (i = 1; i < NF; i++) if ($i == m && $(i+1) ~ /^v/ && $(i-1) != "=>") print $(i+1)}' "$1/go.mod" | sed -n 1p
}

check_wrappers() {
  local kdir=$GOMOD_DIR/kubernetes edir=$GOMOD_DIR/etcd got bad
  got=$(require_of "$kdir" k8s.io/kubernetes)
  [[ $got == "$KUBERNETES_VERSION" ]] \
    || die "$kdir/go.mod requires k8s.io/kubernetes ${got:-<none>} but versions.env pins $KUBERNETES_VERSION; run: tests/cluster/build.sh --sync"
  bad=$(awk -v v="$STAGING_VERSION" '$2 == "=>" && $4 != v {print $1}' "$kdir/go.mod")
  [[ -z $bad ]] || die "staging replaces in $kdir/go.mod are not $STAGING_VERSION: $bad; run: tests/cluster/build.sh --sync"
  got=$(require_of "$GOMOD_DIR/node" k8s.io/kubernetes)
  [[ $got == "$KUBERNETES_VERSION" ]] \
    || die "$GOMOD_DIR/node/go.mod requires k8s.io/kubernetes ${got:-<none>} but versions.env pins $KUBERNETES_VERSION; run: tests/cluster/build.sh --sync"
  got=$(require_of "$GOMOD_DIR/coredns" github.com/coredns/coredns)
  [[ $got == "$COREDNS_VERSION" ]] \
    || die "$GOMOD_DIR/coredns/go.mod requires coredns ${got:-<none>} but versions.env pins $COREDNS_VERSION; run: tests/cluster/build.sh --sync"
  got=$(require_of "$edir" go.etcd.io/etcd/server/v3)
  [[ $got == "$ETCD_VERSION" ]] \
    || die "$edir/go.mod requires etcd ${got:-<none>} but versions.env pins $ETCD_VERSION; run: tests/cluster/build.sh --sync"
}

sync_kubernetes_module() {
  # Rebuild the wrapper go.mod from the release's own go.mod: every staging
  # module that k8s.io/kubernetes requires as v0.0.0 is replaced by its
  # published v0.Y.Z twin. $1: wrapper dir name, the rest: the binaries.
  local name=${1:-kubernetes}; shift || true
  local bins=("$@"); (( ${#bins[@]} )) || bins=("${KUBE_BINARIES[@]}")
  local dir=$GOMOD_DIR/$name upstream staging bin
  log "sync: k8s.io/kubernetes $KUBERNETES_VERSION -> $dir"
  upstream=$(cd "$dir" && "$GO" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | awk -F'"' '$2 == "GoMod" {print $4}')
  [[ -f $upstream ]] || die "could not download the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"
  staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$upstream")
  {
    printf 'module ocr-crnn.local/tests/cluster/gomod/%s\n\ngo 1.24.0\n\ntool (\n' "$name"
    for bin in "${bins[@]}"; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$bin"; done
    printf ')\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBERNETES_VERSION"
    for bin in $staging; do printf '\t%s => %s %s\n' "$bin" "$bin" "$STAGING_VERSION"; done
    printf ')\n'
  } > "$dir/go.mod"
  rm -f "$dir/go.sum"
  (cd "$dir" && gobuild mod tidy) || die "go mod tidy failed in $dir"
}

sync_coredns_module() {
  local dir=$GOMOD_DIR/coredns
  log "sync: github.com/coredns/coredns $COREDNS_VERSION -> $dir"
  (cd "$dir" && "$GO" mod edit -require="github.com/coredns/coredns@$COREDNS_VERSION" && gobuild mod tidy) \
    || die "go mod tidy failed in $dir"
}

sync_etcd_module() {
  local dir=$GOMOD_DIR/etcd
  log "sync: go.etcd.io/etcd/server/v3 $ETCD_VERSION -> $dir"
  (cd "$dir" && "$GO" mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION" && gobuild mod tidy) \
    || die "go mod tidy failed in $dir"
}

# ---- stamps: what a binary was built from ------------------------------------

stamp_for() {
  case $1 in
    kubelet|kube-proxy) echo "$KUBERNETES_VERSION $(sha_of "$GOMOD_DIR/node/go.mod" "$GOMOD_DIR/node/go.sum") $(k8s_ldflags | sha256sum | cut -c1-8)" ;;
    metrics-server) echo "$METRICS_SERVER_VERSION $(metrics_server_ldflags | sha256sum | cut -c1-8)" ;;
    coredns) echo "$COREDNS_VERSION $(sha_of "$GOMOD_DIR/coredns/go.mod" "$GOMOD_DIR/coredns/go.sum" "$GOMOD_DIR/coredns/main.go")" ;;
    kube-*|kubectl) echo "$KUBERNETES_VERSION $(sha_of "$GOMOD_DIR/kubernetes/go.mod" "$GOMOD_DIR/kubernetes/go.sum") $(k8s_ldflags | sha256sum | cut -c1-8)" ;;
    etcd) echo "$ETCD_VERSION $(sha_of "$GOMOD_DIR/etcd/go.mod" "$GOMOD_DIR/etcd/go.sum" "$GOMOD_DIR/etcd/main.go")" ;;
    kwok) echo "$KWOK_VERSION $(kwok_ldflags | sha256sum | cut -c1-8)" ;;
    helm) echo "$HELM_VERSION $(helm_ldflags | sha256sum | cut -c1-8)" ;;
    *) die "unknown binary $1" ;;
  esac
}

is_current() {
  [[ -x $BIN_DIR/$1 && -f $STAMP_DIR/$1 && $(<"$STAMP_DIR/$1") == "$(stamp_for "$1")" ]]
}

cache_path() { echo "$BIN_CACHE/$1-$(stamp_for "$1" | sha256sum | cut -c1-16)"; }

# Install freshly built binaries from a scratch dir, then stamp them and keep a
# copy in the cache. Each move is atomic, so an interrupted build never leaves a
# half-written tool (or a half-written cache entry).
install_from() {
  local scratch=$1 bin cached; shift
  mkdir -p "$STAMP_DIR"
  for bin in "$@"; do
    [[ -x $scratch/$bin ]] || die "expected $scratch/$bin after the build"
    if [[ -n $BIN_CACHE ]]; then
      cached=$(cache_path "$bin")
      mkdir -p "$BIN_CACHE"
      cp -f "$scratch/$bin" "$cached.partial" && mv -f "$cached.partial" "$cached"
      # older builds of the same tool (other pins) are not needed any more
      find "$BIN_CACHE" -maxdepth 1 -name "$bin-*" ! -name "${cached##*/}" -delete
    fi
    mv -f "$scratch/$bin" "$BIN_DIR/$bin"
    stamp_for "$bin" > "$STAMP_DIR/$bin"
  done
}

restore_cached() {  # copy every binary of the named tools that is stale here but cached
  local tool bin cached
  [[ -n $BIN_CACHE && -z $FORCE ]] || return 0
  mkdir -p "$BIN_DIR" "$STAMP_DIR"
  for tool in "$@"; do
    for bin in $(binaries_of "$tool"); do
      is_current "$bin" && continue
      cached=$(cache_path "$bin")
      [[ -x $cached ]] || continue
      cp -f "$cached" "$BIN_DIR/.$bin.partial" && mv -f "$BIN_DIR/.$bin.partial" "$BIN_DIR/$bin"
      stamp_for "$bin" > "$STAMP_DIR/$bin"
      log "restored $bin from $cached"
    done
  done
}

new_scratch() {  # a private dir under TOOLS_DIR (same filesystem, so mv is atomic)
  SCRATCH=$(mktemp -d "$TOOLS_DIR/tmp.XXXXXX")
  SCRATCH_DIRS+=("$SCRATCH")
}

timed() {  # timed LABEL CMD...: run CMD, print how long it took
  local label=$1 start=$SECONDS; shift
  log "building $label ..."
  "$@" || die "building $label failed (see the go output above)"
  log "built $label in $((SECONDS - start))s"
}

# ---- the builds --------------------------------------------------------------

metrics_server_ldflags() {
  echo "-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
}

build_kubernetes() {  # build_kubernetes [WRAPPER BINARY...]: default the control plane's
  local module=${1:-kubernetes}; shift || true
  local bins=("$@"); (( ${#bins[@]} )) || bins=("${KUBE_BINARIES[@]}")
  local todo=() bin pkgs=() scratch
  for bin in "${bins[@]}"; do
    if [[ -n $FORCE ]] || ! is_current "$bin"; then todo+=("$bin"); else log "ok $bin ($KUBERNETES_VERSION)"; fi
  done
  (( ${#todo[@]} )) || return 0
  for bin in "${todo[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$bin"); done
  new_scratch; scratch=$SCRATCH
  # One `go build` for all of them: they share most packages, so this is far
  # cheaper than separate builds.
  timed "${todo[*]} (k8s $KUBERNETES_VERSION)" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$GOMOD_DIR/$module" \
    nice -n "$BUILD_NICE" "$GO" build -mod=readonly -p "$BUILD_JOBS" -trimpath \
    -ldflags "$(k8s_ldflags)" -o "$scratch/" "${pkgs[@]}"
  install_from "$scratch" "${todo[@]}"
}

build_wrapper_main() {  # build_wrapper_main NAME VERSION: the main package of gomod/NAME
  local name=$1 version=$2 scratch
  if [[ -z $FORCE ]] && is_current "$name"; then log "ok $name ($version)"; return 0; fi
  new_scratch; scratch=$SCRATCH
  timed "$name $version" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$GOMOD_DIR/$name" \
    nice -n "$BUILD_NICE" "$GO" build -mod=readonly -p "$BUILD_JOBS" -trimpath -ldflags "-s -w" \
    -o "$scratch/$name" .
  install_from "$scratch" "$name"
}

go_install() {  # go_install NAME PKG@VERSION LDFLAGS
  local name=$1 pkg=$2 ldflags=$3 scratch
  if [[ -z $FORCE ]] && is_current "$name"; then log "ok $name (${pkg#*@})"; return 0; fi
  new_scratch; scratch=$SCRATCH
  # Run outside any module so only the tool's own go.mod/go.sum apply.
  timed "$name ${pkg#*@}" \
    env GOBIN="$scratch" GOFLAGS= bash -c 'cd / && exec "$@"' _ \
    nice -n "$BUILD_NICE" "$GO" install -p "$BUILD_JOBS" -trimpath -ldflags "$ldflags" "$pkg"
  install_from "$scratch" "$name"
}

kwok_stages() {
  # The kwok binary (unlike kwokctl) has no built-in stages: it must be told how
  # to move nodes and pods along. Use the release's own "fast" stages (nodes
  # Ready at once, heartbeats through Leases; pods Ready at once, completed,
  # deleted), taken from the same module version so they always match.
  local dir out=$TOOLS_DIR/share/kwok-stages.yaml f
  dir=$(cd / && "$GO" mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | awk -F'"' '$2 == "Dir" {print $4}')
  [[ -d $dir/kustomize/stage ]] || die "kwok $KWOK_VERSION module has no kustomize/stage directory"
  mkdir -p "${out%/*}"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f $dir/kustomize/stage/$f ]] || die "kwok $KWOK_VERSION has no stage $f"
    printf -- '---\n# sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
    cat "$dir/kustomize/stage/$f"
  done > "$out.tmp"
  mv -f "$out.tmp" "$out"
  log "ok kwok stages -> $out"
}

build_tool() {
  case $1 in
    kubernetes) build_kubernetes ;;
    etcd) build_wrapper_main etcd "$ETCD_VERSION" ;;
    kwok) go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "$(kwok_ldflags)"; kwok_stages ;;
    helm) go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$(helm_ldflags)" ;;
    node) build_kubernetes node "${NODE_BINARIES[@]}" ;;
    metrics-server) go_install metrics-server "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" \
      "$(metrics_server_ldflags)" ;;
    coredns) build_wrapper_main coredns "$COREDNS_VERSION" ;;
    *) die "unknown tool '$1' (expected: ${ALL_TOOLS//|/ })" ;;
  esac
}

binaries_of() {
  case $1 in
    kubernetes) echo "${KUBE_BINARIES[@]}" ;;
    node) echo "${NODE_BINARIES[@]}" ;;
    *) echo "$1" ;;
  esac
}

check_only() {
  local tool bin missing=0
  for tool in "$@"; do
    for bin in $(binaries_of "$tool"); do
      if is_current "$bin"; then log "ok $bin"; else log "MISSING or stale: $bin"; missing=1; fi
    done
    if [[ $tool == kwok && ! -f $TOOLS_DIR/share/kwok-stages.yaml ]]; then log "MISSING: kwok-stages.yaml"; missing=1; fi
  done
  return $missing
}

smoke_test() {
  # A binary that builds but cannot start is useless; ask each for its version.
  local bin
  for bin in "$@"; do
    case $bin in
      kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy) "$BIN_DIR/$bin" --version ;;
      metrics-server) "$BIN_DIR/$bin" --version ;;
      coredns) "$BIN_DIR/$bin" -version | sed -n 1p ;;
      kubectl) "$BIN_DIR/kubectl" version --client | sed -n 1p ;;
      etcd) "$BIN_DIR/etcd" --version | sed -n 1p ;;
      kwok) "$BIN_DIR/kwok" --version ;;
      helm) "$BIN_DIR/helm" version --short ;;
    esac | sed "s/^/build.sh:   $bin: /" || die "$bin does not run"
  done
}

main() {
  FORCE='' SYNC='' CHECK=''
  local tools=() tool all_bins=() start=$SECONDS
  while (( $# )); do
    case $1 in
      --force) FORCE=1 ;;
      --sync) SYNC=1 ;;
      --check) CHECK=1 ;;
      -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      -*) die "unknown option $1 (see --help)" ;;
      *) tools+=("$1") ;;
    esac
    shift
  done
  (( ${#tools[@]} )) || tools=(etcd kwok helm kubernetes)
  for tool in "${tools[@]}"; do
    [[ $tool =~ ^($ALL_TOOLS)$ ]] || die "unknown tool '$tool' (expected: ${ALL_TOOLS//|/ })"
  done
  load_versions
  if [[ -n $CHECK ]]; then
    check_only "${tools[@]}" || die "some binaries are missing or stale; run: tests/cluster/build.sh"
    return 0
  fi
  [[ -n $SYNC ]] || restore_cached "${tools[@]}"
  if [[ -z $FORCE$SYNC ]] && check_only "${tools[@]}" > /dev/null; then
    # Everything is current: no Go toolchain needed (e.g. a CI cache restored .tools).
    log "all binaries current in $BIN_DIR (versions.env); nothing to build"
    smoke_test $(for tool in "${tools[@]}"; do binaries_of "$tool"; done)
    return 0
  fi
  find_go
  mkdir -p "$BIN_DIR"
  if [[ -n $SYNC ]]; then
    sync_kubernetes_module kubernetes "${KUBE_BINARIES[@]}"
    sync_kubernetes_module node "${NODE_BINARIES[@]}"
    sync_etcd_module
    sync_coredns_module
  fi
  check_wrappers
  for tool in "${tools[@]}"; do build_tool "$tool"; done
  for tool in "${tools[@]}"; do read -ra bins <<< "$(binaries_of "$tool")"; all_bins+=("${bins[@]}"); done
  smoke_test "${all_bins[@]}"
  log "done in $((SECONDS - start))s; $(du -sh "$BIN_DIR" | cut -f1) in $BIN_DIR"
}

main "$@"
