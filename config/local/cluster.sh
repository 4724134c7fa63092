#!/usr/bin/env bash
# A single-node Kubernetes on this machine, built from the registries (config/local/README.md).
#
#   cluster.sh up       build what is missing (cached), start etcd, the control plane, containerd,
#                       kubelet and kube-proxy, wait until the node is Ready
#   cluster.sh down     stop everything by pid and leave the machine as it was found: bridges,
#                       routes, iptables chains, sysctls, mounts, cgroups, state folder
#   cluster.sh status   exit 0 if the API answers
#   cluster.sh env      print `export KUBECONFIG=...` and the kubectl path
#
# Networks, all on this machine only: the node address 10.250.0.1/24 on bridge fd-node0; pods on
# bridge fd-pod0 (10.244.0.0/24, no default route, no NAT, IP forwarding left off); Service VIPs
# in 10.96.0.0/16, routed into the dead-end bridge fd-svc0 so that a VIP kube-proxy does not
# translate goes nowhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
: "${CACHE:=$HOME/.cache/fraud-detector}"
: "${CLUSTER_STATE:=/var/lib/fraud-detector-cluster}"
S=$CLUSTER_STATE
K8S_BIN=$CACHE/local/bin/kubernetes-$K8S_VERSION
NODE_IP=10.250.0.1
NODE_NET=10.250.0.0/24
POD_NET=10.244.0.0/24
POD_GW=10.244.0.1
SVC_NET=10.96.0.0/16
API_VIP=10.96.0.1
DNS_VIP=10.96.0.10
NODE=fd-node
ETCD_PORT=12379
export KUBECONFIG=$S/pki/admin.kubeconfig

