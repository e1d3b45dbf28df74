// F.maskedSoftmax(x, mask, scale) = softmax(x * scale + mask) in one kernel: equal to the composite
// F.softmax(F.add(F.mul(x, scale), mask)) in values and in the gradients of x and the mask, for the
// mask shapes attention uses, on the float64 reference and on WebGPU (every row strategy runs in
// tests/backend/row-kernels-strategies.test.ts); bad masks are rejected by name.

import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { F, ReferenceBackend, tensor, tidyAsync, type Backend, type Tensor } from '../../engine/index.js';
import { ATTENTION_MASK_VALUE } from '../../engine/ops/attention.js';
import { maskGeometry } from '../../engine/ops/api.js';
import { SeededRandom } from '../../engine/random.js';
import { getWebGPU } from '../helpers/webgpu.js';

const ref = new ReferenceBackend();
let gpu: Backend;
beforeAll(async () => {
  gpu = await getWebGPU();
});

/** Output, dx and dmask of `f` on x, mask (loss = sum(out * w)). */
async function run(backend: Backend, f: (x: Tensor, m: Tensor) => Tensor, xs: number[], xShape: number[], ms: number[], mShape: number[], w: number[]) {
  return tidyAsync(async () => {
    const x = tensor(xs, xShape, { backend });
    const m = tensor(ms, mShape, { backend });
    x.requiresGrad = true;
    m.requiresGrad = true;
    const y = f(x, m);
    F.sum(F.mul(y, tensor(w, xShape, { backend }))).backward();
    return [await y.data(), await x.grad!.data(), await m.grad!.data()].map((a) => Array.from(a));
  });
}

const maxDiff = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Object.is(a[i], b[i]) ? 0 : Math.abs(a[i]! - b[i]!));
  return d;
};

/** Scores of shape x, a mask of shape m with some padded keys (additive -3.4e38 or -inf), random weights. */
function data(rng: SeededRandom, x: number[], m: number[], pad: number) {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: size(x) }, () => rng.normal() * 3);
  const ms = Array.from({ length: size(m) }, () => (rng.next() < 0.3 ? pad : rng.normal()));
  const w = Array.from({ length: size(x) }, () => rng.next() * 2 - 1);
  return { xs, ms, w };
}

// [B, nh, T, T] scores with masks [B, 1, 1, T] (HF's padding mask), [1, 1, T, T] (causal-like),
// [B, 1, T, T] (three runs: kept, broadcast, kept), [T]; and a [B, T] key mask on [B, T] scores.
const SHAPES: [number[], number[]][] = [
  [[2, 3, 4, 5], [2, 1, 1, 5]], [[2, 3, 4, 5], [1, 1, 4, 5]], [[2, 3, 4, 5], [2, 1, 4, 5]], [[2, 3, 4, 5], [5]], [[3, 7], [3, 7]],
];
const composite = (scale: number) => (x: Tensor, m: Tensor) => F.softmax(F.add(F.mul(x, scale), m));
const fused = (scale: number) => (x: Tensor, m: Tensor) => F.maskedSoftmax(x, m, scale);

