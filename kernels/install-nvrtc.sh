#!/usr/bin/env bash
# Installs NVRTC (CUDA's run-time compiler library) from PyPI's nvidia-cuda-nvrtc wheel, pinned
# by version and sha256, into a cache that outlives clones. No GPU or CUDA toolkit is needed:
# tests use it to compile every kernel to PTX. Prints the folder holding libnvrtc.so.13.
set -euo pipefail

version=13.0.88
wheel=nvidia_cuda_nvrtc-$version-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl
wheel_sha256=ad9b6d2ead2435f11cbb6868809d2adeeee302e9bb94bcf0539c7a40d80e8575
root=$HOME/.cache/obelysk/nvrtc-$version

if [[ ! -e $root/lib/libnvrtc.so.13 ]]; then
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 "nvidia-cuda-nvrtc==$version" -d "$download" >&2
  echo "$wheel_sha256  $download/$wheel" | sha256sum --check --quiet
  mkdir -p "$download/unpacked"
  # Only the two libraries NVRTC needs (the wheel also ships "alt" variants).
  python3 - "$download/$wheel" "$download/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in ("nvidia/cu13/lib/libnvrtc.so.13", "nvidia/cu13/lib/libnvrtc-builtins.so.13.0"):
        wheel.extract(name, sys.argv[2])
PY
  mkdir -p "$root.partial/lib"
  mv "$download"/unpacked/nvidia/cu13/lib/* "$root.partial/lib/"
  rm -rf "$root" && mv "$root.partial" "$root"
fi
echo "$root/lib"
