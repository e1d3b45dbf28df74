// Image variants of kernels (read-only storage textures; used under the image-* matmul strategies,
// which set PlanOptions.imageInputs) equal the float64 reference, and where the storage variant
// computes the same sums in the same order, equal it bit for bit. The backend is switched to an
// image strategy for these tests so that they run whatever the autotuner picked.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { BinaryOp, DType, HostArray, KernelSpec } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { strategySupported, type MatmulStrategy } from '../../kernels/matmul.js';
import { contiguous, expectClose, expectEqualInts, f32, fout, i32, ints, makeBoth, prod, values } from '../helpers/kernel-check.js';
import { copyKernel } from '../../kernels/copy.js';
import { binaryKernel, whereKernel } from '../../kernels/elementwise.js';
import { TOPK_SERIAL_MAX, topkKernel } from '../../kernels/topk.js';
import { argmaxKernel } from '../../kernels/reduce.js';

let gpu: WebGPUBackend;
const ref = new ReferenceBackend();
const both = makeBoth(() => gpu, ref);
const RUNS = 30;
const seedA = fc.integer({ min: 0, max: 0x7fffffff });

beforeAll(async () => {
  gpu = await createNodeBackend({ autotune: false });
});
afterAll(() => gpu.destroy());

/** Runs `f` with the backend on an image matmul strategy (so PlanOptions.imageInputs holds), then restores it. */
async function withImageStrategy(f: () => Promise<void>): Promise<void> {
  const before = gpu.matmulStrategy;
  if (strategySupported('image-16x16', gpu.adapter.wgslFeatures)) gpu.setMatmulStrategy('image-16x16');
  try {
    await f();
  } finally {
    gpu.setMatmulStrategy(before);
  }
}

