#!/usr/bin/env bash
# tests/deploy/test_deb.sh DEB - the package installs, works and goes away
# cleanly on this machine (root): dpkg -i, the installed tools and the
# `ulma` package for /usr/bin/python3 without any PYTHONPATH, the systemd
# units verified, the system user; dpkg -r leaves only the settings,
# dpkg -P nothing. Ends with `N passed, N failed`.
set -uo pipefail
deb=${1:?usage: test_deb.sh DEB}
passed=0 failed=0
check() { # description command...
    local what=$1
    shift
    if "$@" >/tmp/ulma-deb-check.log 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what"
        sed 's/^/    /' /tmp/ulma-deb-check.log | tail -n 20
    fi
}
absent() { ! test -e "$1"; }
clean_env() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

work=$(mktemp -d)
cat >"$work/prog.py" <<'PY'
def f(n):
    return n if n < 2 else f(n - 1) + f(n - 2)
print(f(15))
PY

dpkg -r ulma-clustertop >/dev/null 2>&1 || true
check "dpkg -i installs the package" dpkg -i "$deb"
check "the tools are on PATH" test -x /usr/bin/ulma-agent -a -x /usr/bin/ulma-collector -a -x /usr/bin/ulma-ctl
check "ulma-collector --help" clean_env ulma-collector --help
check "ulma-agent --help" clean_env ulma-agent --help
check "import ulma with /usr/bin/python3, no PYTHONPATH" \
    clean_env /usr/bin/python3 -c "import ulma, ulma._ulma, ulma._objects"
check "python3 -m ulma runs a program and prints its table (installed agent)" \
    bash -c "cd '$work' && env -i PATH=/usr/bin:/bin ULMA_DIR='$work' /usr/bin/python3 -m ulma -s ncalls prog.py | grep -q 'prog.py:1(f)'"
check "the systemd units verify" systemd-analyze verify /usr/lib/systemd/system/ulma-agent.service \
    /usr/lib/systemd/system/ulma-collector.service
check "the settings are conffiles" bash -c "dpkg-query -W -f='\${Conffiles}' ulma-clustertop | grep -q /etc/default/ulma-agent"
check "the system user ulma exists" getent passwd ulma
check "ulma-keys is on PATH" clean_env ulma-keys --help
check "the host's CURVE keys: the secret owner-only, owned by ulma" \
    bash -c "[ \"\$(stat -c '%a %U' /etc/ulma/curve/id.secret)\" = '600 ulma' ] && [ \"\$(stat -c '%a' /etc/ulma/curve/id.pub)\" = 644 ]"
check "the collector loads them (as ulma)" \
    runuser -u ulma -- /usr/bin/ulma-collector --curve-dir /etc/ulma/curve --agents ipc:///tmp/ulma-deb-a.ipc --query "tcp://127.0.0.1:*" --metrics none --run-for 0.2 -q
check "dpkg -r removes it" dpkg -r ulma-clustertop
check "the tools are gone" absent /usr/bin/ulma-agent
check "the python package is gone" absent /usr/lib/python3/dist-packages/ulma
check "the autostart hook is gone" absent /usr/lib/python3/dist-packages/ulma-autostart.pth
check "the settings stay until purge" test -e /etc/default/ulma-agent
check "dpkg -P purges the rest" dpkg -P ulma-clustertop
check "the settings are gone" absent /etc/default/ulma-agent
check "the CURVE keys are gone" absent /etc/ulma/curve
check "the system user is gone" bash -c "! getent passwd ulma"
check "nothing of it is left in dpkg" bash -c "! dpkg -s ulma-clustertop"
rm -rf "$work"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
