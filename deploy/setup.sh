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
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