log() { printf '%s cluster: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }
kubectl() { "$K8S_BIN/kubectl" "$@"; }

# The sysctls kubelet, kube-proxy or this script may change; saved on up, restored on down.
SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.conf.all.route_localnet
net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward
net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
net.netfilter.nf_conntrack_tcp_timeout_close_wait kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

# Paths that kubelet and containerd hard-code outside the state folder: removed on down if this
# cluster created them.
HARDCODED="/var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/containerd /etc/cni/net.d"

pki() {
	local d=$S/pki
	[ -f "$d/done" ] && return 0
	mkdir -p "$d"; cd "$d"
	openssl genrsa -out ca.key 2048 2>/dev/null
	openssl req -x509 -new -key ca.key -sha256 -days 30 -subj /CN=fraud-detector-local-ca -out ca.crt 2>/dev/null
	openssl genrsa -out front-proxy-ca.key 2048 2>/dev/null
	openssl req -x509 -new -key front-proxy-ca.key -sha256 -days 30 -subj /CN=front-proxy-ca -out front-proxy-ca.crt 2>/dev/null
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	# cert NAME CN O SANS [CA]
	cert() {
		local name=$1 cn=$2 o=$3 sans=$4 ca=${5:-ca}
		openssl genrsa -out "$name.key" 2048 2>/dev/null
		local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o$subj"
		openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
		{ echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
		  echo "extendedKeyUsage=serverAuth,clientAuth"; [ -n "$sans" ] && echo "subjectAltName=$sans"; } > "$name.ext"
		openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 30 -sha256 \
			-extfile "$name.ext" -out "$name.crt" 2>/dev/null
	}
	cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$API_VIP,IP:$NODE_IP,IP:127.0.0.1"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
	cert front-proxy-client front-proxy-client "" "" front-proxy-ca
	cert admin admin system:masters ""
	cert controller-manager system:kube-controller-manager "" ""
	cert scheduler system:kube-scheduler "" ""
	cert kube-proxy system:kube-proxy "" ""
	cert kubelet "system:node:$NODE" system:nodes "DNS:$NODE,IP:$NODE_IP"
	for u in admin controller-manager scheduler kube-proxy kubelet; do
		cat > "$u.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    certificate-authority: $d/ca.crt
    server: https://$NODE_IP:6443
users:
- name: $u
  user:
    client-certificate: $d/$u.crt
    client-key: $d/$u.key
contexts:
- name: local
  context: {cluster: local, user: $u}
current-context: local
EOF
	done
	touch done; cd - >/dev/null
}

# start NAME CMD...: run in the background, log to $S/log/NAME.log, pid in $S/pid/NAME.
start() {
	local name=$1; shift
	mkdir -p "$S/log" "$S/pid"
	setsid "$@" >"$S/log/$name.log" 2>&1 < /dev/null &
	echo $! > "$S/pid/$name"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
	local t=$1 what=$2; shift 2
	for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
	die "timed out after ${t}s waiting for $what (logs in $S/log)"
}

network() {
	mkdir -p "$S/saved"
	[ -f "$S/saved/sysctl" ] || for k in $SYSCTLS; do
		v=$(sysctl -n "$k" 2>/dev/null) && printf '%s=%s\n' "$k" "$v"
	done > "$S/saved/sysctl"
	iptables-save > "$S/saved/iptables" 2>/dev/null || true
	for d in $HARDCODED; do [ -e "$d" ] || echo "$d"; done > "$S/saved/created-paths.tmp"
	[ -f "$S/saved/created-paths" ] || mv "$S/saved/created-paths.tmp" "$S/saved/created-paths"
	rm -f "$S/saved/created-paths.tmp"
	ip link show fd-node0 >/dev/null 2>&1 || { ip link add fd-node0 type bridge; ip addr add $NODE_IP/24 dev fd-node0; ip link set fd-node0 up; }
	ip link show fd-svc0 >/dev/null 2>&1 || { ip link add fd-svc0 type bridge; ip link set fd-svc0 up; }
	ip route replace $SVC_NET dev fd-svc0
	sysctl -qw net.bridge.bridge-nf-call-iptables=1
	mkdir -p "$S/cni/net.d" "$S/cni/cache"
	cat > "$S/cni/net.d/10-fd-pod.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "fd-pod",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "fd-pod0",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$S/cni/ipam",
        "ranges": [[{"subnet": "$POD_NET", "gateway": "$POD_GW"}]],
        "routes": [{"dst": "$NODE_NET"}, {"dst": "$SVC_NET"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": false}
  ]
}
EOF
}

containerd_up() {
	mkdir -p "$S/containerd"
	cat > "$S/containerd/config.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$S/containerd/containerd.sock"
[ttrpc]
  address = "$S/containerd/containerd.sock.ttrpc"
[debug]
  address = "$S/containerd/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
EOF
	start containerd containerd --config "$S/containerd/config.toml"
	wait_for 30 containerd ctr --address "$S/containerd/containerd.sock" version
}

control_plane() {
	local p=$S/pki
	start etcd etcd --name fd --data-dir "$S/etcd" --listen-client-urls http://127.0.0.1:$ETCD_PORT \
		--advertise-client-urls http://127.0.0.1:$ETCD_PORT --listen-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
		--initial-advertise-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) --initial-cluster fd=http://127.0.0.1:$((ETCD_PORT + 1))
	wait_for 30 etcd curl -sf http://127.0.0.1:$ETCD_PORT/health
	start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:$ETCD_PORT \
		--bind-address=$NODE_IP --advertise-address=$NODE_IP --secure-port=6443 \
		--service-cluster-ip-range=$SVC_NET --authorization-mode=Node,RBAC \
		--client-ca-file=$p/ca.crt --tls-cert-file=$p/apiserver.crt --tls-private-key-file=$p/apiserver.key \
		--kubelet-client-certificate=$p/apiserver-kubelet-client.crt --kubelet-client-key=$p/apiserver-kubelet-client.key \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file=$p/sa.pub --service-account-signing-key-file=$p/sa.key \
		--requestheader-client-ca-file=$p/front-proxy-ca.crt --requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User \
		--proxy-client-cert-file=$p/front-proxy-client.crt --proxy-client-key-file=$p/front-proxy-client.key \
		--enable-aggregator-routing=true --allow-privileged=false --profiling=false
	wait_for 90 kube-apiserver kubectl get --raw /readyz
	start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig=$p/controller-manager.kubeconfig \
		--authentication-kubeconfig=$p/controller-manager.kubeconfig --authorization-kubeconfig=$p/controller-manager.kubeconfig \
		--bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false --use-service-account-credentials=true \
		--service-account-private-key-file=$p/sa.key --root-ca-file=$p/ca.crt \
		--cluster-signing-cert-file=$p/ca.crt --cluster-signing-key-file=$p/ca.key \
		--service-cluster-ip-range=$SVC_NET --flex-volume-plugin-dir=$S/kubelet/flexvolume \
		--horizontal-pod-autoscaler-sync-period=15s
	start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig=$p/scheduler.kubeconfig \
		--authentication-kubeconfig=$p/scheduler.kubeconfig --authorization-kubeconfig=$p/scheduler.kubeconfig \
		--bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false
}