describe('F.maskedSoftmax == softmax(x * scale + mask)', () => {
  it('reference backend: values and both gradients within 1e-12, for every mask shape', async () => {
    const rng = new SeededRandom(3);
    for (const [xShape, mShape] of SHAPES) {
      const { xs, ms, w } = data(rng, xShape, mShape, ATTENTION_MASK_VALUE);
      const want = await run(ref, composite(0.35), xs, xShape, ms, mShape, w);
      const got = await run(ref, fused(0.35), xs, xShape, ms, mShape, w);
      for (let k = 0; k < 3; k++) expect(maxDiff(got[k]!, want[k]!), `${xShape} / ${mShape} output ${k}`).toBeLessThan(1e-12);
      // The mask matters: its gradient is not all zero.
      expect(got[2]!.some((v) => v !== 0)).toBe(true);
    }
  });

  it('WebGPU equals the float64 composite (random shapes, -inf and float32-min masks, any scale sign)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(-Infinity, ATTENTION_MASK_VALUE), fc.constantFrom(0.125, 1, -0.6), fc.integer(),
        async (B, nh, T, which, pad, scale, seed) => {
          const xShape = [B, nh, T, T];
          const mShape = [[B, 1, 1, T], [1, 1, T, T], [B, 1, T, T], [T], [B, nh, T, T]][which]!;
          const { xs, ms, w } = data(new SeededRandom(seed), xShape, mShape, pad);
          // A row whose keys are all -inf has no softmax (NaN in the composite): keep one key live per mask row.
          for (let i = 0; i < ms.length; i += T) ms[i] = 0;
          const want = await run(ref, composite(scale), xs, xShape, ms, mShape, w);
          const got = await run(gpu, fused(scale), xs, xShape, ms, mShape, w);
          const rows = ms.length / T;
          expect(maxDiff(got[0]!, want[0]!)).toBeLessThan(1e-5);
          expect(maxDiff(got[1]!, want[1]!)).toBeLessThan(1e-5 * (1 + Math.abs(scale)));
          expect(maxDiff(got[2]!, want[2]!)).toBeLessThan(1e-5 * Math.sqrt(xs.length / rows));
        },
      ),
      { numRuns: 12 },
    );
  });

  it('without a mask: softmax(x * scale), one input, gradient to x', async () => {
    const rng = new SeededRandom(5);
    const xs = Array.from({ length: 4 * 9 }, () => rng.normal());
    for (const backend of [ref, gpu]) {
      const [a, b] = await tidyAsync(async () => {
        const x = tensor(xs, [4, 9], { backend });
        const y = F.maskedSoftmax(x, null, -2);
        return [Array.from(await y.data()), Array.from(await F.softmax(F.mul(x, -2)).data())];
      });
      expect(maxDiff(a!, b!)).toBeLessThan(backend === ref ? 1e-12 : 1e-6);
    }
  });

  it('mask geometry: leading dims merged into at most three runs', () => {
    expect(maskGeometry([2, 3, 4, 5], [2, 1, 1, 5])).toEqual({ mdims: [1, 2, 12], mstrides: [0, 1, 0] });
    expect(maskGeometry([2, 3, 4, 5], [1, 1, 4, 5])).toEqual({ mdims: [1, 6, 4], mstrides: [0, 0, 1] });
    expect(maskGeometry([2, 3, 4, 5], [2, 1, 4, 5])).toEqual({ mdims: [2, 3, 4], mstrides: [4, 0, 1] });
    expect(maskGeometry([2, 3, 4, 5], [2, 3, 4, 5])).toEqual({ mdims: [1, 1, 24], mstrides: [0, 0, 1] });
  });

  it('softmaxBackward takes a scale for softmax only: a log-softmax spec with one is rejected on both backends', () => {
    for (const backend of [ref, gpu]) {
      const y = backend.alloc(8, 'f32');
      const dy = backend.alloc(8, 'f32');
      const dx = backend.alloc(8, 'f32');
      expect(() => backend.run({ kind: 'softmaxBackward', log: true, rows: 2, len: 4, scale: 2 }, [y, dy], [dx])).toThrow(/scale 2 with log/);
      backend.run({ kind: 'softmaxBackward', log: true, rows: 2, len: 4, scale: 1 }, [y, dy], [dx]); // scale 1 is the default
      for (const s of [y, dy, dx]) backend.free(s);
    }
  });

  it('rejects masks that do not fit, naming both shapes, and leaves no tensor behind', () => {
    const x = tensor(new Array(2 * 3 * 4).fill(0), [2, 3, 4], { backend: ref });
    const live = ref.liveCount();
    const bad = (shape: number[]) => () => F.maskedSoftmax(x, tensor(new Array(shape.reduce((a, b) => a * b, 1)).fill(0), shape, { backend: ref }), 1);
    expect(bad([2, 3, 5])).toThrow(/mask \[2, ?3, ?5\] does not fit scores \[2, ?3, ?4\]: its last dim must be 4/);
    expect(bad([3, 1, 4])).toThrow(/dim 0 is 3, expected 1 or 2/);
    expect(bad([1, 2, 3, 4])).toThrow(/expected rank 1..3/);
    expect(() => F.maskedSoftmax(x, null, Number.NaN)).toThrow(/scale must be finite/);
    expect(ref.liveCount()).toBe(live + 3); // the three bad masks themselves, no output
    const x5 = tensor(new Array(2 * 2 * 2 * 2 * 3).fill(0), [2, 2, 2, 2, 3], { backend: ref });
    expect(() => F.maskedSoftmax(x5, tensor(new Array(2 * 2 * 3).fill(0), [2, 1, 2, 1, 3], { backend: ref }), 1)).toThrow(/more than three alternating runs/);
  });
});
