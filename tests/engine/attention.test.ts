// Fused attention (F.attention, kernels/attention.ts) against the composite
// softmax(q k^T * scale + bias) -> dropout -> @ v it replaces: values and dq, dk, dv, on the float64
// reference backend (fast-check over shapes incl. T and hs that are not multiples of the 64-wide tiles
// or of 4, keep-masks with padding, fully masked rows, dropout) and on WebGPU (float32 vs the float64
// composite), plus a finite-difference gradcheck of the op on the reference backend. Padding masks
// (mask 'pad') exercise the kernels' skip of the keys after each batch's last live key. Both layouts:
// (B, nh, T, hs) and (B, T, nh, hs) (layout 'bthd', against the composite on permuted tensors).
// Fully masked rows: with the keep-mask (HF's float32-min bias) the row attends uniformly, as the
// composite does; with a -inf bias the row's output and gradients are 0, as F.softmax's -inf rows.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { F, ReferenceBackend, tensor, tidy, type Backend, type Tensor } from '../../engine/index.js';
import { SeededRandom as Rng } from '../../engine/random.js';
import { attentionBackwardKernel, attentionKernel, type AttentionVariant } from '../../kernels/attention.js';
import { texAttentionKernel } from '../../kernels/attention-tex.js';
import { DS_LIMIT } from '../../kernels/attention-tex-bwd.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const gpu = await tryWebGPU();
type Switchable = Backend & { attentionVariant: AttentionVariant; setAttentionVariant(v: AttentionVariant): void };
/** Runs f with the WebGPU backend's fused attention forced to `variant` (restored afterwards). */
async function withVariant<T>(variant: AttentionVariant, f: () => Promise<T>): Promise<T> {
  const b = gpu as Switchable;
  const before = b.attentionVariant;
  b.setAttentionVariant(variant);
  try {
    return await f();
  } finally {
    b.setAttentionVariant(before);
  }
}

/**
 * layout 'bthd': q, k, v, the output and grads are (B, T, nh, hs); the composite permutes to (B, nh, T, hs) and back.
 * mask 'pad': a keep-mask keeping each batch's first L_b keys (padding after them, the kernels' key_end skip).
 */
interface Case { B: number; nh: number; T: number; hs: number; p: number; mask: 'none' | 'keep' | 'ninf' | 'pad'; seed: number; layout?: 'bhtd' | 'bthd' }

function inputs(c: Case) {
  const rng = new Rng(c.seed);
  const n = c.B * c.nh * c.T * c.hs;
  const rnd = () => Float64Array.from({ length: n }, () => rng.normal());
  const keep = Float64Array.from({ length: c.B * c.T }, () => (rng.next() < 0.7 ? 1 : 0));
  if (c.mask === 'pad') {
    // Batch b keeps its first L_b keys, 1 <= L_b <= T, spread over (0, T] (batch 0: about T/(B+1)).
    for (let b = 0; b < c.B; b++) {
      const len = Math.max(1, Math.min(c.T, Math.floor((c.T * (b + 1)) / (c.B + 1)) - (c.seed % 3)));
      keep.fill(1, b * c.T, b * c.T + len).fill(0, b * c.T + len, (b + 1) * c.T);
    }
    return { q: rnd(), k: rnd(), v: rnd(), g: rnd(), keep };
  }
  // Batch 0 keeps at least its first key; the last batch (when B > 1) is fully masked.
  keep[0] = 1;
  if (c.B > 1) keep.fill(0, (c.B - 1) * c.T);
  return { q: rnd(), k: rnd(), v: rnd(), g: rnd(), keep };
}

/** Output and gradients of the fused op (fused) or the composite on `backend`. */
async function run(c: Case, backend: Backend, fused: boolean): Promise<Float64Array[]> {
  const d = inputs(c);
  const bthd = c.layout === 'bthd';
  const shape = bthd ? [c.B, c.T, c.nh, c.hs] : [c.B, c.nh, c.T, c.hs];
  const heads = (t: Tensor) => (bthd ? F.permute(t, [0, 2, 1, 3]) : t); // (B, T, nh, hs) <-> (B, nh, T, hs)
  const [q, k, v] = [d.q, d.k, d.v].map((x) => tensor(x, shape, { backend, requiresGrad: true }));
  const g = tensor(d.g, shape, { backend });
  const keep = tensor(d.keep, [c.B, c.T], { backend });
  const scale = 1 / Math.sqrt(c.hs);
  const seed = 1234 + c.seed;
  const y = tidy(() => {
    const bias = c.mask === 'keep' || c.mask === 'pad' ? F.mul(F.sub(1, keep), F.ATTENTION_MASK_VALUE)
      : c.mask === 'ninf' ? F.where(keep, 0, -Infinity) : null;
    let out: Tensor;
    if (fused) {
      out = F.attention(q, k, v, { bias, scale, dropout: c.p, seed, layout: c.layout });
    } else {
      let att = F.mul(F.matmul(heads(q), heads(k), { transB: true }), scale);
      if (bias) att = F.add(att, F.reshape(bias, [c.B, 1, 1, c.T]));
      const pr = F.softmax(att);
      out = heads(F.matmul(c.p ? F.dropout(pr, c.p, { seed }) : pr, heads(v)));
    }
    out.backward(g);
    return out;
  });
  const res = await Promise.all([y, q.grad!, k.grad!, v.grad!].map(async (t) => Float64Array.from(await t.data())));
  for (const t of [y, q, k, v, g, keep]) t.dispose();
  return res;
}

