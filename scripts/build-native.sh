#!/usr/bin/env bash
# Builds the native ATen backend when libtorch-dev is installed. It never fails an install: without
# libtorch (or if the build fails) kexue runs on the wasm backend after a one-line notice.
cd "$(dirname "$0")/.." || exit 0
if [ ! -d /usr/include/ATen ] && [ ! -f /usr/include/torch/csrc/api/include/torch/torch.h ]; then
  echo "kexue: libtorch-dev is not installed; native backend not built (apt-get install libtorch-dev libopenblas-dev)"
  exit 0
fi
if ! npm run --silent build:native >build-native.log 2>&1; then
  echo "kexue: the native backend did not build (see build-native.log); kexue will use wasm"
fi
exit 0
