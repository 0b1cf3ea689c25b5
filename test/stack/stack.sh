#!/usr/bin/env bash
# The local delivery stack: Docker Engine, an OCI registry, a single-node Kubernetes
# cluster running real containers (containerd + runc + CNI bridge + kube-proxy), and
# Prometheus. Every part is real; every part is started by PID and stopped by PID.
#
#   stack.sh up       install what is missing, start what is not running (idempotent)
#   stack.sh down     stop everything this script started and remove its state
#   stack.sh status   one line per part
#   stack.sh env      print the environment variables tests use
#
# On top of the cluster: a second kubeconfig that authenticates through an exec
# credential plugin (as EKS/GKE/AKS kubeconfigs do), the Gateway API CRDs, and Traefik
# on the host as a real Gateway data plane that routes to pod IPs over the CNI bridge.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
K8S_VERSION="${K8S_VERSION:-v1.33.13}"
CACHE="${GANTRY_CACHE:-$HOME/.cache/gantry}"
STATE="${GANTRY_STACK_DIR:-$CACHE/stack}"
K8S_BIN="$CACHE/k8s/$K8S_VERSION/bin"
RUN="$STATE/run"
LOGS="$STATE/logs"
PKI="$STATE/pki"
NODE_NAME="gantry-node"
# A private address on the loopback device: the API server refuses to advertise a
# loopback address, and this keeps all cluster traffic on this machine.
NODE_IP="10.201.0.1"
POD_CIDR="10.88.0.0/16"
SERVICE_CIDR="10.96.0.0/16"
REGISTRY="127.0.0.1:5000"
REGISTRY_HOST="localhost:5000"
PROM_ADDR="127.0.0.1:9090"
DOCKER_SOCK="$RUN/docker.sock"
CONTAINERD_SOCK="$RUN/containerd.sock"
KUBECONFIG_FILE="$STATE/kubeconfig"
# A kubeconfig whose user is an exec credential plugin (exec-credential.sh) minting
# tokens for the ServiceAccount kube-system/gantry-exec.
EXEC_KUBECONFIG_FILE="$STATE/kubeconfig-exec"
EXEC_SA="gantry-exec"
# Gateway API: the standard-channel CRDs of the version Traefik is built against (its
# go.mod requires sigs.k8s.io/gateway-api v1.6.1), and the Gateway it serves.
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.6.1}"
TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.7.13}"
GATEWAY_PORT=8088
TRAEFIK_ADMIN="127.0.0.1:8089"
GATEWAY_CLASS="traefik"
GATEWAY_NAME="gantry-gateway"
GATEWAY_NAMESPACE="gantry-system"
SAMPLE_IMAGE="$REGISTRY_HOST/gantry/sample-app"
PAUSE_IMAGE="$REGISTRY_HOST/gantry/pause:3.10"
export PATH="$K8S_BIN:/usr/sbin:/sbin:$PATH"

