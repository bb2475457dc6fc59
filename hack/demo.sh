#!/usr/bin/env bash
# One command for a newcomer: the whole system on a real node on this machine.
#   hack/demo.sh up     # build what is missing, start control plane + real node, load images,
#                       # helm install the chart with a sample OcrService, print how to reach it
#   hack/demo.sh down   # remove everything (processes, host network, iptables, cgroups)
# Needs root and: apt-get install containerd runc containernetworking-plugins iptables buildah debootstrap
# (make demo / make demo-down call this). First run: node binaries ~2-10 min, images ~5-15 min.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PYTHON=${PYTHON:-python3}
NS=${DEMO_NAMESPACE:-ocr}
TOOLS=${TOOLS_DIR:-$REPO/.tools}
KUBECONFIG_FILE=$TOOLS/real-node/kubeconfig
K() { "$TOOLS/bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
log() { printf '[demo] %s\n' "$*"; }

up() {
  local t0=$SECONDS
  [[ $(id -u) == 0 ]] || { log "run as root (containerd, kubelet, veth, iptables)"; exit 2; }
  log "binaries (tests/cluster/build.sh, cached) ..."
  tests/cluster/build.sh >/dev/null
  BUILD_NICE=${BUILD_NICE:-19} tests/cluster/build.sh node coredns metrics-server >/dev/null
  log "images (tests/cluster/images.py, cached by content) ..."
  "$PYTHON" -m tests.cluster.images pause server operator >/dev/null
  log "control plane + real node ..."
  "$PYTHON" -m tests.cluster.node up
  log "helm install (namespace $NS, Pod Security restricted) with the sample OcrService ..."
  K create namespace "$NS" --dry-run=client -o yaml | K apply -f - >/dev/null
  K label namespace "$NS" --overwrite pod-security.kubernetes.io/enforce=restricted >/dev/null
  "$TOOLS/bin/helm" --kubeconfig "$KUBECONFIG_FILE" upgrade --install ocr charts/ocr-crnn -n "$NS" \
    --set operator.image.pullPolicy=Never --set sample.enabled=true --wait --timeout 5m >/dev/null
  K wait -n "$NS" --for=condition=Ready ocrservice/ocr-demo --timeout=600s >/dev/null
  K get ocrservices -n "$NS"
  log "up in $((SECONDS - t0))s. Try it:"
  cat <<EOT
  export KUBECONFIG=$KUBECONFIG_FILE; alias kubectl=$TOOLS/bin/kubectl
  kubectl -n $NS port-forward svc/ocr-demo 8080:80     # then open http://localhost:8080 (upload page)
  curl -F image=@receipt.jpg http://localhost:8080/api/v1/ocr
  # or straight to the Service's ClusterIP from this machine (kube-proxy):
  curl -F image=@receipt.jpg http://\$(kubectl -n $NS get svc ocr-demo -o jsonpath='{.spec.clusterIP}')/api/v1/ocr
  make demo-down    # removes everything
EOT
}

case ${1:-up} in
  up) up ;;
  down) "$PYTHON" -m tests.cluster.node down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
