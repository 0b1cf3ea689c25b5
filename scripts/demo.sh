#!/usr/bin/env bash
# The demo: bring up the local stack, then roll the sample app out as a judged canary with
# the gantry CLI — the same engine the deploy action runs, with nothing installed in the
# cluster. v1 goes out; v2 goes out as a canary that the judge compares with stable on
# Prometheus's samples (Mann-Whitney U, looking only as long as it needs), then pauses
# for a promote from a separate command; a version that is only slower is failed by the
# judge and rolled back, which an error-rate threshold would have let through; and a
# broken version is aborted before it serves. Requests flow all along, as users' would.
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

# The app's manifests with an added-latency knob, as a version that is only slower would ship.
WORK=.tmp/demo
manifests() { # $1 = LATENCY_MS
  mkdir -p "$WORK/$1" && cp test/app/k8s/*.yaml "$WORK/$1/"
  sed -i "s|^\(        image: .*\)$|\1\n        env:\n        - {name: LATENCY_MS, value: \"$1\"}|" "$WORK/$1/deployment.yaml"
  echo "$WORK/$1"
}
traffic_pid=
traffic() { # two clients in the background, as users would send; the judge needs both sides to be asked
  local u; u=$(url)
  ( for _ in 1 2; do ( while :; do curl -fsS --max-time 2 "$u" >/dev/null 2>&1 || sleep 0.2; done ) & done; wait ) &
  traffic_pid=$!
}
cleanup() { [[ -n "$traffic_pid" ]] && pkill -P "$traffic_pid" 2>/dev/null; kill "$traffic_pid" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# A fresh namespace each time, so the demo always starts from "nothing deployed".
kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$NS" >/dev/null
V1="$REPO@$(digest_of v1)"
V2="$REPO@$(digest_of v2)"
COMMON=(--app sample-app --namespace "$NS" --timeout 2m --prometheus-url "$GANTRY_PROMETHEUS_URL")
# The judged canary step (test/fixtures/rollouts/judged-steps.yaml): the judge compares mean latency of each side.
JUDGED=$(grep -v '^#' test/fixtures/rollouts/judged-steps.yaml)

say "deploy v1 (nothing live yet, so it goes out directly): $V1"
gantry deploy "${COMMON[@]}" --manifests "$(manifests 20)" --images "$REPO=$V1"
serving
echo "answers: $(shares)"
traffic

say "v2 as a canary at 50 %, judged against stable by the judge, then paused for a promote"
gantry deploy "${COMMON[@]}" --manifests "$(manifests 20)" --images "$REPO=$V2" --strategy canary --max-error-rate 0.01 \
  --steps "$JUDGED
- pause: {}"
echo "answers while paused (2 stable pods + 2 canary pods): $(shares)"

say "status, from another process"
gantry status --app sample-app --namespace "$NS" || true

say "promote, from another process: the stable Deployment takes v2"
gantry promote --app sample-app --namespace "$NS" --timeout 2m
echo "answers: $(shares)"

say "v2 again, but 60 ms slower and without a single error: the error-rate gate passes it, the judge fails it"
if gantry deploy "${COMMON[@]}" --manifests "$(manifests 80)" --images "$REPO=$V2" --strategy canary --max-error-rate 0.01 --steps "$JUDGED"; then
  echo "unexpected: the slower version was reported as deployed" >&2; exit 1
fi

say "a broken version (a digest the registry does not have) as a canary: its pods never start, so it is aborted"
BAD="$REPO@sha256:$(printf '0%.0s' $(seq 64))"
if gantry deploy "${COMMON[@]}" --manifests "$(manifests 20)" --images "$REPO=$BAD" --strategy canary --steps "- setWeight: 50
- pause: {duration: 30s}"; then
  echo "unexpected: the broken version was reported as deployed" >&2; exit 1
fi
echo "after the automatic abort, answers: $(shares)"

say "status (exits non-zero: the last rollout was rolled back)"
gantry status --app sample-app --namespace "$NS" || true
say "done — the app keeps serving at $(url) (kubeconfig: $KUBECONFIG)"