node_up() {
	local p=$S/pki
	mkdir -p "$S/kubelet" "$S/pod-logs"
	printf 'nameserver %s\n' "$DNS_VIP" > "$S/kubelet/resolv.conf"
	cat > "$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$S/containerd/containerd.sock
podLogsDir: $S/pod-logs
clusterDNS: [$DNS_VIP]
clusterDomain: cluster.local
resolvConf: $S/kubelet/resolv.conf
tlsCertFile: $p/kubelet.crt
tlsPrivateKeyFile: $p/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization:
  mode: Webhook
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard:
  memory.available: 200Mi
  nodefs.available: 2%
  imagefs.available: 2%
maxPods: 60
EOF
	# --containerd (deprecated, still read by the kubelet's cAdvisor): without it cAdvisor looks for
	# /run/containerd/containerd.sock, finds nothing, and /metrics/cadvisor has only pod-level
	# cgroups: no container, image or container-level CPU, which the CPU recording rules need.
	start kubelet "$K8S_BIN/kubelet" --config="$S/kubelet/config.yaml" --kubeconfig=$p/kubelet.kubeconfig \
		--node-ip=$NODE_IP --hostname-override=$NODE --root-dir="$S/kubelet/root" \
		--volume-plugin-dir="$S/kubelet/flexvolume" --containerd="$S/containerd/containerd.sock"
	start kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig=$p/kube-proxy.kubeconfig --proxy-mode=iptables \
		--cluster-cidr=$POD_NET --hostname-override=$NODE --conntrack-max-per-core=0 \
		--conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
		--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --nodeport-addresses=$NODE_NET
	wait_for 90 "node $NODE Ready" bash -c "$K8S_BIN/kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
}

up() {
	[ "$(id -u)" = 0 ] || die "needs root (bridges, iptables, containerd)"
	if status; then log "already up"; return 0; fi
	"$here/build.sh" kubernetes
	mkdir -p "$S"
	pki
	network
	containerd_up
	"$here/images.sh" pause
	control_plane
	node_up
	log "up: node $NODE Ready; export KUBECONFIG=$KUBECONFIG"
}

stop_pid() { # stop_pid NAME: SIGTERM, then SIGKILL after 20 s
	local f=$S/pid/$1 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

down() {
	[ -d "$S" ] || { log "not up"; return 0; }
	# The host services attack.sh started for the cluster (Kafka, MLflow), and Kafka's data folder.
	for f in "$S"/pid/host-*; do [ -e "$f" ] && stop_pid "${f##*/}"; done
	if [ -f "$S/kafka/data" ]; then rm -rf "$(cat "$S/kafka/data")"; fi
	# Pods first, while the runtime still answers, so their shims and network namespaces go.
	if [ -S "$S/containerd/containerd.sock" ]; then
		stop_pid kubelet
		local ctr="ctr --address $S/containerd/containerd.sock -n k8s.io"
		for t in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
		sleep 1
		for t in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks delete -f "$t" >/dev/null 2>&1 || true; done
		for c in $($ctr containers ls -q 2>/dev/null); do $ctr containers delete "$c" >/dev/null 2>&1 || true; done
	fi
	for n in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop_pid "$n"; done
	# containerd shims are their own session leaders: end any left under our state folder.
	pkill -KILL -f "containerd-shim-runc-v2 .*-address $S/containerd" 2>/dev/null || true
	pkill -KILL -f "containerd-shim.*$S" 2>/dev/null || true
	# Network namespaces and mounts under the state folder (deepest first).
	awk -v s="$S" '$2 ~ "^"s {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	# iptables: kube-proxy's own cleanup, then any KUBE-/CNI- chain left, then the saved rules.
	"$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
	if [ -f "$S/saved/iptables" ]; then iptables-restore < "$S/saved/iptables" 2>/dev/null || true; fi
	for ipt in iptables ip6tables; do
		for tbl in filter nat mangle; do
			# Jumps from the built-in chains first (a saved ruleset may be empty: nothing to restore).
			$ipt -t "$tbl" -S 2>/dev/null | awk '/^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-)/' |
				while read -r rule; do eval "$ipt -t $tbl ${rule/-A/-D}" 2>/dev/null || true; done
			for ch in $($ipt -t "$tbl" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
				$ipt -t "$tbl" -F "$ch" 2>/dev/null || true
			done
			for ch in $($ipt -t "$tbl" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
				$ipt -t "$tbl" -X "$ch" 2>/dev/null || true
			done
		done
	done
	ip route del $SVC_NET dev fd-svc0 2>/dev/null || true
	for b in fd-pod0 fd-svc0 fd-node0; do ip link del "$b" 2>/dev/null || true; done
	for v in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		[ "$(cat "/sys/class/net/$v/master/uevent" 2>/dev/null | sed -n 's/^INTERFACE=//p')" = fd-pod0 ] && ip link del "$v" 2>/dev/null || true
	done
	# cgroups kubelet made (cgroupfs driver): kubepods and its children, deepest first.
	for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice /sys/fs/cgroup/unified/kubepods; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	if [ -f "$S/saved/sysctl" ]; then
		while IFS='=' read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done < "$S/saved/sysctl"
	fi
	if [ -f "$S/saved/created-paths" ]; then
		while read -r d; do [ -n "$d" ] && rm -rf "$d"; done < "$S/saved/created-paths"
	fi
	rm -rf "$S"
	log "down: machine restored"
}

status() { [ -f "$S/pki/done" ] && kubectl get --raw /readyz >/dev/null 2>&1; }

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
env) printf 'export KUBECONFIG=%s\nexport PATH=%s:$PATH\n' "$KUBECONFIG" "$K8S_BIN" ;;
*) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