T0=$SECONDS
phase_start=$SECONDS
log() { printf '[stack %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
phase() { phase_start=$SECONDS; log "$*"; }
phase_done() { log "  done: $1 ($((SECONDS - phase_start)) s)"; }
die() { log "ERROR: $*"; exit 1; }

# A process counts as alive unless it is gone or a zombie waiting for its reaper.
alive() { kill -0 "$1" 2>/dev/null && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat" 2>/dev/null; }
# …and is still the process we started: a PID file left by an earlier session may name
# a PID that now belongs to something else.
pid_alive() {
  [[ -f "$RUN/$1.pid" ]] || return 1
  local pid; pid="$(cat "$RUN/$1.pid")"
  alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$1"
}


# shellcheck source=lib.sh
source "$HERE/lib.sh"

# start NAME CMD...: runs CMD in the background with its log and PID under $STATE.
start() {
  local name="$1"; shift
  if pid_alive "$name"; then return 0; fi
  mkdir -p "$RUN" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds; shows the log tail on timeout.
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      log "timed out after ${limit}s waiting for $what"
      [[ -f "$LOGS/$what.log" ]] && tail -n 30 "$LOGS/$what.log" | sed 's/^/    /'
      return 1
    fi
    sleep 0.5
  done
}

kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
# api PATH: a GET on the API server as admin, for cheap checks (one curl, no kubectl).
# The user agent keeps the answer compact: the API server pretty-prints JSON for curl's.
api() { curl -fsS -A gantry-stack --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:6443$1" 2>/dev/null; }

# ---------------------------------------------------------------------------- install
install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v busybox >/dev/null || missing+=(busybox-static)
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    phase "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d keeps the packages from starting their own services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
    # Debian's packages may have started their daemons anyway; the stack runs its own.
    for svc in docker containerd prometheus etcd docker-registry; do service "$svc" stop >/dev/null 2>&1 || true; done
    phase_done "packages"
  fi
}

build_k8s() {
  local need=0
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do [[ -x "$K8S_BIN/$b" ]] || need=1; done
  if ((need)); then
    phase "building Kubernetes $K8S_VERSION server binaries from k8s.io/kubernetes (first run only; ~20-30 min on 2 cores)"
    K8S_VERSION="$K8S_VERSION" GANTRY_CACHE="$CACHE" bash "$HERE/build-k8s.sh" 2>&1 | grep -v '^go: downloading' | sed 's/^/    /'
    phase_done "kubernetes binaries"
  fi
}

# Tools the tests use that Debian does not package: helm (chart rendering) and buildx
# (the build-push action's buildx path). Built from their Go modules once per machine.
TOOLS="$CACHE/tools"
HELM_VERSION="v3.19.0"
BUILDX_VERSION="v0.38.2"
ACTIONLINT_VERSION="v1.7.12"
ACT_VERSION="v0.2.89"
# build_tool NAME VERSION PACKAGE DIR: `go install PACKAGE@VERSION` into DIR unless DIR/NAME exists.
build_tool() {
  local name="$1" version="$2" package="$3" dir="$4"
  [[ -x "$dir/$name" ]] && return 0
  phase "building $name $version from its Go module (first run only)"
  mkdir -p "$dir"
  { GOBIN="$dir" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "$package@$version" 2>&1 | grep -v '^go: downloading' | sed 's/^/    /' || true; } &
  local pid=$!
  while ! wait_with_timeout "$pid" 60; do log "  still building $name ($((SECONDS - phase_start)) s)"; done
  wait "$pid" || true
  [[ -x "$dir/$name" ]] || die "$name did not build"
  phase_done "$name"
}

build_tools() {
  build_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint "$TOOLS"
  build_tool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$TOOLS"
  build_tool buildx "$BUILDX_VERSION" github.com/docker/buildx/cmd/buildx "$TOOLS/buildx"
  build_tool act "$ACT_VERSION" github.com/nektos/act "$TOOLS"
}

# Traefik, the Gateway API data plane. Its go.mod has replace directives, which
# `go install pkg@version` (build_tool) refuses; build-traefik.sh builds the module's
# source as the main module instead. Keyed by version, so a bump rebuilds.
TRAEFIK_DIR="$TOOLS/traefik-$TRAEFIK_VERSION"
build_traefik() {
  [[ -x "$TRAEFIK_DIR/traefik" ]] && return 0
  phase "building Traefik $TRAEFIK_VERSION from github.com/traefik/traefik/v3 (first run only; ~6 min on 2 cores, ~800 MB of modules)"
  TRAEFIK_VERSION="$TRAEFIK_VERSION" GANTRY_CACHE="$CACHE" bash "$HERE/build-traefik.sh" 2>&1 | grep -v '^go: downloading' | sed 's/^/    /'
  [[ -x "$TRAEFIK_DIR/traefik" ]] || die "traefik did not build"
  phase_done "traefik"
}

# ---------------------------------------------------------------------------- pki
gen_cert() { # name CN O [SANs]
  local name="$1" cn="$2" org="$3" sans="${4:-}"
  [[ -f "$PKI/$name.crt" ]] && return 0
  local subj="/CN=$cn"; [[ -n "$org" ]] && subj="/O=$org/CN=$cn"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans"
  } > "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

write_kubeconfig() { # file user
  local file="$1" user="$2"
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gantry
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://127.0.0.1:6443
users:
- name: $user
  user:
    client-certificate: $PKI/$user.crt
    client-key: $PKI/$user.key
contexts:
- name: gantry
  context: {cluster: gantry, user: $user, namespace: default}
current-context: gantry
EOF
}

setup_pki() {
  [[ -f "$PKI/.complete" ]] && return 0
  phase "generating TLS certificates"
  mkdir -p "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=gantry-local-ca" -days 3650 -sha256 -out "$PKI/ca.crt" 2>/dev/null
  fi
  gen_cert apiserver kube-apiserver "" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1"
  gen_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  gen_cert admin gantry-admin system:masters
  gen_cert controller-manager system:kube-controller-manager ""
  gen_cert scheduler system:kube-scheduler ""
  gen_cert kube-proxy system:kube-proxy ""
  gen_cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  [[ -f "$PKI/sa.key" ]] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  for u in admin controller-manager scheduler kube-proxy kubelet; do write_kubeconfig "$PKI/$u.kubeconfig" "$u"; done
  cp "$PKI/admin.kubeconfig" "$KUBECONFIG_FILE"
  touch "$PKI/.complete"
  phase_done "certificates"
}

# ---------------------------------------------------------------------------- docker + registry
docker_up() { DOCKER_HOST="unix://$DOCKER_SOCK" docker version >/dev/null 2>&1; }

start_docker() {
  if docker_up; then log "docker: already up"; return 0; fi
  phase "starting Docker Engine (dockerd)"
  mkdir -p "$STATE/docker" "$STATE/docker-exec"
  # No iptables rules from Docker: the cluster owns the host's forwarding rules.
  start dockerd dockerd --host "unix://$DOCKER_SOCK" --data-root "$STATE/docker" --exec-root "$STATE/docker-exec" \
    --pidfile "$RUN/dockerd.inner.pid" --iptables=false --ip-masq=false --bip 172.30.0.1/24 --storage-driver overlay2
  wait_for dockerd 60 docker_up || die "dockerd did not start; see $LOGS/dockerd.log"
  phase_done "docker"
}

registry_up() { curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; }

start_registry() {
  if registry_up; then log "registry: already up"; return 0; fi
  phase "starting the OCI registry on $REGISTRY"
  mkdir -p "$STATE/registry"
  cat > "$STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $STATE/registry}
  delete: {enabled: true}
http:
  addr: $REGISTRY
EOF
  start registry docker-registry serve "$STATE/registry.yml"
  wait_for registry 30 registry_up || die "registry did not start; see $LOGS/registry.log"
  phase_done "registry"
}

# build_image NAME DIR TAG [ldflags]: a static Go binary in a FROM-scratch image, pushed to the registry.
build_image() {
  local name="$1" dir="$2" tag="$3" ldflags="${4:-}"
  local ctx="$STATE/build/$name"
  mkdir -p "$ctx"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w $ldflags" -o "$ctx/$name" .)
  cp "$dir/Dockerfile" "$ctx/Dockerfile"
  DOCKER_HOST="unix://$DOCKER_SOCK" docker build -q -t "$tag" "$ctx" >"$LOGS/image-build.log" 2>&1 \
    || { tail -n 20 "$LOGS/image-build.log"; die "docker build of $tag failed"; }
  DOCKER_HOST="unix://$DOCKER_SOCK" docker push -q "$tag" >>"$LOGS/image-build.log" 2>&1 \
    || { tail -n 20 "$LOGS/image-build.log"; die "docker push of $tag failed"; }
}

image_in_registry() { # repo tag
  curl -fs -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REGISTRY/v2/$1/manifests/$2"
}

# The sources the images were last built from, so an edited app is rebuilt at the next `up`.
IMAGES_STAMP="$STATE/build/images.sha256"
images_source_hash() { (cd "$REPO/test/app" && find pause sample-app -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1); }

images_current() {
  [[ -f "$IMAGES_STAMP" && "$(cat "$IMAGES_STAMP")" == "$(images_source_hash)" ]] \
    && image_in_registry gantry/pause 3.10 && image_in_registry gantry/sample-app v1 && image_in_registry gantry/sample-app v2
}

build_images() {
  if images_current; then log "images: already in the registry"; return 0; fi
  phase "building images: pause, sample-app:v1, sample-app:v2"
  build_image pause "$REPO/test/app/pause" "$PAUSE_IMAGE"
  for v in v1 v2; do
    build_image sample-app "$REPO/test/app/sample-app" "$SAMPLE_IMAGE:$v" "-X main.version=$v"
  done
  images_source_hash > "$IMAGES_STAMP"
  phase_done "images"
}

# ---------------------------------------------------------------------------- kubernetes
apiserver_up() { curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" https://127.0.0.1:6443/readyz >/dev/null 2>&1; }
etcd_up() { curl -fsS http://127.0.0.1:2379/health 2>/dev/null | grep -q '"health":"true"'; }
containerd_up() { [[ -S "$CONTAINERD_SOCK" ]] && ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }

setup_network() {
  ip addr show dev lo | grep -q "$NODE_IP/32" || ip addr add "$NODE_IP/32" dev lo
  modprobe br_netfilter 2>/dev/null || true
  modprobe overlay 2>/dev/null || true
  sysctl -qw net.ipv4.ip_forward=1 || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Let the host reach NodePorts on 127.0.0.1.
  sysctl -qw net.ipv4.conf.all.route_localnet=1 2>/dev/null || true
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
  cat > "$STATE/cni/net.d/10-gantry.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "gantry",
  "plugins": [
    {
      "type": "bridge", "bridge": "gantry0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

start_etcd() {
  if etcd_up; then log "etcd: already up"; return 0; fi
  phase "starting etcd ($(etcd --version 2>/dev/null | head -1))"
  mkdir -p "$STATE/etcd"
  start etcd etcd --name gantry --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster gantry=http://127.0.0.1:2380 --quota-backend-bytes 4294967296
  wait_for etcd 30 etcd_up || die "etcd did not start; see $LOGS/etcd.log"
  phase_done "etcd"
}

start_containerd() {
  if containerd_up; then log "containerd: already up"; return 0; fi
  phase "starting containerd"
  mkdir -p "$STATE/containerd" "$STATE/containerd-state" "$STATE/containerd-certs/$REGISTRY_HOST"
  cat > "$STATE/containerd-certs/$REGISTRY_HOST/hosts.toml" <<EOF
server = "http://$REGISTRY_HOST"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
  cat > "$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$STATE/containerd-state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_cdi = false
  # This sandbox forbids lowering oom_score_adj; keep scores >= containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd-certs"
EOF
  start containerd containerd --config "$STATE/containerd.toml"
  wait_for containerd 30 containerd_up || die "containerd did not start; see $LOGS/containerd.log"
  phase_done "containerd"
}

start_control_plane() {
  if apiserver_up; then log "kube-apiserver: already up"; else
    phase "starting kube-apiserver $K8S_VERSION"
    start kube-apiserver kube-apiserver \
      --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
      --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
      --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
      --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
      --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
      --service-account-issuer=https://kubernetes.default.svc.cluster.local \
      --service-cluster-ip-range="$SERVICE_CIDR" --authorization-mode=Node,RBAC \
      --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false \
      --event-ttl=30m --v=1
    wait_for kube-apiserver 120 apiserver_up || die "kube-apiserver did not become ready; see $LOGS/kube-apiserver.log"
    phase_done "kube-apiserver"
  fi
  if ! pid_alive kube-controller-manager; then
    phase "starting kube-controller-manager and kube-scheduler"
    start kube-controller-manager kube-controller-manager \
      --kubeconfig="$PKI/controller-manager.kubeconfig" \
      --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
      --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
      --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
      --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
      --allocate-node-cidrs=false --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" \
      --node-monitor-grace-period=20s --v=1
  fi
  if ! pid_alive kube-scheduler; then
    start kube-scheduler kube-scheduler --kubeconfig="$PKI/scheduler.kubeconfig" \
      --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
      --leader-elect=false --bind-address=127.0.0.1 --v=1
    phase_done "controller-manager and scheduler"
  fi
}

node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}

start_node() {
  if pid_alive kubelet && pid_alive kube-proxy && node_ready; then log "node: already up"; return 0; fi
  phase "starting kubelet and kube-proxy (node $NODE_NAME, $NODE_IP)"
  mkdir -p "$STATE/kubelet"
  cat > "$STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
healthzBindAddress: 127.0.0.1
resolvConf: /etc/resolv.conf
# No DNS add-on runs here; pointing "cluster DNS" at the host's resolver keeps pods on
# the host's DNS without a MissingClusterDNS warning on every pod.
clusterDNS: [$(awk '/^nameserver/{print $2; exit}' /etc/resolv.conf)]
clusterDomain: cluster.local
serializeImagePulls: false
maxPods: 110
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
EOF
  start kubelet kubelet --config="$STATE/kubelet-config.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
    --root-dir="$STATE/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  cat > "$STATE/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {syncPeriod: 5s, minSyncPeriod: 0s, localhostNodePorts: true}
EOF
  start kube-proxy kube-proxy --config="$STATE/kube-proxy-config.yaml" --hostname-override="$NODE_NAME" --v=1
  wait_for kubelet 120 node_ready || die "node $NODE_NAME did not become Ready; see $LOGS/kubelet.log"
  phase_done "node Ready"
}

# The default ServiceAccount must exist before pods can be created in a namespace.
wait_cluster_usable() {
  wait_for kube-controller-manager 60 kc -n default get serviceaccount default || die "default ServiceAccount never appeared"
}

# ---------------------------------------------------------------------------- exec credential plugin
# Real clusters hand out kubeconfigs whose user is an exec plugin (aws eks get-token,
# gke-gcloud-auth-plugin, kubelogin) rather than a certificate; Gantry's API client must
# handle them. This one mints ServiceAccount tokens (exec-credential.sh).
EXEC_PLUGIN="$STATE/bin/gantry-exec-credential"

# The plugin is copied into the state directory so that the kubeconfig names a path that
# outlives the clone it came from (CI works in a fresh clone each run).
write_exec_kubeconfig() {
  mkdir -p "$STATE/bin"
  install -m 0755 "$HERE/exec-credential.sh" "$EXEC_PLUGIN"
  cat > "$EXEC_KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gantry
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://127.0.0.1:6443
users:
- name: $EXEC_SA
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $EXEC_PLUGIN
      env:
      - {name: GANTRY_STACK_DIR, value: $STATE}
      interactiveMode: Never
      provideClusterInfo: false
contexts:
- name: gantry-exec
  context: {cluster: gantry, user: $EXEC_SA, namespace: default}
current-context: gantry-exec
EOF
}

# Up when the plugin's token, used as a bearer token, lists namespaces.
exec_auth_up() {
  [[ -x "$EXEC_PLUGIN" && -f "$EXEC_KUBECONFIG_FILE" ]] || return 1
  local token
  token="$(GANTRY_STACK_DIR="$STATE" "$EXEC_PLUGIN" 2>/dev/null | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
  [[ -n "$token" ]] && curl -fsS -o /dev/null --cacert "$PKI/ca.crt" -H "Authorization: Bearer $token" https://127.0.0.1:6443/api/v1/namespaces 2>/dev/null
}

setup_exec_auth() {
  write_exec_kubeconfig
  if exec_auth_up; then log "exec credential kubeconfig: already set up"; return 0; fi
  phase "setting up the exec credential kubeconfig (ServiceAccount kube-system/$EXEC_SA)"
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: $EXEC_SA, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $EXEC_SA}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: $EXEC_SA, namespace: kube-system}
EOF
  # RBAC takes effect once the API server's authorizer cache has the binding.
  wait_for exec-credential 30 exec_auth_up || die "the exec credential kubeconfig does not authenticate; try: kubectl --kubeconfig $EXEC_KUBECONFIG_FILE get ns"
  phase_done "exec credential kubeconfig"
}

# ---------------------------------------------------------------------------- gateway api + traefik
GATEWAY_CRD_GROUP="gateway.networking.k8s.io"

# The CRDs carry the bundle version they came from; HTTPRoute's stands for the set.
# (Answers are read whole before grep -q: with pipefail, a reader that stops early would
# fail the writer and so the check.)
gateway_crds_up() {
  local crd
  crd="$(api "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httproutes.$GATEWAY_CRD_GROUP")" || return 1
  grep -q "\"$GATEWAY_CRD_GROUP/bundle-version\":\"$GATEWAY_API_VERSION\"" <<<"$crd"
}

install_gateway_api() {
  if gateway_crds_up; then log "gateway API $GATEWAY_API_VERSION CRDs: already installed"; return 0; fi
  phase "installing Gateway API $GATEWAY_API_VERSION CRDs (standard channel) from the sigs.k8s.io/gateway-api module"
  # The module zip holds config/crd/standard/*.yaml; the Go module cache keeps it per machine.
  local dir
  dir="$(cd / && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir/config/crd/standard" ]] || die "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION has no config/crd/standard"
  # Server-side: HTTPRoute's CRD is too large for the last-applied annotation of a
  # client-side apply. The directory also holds the ValidatingAdmissionPolicy that
  # guards against downgrades and channel mixing, which the upstream install applies too.
  kc apply --server-side --force-conflicts -f "$dir/config/crd/standard/" >/dev/null
  local crds=() f
  for f in "$dir"/config/crd/standard/"$GATEWAY_CRD_GROUP"_*.yaml; do
    grep -q '^kind: CustomResourceDefinition' "$f" || continue
    f="${f##*/}"; f="${f#"$GATEWAY_CRD_GROUP"_}"; crds+=("crd/${f%.yaml}.$GATEWAY_CRD_GROUP")
  done
  kc wait --for=condition=Established --timeout=60s "${crds[@]}" >/dev/null || die "Gateway API CRDs did not become Established"
  phase_done "gateway API CRDs (${#crds[@]})"
}

traefik_running() { pid_alive traefik && traefik_up; }
traefik_up() { [[ "$(curl -fsS "http://$TRAEFIK_ADMIN/ping" 2>/dev/null)" == "OK" ]]; }

# Programmed is the Gateway's own condition that the data plane serves its listeners.
# It outlives a Traefik that has stopped, so checks pair it with traefik_running.
# The API server stores custom resources with their keys sorted, so status.conditions
# comes before status.listeners: the first Programmed condition is the Gateway's.
gateway_programmed() {
  local gw
  gw="$(api "/apis/$GATEWAY_CRD_GROUP/v1/namespaces/$GATEWAY_NAMESPACE/gateways/$GATEWAY_NAME")" || return 1
  grep -o '{[^{}]*"type":"Programmed"[^{}]*}' <<<"$gw" | sed -n 1p | grep -q '"status":"True"'
}

start_traefik() {
  if traefik_running && gateway_programmed; then log "traefik gateway: already up"; return 0; fi
  phase "starting Traefik $TRAEFIK_VERSION: Gateway $GATEWAY_NAMESPACE/$GATEWAY_NAME on 127.0.0.1:$GATEWAY_PORT"
  # Traefik gets its own identity with the RBAC its docs give the Gateway provider (taken
  # from the same module version), not the admin's: a missing permission shows up here.
  gen_cert traefik gantry-traefik ""
  write_kubeconfig "$PKI/traefik.kubeconfig" traefik
  {
    awk '/^---/{exit} {print}' "$TRAEFIK_DIR/gateway-rbac.yml" | sed 's/^  name: gateway-role$/  name: gantry-traefik-gateway/'
    cat <<EOF
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: gantry-traefik-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gantry-traefik-gateway}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: gantry-traefik}
---
apiVersion: v1
kind: Namespace
metadata: {name: $GATEWAY_NAMESPACE}
---
apiVersion: $GATEWAY_CRD_GROUP/v1
kind: GatewayClass
metadata: {name: $GATEWAY_CLASS}
spec: {controllerName: traefik.io/gateway-controller}
---
# The listener's port picks Traefik's entrypoint with the same port ("web").
apiVersion: $GATEWAY_CRD_GROUP/v1
kind: Gateway
metadata: {name: $GATEWAY_NAME, namespace: $GATEWAY_NAMESPACE}
spec:
  gatewayClassName: $GATEWAY_CLASS
  listeners:
  - name: web
    protocol: HTTP
    port: $GATEWAY_PORT
    allowedRoutes: {namespaces: {from: All}}
EOF
  } | kc apply -f - >/dev/null
  cat > "$STATE/traefik.yml" <<EOF
global: {checkNewVersion: false, sendAnonymousUsage: false}
log: {level: INFO, noColor: true}
entryPoints:
  web: {address: "127.0.0.1:$GATEWAY_PORT"}
  traefik: {address: "$TRAEFIK_ADMIN"}
# /ping for the stack's health check; the API (read-only) at $TRAEFIK_ADMIN/api/http/routers
# shows what Traefik made of the routes when a test needs explaining.
ping: {entryPoint: traefik}
api: {insecure: true, dashboard: false}
providers:
  kubernetesGateway:
    # Traefik runs on the host, so the Gateway's address is the host's loopback.
    statusAddress: {ip: 127.0.0.1}
EOF
  # Traefik's Kubernetes client reads KUBECONFIG when it is not in a pod. It runs on the
  # host and forwards to pod IPs straight over the gantry0 bridge (no kube-proxy hop).
  start traefik env KUBECONFIG="$PKI/traefik.kubeconfig" "$TRAEFIK_DIR/traefik" --configFile="$STATE/traefik.yml"
  wait_for traefik 60 traefik_up || die "traefik did not start; see $LOGS/traefik.log"
  wait_for traefik 60 gateway_programmed \
    || { kc -n "$GATEWAY_NAMESPACE" get gateway "$GATEWAY_NAME" -o yaml | sed -n '/^status:/,$p' | sed 's/^/    /'; die "Gateway $GATEWAY_NAME not Programmed; see $LOGS/traefik.log"; }
  phase_done "traefik gateway"
}

# ---------------------------------------------------------------------------- prometheus
prom_up() { curl -fsS "http://$PROM_ADDR/-/ready" >/dev/null 2>&1; }

start_prometheus() {
  if prom_up && pid_alive pod-targets; then log "prometheus: already up"; return 0; fi
  phase "starting Prometheus on $PROM_ADDR (2 s scrape of pods annotated prometheus.io/scrape)"
  mkdir -p "$STATE/prometheus"
  # Debian's Prometheus has no Kubernetes service discovery; pod-targets.mjs keeps a
  # file_sd list of annotated pods current instead.
  [[ -f "$STATE/pod-targets.json" ]] || echo '[]' > "$STATE/pod-targets.json"
  start pod-targets node "$HERE/pod-targets.mjs" "$PKI/admin.kubeconfig" "$STATE/pod-targets.json"
  cat > "$STATE/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
scrape_configs:
- job_name: kubernetes-pods
  file_sd_configs:
  - files: [$STATE/pod-targets.json]
    refresh_interval: 2s
EOF
  start prometheus prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
    --web.listen-address="$PROM_ADDR" --storage.tsdb.retention.time=2h --web.enable-lifecycle
  wait_for prometheus 60 prom_up || die "prometheus did not start; see $LOGS/prometheus.log"
  phase_done "prometheus"
}

# ---------------------------------------------------------------------------- commands
# The machine's /usr/bin/kubectl is a dispatcher that asks the server for its version on
# every call, which doubles the cost of each one. When a client of the server's minor
# version is installed beside it, the stack puts that one first on PATH.
link_kubectl() {
  local minor; minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  local matched="/usr/lib/google-cloud-sdk/bin/kubectl.1.$minor"
  mkdir -p "$STATE/bin"
  if [[ -x "$matched" ]]; then ln -sf "$matched" "$STATE/bin/kubectl"; else rm -f "$STATE/bin/kubectl"; fi
}

write_env() {
  link_kubectl
  write_exec_kubeconfig
  cat > "$STATE/env" <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export DOCKER_HOST=unix://$DOCKER_SOCK
export GANTRY_REGISTRY=$REGISTRY_HOST
export GANTRY_SAMPLE_IMAGE=$SAMPLE_IMAGE
export GANTRY_PROMETHEUS_URL=http://$PROM_ADDR
export GANTRY_STACK_DIR=$STATE
export GANTRY_TOOLS_DIR=$TOOLS
export GANTRY_EXEC_KUBECONFIG=$EXEC_KUBECONFIG_FILE
export GANTRY_GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT
export GANTRY_GATEWAY_NAME=$GATEWAY_NAME
export GANTRY_GATEWAY_NAMESPACE=$GATEWAY_NAMESPACE
export GANTRY_GATEWAY_CLASS=$GATEWAY_CLASS
export PATH=$STATE/bin:$TOOLS:\$PATH
EOF
}

all_up() {
  docker_up && registry_up && etcd_up && containerd_up && apiserver_up && pid_alive kube-controller-manager \
    && pid_alive kube-scheduler && pid_alive kubelet && pid_alive kube-proxy && node_ready && prom_up && pid_alive pod-targets \
    && exec_auth_up && gateway_crds_up && traefik_running && gateway_programmed
}

cmd_up() {
  mkdir -p "$STATE" "$RUN" "$LOGS"
  if [[ -f "$PKI/.complete" ]] && [[ -x "$TOOLS/helm" && -x "$TOOLS/buildx/buildx" && -x "$TOOLS/actionlint" && -x "$TOOLS/act" && -x "$TRAEFIK_DIR/traefik" ]] && all_up; then
    # Images follow their sources: rebuilt here when test/app changed since they were built.
    build_images
    write_env
    log "already up (kubeconfig: $KUBECONFIG_FILE)"
    return 0
  fi
  # State left by an earlier session whose processes are gone (mounts, pod network,
  # stale PIDs) is cleared first, so every run starts from the same clean ground.
  if [[ -d "$STATE" ]] && ! docker_up && ! etcd_up && ! apiserver_up && ! containerd_up; then
    log "found state of a stack that is no longer running; clearing it"
    cmd_down >/dev/null
    mkdir -p "$STATE" "$RUN" "$LOGS"
  fi
  install_packages
  build_k8s
  build_tools
  build_traefik
  setup_pki
  setup_network
  start_docker
  start_registry
  build_images
  start_etcd
  start_containerd
  start_control_plane
  start_node
  wait_cluster_usable
  setup_exec_auth
  install_gateway_api
  start_traefik
  start_prometheus
  write_env
  log "stack up in $((SECONDS - T0)) s"
  log "kubeconfig: $KUBECONFIG_FILE"
  log "environment: source $STATE/env"
}


stop_pid() { # name
  local name="$1" f="$RUN/$1.pid"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if pid_alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

cmd_down() {
  # Pods first, so their containers and network namespaces go away with them.
  if pid_alive kubelet; then stop_pid kubelet; fi
  if containerd_up; then
    for ns in k8s.io moby default; do
      for t in $(ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
        ctr --address "$CONTAINERD_SOCK" -n "$ns" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
      done
    done
    sleep 1
  fi
  for name in traefik pod-targets kube-proxy kube-scheduler kube-controller-manager kube-apiserver prometheus containerd etcd registry dockerd; do
    stop_pid "$name"
  done
  # Leftover shims and containers of the runtimes this stack started.
  pkill -f "containerd-shim.*$STATE" 2>/dev/null || true
  for root in "$STATE/containerd-state" "$STATE/docker-exec"; do
    for c in $(runc --root "$root/io.containerd.runtime.v2.task/k8s.io" list -q 2>/dev/null); do runc --root "$root/io.containerd.runtime.v2.task/k8s.io" delete -f "$c" 2>/dev/null || true; done
  done
  # Unmount everything under the state directory, deepest first.
  if [[ -d "$STATE" ]]; then
    { grep -o " $STATE[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  # Network: the pod bridge, the node address and the cluster's iptables chains.
  ip link del gantry0 2>/dev/null || true
  ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
  for table in nat filter mangle; do
    iptables-save -t "$table" 2>/dev/null | grep -q KUBE- || continue
    iptables-save -t "$table" | grep -v -- 'KUBE-\|CNI-' | iptables-restore -T "$table" 2>/dev/null || true
  done
  { iptables -t nat -S 2>/dev/null || true; } | { grep -- '-A POSTROUTING .*CNI-' || true; } | sed 's/^-A/-D/' \
    | while read -r rule; do eval "iptables -t nat $rule" 2>/dev/null || true; done
  if [[ "${1:-}" != "--keep-cache" ]]; then
    rm -rf "$STATE"
  fi
  log "down"
}

cmd_status() {
  local ok=0
  row() { if $2; then printf '  %-24s up\n' "$1"; else printf '  %-24s DOWN\n' "$1"; ok=1; fi; }
  row "docker" docker_up
  row "registry $REGISTRY" registry_up
  row "etcd" etcd_up
  row "containerd" containerd_up
  row "kube-apiserver" apiserver_up
  row "kube-controller-manager" "pid_alive kube-controller-manager"
  row "kube-scheduler" "pid_alive kube-scheduler"
  row "kubelet" "pid_alive kubelet"
  row "kube-proxy" "pid_alive kube-proxy"
  row "node $NODE_NAME Ready" node_ready
  row "prometheus $PROM_ADDR" prom_up
  row "prometheus pod discovery" "pid_alive pod-targets"
  row "exec credential kubeconfig" exec_auth_up
  row "gateway API $GATEWAY_API_VERSION CRDs" gateway_crds_up
  row "traefik 127.0.0.1:$GATEWAY_PORT" traefik_running
  row "gateway $GATEWAY_NAME Programmed" gateway_programmed
  echo "  kubeconfig: $KUBECONFIG_FILE"
  echo "  exec kubeconfig: $EXEC_KUBECONFIG_FILE"
  return $ok
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  env) write_env; cat "$STATE/env" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
