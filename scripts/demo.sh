#!/usr/bin/env bash
# The demo: bring up the local stack, then run real rollouts of the sample app with
# the gantry CLI — the same engine the deploy action runs. A good version goes out,
# then a broken one is detected and rolled back automatically.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "local stack (first run on a machine builds Kubernetes from source: ~25 min)"
bash test/stack/stack.sh up
# shellcheck disable=SC1091
source "${GANTRY_STACK_DIR:-$HOME/.cache/gantry/stack}/env"
NS=gantry-demo
REPO=localhost:5000/gantry/sample-app
gantry() { node dist/cli/index.js "$@"; }
digest_of() { # tag → sha256:… as the registry reports it
  curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://127.0.0.1:5000/v2/gantry/sample-app/manifests/$1" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}
answer() { curl -fsS --max-time 5 --retry 10 --retry-delay 1 --retry-connrefused --retry-all-errors "http://$(kubectl -n "$NS" get svc sample-app -o jsonpath='{.spec.clusterIP}')/version" || echo "(no answer)"; }

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
V1="$REPO@$(digest_of v1)"
V2="$REPO@$(digest_of v2)"

say "deploy v1, pinned by digest: $V1"
gantry deploy --app sample-app --namespace "$NS" --manifests test/app/k8s --images "$REPO=$V1" --timeout 2m
URL="http://$(kubectl -n "$NS" get svc sample-app -o jsonpath='{.spec.clusterIP}')"
echo "sample-app is at $URL  →  GET /version answers: $(answer)"

say "deploy v2"
gantry deploy --app sample-app --namespace "$NS" --manifests test/app/k8s --images "$REPO=$V2" --timeout 2m
echo "GET $URL/version answers: $(answer)"

say "deploy a broken version (a digest the registry does not have): Gantry detects it and rolls back"
BAD="$REPO@sha256:$(printf '0%.0s' $(seq 64))"
if gantry deploy --app sample-app --namespace "$NS" --manifests test/app/k8s --images "$REPO=$BAD" --timeout 2m; then
  echo "unexpected: the broken version was reported as deployed" >&2; exit 1
fi
echo "after the automatic rollback, GET $URL/version answers: $(answer)"

say "status"
gantry status --app sample-app --namespace "$NS"
say "done — the app keeps serving at $URL (kubeconfig: $KUBECONFIG)"
