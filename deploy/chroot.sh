#!/usr/bin/env bash
# deploy/chroot.sh [options] [--] CMD... - run CMD in a clean copy of this
# repository inside a Debian chroot, e.g. to check another release:
#
#   deploy/chroot.sh bash deploy/run test
#   deploy/chroot.sh --release bookworm bash deploy/run demo --batch
#
# Run as root. Makes the chroot with debootstrap (minbase) if DIR has none,
# mounts what the tests and the demo need (/proc, /sys, /dev, /dev/pts, a
# fresh /dev/shm, /run and /tmp; DIR itself, so that `ip netns exec` can
# remount /sys), copies the repository's HEAD to DIR/root/ulma (git clone;
# later runs fetch and reset it, keeping only its build*/ directories), runs
# CMD there and, however it ends, stops what is left running in the chroot
# and unmounts everything. The chroot stays for the next run.
#
# Options:
#   --release R   Debian release (default trixie)
#   --dir DIR     the chroot (default /srv/ulma-RELEASE)
#   --mirror URL  debootstrap's mirror (default http://deb.debian.org/debian)
#   --dirty       with the uncommitted changes: tracked files' (git diff HEAD)
#                 and the untracked files git does not ignore
#   --fresh       a new copy of the repository (its build directories removed)
#
# The chroot shares this machine's network: the namespace cluster of the
# tests and the demo (deploy/cluster.sh) must not run here at the same time.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
release=trixie dir="" mirror=http://deb.debian.org/debian dirty=0 fresh=0

usage() { sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "chroot.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --release) release=${2:?--release R}; shift ;;
    --dir) dir=${2:?--dir DIR}; shift ;;
    --mirror) mirror=${2:?--mirror URL}; shift ;;
    --dirty) dirty=1 ;;
    --fresh) fresh=1 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
    esac
    shift
done
[[ $# -gt 0 ]] || { usage >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap, mount, chroot)"
dir=${dir:-/srv/ulma-$release}
dir=$(realpath -m "$dir")
[[ $dir != / ]] || die "--dir / is this machine"
git -C "$src" rev-parse --verify -q HEAD >/dev/null || die "$src is not a git checkout with a commit"

# --- the chroot -------------------------------------------------------------------
[[ -e $dir/debootstrap ]] && die "$dir holds an unfinished debootstrap: remove it and run again"
if [[ ! -x $dir/usr/bin/apt-get ]]; then
    [[ ! -e $dir || -z $(ls -A "$dir") ]] || die "$dir is neither empty nor a Debian chroot"
    command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
    log=$dir.debootstrap.log
    echo "== debootstrap $release into $dir, a few minutes (log: $log)"
    debootstrap --variant=minbase --include=ca-certificates "$release" "$dir" "$mirror" >"$log" 2>&1 ||
        { tail -n 20 "$log"; die "debootstrap failed ($log)"; }
fi

mounted=0
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    if ((mounted)); then
        # whatever CMD left running in the chroot (agents, a namespace cluster)
        for p in /proc/[0-9]*; do
            [[ $(readlink "$p/root" 2>/dev/null) == "$dir" ]] && kill -9 "${p#/proc/}" 2>/dev/null
        done
        sleep 0.5
        umount -R "$dir" || { sleep 2; umount -R "$dir"; } ||
            { echo "chroot.sh: could not unmount everything under $dir:" >&2; findmnt -R "$dir" >&2; rc=1; }
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

findmnt "$dir" >/dev/null && die "$dir is mounted already (another chroot.sh running?)"
mount --bind "$dir" "$dir"
mounted=1
mount --make-private "$dir"
mount -t proc proc "$dir/proc"
mount -t sysfs sysfs "$dir/sys"
mount --bind /dev "$dir/dev"
mount --bind /dev/pts "$dir/dev/pts"
mkdir -p "$dir/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$dir/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev run "$dir/run"
mkdir -p "$dir/run/netns" "$dir/run/lock"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$dir/tmp"
cp /etc/resolv.conf "$dir/etc/resolv.conf"

# --- the repository ---------------------------------------------------------------
copy=$dir/root/ulma
((fresh)) && rm -rf "$copy"
if [[ ! -d $copy/.git ]]; then
    git clone -q "$src" "$copy"
else
    git -C "$copy" fetch -q "$src" HEAD
    git -C "$copy" reset -q --hard FETCH_HEAD
    git -C "$copy" clean -ffdqx -e '/build*'
fi
if ((dirty)); then
    git -C "$src" diff --quiet HEAD || git -C "$src" diff --binary HEAD | git -C "$copy" apply
    git -C "$src" ls-files -z --others --exclude-standard |
        tar -C "$src" --null -T - -cf - | tar -C "$copy" -xf -
fi
what=$(git -C "$src" rev-parse --short HEAD)
((dirty)) && what+=" and its uncommitted changes"
echo "== $release chroot $dir, the repository at $what: $*"

# --- the command ------------------------------------------------------------------
set +e
chroot "$dir" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 ${CI:+CI=$CI} \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c 'cd /root/ulma && exec "$@"' bash "$@"
rc=$?
set -e
echo "== $*: exit status $rc"
exit "$rc"
