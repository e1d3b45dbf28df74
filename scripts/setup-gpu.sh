#!/usr/bin/env bash
# Makes WebGPU (Dawn's Node bindings, the `webgpu` npm package) find an adapter.
# On a machine without a GPU, Dawn runs on Mesa's llvmpipe through OpenGL ES (EGL surfaceless);
# that needs libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri. This script probes first and installs
# those Debian/Ubuntu packages only when no adapter is found, then probes again.
# Usage: bash scripts/setup-gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

probe() {
  EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}" timeout 120 npx --no-install tsx scripts/probe-adapter.ts 2>/dev/null
}

if [ ! -d node_modules/webgpu ]; then
  echo "setup-gpu: node_modules/webgpu missing; running npm ci" >&2
  npm ci
fi

if probe; then
  exit 0
fi

echo "setup-gpu: no WebGPU adapter; installing Mesa's EGL/GLES drivers" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-gpu: apt-get not found; install the equivalents of libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri (Mesa EGL + GLES + DRI drivers) with your package manager" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-gpu: not root and no sudo; run as root: apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri" >&2
    exit 1
  fi
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri

if probe; then
  exit 0
fi
echo "setup-gpu: still no WebGPU adapter after installing Mesa; see the probe output:" >&2
EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}" npx --no-install tsx scripts/probe-adapter.ts || true
exit 1
