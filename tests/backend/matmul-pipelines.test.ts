// The set of pipelines a model needs does not depend on batch size or sequence length: after one
// warm-up at some sizes, every matmul variant (transposes, epilogues) at other sizes, aligned to 4
// or not (the texture strategy's pack step), compiles nothing new. Checked for every strategy.

import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelSpec, MatmulEpilogue } from '../../engine/backend/spec.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { MATMUL_STRATEGIES, strategySupported } from '../../kernels/matmul.js';
import { getWebGPU } from '../helpers/webgpu.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await getWebGPU();
});

const hidden = 32;
const ff = 64;
/** The matmuls of one BERT layer (forward and backward) for `batch` sequences of `seq` tokens. */
function layerMatmuls(batch: number, seq: number): KernelSpec[] {
  const tokens = batch * seq;
  const heads = 2;
  const d = hidden / heads;
  const bh = batch * heads;
  const mm = (transA: boolean, transB: boolean, b: number, m: number, n: number, k: number, aBS: number, bBS: number, epilogue?: MatmulEpilogue): KernelSpec =>
    ({ kind: 'matmul', transA, transB, batch: b, m, n, k, aBatchStride: aBS, bBatchStride: bBS, epilogue });
  return [
    mm(false, true, 1, tokens, 3 * hidden, hidden, 0, 0, { bias: true }), // qkv
    mm(false, true, bh, seq, seq, d, seq * d, seq * d), // scores
    mm(false, false, bh, seq, d, seq, seq * seq, seq * d), // probs @ v
    mm(false, true, 1, tokens, hidden, hidden, 0, 0, { bias: true, residual: true }), // attention out
    mm(false, true, 1, tokens, ff, hidden, 0, 0, { bias: true, activation: 'gelu', savePre: true }), // FF1
    mm(false, false, 1, tokens, hidden, ff, 0, 0), // dx
    mm(true, false, 1, ff, hidden, tokens, 0, 0), // dW
    mm(true, false, bh, seq, d, seq, seq * seq, seq * d), // dV = P^T dO
    mm(false, true, bh, seq, seq, d, seq * d, seq * d), // dP
  ];
}

async function runAll(specs: KernelSpec[]): Promise<void> {
  for (const spec of specs) {
    if (spec.kind !== 'matmul') continue;
    const sizeA = (spec.aBatchStride === 0 ? 1 : spec.batch) * spec.m * spec.k;
    const sizeB = (spec.bBatchStride === 0 ? 1 : spec.batch) * spec.n * spec.k;
    const ep = spec.epilogue;
    const ins = [sizeA, sizeB, ...(ep?.bias ? [spec.n] : []), ...(ep?.residual ? [spec.batch * spec.m * spec.n] : [])].map((s) => gpu.alloc(s, 'f32'));
    for (const s of ins) gpu.write(s, new Float32Array(s.size).fill(0.5));
    const outs = Array.from({ length: ep?.savePre ? 2 : 1 }, () => gpu.alloc(spec.batch * spec.m * spec.n, 'f32'));
    gpu.run(spec, ins, outs);
    await gpu.read(outs[0]!);
    for (const s of [...ins, ...outs]) gpu.free(s);
  }
}

describe('matmul pipeline count is independent of batch size and sequence length', () => {
  for (const strategy of MATMUL_STRATEGIES) {
    it(strategy, async (ctx) => {
      if (!strategySupported(strategy, gpu.adapter.wgslFeatures)) ctx.skip();
      const before = gpu.matmulStrategy;
      gpu.setMatmulStrategy(strategy);
      try {
        await runAll(layerMatmuls(2, 16));
        const count = gpu.pipelineCount();
        for (const [batch, seq] of [[3, 17], [4, 32], [1, 1]] as const) {
          await runAll(layerMatmuls(batch, seq));
          expect(gpu.pipelineCount(), `${strategy} batch ${batch} seq ${seq}`).toBe(count);
        }
      } finally {
        gpu.setMatmulStrategy(before);
      }
    });
  }
});
