#!/usr/bin/env bash
# Install the Debian 12 packages feedmill needs to build and test, when they are missing.
# Uses sudo when not run as root. Safe to run again: it installs only what is absent.
set -euo pipefail

pkgs=(
  gcc pkg-config meson ninja-build python3
  libcurl4-openssl-dev libxml2-dev libjansson-dev libzmq3-dev
  libsqlite3-dev libunistring-dev zlib1g-dev libjemalloc-dev libpcre2-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "feedmill: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "feedmill: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
