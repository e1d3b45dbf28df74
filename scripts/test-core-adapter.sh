#!/usr/bin/env bash
# Runs the test suite (or the vitest arguments given) on a second software adapter with WebGPU's
# *core* feature level: SwiftShader's Vulkan driver, shipped in Debian's `chromium` package, under
# Dawn's Vulkan backend. Unlike llvmpipe through OpenGL ES (compatibility level), it has what real
# GPUs have: 1 GiB storage bindings, subgroups, timestamp queries, Vulkan's validation of the
# shaders and bindings. It is ~12x slower than llvmpipe, so it is not part of `npm test` / CI.
# Without arguments it then runs scripts/browser-smoke.ts: the engine core bundled for the browser,
# in the same Chromium, headless, on its own navigator.gpu, against the float64 reference.
# Installs `chromium` and `libvulkan1` with apt-get when missing (root or sudo).
# Usage: bash scripts/test-core-adapter.sh [vitest args, e.g. tests/backend]
set -euo pipefail
cd "$(dirname "$0")/.."

find_icd() { ls /usr/lib/chromium/vk_swiftshader_icd.json 2>/dev/null || find / -name vk_swiftshader_icd.json -print -quit 2>/dev/null || true; }
ICD="${VK_ICD_FILENAMES:-$(find_icd)}"
has_loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; }
if [ -z "$ICD" ] || ! has_loader; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "test-core-adapter: installing chromium (SwiftShader's Vulkan ICD) and libvulkan1" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium libvulkan1
  ICD="$(find_icd)"
fi
if [ -z "$ICD" ]; then
  echo "test-core-adapter: vk_swiftshader_icd.json not found after installing chromium" >&2
  exit 1
fi

export VK_ICD_FILENAMES="$ICD"
export WEBGPU_BACKEND=vulkan
echo "== SwiftShader ICD: $ICD"
npx --no-install tsx scripts/probe-adapter.ts | head -1
npx --no-install vitest run "$@"
if [ $# -eq 0 ]; then
  echo "== browser smoke (headless Chromium, navigator.gpu)"
  npx --no-install tsx scripts/browser-smoke.ts
fi
