#!/usr/bin/env bash
# deploy/setup.sh - install the Debian 12 or 13 packages ULMA clustertop needs.
# Idempotent and non-interactive; run as root (or with sudo available).
# libFuzzer comes with the compiler-rt package of the installed clang's
# major version (Debian 12: libclang-rt-14-dev, 13: libclang-rt-19-dev),
# so that one is added once clang is there.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git
    libzmq3-dev libjansson-dev
    libprotobuf-c-dev protobuf-c-compiler
    libopenmpi-dev openmpi-bin
    python3 python3-dev python3-mpi4py python3-yappi
    libncurses-dev tmux
    zlib1g-dev
    clang
    libmicrohttpd-dev prometheus
    iproute2 procps
    python3-pygments python3-docutils python3-networkx strace
)

rt_package() { # compiler-rt of the installed clang, e.g. libclang-rt-19-dev
    local v
    v=$(clang -dumpversion 2>/dev/null) || return 1
    echo "libclang-rt-${v%%.*}-dev"
}
missing_of() { # the packages of "$@" not installed, one a line
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

rt=$(rt_package) && PACKAGES+=("$rt")
mapfile -t missing < <(missing_of "${PACKAGES[@]}")
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#PACKAGES[@]} packages present"
    exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
fi
log=${ULMA_SETUP_LOG:-/tmp/ulma-setup.log}
install() {
    echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
        { tail -n 30 "$log"; echo "setup: apt-get install failed ($log)" >&2; exit 1; }
}
echo "setup: apt-get update, then install: a few minutes on a fresh machine (log: $log)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update >"$log" 2>&1 || { tail -n 20 "$log"; echo "setup: apt-get update failed ($log)" >&2; exit 1; }
install
if [[ -z ${rt:-} ]]; then # clang has just been installed
    rt=$(rt_package) || { echo "setup: clang was installed but does not run" >&2; exit 1; }
    mapfile -t missing < <(missing_of "$rt")
    [[ ${#missing[@]} -eq 0 ]] || install
fi
echo "setup: done"