describe('image kernels == reference', () => {
  it('scatterAdd, dim a multiple of 4: image and storage sum kernels equal the reference and each other bit for bit', async () => {
    const before = gpu.matmulStrategy;
    // imageInputs follows the matmul strategy: image-16x16 takes the image sum kernel, storage-reg8 the storage one.
    const strategies: MatmulStrategy[] = strategySupported('image-16x16', gpu.adapter.wgslFeatures) ? ['image-16x16', 'storage-reg8'] : ['storage-reg8'];
    try {
      // Vocabularies on both sides of SMALL_VOCAB: the small-vocabulary sums and the sorted ones.
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 20 }), fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 17, max: 40 })), seedA,
        async (rows, dim4, vocab, seed) => {
          const rng = new SeededRandom(seed);
          const dim = 4 * dim4;
          const ids = ints(rng, rows, -1, vocab);
          const dy = values(rng, rows * dim, 1);
          const spec: KernelSpec = { kind: 'scatterAdd', rows, dim, vocab };
          const got: HostArray[] = [];
          for (const st of strategies) {
            gpu.setMatmulStrategy(st);
            const { g, r } = await both(spec, [f32(dy), i32(ids)], [fout(vocab * dim, values(rng, vocab * dim))]);
            expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(rows) }, { ...spec, st });
            got.push(g[0]!);
          }
          for (const g of got.slice(1)) expect(Array.from(g)).toEqual(Array.from(got[0]!));
        }), { numRuns: RUNS });
    } finally {
      gpu.setMatmulStrategy(before);
    }
  });

  it('binary with one operand repeated along the other ([R, P] and [P]: the cyclic image kernel), either side, P % 4 == 0 or not', async () => {
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.constantFrom<BinaryOp>('add', 'mul', 'sub', 'div'), seedA,
        async (rows, p, repeatA, op, seed) => {
          const rng = new SeededRandom(seed);
          const outShape = [rows, p];
          const full = contiguous(outShape);
          const rep = [0, 1];
          const spec: KernelSpec = { kind: 'binary', op, outShape, aStrides: repeatA ? rep : full, bStrides: repeatA ? full : rep };
          const a = values(rng, repeatA ? p : rows * p, 3);
          const b = op === 'div' ? values(rng, repeatA ? rows * p : p, 3).map((v) => v + (v >= 0 ? 1 : -1)) : values(rng, repeatA ? rows * p : p, 3);
          const { g, r } = await both(spec, [f32(a), f32(b)], [fout(rows * p)]);
          expectClose(g[0]!, r[0]!, { rtol: 2e-6, atol: 0 }, spec);
        }), { numRuns: RUNS });
    });
  });

  it('copy by groups of 4 (innermost axis contiguous, 4-aligned strides and offsets): image and storage kernels, f32 and i32, equal the reference; unaligned copies take the element kernels', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 4 }), fc.integer({ min: 1, max: 9 }), seedA,
      fc.boolean(), fc.boolean(), fc.constantFrom('none', 'offset', 'length', 'stride'), async (outerShape, groups, seed, isInt, image, breakIt) => {
        const rng = new SeededRandom(seed);
        const n0 = 4 * groups - (breakIt === 'length' ? 1 : 0);
        const shape = [...outerShape, n0];
        const rank = shape.length;
        // Input: the outer axes permuted inside a base whose rows are padded by whole groups; some
        // outer axes expanded (stride 0) or reversed.
        const perm = [...Array(rank - 1).keys()].sort(() => rng.next() - 0.5);
        const baseShape = [...perm.map((d) => outerShape[d]! + Math.floor(rng.next() * 2)), n0 + 4 * Math.floor(rng.next() * 2) + (breakIt === 'stride' ? 1 : 0)];
        const baseStrides = contiguous(baseShape);
        const inStrides = [...outerShape.map((_, d) => baseStrides[perm.indexOf(d)]!), 1];
        let inOffset = 4 * Math.floor(rng.next() * 3) + (breakIt === 'offset' ? 2 : 0);
        for (let d = 0; d < rank - 1; d++) {
          const u = rng.next();
          if (u < 0.15) inStrides[d] = 0;
          else if (u < 0.3) { inOffset += (shape[d]! - 1) * inStrides[d]!; inStrides[d] = -inStrides[d]!; }
        }
        const inSize = inOffset + 1 + shape.reduce((a, n, d) => a + (n - 1) * Math.max(0, inStrides[d]!), 0) + 5;
        // Output: a concat part of a block whose rows are longer by whole groups.
        const outer = [...outerShape.map((n) => n + Math.floor(rng.next() * 2)), n0 + 4 * Math.floor(rng.next() * 2)];
        const outStrides = contiguous(outer);
        const outOffset = 4 * Math.floor(rng.next() * 3);
        const outSize = outOffset + prod(outer) + 3;
        const dtype: DType = isInt ? 'i32' : 'f32';
        const spec: KernelSpec = { kind: 'copy', dtype, shape, inStrides, inOffset, outStrides, outOffset };
        // Groups of 4 iff every stride of an axis longer than 1 and both offsets are multiples of 4.
        const by4 = (x: number) => x % 4 === 0;
        const aligned = by4(n0) && by4(inOffset) && by4(outOffset) && shape.every((n, d) => n === 1 || (by4(inStrides[d]!) && by4(outStrides[d]!)) || d === rank - 1);
        const plan = copyKernel(spec, image ? { maxTexDim: gpu.device.limits.maxTextureDimension2D } : undefined);
        expect(plan.steps[0]!.source.key.startsWith('copy:4'), JSON.stringify(spec)).toBe(aligned);
        const data = isInt ? i32(ints(rng, inSize, -1e6, 1e6)) : f32(values(rng, inSize));
        const init = isInt ? ints(rng, outSize, -5, 5) : values(rng, outSize);
        const run = async () => {
          const { g, r } = await both(spec, [data], [{ dtype, size: outSize, init }]);
          if (isInt) expectEqualInts(g[0]!, r[0]!, spec); else expectClose(g[0]!, r[0]!, { rtol: 0, atol: 0 }, spec);
        };
        if (image) await withImageStrategy(run);
        else {
          const before = gpu.matmulStrategy;
          gpu.setMatmulStrategy('storage-tiled');
          try { await run(); } finally { gpu.setMatmulStrategy(before); }
        }
      }), { numRuns: 40 });
  });

  it('copy (the image kernels for f32, by element and by groups of 4) moves bit patterns unchanged: denormals, -0, NaN payloads, infinities', async () => {
    await withImageStrategy(async () => {
      const special = [0x00000001, 0x007fffff, 0x80000001, 0x80000000, 0x7fc00000, 0x7fa00001, 0xffc00123, 0x7f800000, 0xff800000, 0x3f800000];
      const bits = Uint32Array.from({ length: 12 * 9 }, (_, i) => special[(i * 7) % special.length]!);
      const x = gpu.alloc(bits.length, 'f32');
      gpu.write(x, new Float32Array(bits.buffer));
      const y = gpu.alloc(bits.length, 'f32');
      // The transpose of a [12, 9] matrix.
      gpu.run({ kind: 'copy', dtype: 'f32', shape: [9, 12], inStrides: [1, 9], inOffset: 0, outStrides: [12, 1], outOffset: 0 }, [x], [y]);
      const out = new Uint32Array((await gpu.read(y) as Float32Array).buffer);
      const want = Uint32Array.from({ length: bits.length }, (_, k) => bits[(k % 12) * 9 + Math.floor(k / 12)]!);
      expect(Array.from(out)).toEqual(Array.from(want));
      // The rows reversed: the kernel moving groups of 4.
      const rev: KernelSpec = { kind: 'copy', dtype: 'f32', shape: [9, 12], inStrides: [-12, 1], inOffset: 96, outStrides: [12, 1], outOffset: 0 };
      expect(copyKernel(rev, { maxTexDim: gpu.device.limits.maxTextureDimension2D }).steps[0]!.source.key).toBe('copy:4:image');
      gpu.run(rev, [x], [y]);
      const outRev = new Uint32Array((await gpu.read(y) as Float32Array).buffer);
      expect(Array.from(outRev)).toEqual(Array.from({ length: bits.length }, (_, k) => bits[(8 - Math.floor(k / 12)) * 12 + (k % 12)]!));
      gpu.free(x);
      gpu.free(y);
    });
  });

  it('affine (x * scale + shift), sizes 4k (the image kernel) and not', async () => {
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(4, 40_000)), fc.double({ min: -5, max: 5, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true }), seedA,
        async (size, scale, shift, seed) => {
          const rng = new SeededRandom(seed);
          const spec: KernelSpec = { kind: 'affine', size, scale: Math.fround(scale), shift: Math.fround(shift) };
          const { g, r } = await both(spec, [f32(values(rng, size, 3))], [fout(size)]);
          expectClose(g[0]!, r[0]!, { rtol: 2e-6, atol: 1e-6 }, spec);
        }), { numRuns: RUNS });
    });
  });

  it('binary with other broadcast patterns (the strided image kernels, by groups of 4 and by element) equals the reference; the storage kernel is not used', async () => {
    const maxTexDim = gpu.device.limits.maxTextureDimension2D;
    // Which kernel known patterns take.
    const kernelOf = (outShape: number[], aStrides: number[], bStrides: number[]) =>
      binaryKernel({ kind: 'binary', op: 'add', outShape, aStrides, bStrides }, { maxTexDim }).steps[0]!.source.key;
    expect(kernelOf([2, 3, 8, 8], [192, 64, 8, 1], [8, 0, 0, 1])).toBe('binary:add:image-strided4'); // scores + mask [B, 1, 1, T]
    expect(kernelOf([6, 8], [8, 1], [1, 0])).toBe('binary:add:image-strided4'); // [R, P] + [R, 1]
    expect(kernelOf([6, 5], [5, 1], [1, 0])).toBe('binary:add:image-strided'); // P not a multiple of 4
    expect(kernelOf([3, 2, 4], [4, 0, 1], [0, 4, 1])).toBe('binary:add:image-strided4'); // [3, 1, 4] + [1, 2, 4]
    expect(kernelOf([3, 4, 2], [2, 0, 1], [0, 2, 1])).toBe('binary:add:image-strided'); // strides not multiples of 4
    expect(kernelOf([6, 8], [8, 1], [8, 1])).toBe('ew-image:binary:add'); // texel-wise kinds keep their kernels
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'lt', 'geluBackward'];
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 0, maxLength: 4 }), fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 8, 12, 20)),
        fc.constantFrom(...ops), seedA, async (outer, n0, op, seed) => {
          const rng = new SeededRandom(seed);
          const outShape = [...outer, n0];
          // Each operand: every axis real or (probability 0.35) broadcast, contiguous over its real axes.
          const operand = () => {
            const shape = outShape.map((n) => (n > 1 && rng.next() < 0.35 ? 1 : n));
            const strides = contiguous(shape).map((st, d) => (shape[d] === 1 ? 0 : st));
            return { strides, size: prod(shape) };
          };
          const A = operand();
          const B = operand();
          const spec: KernelSpec = { kind: 'binary', op, outShape, aStrides: A.strides, bStrides: B.strides };
          expect(binaryKernel(spec, { maxTexDim }).steps[0]!.source.key).not.toBe(`binary:${op}`);
          const a = values(rng, A.size, 5);
          const b = op === 'div' ? values(rng, B.size, 3).map((v) => v + (v >= 0 ? 1 : -1)) : values(rng, B.size, 5);
          const { g, r } = await both(spec, [f32(a), f32(b)], [fout(prod(outShape))]);
          expectClose(g[0]!, r[0]!, op === 'geluBackward' ? { rtol: 4e-6, atol: 5e-5 } : { rtol: 2e-6, atol: 0 }, spec);
        }), { numRuns: 60 });
    });
  });

  it('topk through the per-row image kernel (k <= TOPK_SERIAL_MAX; larger k takes the workgroup kernel): ties to the lower index, -inf, equal to the reference', async () => {
    const maxTexDim = gpu.device.limits.maxTextureDimension2D;
    const keyOf = (rows: number, len: number, k: number) => topkKernel({ kind: 'topk', rows, len, k }, { maxTexDim }).steps[0]!.source.key;
    expect(keyOf(3, 100, TOPK_SERIAL_MAX)).toBe('topk:image');
    expect(keyOf(3, 100, TOPK_SERIAL_MAX + 1)).toBe('topk');
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 150 }), seedA, fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(),
        async (rows, len, seed, kf, distinct) => {
          const rng = new SeededRandom(seed);
          const k = Math.max(1, Math.ceil(kf * Math.min(len, TOPK_SERIAL_MAX + 8)));
          // Few distinct values (ties, -inf) or many.
          const x = distinct ? values(rng, rows * len, 3) : ints(rng, rows * len, -5, 5).map((v) => (v === -5 ? -Infinity : v + (rng.next() < 0.3 ? 0.5 : 0)));
          const spec: KernelSpec = { kind: 'topk', rows, len, k };
          const { g, r } = await both(spec, [f32(x)], [{ dtype: 'i32', size: rows * k }]);
          expectEqualInts(g[0]!, r[0]!, spec);
        }), { numRuns: 40 });
    });
  });

  it('argmax through the top-k image kernel (k = 1): ties to the first index, -inf, and NaN ordered as the reference (a leading NaN wins, a later one never does)', async () => {
    expect(argmaxKernel({ kind: 'argmax', rows: 2, len: 7 }, { maxTexDim: gpu.device.limits.maxTextureDimension2D }).steps[0]!.source.key).toBe('topk:image');
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 300 }), seedA, async (rows, len, seed) => {
        const rng = new SeededRandom(seed);
        const x = ints(rng, rows * len, -4, 4).map((v) => (v === -4 ? -Infinity : v === 4 && rng.next() < 0.3 ? NaN : v));
        const spec: KernelSpec = { kind: 'argmax', rows, len };
        const { g, r } = await both(spec, [f32(x)], [{ dtype: 'i32', size: rows }]);
        expectEqualInts(g[0]!, r[0]!, spec);
      }), { numRuns: 40 });
    });
  });

  it('where through the strided image kernels (broadcast condition and operands, by groups of 4 and by element) moves the chosen bits unchanged', async () => {
    const maxTexDim = gpu.device.limits.maxTextureDimension2D;
    const keyOf = (outShape: number[], c: number[], a: number[], b: number[]) =>
      whereKernel({ kind: 'where', outShape, condStrides: c, aStrides: a, bStrides: b }, { maxTexDim }).steps[0]!.source.key;
    expect(keyOf([4, 8], [1, 0], [8, 1], [0, 0])).toBe('where:image-strided4'); // a row mask, a scalar fill
    expect(keyOf([4, 6], [6, 1], [6, 1], [0, 1])).toBe('where:image-strided');
    const special = [0x00000001, 0x807fffff, 0x80000000, 0x7fc00000, 0x7fa00001, 0xffc00123, 0x7f800000, 0xff800000, 0x3f800000, 0xc2280000];
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 3 }), fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 8, 12)), seedA,
        async (outer, n0, seed) => {
          const rng = new SeededRandom(seed);
          const outShape = [...outer, n0];
          const operand = () => {
            const shape = outShape.map((n) => (n > 1 && rng.next() < 0.35 ? 1 : n));
            return { strides: contiguous(shape).map((st, d) => (shape[d] === 1 ? 0 : st)), size: prod(shape) };
          };
          const [C, A, B] = [operand(), operand(), operand()];
          const bitsOf = (size: number) => Uint32Array.from({ length: size }, () => special[Math.floor(rng.next() * special.length)]!);
          const cond = Float32Array.from({ length: C.size }, () => [0, -0, 1, -2.5, NaN][Math.floor(rng.next() * 5)]!);
          const [a, b] = [bitsOf(A.size), bitsOf(B.size)];
          const spec: KernelSpec = { kind: 'where', outShape, condStrides: C.strides, aStrides: A.strides, bStrides: B.strides };
          const bufs = [new Float32Array(cond), new Float32Array(a.buffer), new Float32Array(b.buffer)].map((d) => { const st = gpu.alloc(d.length, 'f32'); gpu.write(st, d); return st; });
          const y = gpu.alloc(prod(outShape), 'f32');
          gpu.run(spec, bufs, [y]);
          const got = new Uint32Array((await gpu.read(y) as Float32Array).buffer);
          // The expected bits, by unravelling each output index.
          const want = Array.from({ length: prod(outShape) }, (_, i) => {
            let rem = i; let oc = 0; let oa = 0; let ob = 0;
            for (let d = outShape.length - 1; d >= 0; d--) {
              const x = rem % outShape[d]!; rem = Math.floor(rem / outShape[d]!);
              oc += x * C.strides[d]!; oa += x * A.strides[d]!; ob += x * B.strides[d]!;
            }
            return cond[oc] !== 0 ? a[oa]! : b[ob]!;
          });
          expect(Array.from(got), JSON.stringify(spec)).toEqual(want);
          for (const st of [...bufs, y]) gpu.free(st);
        }), { numRuns: 40 });
    });
  });

  it('binary with a one-element operand broadcast over the other (the scalar image kernel), either side, sizes 4k and not', async () => {
    await withImageStrategy(async () => {
      await fc.assert(fc.asyncProperty(fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(4, 40_000)), fc.integer({ min: 1, max: 3 }), fc.boolean(),
        fc.constantFrom<BinaryOp>('add', 'mul', 'sub', 'div', 'max'), seedA,
        async (n, rank, scalarA, op, seed) => {
          const rng = new SeededRandom(seed);
          // The output [n] or [1, n] or [n, 1, 1]; the scalar with all strides 0.
          const outShape = rank === 1 ? [n] : rank === 2 ? [1, n] : [n, 1, 1];
          const full = contiguous(outShape);
          const zero = outShape.map(() => 0);
          const spec: KernelSpec = { kind: 'binary', op, outShape, aStrides: scalarA ? zero : full, bStrides: scalarA ? full : zero };
          const x = values(rng, n, 3);
          const s = [rng.normal() * 2 + (op === 'div' ? 3 : 0)];
          const xs = op === 'div' && scalarA ? x.map((v) => v + (v >= 0 ? 1 : -1)) : x;
          const { g, r } = await both(spec, scalarA ? [f32(s), f32(xs)] : [f32(xs), f32(s)], [fout(n)]);
          expectClose(g[0]!, r[0]!, { rtol: 2e-6, atol: 0 }, spec);
        }), { numRuns: RUNS });
    });
  });
});
