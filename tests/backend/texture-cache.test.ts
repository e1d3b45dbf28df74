// The WebGPU backend's texture cache (engine/backend/webgpu/textures.ts TextureCache): a matmul
// reading an unchanged input buffer again reuses its texture; any change to the buffer (write,
// an in-place op, free and reuse of the pooled buffer) makes the next read copy it afresh.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelSpec, Storage } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { strategySupported } from '../../kernels/matmul.js';
import { DEFAULT_TEXTURE_CACHE_BYTES } from '../../engine/backend/webgpu/textures.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeBackend({ autotune: false });
  // A strategy that reads its operands through textures.
  gpu.setMatmulStrategy(strategySupported('image-16x16', gpu.adapter.wgslFeatures) ? 'image-16x16' : 'texture-16x16');
});
afterAll(() => gpu.destroy());

const [M, N, K] = [20, 12, 16];
const mm: KernelSpec = { kind: 'matmul', transA: false, transB: false, batch: 1, m: M, n: N, k: K, aBatchStride: 0, bBatchStride: 0 };
const ref = new ReferenceBackend();
const rand = (rng: SeededRandom, n: number) => Array.from({ length: n }, () => rng.normal());

async function product(a: Storage, b: Storage): Promise<Float32Array> {
  const c = gpu.alloc(M * N, 'f32');
  gpu.run(mm, [a, b], [c]);
  const out = (await gpu.read(c)) as Float32Array;
  gpu.free(c);
  return out;
}
async function expected(a: ArrayLike<number>, b: ArrayLike<number>): Promise<number[]> {
  const [ra, rb, rc] = [ref.alloc(M * K, 'f32'), ref.alloc(K * N, 'f32'), ref.alloc(M * N, 'f32')];
  ref.write(ra, Float32Array.from(a));
  ref.write(rb, Float32Array.from(b));
  ref.run(mm, [ra, rb], [rc]);
  return Array.from(await ref.read(rc));
}
function close(got: ArrayLike<number>, want: ArrayLike<number>): void {
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
}

/** Random operands a [M, K], b [K, N] on the GPU, with their values. */
function operands(seed: number) {
  const rng = new SeededRandom(seed);
  const av = rand(rng, M * K);
  const bv = rand(rng, K * N);
  const a = gpu.alloc(M * K, 'f32');
  const b = gpu.alloc(K * N, 'f32');
  gpu.write(a, av);
  gpu.write(b, bv);
  return { rng, av, bv, a, b };
}

describe('texture cache', () => {
  it('reuses the texture of an unchanged input and never serves stale contents', async () => {
    const { rng, av, bv, a, b } = operands(3);
    close(await product(a, b), await expected(av, bv));
    const hits = gpu.stats().textureCacheHits;
    close(await product(a, b), await expected(av, bv));
    expect(gpu.stats().textureCacheHits).toBe(hits + 2); // both operands

    // A write changes a: the next product copies it again.
    const av2 = rand(rng, M * K);
    gpu.write(a, av2);
    close(await product(a, b), await expected(av2, bv));

    // An in-place op (output aliases the input) changes a.
    gpu.run({ kind: 'unary', op: 'neg', size: M * K }, [a], [a]);
    close(await product(a, b), await expected(av2.map((v) => -v), bv));

    // Freed and reallocated: the pool hands the same buffer to a new tensor with other contents.
    gpu.free(a);
    const a2 = gpu.alloc(M * K, 'f32');
    const av3 = rand(rng, M * K);
    gpu.write(a2, av3);
    close(await product(a2, b), await expected(av3, bv));

    // Written as a kernel's output.
    const av4 = rand(rng, M * K);
    const src = gpu.alloc(M * K, 'f32');
    gpu.write(src, av4);
    gpu.run({ kind: 'unary', op: 'neg', size: M * K }, [src], [a2]);
    close(await product(a2, b), await expected(av4.map((v) => -v), bv));
    for (const s of [a2, b, src]) gpu.free(s);
  });

  it('with a budget of 0 nothing is reused (what the kernel benchmarks time)', async () => {
    const { rng, av, bv, a, b } = operands(4);
    gpu.setTextureCacheBytes(0);
    try {
      const hits = gpu.stats().textureCacheHits;
      close(await product(a, b), await expected(av, bv));
      close(await product(a, b), await expected(av, bv));
      expect(gpu.stats().textureCacheHits).toBe(hits);
    } finally {
      gpu.setTextureCacheBytes(DEFAULT_TEXTURE_CACHE_BYTES);
    }
    close(await product(a, b), await expected(av, bv));
    const hits = gpu.stats().textureCacheHits;
    close(await product(a, b), await expected(av, bv));
    expect(gpu.stats().textureCacheHits).toBe(hits + 2);
    for (const s of [a, b]) gpu.free(s);
  });
});
