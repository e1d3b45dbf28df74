// pack / unpack (several tensors into one vector and back: buffer copies on WebGPU) on both backends,
// and clipGradNorm, which packs the small gradients, against the per-tensor formula.
// Small tensors updated together (kernels/optimizer.ts: adamStep over several tensors, lambStep): on
// WebGPU the packed dispatch equals the per-tensor kernels bit for bit (same arithmetic per element,
// same reduction order per tensor), for random sets of sizes incl. 1 and sizes around the 64-lane
// stride; the optimizers use one dispatch for all small tensors of a group with a common step count
// and keep tensors with different step counts apart (checked against the composite update).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Adam, AdamW, LAMB, ReferenceBackend, clipGradNorm, tensor, tidy, type Backend, type Optimizer, type Tensor } from '../../engine/index.js';
import { packRaw, unpackRaw } from '../../engine/ops/kernel.js';
import type { KernelSpec } from '../../engine/backend/spec.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { PACKED_MAX_SIZE } from '../../kernels/optimizer.js';
import { SeededRandom } from '../../engine/random.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const gpu = await tryWebGPU();
const HYPER = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3 };

/** Inputs p, g, m (signed), v (non-negative) per tensor, as storages of `be`. */
function inputs(be: Backend, sizes: number[], seed: number) {
  const rng = new SeededRandom(seed);
  return sizes.flatMap((n) => [0, 1, 2, 3].map((j) => {
    const s = be.alloc(n, 'f32');
    be.write(s, Float32Array.from({ length: n }, () => (j === 3 ? Math.abs(rng.normal()) * 0.01 : rng.normal() * (j === 1 ? 0.1 : 1))));
    return s;
  }));
}

async function readAll(be: Backend, ss: ReturnType<Backend['alloc']>[]): Promise<number[][]> {
  return Promise.all(ss.map(async (s) => Array.from(await be.read(s))));
}

