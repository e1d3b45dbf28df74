// F.layerNormResidual (one kernel) against the composite F.layerNorm(F.add(x, residual)): values and
// the gradients of x, residual, gamma and beta, over random shapes (fast-check) on the reference
// backend (1e-10) and on WebGPU (float32 vs float64 composite).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { F, ReferenceBackend, tensor, tidy, type Backend } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const gpu = await tryWebGPU();

async function run(backend: Backend, rows: number, len: number, seed: number, fused: boolean): Promise<number[][]> {
  const rng = new SeededRandom(seed);
  const r = (n: number, s = 1, m = 0) => Array.from({ length: n }, () => m + s * rng.normal());
  const x = tensor(r(rows * len, 2, 1), [rows, len], { backend, requiresGrad: true });
  const res = tensor(r(rows * len), [rows, len], { backend, requiresGrad: true });
  const gamma = tensor(r(len, 0.5, 1), [len], { backend, requiresGrad: true });
  const beta = tensor(r(len), [len], { backend, requiresGrad: true });
  const g = tensor(r(rows * len), [rows, len], { backend });
  const y = tidy(() => {
    const out = fused ? F.layerNormResidual(x, res, gamma, beta, 1e-5) : F.layerNorm(F.add(x, res), gamma, beta, 1e-5);
    out.backward(g);
    return out;
  });
  const outs = await Promise.all([y, x.grad!, res.grad!, gamma.grad!, beta.grad!].map((t) => t.toArray()));
  for (const t of [y, x, res, gamma, beta, g]) t.dispose();
  return outs;
}
const maxErr = (a: number[][], b: number[][]) => Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i][j])))));

describe('layerNormResidual == layerNorm(x + residual)', () => {
  it('reference backend: values and all four gradients within 1e-10', async () => {
    const ref = new ReferenceBackend();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 99 }), async (rows, len, seed) => {
      expect(maxErr(await run(ref, rows, len, seed, true), await run(ref, rows, len, seed, false))).toBeLessThan(1e-10);
      expect(ref.liveCount()).toBe(0);
    }), { numRuns: 30 });
  });
  it.skipIf(!gpu)('WebGPU fused vs float64 composite within 1e-4', async () => {
    const ref = new ReferenceBackend();
    let worst = 0;
    for (const [rows, len, seed] of [[3, 5, 1], [17, 64, 2], [40, 256, 3], [2, 300, 4]]) {
      worst = Math.max(worst, maxErr(await run(gpu!, rows, len, seed, true), await run(ref, rows, len, seed, false)));
    }
    console.log(`[fused-layernorm] webgpu max abs error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });
});
