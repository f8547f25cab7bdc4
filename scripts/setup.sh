#!/usr/bin/env bash
# One-time, idempotent set-up on Debian: system packages (as root), npm packages, the native backend
# (when libtorch is there) and the TypeScript build. Safe to run before every command.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libtorch-dev libopenblas-dev python3-numpy python3-torch chromium)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: not root, skipping apt packages: ${missing[*]} (native backend, references and browser test need them)"
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# npm ci builds the addon through the package's install script; rebuild it when its sources changed.
addon=build/Release/kexue_aten.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then
  bash scripts/build-native.sh
fi

npm run --silent build
