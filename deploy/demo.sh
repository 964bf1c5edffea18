#!/usr/bin/env bash
# deploy/demo.sh BUILD_DIR [options] - the main job: a local cluster
# watched in clustertop.
#
# Makes a head and NODES nodes in network namespaces (deploy/cluster.sh),
# starts the collector (and Debian's prometheus scraping it) on the head
# and a node agent on every node, then an mpirun job of hooked Python
# ranks spread over the nodes (deploy/demo_app.py: a pure-Python FIR filter
# worth rewriting in C, neighbour exchanges and a collective every step,
# one slow rank), and attaches clustertop. With a terminal: clustertop
# above, the program's output below (tmux); quit clustertop (q) to end.
# Without one (CI), or with --batch: clustertop batch frames while the job
# runs, then the final views. Where namespaces cannot be made (not root,
# no iproute2), one node on this machine, said so.
#
# Options:
#   --batch          batch frames even with a terminal
#   --nodes N        nodes (default 3)
#   --ranks R        ranks per node (default 2)
#   --seconds S      how long the job runs (default: 300 with a terminal,
#                    40 in batch)
#   --no-prometheus  do not start prometheus
#   --one-node       no namespaces: one node, this machine (as where they
#                    cannot be made)
#
# Ctrl-C stops everything the demo started and removes what it made
# (namespaces, segments, files under BUILD_DIR/demo).
set -euo pipefail
build=$(cd "${1:?usage: demo.sh BUILD_DIR [options]}" && pwd)
shift
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

batch=0 nodes=3 ranks=2 seconds="" prometheus=1 one=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --batch) batch=1 ;;
    --nodes) nodes=${2:?--nodes N}; shift ;;
    --ranks) ranks=${2:?--ranks R}; shift ;;
    --seconds) seconds=${2:?--seconds S}; shift ;;
    --no-prometheus) prometheus=0 ;;
    --one-node) one=1 ;;
    -h | --help) sed -n '2,29s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -t 1 && -t 0 && -z ${CI:-} ]] || batch=1
[[ -n $seconds ]] || { if ((batch)); then seconds=40; else seconds=300; fi; }
[[ $nodes =~ ^[1-9][0-9]*$ && $nodes -le 32 ]] || { echo "demo.sh: --nodes 1 to 32" >&2; exit 2; }
[[ $ranks =~ ^[1-9][0-9]*$ && $ranks -le 16 ]] || { echo "demo.sh: --ranks 1 to 16" >&2; exit 2; }

tag=${ULMA_CLUSTER_TAG:-demo} # another tag: a second demo beside this one (tests)
export ULMA_CLUSTER_TAG=$tag ULMA_CLUSTER_SLOTS=$ranks ULMA_CLUSTER_REACH=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
cluster="$src/deploy/cluster.sh"
out="$build/demo"
[[ $tag == demo ]] || out="$build/demo-$tag"
py=/usr/bin/python3
agent="$build/node-agent/ulma-agent"
collector="$build/collector/ulma-collector"
top="$build/dashboard-tui/clustertop"
ctl="$build/node-agent/ulma-ctl"
pids=()
made_cluster=0

step() { printf '\n== %s\n' "$*"; }

tree_of() { # the descendants of pid $1
    local c
    for c in $(pgrep -P "$1"); do echo "$c"; tree_of "$c"; done
}

