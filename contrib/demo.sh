#!/usr/bin/env bash
# Install what is missing, build feedmill, and run it once over the bundled demo sources
# (served from contrib/demo/site on 127.0.0.1: no network needed). Ends by showing what came
# out and where.
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/install-deps.sh
if [ -d build ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
exec contrib/demo/run-demo.sh "$@"
