#!/usr/bin/env bash
# The demo: bring up the local stack, then roll the sample app out as a canary with the
# gantry CLI — the same engine the deploy action runs, with nothing installed in the
# cluster. v1 goes out; v2 goes out as a canary, step by step, with real requests showing
# the share each version gets; a later, separate command promotes it; then a broken
# version's canary fails its gate and is aborted automatically, stable untouched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "local stack (first run on a machine builds Kubernetes and Traefik from source: ~30 min)"
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
url() { echo "http://$(kubectl -n "$NS" get svc sample-app -o jsonpath='{.spec.clusterIP}')/version"; }
# A new Service answers once the node has programmed it, a moment after it exists.
serving() { for _ in $(seq 60); do curl -fsS --max-time 1 "$(url)" >/dev/null 2>&1 && return 0; sleep 0.5; done; }
# 200 requests to the Service, counted by the version that answered.
shares() { for _ in $(seq 200); do curl -fsS --max-time 2 "$(url)" || echo failed; done | sort | uniq -c | tr '\n' ' '; echo; }

# A fresh namespace each time, so the demo always starts from "nothing deployed".
kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$NS" >/dev/null
V1="$REPO@$(digest_of v1)"
V2="$REPO@$(digest_of v2)"
COMMON=(--app sample-app --namespace "$NS" --manifests test/app/k8s --timeout 2m)
GATE='- http: {service: "${canary}", port: 80, path: /version, expect-status: 200}
  count: 3
  interval: 1s'

say "deploy v1 (nothing live yet, so it goes out directly): $V1"
gantry deploy "${COMMON[@]}" --images "$REPO=$V1"
serving
echo "answers: $(shares)"

say "v2 as a canary: 25 % of the traffic, a gate on the canary alone, then a pause for a promote"
gantry deploy "${COMMON[@]}" --images "$REPO=$V2" --strategy canary \
  --steps "- setWeight: 25
- analysis:
$(sed 's/^/  /' <<<"$GATE")
- pause: {}
- setWeight: 50
- pause: {duration: 5s}"
echo "answers while paused (2 stable pods + 1 canary pod = 33 %): $(shares)"

say "status, from another process"
gantry status --app sample-app --namespace "$NS" || true

say "promote, from another process: the next steps run, then the stable Deployment takes v2"
gantry promote --app sample-app --namespace "$NS" --timeout 2m
echo "answers: $(shares)"

say "a broken version (a digest the registry does not have) as a canary: its pods never start, so it is aborted"
BAD="$REPO@sha256:$(printf '0%.0s' $(seq 64))"
if gantry deploy "${COMMON[@]}" --images "$REPO=$BAD" --strategy canary --steps "- setWeight: 50
- pause: {duration: 30s}"; then
  echo "unexpected: the broken version was reported as deployed" >&2; exit 1
fi
echo "after the automatic abort, answers: $(shares)"

say "status (exits non-zero: the last rollout was rolled back)"
gantry status --app sample-app --namespace "$NS" || true
say "done — the app keeps serving at $(url) (kubeconfig: $KUBECONFIG)"
