// One WebGPU backend per test worker, created on first use; the adapter is printed once so the
// test log names what ran the kernels.

import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';

let pending: Promise<WebGPUBackend> | null = null;

export function getWebGPU(): Promise<WebGPUBackend> {
  if (!pending) {
    pending = createNodeBackend().then((b) => {
      console.log(`[webgpu] adapter: ${JSON.stringify(b.adapter)}`);
      return b;
    });
  }
  return pending;
}
