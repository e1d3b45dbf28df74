// Every op on WebGPU equals the float64 reference, forward and gradients, on random shapes
// (dimensions 1..70, so never multiples of a tile) and on edge values.

import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { F, ReferenceBackend, tensor, tidyAsync, type Backend, type Tensor } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';
import { opCases, type OpCase } from '../helpers/cases.js';
import { makeData, makeInputs } from '../helpers/data.js';
import { firstMismatch } from '../helpers/compare.js';
import { getWebGPU } from '../helpers/webgpu.js';
import { errorSuite } from '../helpers/error-suite.js';

const ref = new ReferenceBackend();
let gpu: Backend;
beforeAll(async () => {
  gpu = await getWebGPU();
});

/** Forward output and every input gradient of a case on one backend. */
async function runCase(c: OpCase, d: number[], seed: number, backend: Backend): Promise<ArrayLike<number>[]> {
  return tidyAsync(async () => {
    const rng = new SeededRandom(seed);
    const specs = c.inputs(d);
    const data = specs.map((s) => makeData(s, rng));
    const xs = makeInputs(specs, data, backend);
    const out = c.run(xs, d);
    const weights = Array.from({ length: out.size }, () => rng.next() * 2 - 1);
    F.sum(F.mul(out, tensor(weights, [...out.shape], { backend }))).backward();
    const results: ArrayLike<number>[] = [await out.data()];
    for (const [k, s] of specs.entries()) if (!s.constant) results.push(await xs[k].grad!.data());
    return results;
  });
}

describe('WebGPU == reference for every op (forward and gradients)', () => {
  for (const c of opCases) {
    it(c.name, async () => {
      const base = gpu.liveCount();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 3, maxLength: 3 }), fc.integer(), async (d, seed) => {
          const ours = await runCase(c, d, seed, gpu);
          const want = await runCase(c, d, seed, ref);
          ours.forEach((o, i) => {
            const m = firstMismatch(o, want[i]);
            expect(m, `${c.name} dims ${d} ${i === 0 ? 'output' : `grad of input ${i - 1}`}: ${JSON.stringify(m)}`).toBeNull();
          });
        }),
        { numRuns: 6 },
      );
      expect(gpu.liveCount()).toBe(base);
    });
  }
});

describe('edge values on WebGPU', () => {
  const both = async (f: (b: Backend) => Tensor) => {
    const a = await tidyAsync(async () => f(gpu).data());
    const b = await tidyAsync(async () => f(ref).data());
    return [a, b] as const;
  };
  it('masked softmax rows with -inf, an all-masked row, and huge logits', async () => {
    const x = [3e4, -3e4, 1, 2, -Infinity, 0.5, -Infinity, -Infinity, -Infinity, 1e4, 1e4, -1e4];
    const [a, b] = await both((bk) => F.softmax(tensor(x, [4, 3], { backend: bk })));
    expect(firstMismatch(a, b)).toBeNull();
    expect(Array.from(a).slice(6, 9)).toEqual([0, 0, 0]);
    const [la, lb] = await both((bk) => F.logSoftmax(tensor(x, [4, 3], { backend: bk })));
    expect(firstMismatch(la, lb)).toBeNull();
  });
  it('large magnitudes through exp/tanh/gelu/layerNorm/crossEntropy', async () => {
    const x = [-80, -10, -1e-3, 0, 1e-3, 10, 80, 1e4];
    for (const f of [F.tanh, F.gelu, F.geluTanh, F.sigmoid, (t: Tensor) => F.exp(F.mul(t, 0.5))]) {
      const [a, b] = await both((bk) => f(tensor(x, [8], { backend: bk })));
      expect(firstMismatch(a, b)).toBeNull();
    }
    const big = [1e4, 1e4 + 1, 1e4 + 2, 1e4 + 3];
    const [a, b] = await both((bk) =>
      F.layerNorm(tensor(big, [1, 4], { backend: bk }), tensor([1, 1, 1, 1], [4], { backend: bk }), tensor([0, 0, 0, 0], [4], { backend: bk }), 1e-12),
    );
    expect(firstMismatch(a, b, 1e-3, 1e-4)).toBeNull();
    const [ca, cb] = await both((bk) => F.crossEntropy(tensor([1e4, -1e4, 0, 0], [2, 2], { backend: bk }), tensor([1, 0], [2], { backend: bk, dtype: 'i32' })));
    expect(firstMismatch(ca, cb)).toBeNull();
  });
});

errorSuite('webgpu', () => gpu);
