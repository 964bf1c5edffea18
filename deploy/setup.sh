#!/usr/bin/env bash
# deploy/setup.sh - install the Debian 12 packages ULMA clustertop needs.
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git
    libzmq3-dev libjansson-dev
    libprotobuf-c-dev protobuf-c-compiler
    libopenmpi-dev openmpi-bin
    python3 python3-dev python3-mpi4py python3-yappi
    libncurses-dev tmux
    zlib1g-dev
    clang libclang-rt-14-dev
    libmicrohttpd-dev prometheus
    iproute2 procps
    python3-pygments python3-docutils python3-networkx strace
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#PACKAGES[@]} packages present"
    exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
fi
log=${ULMA_SETUP_LOG:-/tmp/ulma-setup.log}
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
echo "setup: apt-get update, then install: a few minutes on a fresh machine (log: $log)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update >"$log" 2>&1 || { tail -n 20 "$log"; echo "setup: apt-get update failed ($log)" >&2; exit 1; }
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
    { tail -n 30 "$log"; echo "setup: apt-get install failed ($log)" >&2; exit 1; }
echo "setup: done"