cleanup() {
    trap - EXIT INT TERM
    set +e
    tmux kill-session -t "ulma-$tag" 2>/dev/null
    # what was started in the background and everything below it (a shell
    # function run with & is a subshell whose command is its child)
    local all=()
    for p in "${pids[@]}"; do all+=("$p" $(tree_of "$p")); done
    for p in "${all[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${all[@]}"; do kill -9 "$p" 2>/dev/null; done
    ((made_cluster)) && "$cluster" down
    rm -rf "$out/segments" "$out/prometheus"
    echo "demo: stopped; everything it started is gone (logs and exports in $out)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$out"
mkdir -p "$out"

# --- the cluster ------------------------------------------------------------------
((one)) && echo "asked for one node (--one-node)" >"$out/check.log"
if ((!one)) && "$cluster" check >"$out/check.log" 2>&1; then
    "$cluster" down >/dev/null 2>&1 || true # a demo that was killed
    step "a cluster of $nodes nodes in network namespaces (deploy/cluster.sh)"
    "$cluster" up "$nodes"
    made_cluster=1
    on() { "$cluster" exec "$@"; }
    head=10.77.0.1
    hosts=$("$cluster" hosts)
    mpi_net=(--mca plm_rsh_agent "$src/deploy/netns-rsh" --mca btl_tcp_if_include 10.77.0.0/24
             --mca oob_tcp_if_include 10.77.0.0/24 --mca btl self,vader,tcp)
    dir_of() { echo "/dev/shm/ulma-$tag/node$1"; }
    echo "   head 10.77.0.1 (collector, prometheus, mpirun), nodes 10.77.0.11-$((10 + nodes)),"
    echo "   this machine reaches them at 10.77.0.254"
else
    step "network namespaces cannot be made here ($(tail -n 1 "$out/check.log")): one node, this machine"
    nodes=1
    on() { shift; "$@"; }
    head=127.0.0.1
    hosts="localhost:$ranks"
    mpi_net=(--oversubscribe --mca btl self,vader)
    mkdir -p "$out/segments"
    dir_of() { echo "$out/segments"; }
    export ULMA_DIR="$out/segments" # the ranks find this node's agent there
    mpi_net+=(-x ULMA_DIR)
fi

step "CURVE keys: the collector's, the nodes', yours (ulma-keys, in $out/keys)"
keys="$out/keys"
rm -rf "$keys"
"$build/proto/ulma-keys" new "$keys/collector" --name collector@head >/dev/null
"$build/proto/ulma-keys" new "$keys/node" --name agents@nodes >/dev/null
"$build/proto/ulma-keys" new "$keys/user" --name "${USER:-user}@demo" >/dev/null
"$build/proto/ulma-keys" allow "$keys/collector" "$keys/node/id.pub" --as nodes >/dev/null
"$build/proto/ulma-keys" allow "$keys/collector" "$keys/user/id.pub" --as user --control >/dev/null
for k in node user; do
    "$build/proto/ulma-keys" allow "$keys/$k" "$keys/collector/id.pub" --server >/dev/null
done

step "the collector on the head, a node agent on every node"
on head "$collector" --curve-dir "$keys/collector" --agents "tcp://$head:7710" \
    --query tcp://127.0.0.1:7711 --metrics "$head:9464" --dump "$out/snapshot.json" \
    -q >"$out/collector.log" 2>&1 &
pids+=($!)
for ((i = 1; i <= nodes; i++)); do
    on "$i" "$agent" --dir "$(dir_of "$i")" --node "node$i" --curve-dir "$keys/node" \
        --collector "tcp://$head:7710" -q >"$out/agent$i.log" 2>&1 &
    pids+=($!)
done
ask() { on head "$top" -b -n 1 --curve-dir "$keys/user" --collector tcp://127.0.0.1:7711 "$@"; }
for _ in $(seq 100); do
    ask --view nodes 2>/dev/null | grep -c ' up ' | grep -qx "$nodes" && break
    sleep 0.2
done
echo "   $nodes node(s) report to the collector"

if ((prometheus)) && command -v prometheus >/dev/null; then
    mkdir -p "$out/prometheus"
    cat >"$out/prometheus/prometheus.yml" <<EOF
global: {scrape_interval: 2s}
scrape_configs:
  - job_name: ulma
    static_configs: [{targets: ['$head:9464']}]
EOF
    on head prometheus --config.file="$out/prometheus/prometheus.yml" \
        --storage.tsdb.path="$out/prometheus/data" --web.listen-address="$head:9090" \
        >"$out/prometheus.log" 2>&1 &
    pids+=($!)
    echo "   prometheus: http://$head:9090 (e.g. ulma_node_events_per_second), metrics at http://$head:9464/metrics"
fi

# --- the job -------------------------------------------------------------------------
step "the job: mpirun of $((nodes * ranks)) hooked Python ranks over $nodes node(s), $seconds s"
job=(mpirun --host "$hosts" "${mpi_net[@]}" -x PYTHONPATH -np "$((nodes * ranks))"
     "$py" -m ulma "$src/deploy/demo_app.py" --seconds "$seconds")
echo "   ${job[*]}"
on head "${job[@]}" >"$out/job.log" 2>&1 &
jobpid=$!
pids+=($jobpid)

if ((!batch)); then
    step "clustertop (q quits, h helps; the program's output below)"
    sleep 1
    topcmd="$top --curve-dir $keys/user --collector tcp://127.0.0.1:7711"
    ((made_cluster)) && topcmd="$cluster exec head $topcmd"
    tmux new-session -d -s "ulma-$tag" -x "$(tput cols)" -y "$(tput lines)" \
        "$topcmd; tmux kill-session -t ulma-$tag"
    tmux split-window -v -l 8 -t "ulma-$tag" "tail -n +1 -f '$out/job.log'"
    tmux select-pane -t "ulma-$tag:0.0"
    tmux attach -t "ulma-$tag" || true
else
    step "clustertop batch frames every 10 s while the job runs (the program's output between them)"
    tail -n +1 -f "$out/job.log" --pid "$jobpid" | sed 's/^/   | /' &
    pids+=($!)
    sleep 6
    while kill -0 "$jobpid" 2>/dev/null; do
        ask --view cluster --rows 12 --width 150 2>/dev/null || echo "   (no answer from the collector)"
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$jobpid" 2>/dev/null && sleep 1; done
    done
    wait "$jobpid" || echo "demo: the job ended with status $?"
    sleep 2 # the last reports
    step "the cluster's top table at the end"
    ask --view cluster --rows 15 --width 150
    step "the nodes"
    ask --view nodes --width 150
    step "imbalance: the top functions x ranks (the slow rank's column is dark)"
    ask --view imbalance --rows 10 --width 150
    step "the hot function across the ranks"
    ask --view "function:step" --width 150 || true
    step "exports of the whole job (ulma-ctl --collector: pstats for snakeviz/pstats, an SVG flame graph, JSON)"
    for f in pstats svg json; do
        on head "$ctl" --curve-dir "$keys/user" --collector tcp://127.0.0.1:7711 export cluster "$f" "$out/cluster.$f" ||
            echo "   (no $f export: see above)"
    done
    if ((prometheus)) && command -v prometheus >/dev/null; then
        step "the job in Prometheus's query API (http://$head:9090/api/v1/query)"
        on head "$py" - "http://$head:9090/api/v1/query" <<'EOF' || echo "   (prometheus did not answer)"
import json, sys, urllib.parse, urllib.request
for q in ("ulma_node_up", "sum(ulma_job_function_calls)", "ulma_cluster_nodes"):
    url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": q})
    res = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    vals = ", ".join("%s%s" % (r["value"][1], "".join(" %s=%s" % kv for kv in sorted(r["metric"].items())
                                                   if kv[0] not in ("__name__", "instance"))) for r in res)
    print("   %-30s %s" % (q, vals or "(no series yet)"))
EOF
    fi
    echo "   e.g.: $py -c \"import pstats; pstats.Stats('$out/cluster.pstats').sort_stats('tottime').print_stats(5)\""
fi
