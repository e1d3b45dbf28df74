// Fused Adam / AdamW / LAMB (engine/optim/fused.ts) against the composite updates of the same
// classes (fused: false): 3 steps on tensors of several sizes (incl. ones spanning many LAMB parts and
// a zero tensor, whose trust ratio is 1), on the reference backend (float64: equal to 1e-12) and
// on WebGPU (float32 rounding: 1e-6 relative).

import { describe, expect, it } from 'vitest';

import { Adam, AdamW, LAMB, ReferenceBackend, tensor, tidy, type Backend, type Optimizer, type Tensor } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const gpu = await tryWebGPU();
const BACKENDS: [string, Backend, number][] = [['reference', new ReferenceBackend(), 1e-12]];
if (gpu) BACKENDS.push(['webgpu', gpu, 1e-6]);

// 4096 (ADAM_IMAGE_MIN_SIZE), 40_000 (a texture of several rows) and 70_004 (LAMB parts of 973 texels, the
// last one short) take the image-input Adam and LAMB kernels where the backend uses them; 300 (below the
// minimum) and the sizes not a multiple of 4 the storage ones.
const SIZES = [1, 7, 300, 4096, 70_001, 40_000, 70_004];
type Kind = 'adam' | 'adam-l2' | 'adamw' | 'lamb';
function make(kind: Kind, params: Tensor[], fused: boolean): Optimizer {
  const o = { lr: 0.01, fused };
  switch (kind) {
    case 'adam': return new Adam(params, o);
    case 'adam-l2': return new Adam(params, { ...o, weightDecay: 0.1 });
    case 'adamw': return new AdamW(params, { ...o, weightDecay: 0.05 });
    case 'lamb': return new LAMB(params, { ...o, weightDecay: 0.01 });
  }
}

async function run(kind: Kind, backend: Backend, fused: boolean): Promise<number[][]> {
  const rng = new SeededRandom(3);
  const init = SIZES.map((n, i) => Array.from({ length: n }, () => (i === 0 ? 0 : rng.normal())));
  const grads = [1, 2, 3].map(() => SIZES.map((n) => Array.from({ length: n }, () => rng.normal() * 0.1)));
  const params = init.map((d) => tensor(d, [d.length], { backend, requiresGrad: true }));
  const opt = make(kind, params, fused);
  for (const gs of grads) {
    tidy(() => {
      params.forEach((p, i) => { p.grad = tensor(gs[i], [gs[i].length], { backend }); });
      opt.step();
      opt.zeroGrad();
    });
  }
  const out = await Promise.all([...params, ...params.flatMap((p) => Object.values(opt.state.get(p)!.tensors))].map((t) => t.toArray()));
  opt.dispose();
  for (const p of params) p.dispose();
  return out;
}

describe.each(BACKENDS)('fused optimizers == composite on %s', (_name, backend, tol) => {
  it.each(['adam', 'adam-l2', 'adamw', 'lamb'] as Kind[])('%s: parameters and moments after 3 steps', async (kind) => {
    const live = backend.liveCount();
    const a = await run(kind, backend, true);
    const b = await run(kind, backend, false);
    let worst = 0;
    a.forEach((x, i) => x.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - b[i][j]) / Math.max(1, Math.abs(b[i][j]))); }));
    console.log(`[fused-optim] ${_name} ${kind}: max rel error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(tol);
    expect(backend.liveCount()).toBe(live);
  });
});