describe.runIf(gpu)('packed optimizer kernels on WebGPU', () => {
  const be = gpu as WebGPUBackend;
  const sizesArb = fc.array(fc.oneof(fc.constantFrom(1, 63, 64, 65, 300, PACKED_MAX_SIZE - 1), fc.integer({ min: 1, max: 2000 })), { minLength: 2, maxLength: 6 });

  it('adamStep over several tensors == one dispatch per tensor, bit for bit (Adam, L2, AdamW)', async () => {
    await fc.assert(fc.asyncProperty(sizesArb, fc.constantFrom([0, false], [0.1, false], [0.05, true]), async (sizes, [weightDecay, decoupled]) => {
      const ins = inputs(be, sizes, sizes.length);
      const spec = { kind: 'adamStep', sizes, ...HYPER, weightDecay, decoupled } as const;
      const packed = sizes.flatMap((n) => [0, 1, 2].map(() => be.alloc(n, 'f32')));
      const single = sizes.flatMap((n) => [0, 1, 2].map(() => be.alloc(n, 'f32')));
      be.run(spec, ins, packed);
      sizes.forEach((n, k) => be.run({ ...spec, sizes: [n] }, ins.slice(4 * k, 4 * k + 4), single.slice(3 * k, 3 * k + 3)));
      expect(await readAll(be, packed)).toEqual(await readAll(be, single));
      for (const s of [...ins, ...packed, ...single]) be.free(s);
    }), { numRuns: 6 });
  });

  it('lambStep == lambStats (one part) + lambApply per tensor, bit for bit, and == the float64 reference', async () => {
    const ref = new ReferenceBackend();
    await fc.assert(fc.asyncProperty(sizesArb, fc.constantFrom(0, 0.01), async (sizes, weightDecay) => {
      const ins = inputs(be, sizes, 7 * sizes.length);
      const offsets = [0];
      for (const n of sizes) offsets.push(offsets[offsets.length - 1]! + n);
      const off = be.alloc(offsets.length, 'i32');
      be.write(off, Int32Array.from(offsets));
      const spec = { kind: 'lambStep', sizes, ...HYPER, weightDecay } as const;
      const packed = sizes.flatMap((n) => [0, 1, 2].map(() => be.alloc(n, 'f32')));
      be.run(spec, [...ins, off], packed);
      const single: ReturnType<Backend['alloc']>[] = [];
      const temps: ReturnType<Backend['alloc']>[] = [];
      sizes.forEach((size, k) => {
        const [p, g, m, v] = ins.slice(4 * k, 4 * k + 4);
        const [p2, m2, v2, part] = [be.alloc(size, 'f32'), be.alloc(size, 'f32'), be.alloc(size, 'f32'), be.alloc(2, 'f32')];
        const common = { size, parts: 1, eps: HYPER.eps, bc1: HYPER.bc1, bc2: HYPER.bc2, weightDecay };
        be.run({ kind: 'lambStats', ...common, beta1: HYPER.beta1, beta2: HYPER.beta2 }, [p!, g!, m!, v!], [m2, v2, part]);
        be.run({ kind: 'lambApply', ...common, lr: HYPER.lr }, [p!, m2, v2, part], [p2]);
        single.push(p2, m2, v2);
        temps.push(part);
      });
      const got = await readAll(be, packed);
      expect(got).toEqual(await readAll(be, single));
      // The float64 reference on the same float32 inputs.
      const refIns = await Promise.all([...ins, off].map(async (s) => {
        const r = ref.alloc(s.size, s.dtype);
        ref.write(r, await be.read(s));
        return r;
      }));
      const refOut = sizes.flatMap((n) => [0, 1, 2].map(() => ref.alloc(n, 'f32')));
      ref.run(spec as KernelSpec, refIns, refOut);
      const want = await readAll(ref, refOut);
      let worst = 0;
      got.forEach((xs, i) => xs.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - want[i]![j]!) / Math.max(1, Math.abs(want[i]![j]!))); }));
      expect(worst).toBeLessThan(1e-5);
      for (const s of [...ins, off, ...packed, ...single, ...temps]) be.free(s);
    }), { numRuns: 6 });
  });

  it('rejects a wrong number of storages, naming the counts', () => {
    const ins = inputs(be, [3, 5], 1);
    const outs = [3, 3, 3, 5, 5].map((n) => be.alloc(n, 'f32'));
    expect(() => be.run({ kind: 'adamStep', sizes: [3, 5], ...HYPER, weightDecay: 0, decoupled: false }, ins, outs)).toThrow(/adamStep: expected 8 inputs and 6 outputs, got 8 and 5/);
    expect(() => be.run({ kind: 'lambStep', sizes: [3, 5], ...HYPER, weightDecay: 0 }, ins, outs)).toThrow(/lambStep: expected 9 inputs and 6 outputs/);
    for (const s of [...ins, ...outs]) be.free(s);
  });

  type Kind = 'adam' | 'adamw' | 'lamb';
  const make = (kind: Kind, params: Tensor[], fused: boolean): Optimizer => {
    const o = { lr: 0.01, fused, weightDecay: 0.01 };
    return kind === 'adam' ? new Adam(params, o) : kind === 'adamw' ? new AdamW(params, o) : new LAMB(params, o);
  };

  it.each(['adam', 'adamw', 'lamb'] as Kind[])('%s: one dispatch for all small tensors; tensors whose step counts differ are updated apart', async (kind) => {
    // Five small tensors and one large; tensor 2 has no gradient in step 2, so from then on its step
    // count trails the others' (its bias corrections differ).
    const sizes = [5, 64, 300, 1000, 4095, PACKED_MAX_SIZE];
    const rng = new SeededRandom(11);
    const init = sizes.map((n) => Array.from({ length: n }, () => rng.normal()));
    const grads = [0, 1, 2, 3].map(() => sizes.map((n) => Array.from({ length: n }, () => rng.normal() * 0.1)));
    const run = async (fused: boolean) => {
      const params = init.map((d) => tensor(d, [d.length], { backend: be, requiresGrad: true }));
      const opt = make(kind, params, fused);
      const dispatches: number[] = [];
      for (const [s, gs] of grads.entries()) {
        tidy(() => {
          params.forEach((p, i) => { p.grad = s === 1 && i === 2 ? null : tensor(gs[i]!, [gs[i]!.length], { backend: be }); });
          be.flush();
          const before = be.stats().dispatches;
          opt.step();
          be.flush();
          dispatches.push(be.stats().dispatches - before);
          opt.zeroGrad();
        });
      }
      const out = await Promise.all(params.map((p) => p.toArray()));
      opt.dispose();
      for (const p of params) p.dispose();
      return { out, dispatches };
    };
    const fused = await run(true);
    const composite = await run(false);
    let worst = 0;
    fused.out.forEach((x, i) => x.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - composite.out[i]![j]!) / Math.max(1, Math.abs(composite.out[i]![j]!))); }));
    expect(worst).toBeLessThan(1e-6);
    // Steps 3 and 4 (moments exist): the large tensor's own dispatches (LAMB: 2) plus one for the four
    // small tensors in step, one for tensor 2 alone.
    const large = kind === 'lamb' ? 2 : 1;
    expect(fused.dispatches.slice(2)).toEqual([large + 2, large + 2]);
    // Step 2 (tensor 2 skipped): the other four small ones share one dispatch.
    expect(fused.dispatches[1]).toBe(large + 1);
  });
});

