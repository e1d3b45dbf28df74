// Every KernelSpec kind on WebGPU equals the float64 reference backend on random shapes
// (dimensions 1..70, never tile multiples), broadcast strides, edge values and i32 paths.
// Tolerances are float32's: |gpu - ref| <= atol + rtol * |ref|, with ref rounded to f32;
// matmul relative to sqrt(k) * max|a| * max|b|.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DType, KernelSpec, UnaryOp, BinaryOp } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import { describeAdapter } from '../../engine/backend/webgpu/device.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { contiguous, expectClose, expectEqualInts, f32, fout, i32, iout, ints, makeBoth, prod, values } from '../helpers/kernel-check.js';
import { SMALL_VOCAB } from '../../kernels/gather.js';

let gpu: WebGPUBackend;
const ref = new ReferenceBackend();
const RUNS = 30;

beforeAll(async () => {
  gpu = await createNodeBackend();
  console.log(`[webgpu] adapter: ${describeAdapter(gpu.adapter)}\n${JSON.stringify(gpu.adapter)}`);
});
afterAll(() => {
  console.log(`[webgpu] kernels test stats: ${JSON.stringify(gpu.stats())}`);
  gpu.destroy();
});

const both = makeBoth(() => gpu, ref);

const dimA = fc.integer({ min: 1, max: 70 });
const seedA = fc.integer({ min: 0, max: 0x7fffffff });
const scaleA = fc.constantFrom(1, 10, 1000);
describe('webgpu kernels == reference', () => {
  it('fill (f32 and i32)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.boolean(),
      async (size, value, isInt) => {
        const spec: KernelSpec = { kind: 'fill', dtype: isInt ? 'i32' : 'f32', size, value: isInt ? Math.trunc(value) : value };
        const { g, r } = await both(spec, [], [isInt ? iout(size) : fout(size)]);
        if (isInt) expectEqualInts(g[0]!, r[0]!, spec); else expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
      }), { numRuns: RUNS });
    // Both kernels every run: vec4 stores (sizes a multiple of 4) and u32 stores (the rest).
    for (const [size, value, isInt] of [[4, -2.5, false], [4096, 7, true], [8, 1e-30, false], [5, -9, true], [4097, 0.25, false]] as const) {
      const spec: KernelSpec = { kind: 'fill', dtype: isInt ? 'i32' : 'f32', size, value };
      const { g, r } = await both(spec, [], [isInt ? iout(size) : fout(size)]);
      if (isInt) expectEqualInts(g[0]!, r[0]!, spec); else expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
    }
  });

  const unaryCases: [UnaryOp, number, number, readonly number[]][] = [
    // op, rtol, atol, edge values
    ['neg', 0, 0, [0, -0, 1e30, -1e-30]],
    ['exp', 1e-5, 0, [0, -100, 80, -80, 100]],
    ['log', 2e-6, 1e-6, [1, 1e-30, 1e30]],
    ['sqrt', 2e-6, 0, [0, 1e-30, 1e30]],
    ['rsqrt', 2e-6, 0, [1e-30, 1e30]],
    ['tanh', 1e-6, 1e-7, [0, 1e-5, -1e-5, 0.625, -0.6, 9, 12, -50, 1e4]],
    ['erf', 1e-6, 1e-7, [0, 1e-6, -1e-4, 0.99, 1.01, -3, 5, 1e4]],
    ['abs', 0, 0, [0, -0, -1e30]],
    ['recip', 2e-6, 0, [1e-30, -1e30, 3]],
    ['sigmoid', 2e-6, 1e-7, [0, -100, 100, -20, 20]],
    ['relu', 0, 0, [0, -0, 1e-30, -1e-30]],
    ['step', 0, 0, [0, -0, 1e-30, -1e-30]],
    ['gelu', 2e-6, 1e-6, [0, -5, -10, 5, 1e4, -1e4, 0.7]],
    ['geluGrad', 2e-6, 1e-6, [0, -5, -10, 5, 1e4, -1e4, 0.7]],
    ['geluTanh', 2e-6, 1e-6, [0, -5, -10, 5, 1e4, -1e4, 0.7]],
    ['geluTanhGrad', 2e-6, 1e-6, [0, -5, -10, 5, 1e4, -1e4, 0.7]],
  ];
  for (const [op, rtol, atol, edges] of unaryCases) {
    it(`unary ${op}`, async () => {
      const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 400 }), seedA, fc.constantFrom(1, 4, 30), async (size, seed, scale) => {
        const rng = new SeededRandom(seed);
        let x = values(rng, size, op === 'exp' ? Math.min(scale, 10) : scale, edges);
        if (positive) x = x.map((v) => Math.abs(v) + 1e-6);
        const spec: KernelSpec = { kind: 'unary', op, size };
        const { g, r } = await both(spec, [f32(x)], [fout(size)]);
        expectClose(g[0]!, r[0]!, { rtol, atol: atol * Math.max(1, scale) }, spec);
      }), { numRuns: RUNS });
    });
  }

  it('affine', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), seedA, fc.double({ min: -100, max: 100, noNaN: true }),
      fc.double({ min: -100, max: 100, noNaN: true }), async (size, seed, scale, shift) => {
        const x = values(new SeededRandom(seed), size, 10);
        const spec: KernelSpec = { kind: 'affine', size, scale, shift };
        const { g, r } = await both(spec, [f32(x)], [fout(size)]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-6, atol: 1e-6 * (Math.abs(scale) * 50 + Math.abs(shift)) }, spec);
      }), { numRuns: RUNS });
  });

  /** A broadcast operand: for each out dim, either real (contiguous over real dims) or stride 0. */
  const broadcastShape = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 })
    .filter((s) => prod(s) <= 6000);
  function operand(rng: SeededRandom, outShape: number[]): { strides: number[]; size: number } {
    const real = outShape.map((n) => n > 1 && rng.next() < 0.3 ? 0 : n);
    const shape = real.map((n) => (n === 0 ? 1 : n));
    const st = contiguous(shape).map((s, d) => (real[d] === 0 ? 0 : s));
    return { strides: st, size: prod(shape) };
  }
  const binOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'geluBackward', 'geluTanhBackward'];
  for (const op of binOps) {
    it(`binary ${op} (broadcast strides)`, async () => {
      await fc.assert(fc.asyncProperty(broadcastShape, seedA, async (outShape, seed) => {
        const rng = new SeededRandom(seed);
        const A = operand(rng, outShape);
        const B = operand(rng, outShape);
        const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'max', 'min'].includes(op);
        let a = cmp ? ints(rng, A.size, -3, 3) : values(rng, A.size, 10, [0, 1e20, -1e-20]);
        let b = cmp ? ints(rng, B.size, -3, 3) : values(rng, B.size, 10, [1e20, -1e-20, 3]);
        const gelu = op === 'geluBackward' || op === 'geluTanhBackward';
        if (gelu) {
          // a: an upstream gradient; b: the GELU input, with the unary gelu tests' edge values.
          a = values(rng, A.size, 10, [0, 1, -1]);
          b = values(rng, B.size, 10, [0, -5, -10, 5, 1e4, -1e4, 0.7]);
        }
        if (op === 'pow') {
          a = values(rng, A.size, 3, [0, -2, -0.5, 1]);
          b = Array.from({ length: B.size }, () => (rng.next() < 0.5 ? Math.round(rng.normal() * 3) : rng.normal() * 2));
        }
        const spec: KernelSpec = { kind: 'binary', op, outShape, aStrides: A.strides, bStrides: B.strides };
        const { g, r } = await both(spec, [f32(a), f32(b)], [fout(prod(outShape))]);
        // gelu: the unary geluGrad tolerance (rtol 2e-6, atol 1e-6) times |a| (values up to ~50).
        expectClose(g[0]!, r[0]!, op === 'pow' ? { rtol: 2e-5, atol: 1e-6 } : gelu ? { rtol: 4e-6, atol: 5e-5 } : { rtol: 2e-6, atol: 0 }, spec);
      }), { numRuns: 20 });
    });
  }

  it('where (broadcast strides; conditions 0, -0, 2 and NaN)', async () => {
    await fc.assert(fc.asyncProperty(broadcastShape, seedA, async (outShape, seed) => {
      const rng = new SeededRandom(seed);
      const C = operand(rng, outShape);
      const A = operand(rng, outShape);
      const B = operand(rng, outShape);
      const cond = ints(rng, C.size, -1, 2).map((v) => (v === -1 ? -0 : v === 2 ? NaN : v * 2)); // NaN counts as true
      const spec: KernelSpec = { kind: 'where', outShape, condStrides: C.strides, aStrides: A.strides, bStrides: B.strides };
      const { g, r } = await both(spec, [f32(cond), f32(values(rng, A.size)), f32(values(rng, B.size))], [fout(prod(outShape))]);
      expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
    }), { numRuns: RUNS });
  });

  it('cast f32<->i32 and same-type', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2000 }), seedA,
      fc.constantFrom<[DType, DType]>(['f32', 'i32'], ['i32', 'f32'], ['f32', 'f32'], ['i32', 'i32']), async (size, seed, [from, to]) => {
        const rng = new SeededRandom(seed);
        const x = from === 'f32' ? f32(values(rng, size, 1000, [0.5, -0.5, -0.99, 2.9999])) : i32(ints(rng, size, -1e7, 1e7));
        const spec: KernelSpec = { kind: 'cast', from, to, size };
        const { g, r } = await both(spec, [x], [{ dtype: to, size }]);
        if (to === 'i32') expectEqualInts(g[0]!, r[0]!, spec);
        else { expect(g[0]).toBeInstanceOf(Float32Array); expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec); }
      }), { numRuns: RUNS });
  });

  it('copy: rank up to 8, permuted/expanded/negative strides, offsets, into a larger output', async () => {
    const shapeA = fc.integer({ min: 1, max: 8 }).chain((rank) =>
      fc.array(fc.integer({ min: 1, max: rank > 4 ? 3 : 9 }), { minLength: rank, maxLength: rank }));
    await fc.assert(fc.asyncProperty(shapeA, seedA, fc.boolean(), async (shape, seed, isInt) => {
      const rng = new SeededRandom(seed);
      const rank = shape.length;
      // Input: a permuted, padded base with some expanded (stride 0) and some reversed dims.
      const perm = [...Array(rank).keys()].sort(() => rng.next() - 0.5);
      const pad = shape.map(() => Math.floor(rng.next() * 3));
      const baseShape = perm.map((d) => shape[d]! + pad[d]!);
      const baseStrides = contiguous(baseShape);
      const inStrides = shape.map((_, d) => baseStrides[perm.indexOf(d)]!);
      let inOffset = Math.floor(rng.next() * 5);
      for (let d = 0; d < rank; d++) {
        const u = rng.next();
        if (u < 0.15) inStrides[d] = 0;
        else if (u < 0.3) { inOffset += (shape[d]! - 1) * inStrides[d]!; inStrides[d] = -inStrides[d]!; }
      }
      const inSize = inOffset + 1 + shape.reduce((a, n, d) => a + (n - 1) * Math.max(0, inStrides[d]!), 0) + 3;
      // Output: the shape embedded in a bigger contiguous block (a concat part), at an offset.
      const outer = shape.map((n) => n + Math.floor(rng.next() * 3));
      const outStrides = contiguous(outer);
      const outOffset = Math.floor(rng.next() * 7);
      const outSize = outOffset + prod(outer) + 2;
      const data = isInt ? i32(ints(rng, inSize, -1e6, 1e6)) : f32(values(rng, inSize));
      const init = isInt ? ints(rng, outSize, -5, 5) : values(rng, outSize);
      const dtype: DType = isInt ? 'i32' : 'f32';
      const spec: KernelSpec = { kind: 'copy', dtype, shape, inStrides, inOffset, outStrides, outOffset };
      const { g, r } = await both(spec, [data], [{ dtype, size: outSize, init }]);
      if (isInt) expectEqualInts(g[0]!, r[0]!, spec); else expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
    }), { numRuns: 30 });
  });

  it('reduce sum/max over [outer, len, inner] (row and column variants)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, fc.constantFrom(1, 1, 2, 7, 19), seedA,
      fc.constantFrom<'sum' | 'max'>('sum', 'max'), scaleA, async (outer, len, inner, seed, op, scale) => {
        const rng = new SeededRandom(seed);
        const x = values(rng, outer * len * inner, scale, [-1e4, 1e4]);
        const spec: KernelSpec = { kind: 'reduce', op, outer, len, inner, scale: op === 'sum' ? 1 / len : 1 };
        const { g, r } = await both(spec, [f32(x)], [fout(outer * inner)]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: op === 'sum' ? 1e-6 * 1e4 : 0 }, spec);
      }), { numRuns: 30 });
  });

  it('reduce over a long axis with few outputs (the chunked two-step path)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 256, max: 3000 }), fc.constantFrom(2, 3, 256), seedA,
      fc.constantFrom<'sum' | 'max'>('sum', 'max'), async (outer, len, inner, seed, op) => {
        const rng = new SeededRandom(seed);
        const x = values(rng, outer * len * inner, 1, [-1e4, 1e4]);
        const spec: KernelSpec = { kind: 'reduce', op, outer, len, inner, scale: op === 'sum' ? 0.5 : 1 };
        const { g, r } = await both(spec, [f32(x)], [fout(outer * inner)]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: op === 'sum' ? 1e-6 * 1e4 * Math.sqrt(len) : 0 }, spec);
      }), { numRuns: 8 });
  });

  it('unary, same-shape binary and dropout at sizes that take the image-input kernels (multiples of 4, several texture rows)', async () => {
    // The image-input elementwise kernels run when the backend's matmul strategy reads images: force
    // one (the autotuner may pick another, e.g. on SwiftShader) where the WGSL feature exists.
    const before = gpu.matmulStrategy;
    const images = gpu.adapter.wgslFeatures.includes('readonly_and_readwrite_storage_textures');
    if (images) gpu.setMatmulStrategy('image-16x16');
    try {
      if (images) {
        // The image path reads its input through a texture: a second call on the same unchanged
        // buffer takes that texture from the cache (the storage kernel would read no texture).
        const x = gpu.alloc(4096, 'f32');
        const y = gpu.alloc(4096, 'f32');
        gpu.write(x, new Float32Array(4096).fill(0.5));
        const spec: KernelSpec = { kind: 'unary', op: 'gelu', size: 4096 };
        gpu.run(spec, [x], [y]);
        const hits = gpu.stats().textureCacheHits;
        gpu.run(spec, [x], [y]);
        await gpu.read(y);
        expect(gpu.stats().textureCacheHits).toBe(hits + 1);
        gpu.free(x);
        gpu.free(y);
      }
      const rng = new SeededRandom(5);
      for (const n of [12, 4096, 40_000, 40_003]) {
        const x = values(rng, n, 1, [-20, 20]);
        const y = values(rng, n, 1);
        for (const spec of [
          { kind: 'unary', op: 'gelu', size: n }, { kind: 'unary', op: 'exp', size: n },
          { kind: 'binary', op: 'mul', outShape: [n], aStrides: [1], bStrides: [1] }, { kind: 'binary', op: 'pow', outShape: [n], aStrides: [1], bStrides: [1] },
        ] as KernelSpec[]) {
          const { g, r } = await both(spec, spec.kind === 'binary' ? [f32(x.map(Math.abs)), f32(y)] : [f32(x)], [fout(n)]);
          expectClose(g[0]!, r[0]!, { rtol: 2e-5, atol: 1e-6 }, spec);
        }
        const drop: KernelSpec = { kind: 'dropout', size: n, p: 0.3, seed: 77 };
        const d = await both(drop, [f32(x)], [fout(n)]);
        expectClose(d.g[0]!, d.r[0]!, { rtol: 1e-6, atol: 0 }, drop);
      }
    } finally {
      gpu.setMatmulStrategy(before);
    }
  });

  it('argmax (ties: first index)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 300 }), seedA, async (rows, len, seed) => {
      const rng = new SeededRandom(seed);
      const x = ints(rng, rows * len, -4, 4).map((v) => (v === -4 ? -Infinity : v));
      const spec: KernelSpec = { kind: 'argmax', rows, len };
      const { g, r } = await both(spec, [f32(x)], [iout(rows)]);
      expectEqualInts(g[0]!, r[0]!, spec);
    }), { numRuns: RUNS });
  });

  it('matmul (all transposes, batch strides incl. broadcast)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), dimA, dimA, dimA, fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), seedA, scaleA,
      async (batch, m, n, k, transA, transB, bcastA, bcastB, seed, scale) => {
        const rng = new SeededRandom(seed);
        const aBatchStride = bcastA ? 0 : m * k;
        const bBatchStride = bcastB ? 0 : k * n;
        const a = values(rng, bcastA ? m * k : batch * m * k, scale);
        const b = values(rng, bcastB ? k * n : batch * k * n, 1);
        const spec: KernelSpec = { kind: 'matmul', transA, transB, batch, m, n, k, aBatchStride, bBatchStride };
        const { g, r } = await both(spec, [f32(a), f32(b)], [fout(batch * m * n)]);
        const maxA = Math.max(...a.map(Math.abs));
        const maxB = Math.max(...b.map(Math.abs));
        expectClose(g[0]!, r[0]!, { rtol: 0, atol: 2e-6 * Math.sqrt(k) * maxA * maxB }, spec);
      }), { numRuns: 30 });
  });

  /** Rows of x with some -inf entries and some all -inf rows. */
  function maskedRows(rng: SeededRandom, rows: number, len: number, scale: number): number[] {
    const x = values(rng, rows * len, scale);
    for (let r = 0; r < rows; r++) {
      const mode = rng.next();
      for (let j = 0; j < len; j++) {
        if (mode < 0.15 || (mode < 0.5 && rng.next() < 0.3)) x[r * len + j] = -Infinity;
      }
    }
    return x;
  }

  for (const log of [false, true]) {
    it(`softmax log=${log} (-inf entries and rows, large magnitudes)`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, seedA, scaleA, async (rows, len, seed, scale) => {
        const x = maskedRows(new SeededRandom(seed), rows, len, scale);
        const spec: KernelSpec = { kind: 'softmax', log, rows, len };
        const { g, r } = await both(spec, [f32(x)], [fout(rows * len)]);
        expectClose(g[0]!, r[0]!, log ? { rtol: 2e-6, atol: 2e-6 } : { rtol: 1e-5, atol: 1e-7 }, spec);
      }), { numRuns: RUNS });
    });

    it(`softmaxBackward log=${log}`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, seedA, async (rows, len, seed) => {
        const rng = new SeededRandom(seed);
        const x = maskedRows(rng, rows, len, 3);
        // y = softmax(x) computed by the reference, rounded to f32.
        const xs = ref.alloc(rows * len, 'f32');
        const ys = ref.alloc(rows * len, 'f32');
        ref.write(xs, Float32Array.from(x));
        ref.run({ kind: 'softmax', log, rows, len }, [xs], [ys]);
        const y = await ref.read(ys);
        ref.free(xs); ref.free(ys);
        const dy = values(rng, rows * len, 1);
        const spec: KernelSpec = { kind: 'softmaxBackward', log, rows, len };
        const { g, r } = await both(spec, [f32(y), f32(dy)], [fout(rows * len)]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(len) }, spec);
      }), { numRuns: RUNS });
    });
  }

  it('layernorm (two-pass: offset rows)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, seedA, fc.constantFrom(0, 100), fc.constantFrom(1e-5, 1e-12), async (rows, len, seed, offset, eps) => {
      const rng = new SeededRandom(seed);
      const x = values(rng, rows * len, 1).map((v) => v + offset);
      const spec: KernelSpec = { kind: 'layernorm', rows, len, eps };
      const { g, r } = await both(spec, [f32(x), f32(values(rng, len, 1)), f32(values(rng, len, 1))], [fout(rows * len), fout(rows), fout(rows)]);
      const tol = { rtol: 1e-5, atol: 2e-5 * (1 + offset / 10) };
      for (let i = 0; i < 3; i++) expectClose(g[i]!, r[i]!, i === 2 && len === 1 ? { rtol: 1e-3 } : tol, { spec, out: i });
    }), { numRuns: RUNS });
  });

  it('layernormBackward', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, seedA, async (rows, len, seed) => {
      const rng = new SeededRandom(seed);
      const x = Float32Array.from(values(rng, rows * len, 2));
      const gamma = Float32Array.from(values(rng, len, 1));
      const mean = new Float32Array(rows);
      const rstd = new Float32Array(rows);
      for (let r = 0; r < rows; r++) {
        let m = 0; for (let j = 0; j < len; j++) m += x[r * len + j]!; m /= len;
        let v = 0; for (let j = 0; j < len; j++) v += (x[r * len + j]! - m) ** 2; v /= len;
        mean[r] = m; rstd[r] = 1 / Math.sqrt(v + 1e-5);
      }
      const dy = values(rng, rows * len, 1);
      const spec: KernelSpec = { kind: 'layernormBackward', rows, len };
      const { g, r } = await both(spec, [f32(x), f32(gamma), f32(mean), f32(rstd), f32(dy)], [fout(rows * len), fout(len), fout(len)]);
      for (let i = 0; i < 3; i++) expectClose(g[i]!, r[i]!, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(rows * len) }, { spec, out: i });
    }), { numRuns: RUNS });
  });

  for (const backward of [false, true]) {
    it(`crossEntropy${backward ? 'Backward' : ''} (ignored and out-of-range labels)`, async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, seedA, scaleA, async (rows, classes, seed, scale) => {
        const rng = new SeededRandom(seed);
        const x = values(rng, rows * classes, scale);
        const labels = ints(rng, rows, 0, classes - 1).map((l) => { const u = rng.next(); return u < 0.15 ? -100 : u < 0.2 ? classes + 2 : l; });
        const spec: KernelSpec = backward
          ? { kind: 'crossEntropyBackward', rows, classes, ignoreIndex: -100 }
          : { kind: 'crossEntropy', rows, classes, ignoreIndex: -100 };
        const ins = [f32(x), i32(labels)];
        if (backward) ins.push(f32(values(rng, rows, 1)));
        const { g, r } = await both(spec, ins, [fout(backward ? rows * classes : rows)]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 2e-6 * scale }, spec);
      }), { numRuns: RUNS });
    });
  }

  it('gather (out-of-range ids give zero rows; dim a multiple of 4 or not: vec4 and scalar kernels)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 60 }), dimA, fc.integer({ min: 1, max: 40 }), seedA, async (rows, anyDim, vocab, seed) => {
      for (const dim of new Set([anyDim, 4 * Math.ceil(anyDim / 4)])) {
        const rng = new SeededRandom(seed);
        const ids = ints(rng, rows, -1, vocab);
        const spec: KernelSpec = { kind: 'gather', rows, dim, vocab };
        const { g, r } = await both(spec, [f32(values(rng, vocab * dim)), i32(ids)], [fout(rows * dim)]);
        expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
      }
    }), { numRuns: RUNS });
  });

  it('scatterAdd (duplicates, invalid ids; deterministic)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 }), seedA,
      async (rows, dim, vocab, seed) => {
        const rng = new SeededRandom(seed);
        const ids = ints(rng, rows, -1, vocab);
        const dy = values(rng, rows * dim, 1);
        const spec: KernelSpec = { kind: 'scatterAdd', rows, dim, vocab };
        const { g, r } = await both(spec, [f32(dy), i32(ids)], [fout(vocab * dim, values(rng, vocab * dim))]);
        expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) }, spec);
        const again = await both(spec, [f32(dy), i32(ids)], [fout(vocab * dim)]);
        expect(Array.from(again.g[0]!)).toEqual(Array.from(g[0]!));
      }), { numRuns: RUNS });
  });

  it('scatterAdd with more rows than one sort block (global and workgroup-local bitonic stages)', async () => {
    for (const [rows, vocab] of [[513, 17], [1500, 40], [4100, 30522]] as const) { // vocab > SMALL_VOCAB: the sort path
      const rng = new SeededRandom(rows);
      const ids = ints(rng, rows, -1, vocab);
      const dy = values(rng, rows * 8, 1);
      const spec: KernelSpec = { kind: 'scatterAdd', rows, dim: 8, vocab };
      const { g, r } = await both(spec, [f32(dy), i32(ids)], [fout(vocab * 8)]);
      expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) }, spec);
    }
  });

  it('scatterAdd with a small vocabulary (no sort; token types): many rows, rows not a multiple of 4, invalid ids', async () => {
    for (const [rows, dim, vocab] of [[4097, 256, 2], [3001, 6, SMALL_VOCAB], [5, 64, 1]] as const) {
      const rng = new SeededRandom(rows);
      const ids = ints(rng, rows, -1, vocab + 1); // -1, vocab and vocab + 1 are invalid
      const dy = values(rng, rows * dim, 1);
      const spec: KernelSpec = { kind: 'scatterAdd', rows, dim, vocab };
      const { g, r } = await both(spec, [f32(dy), i32(ids)], [fout(vocab * dim, values(rng, vocab * dim))]);
      expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) }, spec);
    }
  });

  it('scatterAdd with a large vocabulary (one part per segment)', async () => {
    const [rows, dim, vocab] = [500, 20, 2000];
    const rng = new SeededRandom(11);
    const ids = ints(rng, rows, -1, 60).map((v) => v * 33);
    const dy = values(rng, rows * dim, 1);
    const spec: KernelSpec = { kind: 'scatterAdd', rows, dim, vocab };
    const { g, r } = await both(spec, [f32(dy), i32(ids)], [fout(vocab * dim)]);
    expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) }, spec);
  });

  it('topk (ties: lower index first)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 12 }), dimA, seedA, fc.double({ min: 0, max: 1, noNaN: true }), async (rows, len, seed, kf) => {
      const rng = new SeededRandom(seed);
      const k = Math.max(1, Math.ceil(kf * len));
      const x = ints(rng, rows * len, -5, 5).map((v) => (v === -5 ? -Infinity : v + (rng.next() < 0.3 ? 0.5 : 0)));
      const spec: KernelSpec = { kind: 'topk', rows, len, k };
      const { g, r } = await both(spec, [f32(x)], [iout(rows * k)]);
      expectEqualInts(g[0]!, r[0]!, spec);
    }), { numRuns: RUNS });
  });

  it('gatherLast (f32 and i32)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, fc.integer({ min: 1, max: 20 }), seedA, fc.boolean(), async (rows, len, k, seed, isInt) => {
      const rng = new SeededRandom(seed);
      const idx = ints(rng, rows * k, 0, len - 1);
      const dtype: DType = isInt ? 'i32' : 'f32';
      const x = isInt ? i32(ints(rng, rows * len, -1e6, 1e6)) : f32(values(rng, rows * len));
      const spec: KernelSpec = { kind: 'gatherLast', dtype, rows, len, k };
      const { g, r } = await both(spec, [x, i32(idx)], [{ dtype, size: rows * k }]);
      if (isInt) expectEqualInts(g[0]!, r[0]!, spec); else expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
    }), { numRuns: RUNS });
  });

  it('scatterLast (duplicate indices summed; every output written, whatever the buffer held)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), dimA, fc.integer({ min: 1, max: 20 }), seedA, async (rows, len, k, seed) => {
      const rng = new SeededRandom(seed);
      const idx = ints(rng, rows * k, 0, len - 1);
      const spec: KernelSpec = { kind: 'scatterLast', rows, len, k };
      const { g, r } = await both(spec, [f32(values(rng, rows * k)), i32(idx)], [{ dtype: 'f32', size: rows * len, init: values(rng, rows * len) }]);
      expectClose(g[0]!, r[0]!, { rtol: 1e-6, atol: 1e-6 }, spec);
    }), { numRuns: RUNS });
  });

  it('dropout (mask bit-identical to the reference)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5000 }), seedA, fc.constantFrom(0, 0.1, 0.5, 0.9, 1 / 3), fc.integer({ min: 0, max: 0xffffffff }),
      async (size, seed, p, dseed) => {
        const x = values(new SeededRandom(seed), size, 1).map((v) => (v === 0 ? 1 : v));
        const spec: KernelSpec = { kind: 'dropout', size, p, seed: dseed };
        const { g, r } = await both(spec, [f32(x)], [fout(size)]);
        for (let i = 0; i < size; i++) expect(g[0]![i] === 0).toBe(r[0]![i] === 0);
        expectClose(g[0]!, r[0]!, { rtol: 2e-7, atol: 0 }, spec);
      }), { numRuns: RUNS });
  });
});
