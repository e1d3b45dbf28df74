// Every matmul strategy (kernels/matmul.ts) equals the float64 reference: random shapes 1..70 (never
// tile multiples), all transposes, batch strides 0 (broadcast) and full, every epilogue; plus a few
// large shapes. Also: the texture path's pack step (contiguous dimension not a multiple of 4).

import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import type { KernelSpec, MatmulEpilogue } from '../../engine/backend/spec.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { MATMUL_STRATEGIES, strategySupported, type MatmulStrategy } from '../../kernels/matmul.js';
import { SKINNY_M, planMatmul } from '../../kernels/matmul-strategy.js';
import { SeededRandom } from '../../engine/random.js';
import { getWebGPU } from '../helpers/webgpu.js';
import { firstMismatch } from '../helpers/compare.js';

type MatmulSpec = Extract<KernelSpec, { kind: 'matmul' }>;
const ref = new ReferenceBackend();
let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await getWebGPU();
});

async function check(strategy: MatmulStrategy, spec: MatmulSpec, seed: number): Promise<void> {
  const { batch, m, n, k, transA, transB } = spec;
  const rng = new SeededRandom(seed);
  const aSize = (spec.aBatchStride === 0 ? 1 : batch) * m * k;
  const bSize = (spec.bBatchStride === 0 ? 1 : batch) * n * k;
  const ep = spec.epilogue;
  const ins = [aSize, bSize, ...(ep?.bias ? [n] : []), ...(ep?.residual ? [batch * m * n] : [])].map((len) => Float32Array.from({ length: len }, () => rng.next() * 2 - 1));
  const nOut = ep?.savePre ? 2 : 1;
  const run = async (be: WebGPUBackend | ReferenceBackend) => {
    const xs = ins.map((d) => { const s = be.alloc(d.length, 'f32'); be.write(s, d); return s; });
    const ys = Array.from({ length: nOut }, () => be.alloc(batch * m * n, 'f32'));
    if (be instanceof ReferenceBackend) be.run(spec, xs, ys);
    else be.runMatmulWith(strategy, spec, xs, ys);
    const outs = await Promise.all(ys.map((y) => be.read(y)));
    for (const s of [...xs, ...ys]) be.free(s);
    return outs;
  };
  const [ours, want] = await Promise.all([run(gpu), run(ref)]);
  ours.forEach((o, i) => {
    // matmul accumulates k products: tolerance scaled like the kernel tests (inputs in [-1, 1]).
    const mm = firstMismatch(o, want[i]!, 2e-4, 2e-5 * Math.max(1, Math.sqrt(k)));
    expect(mm, `${strategy} ${JSON.stringify(spec)} output ${i}: ${JSON.stringify(mm)}`).toBeNull();
  });
}

const epilogues: (MatmulEpilogue | undefined)[] = [
  undefined, { bias: true }, { bias: true, activation: 'gelu', savePre: true }, { activation: 'geluTanh' },
  { residual: true }, { bias: true, activation: 'gelu', residual: true, savePre: true },
];