const BOTH: [string, Backend][] = [['reference', new ReferenceBackend()]];
if (gpu) BOTH.push(['webgpu', gpu]);

describe.each(BOTH)('pack / unpack on %s', (_name, backend) => {
  it('pack is the concatenation and unpack its inverse (f32 and i32, sizes 1.. not multiples of 4)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 7 }), fc.boolean(), async (sizes, ints) => {
      const rng = new SeededRandom(sizes.length);
      const data = sizes.map((n) => Array.from({ length: n }, () => (ints ? Math.floor(rng.normal() * 1000) : rng.normal())));
      const ts = data.map((d, i) => tensor(d, i % 2 ? [d.length] : [1, d.length], { backend, dtype: ints ? 'i32' : 'f32' }));
      const flat = packRaw(ts);
      const back = unpackRaw(flat, ts.map((t) => t.shape));
      const want = data.flat();
      const got = Array.from(await flat.data());
      if (ints) expect(got).toEqual(want);
      else got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
      for (const [i, b] of back.entries()) {
        expect(b.shape).toEqual(ts[i]!.shape);
        expect(Array.from(await b.data())).toEqual(Array.from(await ts[i]!.data()));
      }
      for (const t of [...ts, flat, ...back]) t.dispose();
    }), { numRuns: 10 });
  });

  it('unpack rejects a vector of the wrong length, naming it', () => {
    const flat = tensor([1, 2, 3], [3], { backend });
    expect(() => unpackRaw(flat, [[2], [2]])).toThrow(/a 1-D tensor of 4 elements .* got shape \[3\]/);
    flat.dispose();
  });

  it('clipGradNorm over small (packed) and large gradients: norm and scaled gradients as the formula', async () => {
    const rng = new SeededRandom(5);
    const sizes = [3, 64, 300, 4095, PACKED_MAX_SIZE, 5000];
    const grads = sizes.map((n) => Array.from({ length: n }, () => rng.normal()));
    const norm = Math.sqrt(grads.flat().reduce((a, v) => a + v * v, 0));
    for (const maxNorm of [1, 1e6]) {
      const params = sizes.map((n) => tensor(new Float32Array(n), [n], { backend, requiresGrad: true }));
      params.forEach((p, i) => { p.grad = tensor(grads[i]!, [sizes[i]!], { backend }); });
      const total = clipGradNorm(params, maxNorm);
      expect((await total.data())[0]).toBeCloseTo(norm, 2);
      const coef = Math.min(maxNorm / (norm + 1e-6), 1);
      for (const [i, p] of params.entries()) {
        const g = await p.grad!.data();
        grads[i]!.forEach((v, j) => expect(Math.abs(g[j]! - v * coef)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
      }
      total.dispose();
      for (const p of params) p.dispose();
    }
  });
});