const NAMES = ['out', 'dq', 'dk', 'dv'];
function maxErr(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : e;
  }
  return m;
}
const scaleOf = (a: Float64Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 1);

const caseArb = (maxT: number, maxHs: number) => fc.record({
  B: fc.integer({ min: 1, max: 2 }), nh: fc.integer({ min: 1, max: 2 }), T: fc.integer({ min: 1, max: maxT }),
  hs: fc.integer({ min: 1, max: maxHs }), p: fc.constantFrom(0, 0, 0.25), mask: fc.constantFrom('none', 'keep', 'ninf', 'pad') as fc.Arbitrary<Case['mask']>,
  seed: fc.integer({ min: 0, max: 1000 }), layout: fc.constantFrom('bhtd', 'bthd') as fc.Arbitrary<Case['layout']>,
});

const figures: Record<string, number[]> = {};
function record(tag: string, errs: number[]): void {
  figures[tag] = (figures[tag] ?? [0, 0, 0, 0]).map((m, i) => Math.max(m, errs[i]));
}

describe('fused attention == composite', () => {
  it('reference backend (float64): values and dq, dk, dv within 1e-10 over random shapes, masks, dropout', async () => {
    const ref = new ReferenceBackend();
    await fc.assert(fc.asyncProperty(caseArb(70, 13), async (c) => {
      const a = await run(c, ref, true);
      const b = await run(c, ref, false);
      const errs = a.map((x, i) => maxErr(x, b[i]) / scaleOf(b[i]));
      record('reference', errs);
      errs.forEach((e, i) => expect(e, `${NAMES[i]} ${JSON.stringify(c)}`).toBeLessThan(1e-10));
      expect(ref.liveCount()).toBe(0);
    }), { numRuns: 25 });
  });

  it.skipIf(!gpu).each(['texture', 'storage'] as const)('WebGPU fused, %s variant (float32) vs float64 composite: within 2e-5 of the largest magnitude', async (variant) => withVariant(variant, async () => {
    const ref = new ReferenceBackend();
    const fixed: Case[] = [
      { B: 2, nh: 1, T: 130, hs: 64, p: 0.1, mask: 'keep', seed: 1 },
      { B: 2, nh: 1, T: 64, hs: 32, p: 0, mask: 'ninf', seed: 2 },
      { B: 1, nh: 2, T: 65, hs: 36, p: 0, mask: 'none', seed: 3 },
      { B: 2, nh: 3, T: 70, hs: 64, p: 0.1, mask: 'keep', seed: 4, layout: 'bthd' },
      { B: 2, nh: 2, T: 33, hs: 6, p: 0, mask: 'ninf', seed: 5, layout: 'bthd' },
      { B: 3, nh: 2, T: 150, hs: 16, p: 0.1, mask: 'pad', seed: 6, layout: 'bthd' },
    ];
    // The texture variant (llvmpipe's default) over random shapes too; the storage one on the fixed cases.
    const cases = variant === 'texture' ? [...fixed, ...fc.sample(caseArb(100, 16), { numRuns: 4, seed: 7 })] : fixed;
    for (const c of cases) {
      const a = await run(c, gpu!, true);
      const b = await run(c, ref, false);
      const errs = a.map((x, i) => maxErr(x, b[i]) / scaleOf(b[i]));
      record(`webgpu-${variant}`, errs);
      errs.forEach((e, i) => expect(e, `${NAMES[i]} ${JSON.stringify(c)}`).toBeLessThan(2e-5));
    }
    // And the WebGPU composite is no closer to float64 than the fused kernel by more than rounding.
    const c = fixed[0];
    const comp = await run(c, gpu!, false);
    const b = await run(c, ref, false);
    record('webgpu-composite', comp.map((x, i) => maxErr(x, b[i]) / scaleOf(b[i])));
    console.log(`[attention] max error / max|ref| (out, dq, dk, dv): ${JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v.map((x) => Number(x.toExponential(2)))])))}`);
  }));

  it.skipIf(!gpu).each(['bhtd', 'bthd'] as const)('WebGPU texture and storage variants agree and each is deterministic (dropout, padding mask, T = 67, hs = 20, layout %s)', async (layout) => {
    const c: Case = { B: 2, nh: 2, T: 67, hs: 20, p: 0.2, mask: 'keep', seed: 11, layout };
    const t1 = await withVariant('texture', () => run(c, gpu!, true));
    const t2 = await withVariant('texture', () => run(c, gpu!, true));
    const s1 = await withVariant('storage', () => run(c, gpu!, true));
    t1.forEach((x, i) => {
      expect(x, `${NAMES[i]} texture run-to-run`).toEqual(t2[i]);
      expect(maxErr(x, s1[i]) / scaleOf(s1[i]), `${NAMES[i]} texture vs storage`).toBeLessThan(2e-6);
    });
    // Where the backend binds textures as read-only storage textures (image-* matmul), the sampled
    // bindings give the same bits (the texture kernels follow the matmul strategy's texture kind).
    const m = gpu as Backend & { matmulStrategy: string; setMatmulStrategy(s: string): void };
    if (m.matmulStrategy.startsWith('image-')) {
      const before = m.matmulStrategy;
      m.setMatmulStrategy('texture-16x16');
      try {
        const sampled = await withVariant('texture', () => run(c, gpu!, true));
        sampled.forEach((x, i) => expect(x, `${NAMES[i]} sampled vs image textures`).toEqual(t1[i]));
      } finally {
        m.setMatmulStrategy(before);
      }
    }
  });

  it.skipIf(!gpu)('WebGPU texture backward run per group of heads (dS temp limit) equals the one-group run', async () => withVariant('texture', async () => {
    const c: Case = { B: 2, nh: 3, T: 33, hs: 8, p: 0.2, mask: 'keep', seed: 12, layout: 'bthd' };
    const whole = await run(c, gpu!, true);
    const limit = DS_LIMIT.texels;
    DS_LIMIT.texels = 2 * 33 * 9; // 2 heads of t * ceil(t / 4) texels: 3 groups of 2 heads
    try {
      const grouped = await run(c, gpu!, true);
      grouped.forEach((x, i) => expect(x, NAMES[i]).toEqual(whole[i]));
    } finally {
      DS_LIMIT.texels = limit;
    }
  }));

  it.skipIf(!gpu).each(['texture', 'storage'] as const)('WebGPU %s variant, padded keys (skipped after the last live key): equal to the composite, their dk and dv exactly 0 in reused buffers', async (variant) => withVariant(variant, async () => {
    const ref = new ReferenceBackend();
    // Batch lengths 36, 74, 111 of T = 150: whole 64-key tiles (storage) and 8-key blocks (texture) are skipped.
    const c: Case = { B: 3, nh: 2, T: 150, hs: 8, p: 0, mask: 'pad', seed: 1, layout: 'bhtd' };
    await run({ ...c, mask: 'none' }, gpu!, true); // leaves nonzero dk, dv buffers of these sizes in the pool
    const a = await run(c, gpu!, true);
    const b = await run(c, ref, false);
    a.forEach((x, i) => expect(maxErr(x, b[i]) / scaleOf(b[i]), NAMES[i]).toBeLessThan(2e-5));
    const { keep } = inputs(c);
    let padded = 0;
    for (const [i, name] of [[2, 'dk'], [3, 'dv']] as const) {
      for (let bt = 0; bt < c.B; bt++) {
        for (let h = 0; h < c.nh; h++) {
          for (let j = 0; j < c.T; j++) {
            if (keep[bt * c.T + j]) continue;
            padded++;
            const row = ((bt * c.nh + h) * c.T + j) * c.hs;
            for (let d = 0; d < c.hs; d++) expect(a[i][row + d], `${name} of padded key ${j} in batch ${bt}`).toBe(0);
          }
        }
      }
    }
    expect(padded).toBe(2 * c.nh * (114 + 76 + 39));
  }));

  it('rejects a bad layout and mismatched shapes in the layout it names', () => {
    const backend = new ReferenceBackend();
    const x = tensor(new Array(2 * 3 * 4 * 8).fill(0), [2, 3, 4, 8], { backend });
    expect(() => F.attention(x, x, x, { layout: 'tbhd' as 'bthd' })).toThrow(/layout/);
    // (B, T, nh, hs) = (2, 3, 4, 8): the keep-mask is [B, T] = [2, 3], not [2, 4].
    expect(() => F.attention(x, x, x, { layout: 'bthd', mask: tensor(new Array(8).fill(1), [2, 4], { backend }) })).toThrow(/mask must be \[2, 3\]/);
    expect(F.attention(x, x, x, { layout: 'bthd', mask: tensor(new Array(6).fill(1), [2, 3], { backend }) }).shape).toEqual([2, 3, 4, 8]);
  });

  it('the texture plan falls back to the storage plan when the operands exceed a texture', () => {
    const spec = { kind: 'attention' as const, bh: 4, heads: 2, t: 100, hs: 64, scale: 0.125, masked: true, p: 0, seed: 0 };
    expect(texAttentionKernel(spec, 8192)?.textures?.length).toBe(3);
    expect(texAttentionKernel(spec, 16)).toBeNull(); // 6400 texels > 16 x 16
    expect(attentionKernel(spec, 'texture', 16).textures ?? []).toEqual([]);
    // texture backward: stats, then dK/dV + dS and dQ per group of heads whose dS fits DS_LIMIT.
    expect(attentionBackwardKernel({ ...spec, kind: 'attentionBackward' }, 'texture', 8192).steps.length).toBe(3);
    const limit = DS_LIMIT.texels;
    DS_LIMIT.texels = 2 * 100 * 25; // 2 heads of t * ceil(t / 4) texels
    try {
      expect(attentionBackwardKernel({ ...spec, kind: 'attentionBackward' }, 'texture', 8192).steps.length).toBe(5);
      DS_LIMIT.texels = 100 * 25 - 1; // not even one head: the storage plan
      expect(attentionBackwardKernel({ ...spec, kind: 'attentionBackward' }, 'texture', 8192).textures ?? []).toEqual([]);
    } finally {
      DS_LIMIT.texels = limit;
    }
    expect(attentionBackwardKernel({ ...spec, kind: 'attentionBackward' }, 'storage', 8192).steps.length).toBe(3);
  });

  it('fully masked rows: keep-mask -> uniform attention (like the composite), -inf bias -> zeros and zero gradient', async () => {
    const ref = new ReferenceBackend();
    const runs: [Backend, AttentionVariant | null][] = gpu ? [[ref, null], [gpu, 'texture'], [gpu, 'storage']] : [[ref, null]];
    const before = gpu ? (gpu as Switchable).attentionVariant : null;
    for (const [backend, variant] of runs) {
      if (variant) (gpu as Switchable).setAttentionVariant(variant);
      const T = 5;
      const hs = 4;
      const v = tensor(Array.from({ length: T * hs }, (_, i) => i), [1, 1, T, hs], { backend, requiresGrad: true });
      const q = tensor(Array.from({ length: T * hs }, (_, i) => Math.sin(i)), [1, 1, T, hs], { backend, requiresGrad: true });
      const keep = tensor([0, 0, 0, 0, 0], [1, T], { backend });
      const uni = await F.attention(q, q, v, { mask: keep }).toArray();
      for (let d = 0; d < hs; d++) expect(uni[d]).toBeCloseTo((0 + 4 + 8 + 12 + 16) / 5 + d, 4);
      const y = F.attention(q, q, v, { bias: tensor(new Array(T).fill(-Infinity), [1, T], { backend }) });
      y.backward(tensor(new Array(T * hs).fill(1), [1, 1, T, hs], { backend }));
      expect((await y.toArray()).every((x) => x === 0)).toBe(true);
      expect((await q.grad!.toArray()).every((x) => x === 0)).toBe(true);
      expect((await v.grad!.toArray()).every((x) => x === 0)).toBe(true);
    }
    if (before) (gpu as Switchable).setAttentionVariant(before);
  });

  it('finite-difference gradcheck of the op on the reference backend (mask, dropout, hs not a multiple of 4)', async () => {
    const backend = new ReferenceBackend();
    const [B, nh, T, hs] = [2, 2, 3, 3];
    const rng = new Rng(5);
    const shape = [B, nh, T, hs];
    const data = [0, 1, 2].map(() => Array.from({ length: B * nh * T * hs }, () => rng.normal()));
    const w = Array.from({ length: B * nh * T * hs }, () => rng.normal());
    const keep = tensor([1, 1, 0, 1, 0, 1], [B, T], { backend });
    const loss = (xs: number[][]) => {
      const [q, k, v] = xs.map((x) => tensor(x, shape, { backend, requiresGrad: true }));
      const y = F.attention(q, k, v, { mask: keep, dropout: 0.3, seed: 99 });
      return { l: F.sum(F.mul(y, tensor(w, shape, { backend }))), q, k, v };
    };
    const { l, q, k, v } = loss(data);
    l.backward();
    const grads = [await q.grad!.toArray(), await k.grad!.toArray(), await v.grad!.toArray()];
    const h = 1e-6;
    let worst = 0;
    for (let which = 0; which < 3; which++) {
      for (let i = 0; i < data[which].length; i++) {
        const plus = data.map((x) => [...x]);
        const minus = data.map((x) => [...x]);
        plus[which][i] += h;
        minus[which][i] -= h;
        const fd = ((await loss(plus).l.item()) - (await loss(minus).l.item())) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - grads[which][i]));
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });
});
