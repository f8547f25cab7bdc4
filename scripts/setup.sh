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

if [ -f binding.gyp ]; then
  if [ -f /usr/include/torch/csrc/api/include/torch/torch.h ] || [ -d /usr/include/ATen ]; then
    if [ ! -f build/Release/kexue_aten.node ] || [ -n "$(find native binding.gyp -newer build/Release/kexue_aten.node -print -quit)" ]; then
      echo "setup: building the native ATen backend"
      npm run --silent build:native || echo "setup: native backend did not build; kexue will use wasm"
    fi
  else
    echo "setup: libtorch-dev not installed; kexue will use the wasm backend"
  fi
fi

npm run --silent build
