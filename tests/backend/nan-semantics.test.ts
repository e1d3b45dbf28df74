// NaN, infinities and signed zeros through the elementwise and reduction kernels give what the
// float64 reference gives, under the image strategy (texel-wise and strided image kernels) and a
// storage strategy alike. WGSL lets a compiler assume no NaN, and drivers differ (SwiftShader:
// exp(NaN) = inf, NaN != 0 false, max(NaN, x) = x; llvmpipe: IEEE comparisons, max(NaN, x) = x), so
// the kernels test NaN on its bits (kernels/common.ts isNan); this file runs on both adapters.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinaryOp, KernelSpec, UnaryOp } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { createNodeBackend } from '../../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { strategySupported, type MatmulStrategy } from '../../kernels/matmul.js';
import { ROW_STRATEGIES, rowStrategySupported } from '../../kernels/rows-strategy.js';
import { expectClose, f32, fout, makeBoth } from '../helpers/kernel-check.js';

let gpu: WebGPUBackend;
const ref = new ReferenceBackend();
const both = makeBoth(() => gpu, ref);

beforeAll(async () => {
  gpu = await createNodeBackend({ autotune: false });
});
afterAll(() => gpu.destroy());

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2.5, 3, 1e-3, -7];
/** n values drawn from SPECIAL (about a quarter NaN) and plain normals. */
function laced(rng: SeededRandom, n: number): number[] {
  return Array.from({ length: n }, () => (rng.next() < 0.6 ? SPECIAL[Math.floor(rng.next() * SPECIAL.length)]! : rng.normal() * 3));
}
const strategies = (): MatmulStrategy[] =>
  (['image-16x16', 'storage-tiled'] as MatmulStrategy[]).filter((s) => strategySupported(s, gpu.adapter.wgslFeatures));
async function eachStrategy(f: (s: MatmulStrategy) => Promise<void>): Promise<void> {
  const before = gpu.matmulStrategy;
  try {
    for (const s of strategies()) {
      gpu.setMatmulStrategy(s);
      await f(s);
    }
  } finally {
    gpu.setMatmulStrategy(before);
  }
}
// Values are compared loosely (the special functions have their own accuracy tests): this file is
// about where NaN and the infinities go.
const TOL = { rtol: 1e-5, atol: 1e-6 };

describe('NaN, infinities and signed zeros == reference', () => {
  it('unary ops (sizes that take the texel-wise image kernel and sizes that do not)', async () => {
    const ops: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'erf', 'abs', 'recip', 'sigmoid', 'relu', 'step', 'gelu', 'geluGrad', 'geluTanh', 'geluTanhGrad'];
    await eachStrategy(async (strategy) => {
      const rng = new SeededRandom(11);
      for (const op of ops) {
        for (const size of [64, 63]) {
          const spec: KernelSpec = { kind: 'unary', op, size };
          // Known difference: at +-inf the GELU kernels give their limits (geluGrad 0 and 1, geluTanh(-inf) 0)
          // where the reference, like PyTorch, computes inf * 0 = NaN. Finite inputs and NaN agree.
          const x = laced(rng, size).map((v) => (op.startsWith('gelu') && !Number.isFinite(v) && !Number.isNaN(v) ? 40 * Math.sign(v) : v));
          const { g, r } = await both(spec, [f32(x)], [fout(size)]);
          expectClose(g[0]!, r[0]!, TOL, { strategy, ...spec });
        }
      }
    });
  });

  it('binary ops: same shape, a repeated row, a per-row column, a scalar (every image kernel and the storage one)', async () => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
    // [rows, cols] output with b's strides: whole, a repeated row ([cols]), a column ([rows, 1]), a scalar.
    const [rows, cols] = [6, 8];
    const patterns: [string, number[], number][] = [['whole', [cols, 1], rows * cols], ['row', [0, 1], cols], ['column', [1, 0], rows], ['scalar', [0, 0], 1]];
    await eachStrategy(async (strategy) => {
      const rng = new SeededRandom(12);
      for (const op of ops) {
        for (const [pattern, bStrides, bSize] of patterns) {
          const spec: KernelSpec = { kind: 'binary', op, outShape: [rows, cols], aStrides: [cols, 1], bStrides };
          const a = laced(rng, rows * cols);
          // Equal operands somewhere, so eq/ne/le/ge see ties (NaN with NaN included).
          const b = laced(rng, bSize).map((v, i) => (i % 3 === 0 ? a[i]! : v));
          const { g, r } = await both(spec, [f32(a), f32(b)], [fout(rows * cols)]);
          expectClose(g[0]!, r[0]!, op === 'pow' ? { rtol: 2e-5, atol: 1e-6 } : TOL, { strategy, pattern, ...spec });
        }
      }
    });
  });

  it('argmax: a NaN first element wins, a later NaN never does (the per-row image kernel and the workgroup one)', async () => {
    await eachStrategy(async (strategy) => {
      const rng = new SeededRandom(14);
      for (const [rows, len] of [[40, 5], [12, 70], [3, 300]]) {
        const x = laced(rng, rows * len).map((v, i) => (i % len === 0 && rng.next() < 0.3 ? NaN : v));
        const spec: KernelSpec = { kind: 'argmax', rows, len };
        const { g, r } = await both(spec, [f32(x)], [{ dtype: 'i32', size: rows }]);
        expect(Array.from(g[0]!), JSON.stringify({ strategy, ...spec })).toEqual(Array.from(r[0]!));
      }
    });
  });

  it('reduce max and sum over rows and columns, every row-kernel strategy: a NaN anywhere in the reduced axis gives NaN', async () => {
    const before = gpu.rowStrategy;
    try {
      for (const rows of ROW_STRATEGIES.filter((s) => rowStrategySupported(s, gpu.adapter.wgslFeatures))) {
        gpu.setRowStrategy(rows);
        await reduceCases(rows);
      }
    } finally {
      gpu.setRowStrategy(before);
    }
  });
});

/** reduce max/sum of rows (long and short) and columns, with NaN and -inf scattered in. */
async function reduceCases(strategy: string): Promise<void> {
  const rng = new SeededRandom(13);
  for (const op of ['max', 'sum'] as const) {
    for (const [outer, len, inner] of [[5, 40, 1], [3, 7, 6], [2, 300, 1], [1, 600, 3]] as const) {
      const x = Array.from({ length: outer * len * inner }, () => (rng.next() < 0.01 ? NaN : rng.next() < 0.02 ? -Infinity : rng.normal()));
      const spec: KernelSpec = { kind: 'reduce', op, outer, len, inner, scale: 1 };
      const { g, r } = await both(spec, [f32(x)], [fout(outer * inner)]);
      expectClose(g[0]!, r[0]!, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(len) }, { strategy, ...spec });
    }
  }
}
