// F.linear with a fused epilogue (bias, GELU / tanh GELU, residual: one matmul dispatch) equals the
// composite matmul + add + activation + add, values and gradients, on the reference and on WebGPU.

import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { F, ReferenceBackend, tensor, tidyAsync, type Backend, type Tensor } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';
import { firstMismatch } from '../helpers/compare.js';
import { getWebGPU } from '../helpers/webgpu.js';

const ref = new ReferenceBackend();
let gpu: Backend;
beforeAll(async () => {
  gpu = await getWebGPU();
});

type Act = 'gelu' | 'geluTanh' | undefined;

async function run(backend: Backend, fused: boolean, dims: number[], act: Act, withBias: boolean, withRes: boolean, seed: number): Promise<ArrayLike<number>[]> {
  const [b, inF, outF] = dims as [number, number, number];
  return tidyAsync(async () => {
    const rng = new SeededRandom(seed);
    const r = (n: number) => Array.from({ length: n }, () => rng.next() * 2 - 1);
    const x = tensor(r(b * 3 * inF), [b, 3, inF], { backend, requiresGrad: true });
    const w = tensor(r(outF * inF), [outF, inF], { backend, requiresGrad: true });
    const bias = tensor(r(outF), [outF], { backend, requiresGrad: true });
    const res = tensor(r(b * 3 * outF), [b, 3, outF], { backend, requiresGrad: true });
    let y: Tensor;
    if (fused) {
      y = F.linear(x, w, withBias ? bias : null, { activation: act, residual: withRes ? res : null });
    } else {
      y = F.matmul(F.reshape(x, [-1, inF]), w, { transB: true });
      if (withBias) y = F.add(y, bias);
      if (act === 'gelu') y = F.gelu(y);
      if (act === 'geluTanh') y = F.geluTanh(y);
      y = F.reshape(y, [b, 3, outF]);
      if (withRes) y = F.add(y, res);
    }
    const weights = tensor(r(y.size), [...y.shape], { backend });
    F.sum(F.mul(y, weights)).backward();
    const out: ArrayLike<number>[] = [await y.data(), await x.grad!.data(), await w.grad!.data()];
    if (withBias) out.push(await bias.grad!.data());
    if (withRes) out.push(await res.grad!.data());
    return out;
  });
}

describe('fused linear == composite (values and gradients)', () => {
  for (const [name, get] of [['reference', () => ref], ['webgpu', () => gpu]] as const) {
    it(name, async () => {
      const backend = get();
      const base = backend.liveCount();
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 3, maxLength: 3 }),
          fc.constantFrom<Act>(undefined, 'gelu', 'geluTanh'), fc.boolean(), fc.boolean(), fc.integer(),
          async (dims, act, withBias, withRes, seed) => {
            const a = await run(backend, true, dims, act, withBias, withRes, seed);
            const c = await run(backend, false, dims, act, withBias, withRes, seed);
            a.forEach((v, i) => {
              const m = firstMismatch(v, c[i]!, 2e-4, 2e-5);
              expect(m, `${name} dims ${dims} act ${act} bias ${withBias} res ${withRes} result ${i}: ${JSON.stringify(m)}`).toBeNull();
            });
          },
        ),
        { numRuns: name === 'reference' ? 20 : 12 },
      );
      expect(backend.liveCount()).toBe(base);
    });
  }

  it('one dispatch forward on WebGPU, and clear errors for bad arguments', async () => {
    const g = gpu as unknown as { stats(): { dispatches: number } };
    await tidyAsync(async () => {
      const x = tensor(new Array(8 * 16).fill(0.1), [8, 16], { backend: gpu });
      const w = tensor(new Array(32 * 16).fill(0.2), [32, 16], { backend: gpu });
      const b = tensor(new Array(32).fill(0.3), [32], { backend: gpu });
      const res = tensor(new Array(8 * 32).fill(1), [8, 32], { backend: gpu });
      const before = g.stats().dispatches;
      const y = F.linear(x, w, b, { activation: 'gelu', residual: res });
      expect(g.stats().dispatches - before).toBe(1);
      await y.data();
      expect(() => F.linear(x, w, b, { residual: tensor(new Array(8).fill(0), [8], { backend: gpu }) })).toThrow(/residual/);
      expect(() => F.linear(x, w, b, { activation: 'relu' as 'gelu' })).toThrow(/activation/);
    });
  });

  // x feeds three linears (like Q, K, V) and a residual add: its gradient accumulates over four
  // consumers; the linears fuse the accumulation into dX's matmul (residual epilogue, one dispatch
  // instead of matmul + add). Equal to the composite's gradients, with no separate accumulation add.
  for (const [name, get] of [['reference', () => ref], ['webgpu', () => gpu]] as const) {
    it(`gradient accumulation over several linears == composite (${name})`, async () => {
      const backend = get();
      const grads = async (fused: boolean): Promise<{ vals: ArrayLike<number>[]; accumulationAdds: number }> => tidyAsync(async () => {
        const rng = new SeededRandom(5);
        const r = (n: number) => Array.from({ length: n }, () => rng.next() * 2 - 1);
        const [B, T, H] = [2, 5, 12];
        const x = tensor(r(B * T * H), [B, T, H], { backend, requiresGrad: true });
        const ws = [0, 1, 2].map(() => tensor(r(H * H), [H, H], { backend, requiresGrad: true }));
        const bs = [0, 1, 2].map(() => tensor(r(H), [H], { backend, requiresGrad: true }));
        const lin = (i: number) => (fused
          ? F.linear(x, ws[i]!, bs[i]!)
          : F.reshape(F.add(F.matmul(F.reshape(x, [-1, H]), ws[i]!, { transB: true }), bs[i]!), [B, T, H]));
        const y = F.add(F.mul(F.mul(lin(0), lin(1)), lin(2)), x);
        // Count the elementwise adds of x-shaped gradients the backward runs (gradient accumulation).
        const run = backend.run.bind(backend);
        let accumulationAdds = 0;
        backend.run = (spec, ins, outs) => {
          if (spec.kind === 'binary' && spec.op === 'add' && spec.outShape.join() === [B, T, H].join()) accumulationAdds++;
          run(spec, ins, outs);
        };
        try {
          F.sum(F.mul(y, y)).backward();
        } finally {
          backend.run = run;
        }
        return { vals: [await x.grad!.data(), ...(await Promise.all([...ws, ...bs].map((t) => t.grad!.data())))], accumulationAdds };
      });
      const a = await grads(true);
      const c = await grads(false);
      a.vals.forEach((v, i) => expect(firstMismatch(v, c.vals[i]!, 2e-4, 2e-5), `gradient ${i}`).toBeNull());
      // Both accumulate y's two contributions (y * y) with an add; the composite also adds x's four
      // contributions (3 adds), which the fused path does in the three dX matmuls.
      expect(c.accumulationAdds).toBe(4);
      expect(a.accumulationAdds).toBe(1);
    });
  }
});
