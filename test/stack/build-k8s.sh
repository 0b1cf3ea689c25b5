#!/usr/bin/env bash
# Builds the Kubernetes server binaries from the official k8s.io/kubernetes Go
# module into a cache keyed by version, so only the first run on a machine pays.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K8S_VERSION="${K8S_VERSION:-v1.33.13}"
CACHE="${GANTRY_CACHE:-$HOME/.cache/gantry}"
OUT="$CACHE/k8s/$K8S_VERSION/bin"
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

have_all() { for b in "${BINS[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done; }
if have_all; then echo "kubernetes $K8S_VERSION binaries cached in $OUT"; exit 0; fi

STAGING_VERSION="v0.${K8S_VERSION#v1.}"
WORK="$CACHE/k8s/$K8S_VERSION/src"
mkdir -p "$WORK" "$OUT"
cd "$WORK"
go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
UPSTREAM_MOD="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
{
  echo "module gantry.local/k8sbuild"
  echo
  echo "go 1.23.0"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  # Each staging module is published on its own at v0.<minor>.<patch>.
  grep -E '=> \./staging/src/' "$UPSTREAM_MOD" | grep -v '/sample-' | awk -v v="$STAGING_VERSION" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
{
  echo "//go:build tools"
  echo
  echo "package tools"
  echo
  echo "import ("
  for b in "${BINS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
  echo ")"
} > tools.go
go mod tidy
MAJOR=1; MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"
LDFLAGS=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$MAJOR -X $pkg.gitMinor=$MINOR -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
for b in "${BINS[@]}"; do
  [[ -x "$OUT/$b" ]] && continue
  start=$SECONDS
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $LDFLAGS" -o "$OUT/$b.tmp" "k8s.io/kubernetes/cmd/$b" &
  build_pid=$!
  # A cold build of kube-apiserver takes ~10 minutes on 2 cores; say it is still going.
  while ! wait_with_timeout "$build_pid" 60; do echo "still building $b ($((SECONDS - start)) s)"; done
  wait "$build_pid" || { echo "go build of $b failed" >&2; exit 1; }
  mv "$OUT/$b.tmp" "$OUT/$b"
  echo "built $b in $((SECONDS - start)) s"
done
echo "kubernetes $K8S_VERSION binaries in $OUT"
