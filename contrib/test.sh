#!/usr/bin/env bash
# Install what is missing, build feedmill in build/, and run the whole test suite.
#   contrib/test.sh                 all suites (unit, plugins, integration, fuzz-corpus)
#   contrib/test.sh --suite unit    any `meson test` arguments
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/install-deps.sh
if [ -d build ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
ninja -C build
meson test -C build --print-errorlogs --num-processes "$(nproc)" "$@"
