#!/usr/bin/env bash
# Builds Traefik (the stack's Gateway API data plane) from its official Go module
# github.com/traefik/traefik/v3 into the tools cache, keyed by version, so only the
# first run on a machine pays (measured cold: 5.6 min on 2 cores, ~800 MB of modules).
#
# `go install github.com/traefik/traefik/v3/cmd/traefik@VERSION` is refused: Traefik's
# go.mod has replace directives (its forks of go-http-auth and mux, and a local
# ./pkg/config/dynamic/ext module), and `go install pkg@version` rejects a main module
# with replaces. So the module's source is taken from the Go module cache, copied to a
# writable directory, and built there as the main module, which honours its replaces.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.7.13}"
CACHE="${GANTRY_CACHE:-$HOME/.cache/gantry}"
OUT="$CACHE/tools/traefik-$TRAEFIK_VERSION"

if [[ -x "$OUT/traefik" ]]; then echo "traefik $TRAEFIK_VERSION cached in $OUT"; exit 0; fi

WORK="$CACHE/tools/traefik-$TRAEFIK_VERSION.src"
dir="$(go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$dir" ]] || { echo "go mod download gave no source directory for traefik $TRAEFIK_VERSION" >&2; exit 1; }
# The module cache is read-only; the copy is where the adjustments below are made.
rm -rf "$WORK"
mkdir -p "$(dirname "$WORK")"
cp -r "$dir" "$WORK"
chmod -R u+w "$WORK"
cd "$WORK"

# Three adjustments, each forced by what the module proxy serves here, none touching the
# Gateway provider or the proxying path. Each checks that its target is as expected, so
# a version bump that changes them fails here rather than building something else.
#
# 1. The replace `github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext` names
#    a nested module, and a module zip never includes nested modules; the proxy does not
#    serve that module on its own either. In open-source Traefik it only declares empty
#    extension structs that dynamic.HTTPConfiguration and dynamic.Router embed.
[[ ! -e pkg/config/dynamic/ext ]] && grep -q '^replace github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext$' go.mod \
  || { echo "traefik $TRAEFIK_VERSION: the dynamic/ext replace is not as expected; revisit build-traefik.sh" >&2; exit 1; }
mkdir -p pkg/config/dynamic/ext
printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' > pkg/config/dynamic/ext/go.mod
cat > pkg/config/dynamic/ext/ext.go <<'EOF'
// Package ext is the extension point of Traefik's dynamic configuration: empty in the
// open-source build (recreated by gantry's build-traefik.sh; see there).
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
EOF
# 2. The proxy refuses Traefik's fork github.com/containous/go-http-auth (403). The
#    basic/digest auth middlewares build against the upstream it forked,
#    github.com/abbot/go-http-auth v0.4.0 (served), plus the two functions the fork
#    added that they call: CheckSecret (v0.4.0's own htpasswd comparison, exported) and
#    DigestAuth.RequireAuthStale (RequireAuth's challenge with stale=true, RFC 7616).
grep -q '^[[:space:]]*github.com/abbot/go-http-auth => github.com/containous/go-http-auth ' go.mod \
  || { echo "traefik $TRAEFIK_VERSION: the go-http-auth replace is not as expected; revisit build-traefik.sh" >&2; exit 1; }
auth_dir="$(go mod download -json github.com/abbot/go-http-auth@v0.4.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
mkdir -p .gantry && cp -r "$auth_dir" .gantry/go-http-auth && chmod -R u+w .gantry/go-http-auth
rm -rf .gantry/go-http-auth/examples
printf 'module github.com/abbot/go-http-auth\n\ngo 1.12\n' > .gantry/go-http-auth/go.mod
cat > .gantry/go-http-auth/gantry_compat.go <<'EOF'
package auth

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckSecret reports whether password matches secret, an htpasswd entry (MD5-crypt,
// {SHA} or bcrypt), with the same comparison BasicAuth.CheckAuth uses.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale is RequireAuth for a request whose nonce has gone stale: the
// challenge says stale=true, so the client retries with the new nonce on its own.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	if len(a.clients) > a.ClientCacheSize+a.ClientCacheTolerance {
		a.Purge(a.ClientCacheTolerance * 2)
	}
	nonce := RandomKey()
	a.clients[nonce] = &digest_client{nc: 0, last_seen: time.Now().UnixNano()}
	w.Header().Set(contentType, a.Headers.V().UnauthContentType)
	w.Header().Set(a.Headers.V().Authenticate,
		fmt.Sprintf(`Digest realm="%s", nonce="%s", opaque="%s", algorithm="MD5", qop="auth", stale=true`,
			a.Realm, nonce, a.Opaque))
	w.WriteHeader(a.Headers.V().UnauthCode)
	w.Write([]byte(a.Headers.V().UnauthResponse))
}
EOF
go mod edit -replace github.com/abbot/go-http-auth=./.gantry/go-http-auth
# 3. lego's DNS-01 provider registry imports ~170 DNS vendors' SDKs, 14 of which the proxy
#    refuses (403). The stack never asks for ACME certificates, so the ACME provider's one
#    call into that registry becomes an error naming the provider.
acme=pkg/provider/acme/provider.go
grep -q '^	"github.com/go-acme/lego/v5/providers/dns"$' "$acme" && grep -q 'provider, err = dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)' "$acme" \
  || { echo "traefik $TRAEFIK_VERSION: the ACME DNS provider call is not as expected; revisit build-traefik.sh" >&2; exit 1; }
sed -i -e '/^	"github.com\/go-acme\/lego\/v5\/providers\/dns"$/d' \
  -e 's/provider, err = dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)/provider, err = nil, fmt.Errorf("ACME DNS challenge providers are not in this build (gantry test stack): %s", p.DNSChallenge.Provider)/' "$acme"
mkdir -p "$OUT"
start=$SECONDS
# -s -w and -trimpath as Traefik's own Makefile builds it; the version shows in its logs.
# -mod=mod lets go record go.sum lines the adjustments need, in the copy only.
CGO_ENABLED=0 go build -mod=mod -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION -X github.com/traefik/traefik/v3/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
  -o "$OUT/traefik.tmp" ./cmd/traefik &
build_pid=$!
while ! wait_with_timeout "$build_pid" 60; do echo "still building traefik ($((SECONDS - start)) s)"; done
wait "$build_pid" || { echo "go build of traefik $TRAEFIK_VERSION failed" >&2; exit 1; }
mv "$OUT/traefik.tmp" "$OUT/traefik"
# Keep the RBAC rules Traefik's docs give its Gateway provider, for this version; the
# source copy itself (~40 MB) is not needed once the binary exists.
cp docs/content/reference/dynamic-configuration/kubernetes-gateway-rbac.yml "$OUT/gateway-rbac.yml"
cd /
rm -rf "$WORK"
echo "built traefik $TRAEFIK_VERSION in $((SECONDS - start)) s ($OUT/traefik)"
