#!/usr/bin/env bash
# A client-go exec credential plugin for the local stack, standing in for what
# `aws eks get-token`, `gke-gcloud-auth-plugin` or `kubelogin` do for real clusters:
# it prints an ExecCredential (client.authentication.k8s.io/v1) on stdout, carrying a
# short-lived bearer token, and the client (kubectl, @kubernetes/client-node) sends it.
#
# The token belongs to the ServiceAccount kube-system/gantry-exec (bound to
# cluster-admin by stack.sh) and is minted fresh on every call through the TokenRequest
# API, so a client that calls the plugin again after expirationTimestamp gets a new,
# valid one. Minting uses the stack's admin client certificate: this is a test stack,
# and the point is the exec flow, not the secrecy of the minting step.
#
# The stack copies this script to $GANTRY_STACK_DIR/bin/ and the exec kubeconfig names
# that copy, so the kubeconfig keeps working from any clone of the repository.
set -euo pipefail
STATE="${GANTRY_STACK_DIR:-$HOME/.cache/gantry/stack}"
PKI="$STATE/pki"
SERVER="${GANTRY_EXEC_SERVER:-https://127.0.0.1:6443}"
# An hour covers a whole test run on one token. A test of expiry-driven refresh can set
# GANTRY_EXEC_TOKEN_SECONDS lower (600 s is the shortest the API server grants).
SECONDS_VALID="${GANTRY_EXEC_TOKEN_SECONDS:-3600}"

# (A user agent other than curl's keeps the API server from pretty-printing the answer.)
resp="$(curl -fsS -A gantry-exec-credential --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  -X POST -H 'Content-Type: application/json' \
  -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":$SECONDS_VALID}}" \
  "$SERVER/api/v1/namespaces/kube-system/serviceaccounts/gantry-exec/token")" \
  || { echo "gantry exec credential: TokenRequest for kube-system/gantry-exec failed (is the stack up?)" >&2; exit 1; }

# A token is base64url segments joined by dots and a timestamp is RFC 3339: neither holds
# a quote, so sed extracts both without jq.
token="$(printf '%s' "$resp" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')"
expires="$(printf '%s' "$resp" | sed -n 's/.*"expirationTimestamp": *"\([^"]*\)".*/\1/p')"
[[ -n "$token" && -n "$expires" ]] || { echo "gantry exec credential: no token in the TokenRequest answer: $resp" >&2; exit 1; }

printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$token" "$expires"
