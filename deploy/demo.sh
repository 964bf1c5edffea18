#!/usr/bin/env bash
# deploy/demo.sh BUILD_DIR - the main job on this machine: a small mpirun
# job of hooked Python ranks (deploy/demo_app.py), each profiled through its
# agent; then every rank's table, the files each wrote, and a check that
# pstats reads them.
#
# Environment: DEMO_RANKS (default 4), DEMO_SECONDS (run time, default 20),
# DEMO_ROWS (table rows shown per rank, default 15).
set -euo pipefail
build=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ranks=${DEMO_RANKS:-4}
seconds=${DEMO_SECONDS:-20}
rows=${DEMO_ROWS:-15}
out="$build/demo"
py=/usr/bin/python3

rm -rf "$out"
mkdir -p "$out/segments"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
export ULMA_DIR="$out/segments"

cmd=(mpirun -np "$ranks" --oversubscribe --mca btl self,vader
     -x PYTHONPATH -x ULMA_DIR --output-filename "$out/log"
     "$py" -m ulma -s tottime
     -o "$out/rank{rank}.pstats" --json "$out/rank{rank}.json" --svg "$out/rank{rank}.svg"
     "$src/deploy/demo_app.py" --seconds "$seconds")
echo "== the job"
echo "${cmd[*]}"
echo
"${cmd[@]}" >"$out/mpirun.log" 2>&1 || { cat "$out/mpirun.log"; exit 1; }

for ((r = 0; r < ranks; r++)); do
    log=$(ls -d "$out"/log/*/rank."$r" 2>/dev/null | head -1)
    echo "== rank $r (first $rows rows of its table; all of it: $log/stdout)"
    # the program's own output, then the agent's table: show its head
    awk -v rows="$rows" '
        /^ulma: pid/ { on = 1 }
        on && /filename:lineno/ { print; body = 1; next }
        on && body && n < rows && NF { print; n++; next }
        on && !body { print }' "$log/stdout"
    echo
done

echo "== files written"
ls -l "$out"/rank*.pstats "$out"/rank*.json "$out"/rank*.svg | awk '{print $5, $NF}'
echo
echo "== pstats reads rank 0's file (top 5 by internal time)"
"$py" - "$out/rank0.pstats" <<'PY'
import pstats, sys
pstats.Stats(sys.argv[1]).sort_stats("tottime").print_stats(5)
PY
left=$(ls "$out/segments" | wc -l)
echo "== segments left behind in $out/segments: $left"
