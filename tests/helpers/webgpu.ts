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

/** The shared backend, or null (with a note naming the reason) when no WebGPU adapter is available. */
export async function tryWebGPU(who = 'test'): Promise<WebGPUBackend | null> {
  try {
    return await getWebGPU();
  } catch (e) {
    console.log(`[${who}] WebGPU unavailable, reference backend only: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}
