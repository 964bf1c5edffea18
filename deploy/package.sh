#!/usr/bin/env bash
# deploy/package.sh [BUILD_DIR] - the .deb: a build with the /usr prefix
# (default build-deb/ at the top of the repository), then cpack. Prints the
# package's path on its last line.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$src/build-deb}
cmake -S "$src" -B "$dir" -DCMAKE_INSTALL_PREFIX=/usr -DULMA_WERROR=ON >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 ||
    { tail -n 40 "$dir.build.log"; echo "build failed: $dir.build.log" >&2; exit 1; }
(cd "$dir" && cpack -G DEB >"$dir.cpack.log" 2>&1) ||
    { cat "$dir.cpack.log"; exit 1; }
ls -1t "$dir"/ulma-clustertop_*.deb | head -1