describe('matmul strategies == reference', () => {
  for (const strategy of MATMUL_STRATEGIES) {
    it(`${strategy}: random shapes 1..70, transposes, batch strides, epilogues`, async (ctx) => {
      if (!strategySupported(strategy, gpu.adapter.wgslFeatures)) ctx.skip();
      const base = gpu.liveCount();
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }),
          fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(),
          fc.integer({ min: 0, max: epilogues.length - 1 }), fc.integer(),
          async (m, n, k, batch, transA, transB, aBroadcast, bBroadcast, e, seed) => {
            const spec: MatmulSpec = {
              kind: 'matmul', transA, transB, batch, m, n, k,
              aBatchStride: aBroadcast ? 0 : m * k, bBatchStride: bBroadcast ? 0 : n * k, epilogue: epilogues[e],
            };
            await check(strategy, spec, seed);
          },
        ),
        { numRuns: 16 },
      );
      expect(gpu.liveCount()).toBe(base);
    });

    it(`${strategy}: aligned and large shapes`, async (ctx) => {
      if (!strategySupported(strategy, gpu.adapter.wgslFeatures)) ctx.skip();
      const cases: [number, number, number, number, boolean, boolean][] = [
        [1, 64, 64, 64, false, false], [1, 128, 96, 256, false, true], [2, 68, 132, 40, true, false],
        [1, 200, 130, 300, true, true], [4, 32, 36, 64, false, true], [1, 1, 300, 257, false, true],
        // A^T B with long k: the texture strategies split k (kernels/matmul-strategy.ts), m not a multiple of 4.
        [1, 40, 36, 1024, true, false], [1, 130, 70, 2048, true, false],
      ];
      for (const [batch, m, n, k, transA, transB] of cases) {
        await check(strategy, { kind: 'matmul', transA, transB, batch, m, n, k, aBatchStride: m * k, bBatchStride: 0, epilogue: { bias: true, activation: 'gelu', savePre: true } }, m * n + k);
        await check(strategy, { kind: 'matmul', transA, transB, batch, m, n, k, aBatchStride: 0, bBatchStride: n * k }, m + n * k);
        // Residual without activation: image tiles read it as a texture when n % 4 == 0.
        await check(strategy, { kind: 'matmul', transA, transB, batch, m, n, k, aBatchStride: m * k, bBatchStride: 0, epilogue: { bias: n % 8 === 0, residual: true, savePre: false } }, m * k + n);
      }
    });
  }
});

describe('matmul strategy selection', () => {
  it('the backend reports a known strategy and setMatmulStrategy rejects unknown names', () => {
    expect(MATMUL_STRATEGIES).toContain(gpu.matmulStrategy);
    expect(() => gpu.setMatmulStrategy('nope' as MatmulStrategy)).toThrow(/unknown matmul strategy/);
  });

  it('texture strategies use the skinny tile for M <= SKINNY_M and compile the other tile too', () => {
    const kernelOf = (m: number) => {
      const plan = planMatmul({ kind: 'matmul', transA: false, transB: true, batch: 1, m, n: 768, k: 768, aBatchStride: 0, bBatchStride: 0, epilogue: { bias: true } }, 'image-16x16', 16384);
      return { key: plan.steps.at(-1)!.source.key, alternates: (plan.alternates ?? []).map((a) => a.key) };
    };
    const skinny = kernelOf(SKINNY_M);
    const wide = kernelOf(SKINNY_M + 1);
    expect(skinny.key).toMatch(/^matmul-tex8x16w8x1i/);
    expect(wide.key).toMatch(/^matmul-tex16x16w4x4i/);
    expect(skinny.alternates).toContain(wide.key);
    expect(wide.alternates).toContain(skinny.key);
  });
});

describe('matmul K-split (texture strategies, A^T B)', () => {
  const chunks = (m: number, n: number, k: number): number => {
    const plan = planMatmul({ kind: 'matmul', transA: true, transB: false, batch: 1, m, n, k, aBatchStride: 0, bBatchStride: 0 }, 'image-16x16', 16384);
    // The matmul runs the K chunks as a batch; 1 when there is no split.
    return Number(plan.steps.find((s) => s.source.key.startsWith('matmul-tex'))!.uniforms['batch']);
  };
  it('splits a single output tile into two workgroups, and long K into chunks of at most 4096', () => {
    expect(chunks(64, 64, 4096)).toBe(2); // 1 tile of 64x64 -> 2 workgroups
    expect(chunks(64, 64, 512)).toBe(1); // K < 1024: never split
    expect(chunks(128, 64, 4096)).toBe(1); // 2 tiles, K <= 4096
    expect(chunks(256, 256, 4096)).toBe(1); // 16 tiles
    expect(chunks(1024, 1024, 8192)).toBe(2); // K chunks of 4096
    expect(chunks(256, 256, 65536)).toBe(8); // at most MAX_SPLIT chunks
    expect(chunks(30522, 256, 16384)).toBe(2); // partial products capped at 2^24 floats (4 would need 2^25)
  });
});
