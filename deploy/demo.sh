#!/usr/bin/env bash
# deploy/demo.sh BUILD_DIR - the main job on this machine: the ULMA ring
# measured (clock, writer cost, drain rate). Later parts of the project turn
# this into a profiled mpirun job and the local demo cluster.
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ULMA_BUILD_DIR=$build exec "$src/tests/bench/run" ring
