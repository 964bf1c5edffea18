#!/usr/bin/env bash
# deploy/cluster.sh - a cluster of "nodes" on one machine, in network
# namespaces: for the demo and the multi-node tests.
#
#   cluster.sh up N        make a head and N nodes (needs root: ip netns)
#   cluster.sh down        remove them (and their shared-memory directories)
#   cluster.sh exec NODE CMD...
#                          run CMD on NODE (head, or 1..N) with its own network,
#                          its own host name (nodeI) and ULMA_DIR
#   cluster.sh hosts       the mpirun --host list (IP:slots per node)
#   cluster.sh check       can namespaces be made here? (exit 0 if so)
#
# Layout: a bridge in the root namespace with no address; the head
# (collector, mpirun, clustertop) at 10.77.0.1, node I at 10.77.0.(10+I),
# each joined to the bridge by a veth pair. Node I's segments live in
# /dev/shm/ulma-TAG/nodeI. Every name carries $ULMA_CLUSTER_TAG (default
# "demo"), so that clusters made by different runs never meet.
#
# mpirun reaches the nodes through deploy/netns-rsh, given as Open MPI's
# remote-launch agent (--mca plm_rsh_agent), which runs orted through
# "cluster.sh exec". Each node needs its own host name: Open MPI's shared
# memory transport names its files after it.
set -euo pipefail
tag=${ULMA_CLUSTER_TAG:-demo}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bridge="ub-$tag"
shm="/dev/shm/ulma-$tag"
slots=${ULMA_CLUSTER_SLOTS:-2}

usage() { sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

ns_of() { # node -> namespace
    if [[ $1 == head ]]; then echo "ulma-$tag-head"; else echo "ulma-$tag-n$1"; fi
}
ip_of() { if [[ $1 == head ]]; then echo 10.77.0.1; else echo "10.77.0.$((10 + $1))"; fi; }

nodes() { # the node numbers that exist
    ip netns list 2>/dev/null | sed -n "s/^ulma-$tag-n\([0-9]*\).*/\1/p" | sort -n
}

link() { # namespace address veth-name
    local ns=$1 addr=$2 veth=$3
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
}

up() {
    local n=$1
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 200 ]] || { echo "cluster.sh: up N: 1 to 200 nodes" >&2; exit 2; }
    if ip link show "$bridge" >/dev/null 2>&1; then
        echo "cluster.sh: cluster '$tag' exists already (cluster.sh down first)" >&2
        exit 1
    fi
    ip link add "$bridge" type bridge
    ip link set "$bridge" up
    link "$(ns_of head)" "$(ip_of head)" "uv-$tag-h"
    for ((i = 1; i <= n; i++)); do
        link "$(ns_of "$i")" "$(ip_of "$i")" "uv-$tag-$i"
        mkdir -p "$shm/node$i"
    done
    mkdir -p "$shm/head"
}

down() {
    local i
    for i in $(nodes); do
        ip netns pids "$(ns_of "$i")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$(ns_of "$i")" 2>/dev/null || true
    done
    ip netns pids "$(ns_of head)" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$(ns_of head)" 2>/dev/null || true
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$shm"
}

run_on() { # node cmd...
    local node=$1
    shift
    local ns
    ns=$(ns_of "$node")
    ip netns list | grep -q "^$ns\b" || { echo "cluster.sh: no node '$node' in cluster '$tag'" >&2; exit 2; }
    local name=node$node dir=$shm/node$node
    [[ $node == head ]] && name=head dir=$shm/head
    exec ip netns exec "$ns" unshare --uts /bin/sh -c \
        'hostname "$1"; export ULMA_DIR="$2"; shift 2; exec "$@"' sh "$name" "$dir" "$@"
}

check() {
    [[ $(id -u) -eq 0 ]] || { echo "not root"; return 1; }
    local probe="ulma-probe-$$"
    ip netns add "$probe" 2>/dev/null || { echo "ip netns add failed"; return 1; }
    ip netns exec "$probe" unshare --uts true 2>/dev/null || { ip netns del "$probe"; echo "unshare --uts failed"; return 1; }
    ip netns del "$probe"
    ip link add "ub-probe$$" type bridge 2>/dev/null || { echo "no bridge"; return 1; }
    ip link del "ub-probe$$"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
up) up "${1:?usage: cluster.sh up N}" ;;
down) down ;;
exec) node=${1:?usage: cluster.sh exec NODE CMD...}; shift; run_on "$node" "$@" ;;
hosts)
    list=""
    for i in $(nodes); do list+="${list:+,}$(ip_of "$i"):$slots"; done
    echo "$list"
    ;;
check) check ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
