// Optimizers against PyTorch (tests/fixtures/optim, written by tools/reference/make_fixtures.py with
// torch.optim.Adam / AdamW / SGD and tools/reference/optim_ref.py's LAMB): one step from identical
// stored gradients within 1e-6, three steps (and the optimizer state after them) within 5e-5, on the
// reference backend and on WebGPU when an adapter is available. Schedules equal their formulas at
// every step of the fixture; gradient accumulation equals one big batch; clipGradNorm follows
// torch.nn.utils.clip_grad_norm_.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  Adam,
  AdamW,
  F,
  LAMB,
  LRScheduler,
  Linear,
  ReferenceBackend,
  SGD,
  clipGradNorm,
  linearWarmupDecay,
  noam,
  setSeed,
  tensor,
  tidy,
  type Backend,
  type Optimizer,
  type Tensor,
} from '../../engine/index.js';
import { readSafetensorsFile } from '../../engine/io/safetensors-node.js';
import { tryWebGPU } from '../helpers/webgpu.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'optim');
const fx = await readSafetensorsFile(join(FIX, 'optim.safetensors'));
const info = JSON.parse(await readFile(join(FIX, 'optim.json'), 'utf8')) as {
  param_names: string[];
  optimizers: Record<string, { hyperparameters: Record<string, unknown>; trust_ratios?: Record<string, number>[] }>;
  schedules: {
    linear_warmup: { base_lr: number; num_warmup_steps: number; num_training_steps: number; steps: number[]; lr: number[] };
    noam: { d_model: number; warmup: number; factor: number; steps: number[]; lr: number[] };
  };
};
const NAMES = info.param_names;

function fix(name: string): { data: number[]; shape: number[] } {
  const t = fx.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return { data: Array.from(t.data as ArrayLike<number>), shape: t.shape };
}

// WebGPU when the Node backend exists and finds an adapter; the reference backend always.
const gpu = await tryWebGPU();
const BACKENDS: [string, () => Backend][] = [['reference', () => new ReferenceBackend()]];
if (gpu) BACKENDS.push(['webgpu', () => gpu]);

type Key = 'adam' | 'adamw' | 'lamb' | 'lamb_clip' | 'sgd';
const STATE_NAMES: Record<string, string> = { expAvg: 'exp_avg', expAvgSq: 'exp_avg_sq', momentum: 'momentum_buffer' };

function makeOptimizer(key: Key, params: Tensor[]): Optimizer {
  const hp = info.optimizers[key].hyperparameters as { lr: number; betas?: [number, number]; eps?: number; weight_decay: number; momentum?: number };
  switch (key) {
    case 'adam':
      return new Adam(params, { lr: hp.lr, betas: hp.betas, eps: hp.eps, weightDecay: hp.weight_decay });
    case 'adamw':
      return new AdamW(params, { lr: hp.lr, betas: hp.betas, eps: hp.eps, weightDecay: hp.weight_decay });
    case 'lamb':
    case 'lamb_clip':
      return new LAMB(params, { lr: hp.lr, betas: hp.betas, eps: hp.eps, weightDecay: hp.weight_decay });
    case 'sgd':
      return new SGD(params, { lr: hp.lr, momentum: hp.momentum, weightDecay: hp.weight_decay });
  }
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs 3 steps of `key` from the fixture's init and gradients; returns the worst errors. */
async function runFixture(key: Key, backend: Backend): Promise<{ step1: number; step3: number; state3: number; leaked: number }> {
  const before = backend.liveCount();
  const params = NAMES.map((n) => {
    const f = fix(`init.${n}`);
    return tensor(f.data, f.shape, { backend, requiresGrad: true });
  });
  const opt = makeOptimizer(key, params);
  const clip = info.optimizers[key].hyperparameters.max_grad_norm as number | null | undefined;
  const err = { step1: 0, step3: 0, state3: 0, leaked: 0 };
  for (let t = 1; t <= 3; t++) {
    tidy(() => {
      NAMES.forEach((n, i) => {
        const g = fix(`grad.${t}.${n}`);
        params[i].grad = tensor(g.data, g.shape, { backend });
      });
      if (clip) clipGradNorm(params, clip);
      opt.step();
      opt.zeroGrad();
    });
    if (t === 1 || t === 3) {
      for (let i = 0; i < NAMES.length; i++) {
        const e = maxAbs(await params[i].data(), fix(`${key}.step${t}.${NAMES[i]}`).data);
        if (t === 1) err.step1 = Math.max(err.step1, e);
        else err.step3 = Math.max(err.step3, e);
      }
    }
  }
  for (let i = 0; i < NAMES.length; i++) {
    const st = opt.state.get(params[i])!;
    expect(st.step).toBe(3);
    const stateKeys = Object.keys(st.tensors);
    expect(stateKeys.length).toBeGreaterThan(0);
    for (const [name, t] of Object.entries(st.tensors)) {
      const ref = fix(`${key}.step3.${STATE_NAMES[name] ?? name}.${NAMES[i]}`).data;
      err.state3 = Math.max(err.state3, maxAbs(await t.data(), ref));
    }
  }
  opt.dispose();
  for (const p of params) p.dispose();
  err.leaked = backend.liveCount() - before;
  return err;
}

const figures: string[] = [];

describe.each(BACKENDS)('optimizers vs PyTorch on %s', (bname, getBackend) => {
  it.each(['adam', 'adamw', 'lamb', 'lamb_clip', 'sgd'] as Key[])('%s: 1 step within 1e-6, 3 steps within 5e-5', async (key) => {
    const err = await runFixture(key, getBackend());
    figures.push(`${bname.padEnd(9)} ${key.padEnd(9)} 1 step ${err.step1.toExponential(2)}  3 steps ${err.step3.toExponential(2)}  state ${err.state3.toExponential(2)}`);
    console.log(`[optim] ${figures[figures.length - 1]}`);
    expect(err.step1).toBeLessThanOrEqual(1e-6);
    expect(err.step3).toBeLessThanOrEqual(5e-5);
    expect(err.state3).toBeLessThanOrEqual(5e-5);
    expect(err.leaked).toBe(0);
  });
});

describe('LAMB trust ratios', () => {
  it('step 1 of the fixture follows p1 = p0 - lr * ratio * u with the stored ratios (||p|| = 0 gives 1)', () => {
    const hp = info.optimizers.lamb.hyperparameters as { lr: number; weight_decay: number; eps: number };
    const ratios = info.optimizers.lamb.trust_ratios!;
    // Step 1 (m = (1-b1) g, v = (1-b2) g^2): u = g/(|g| + eps) + wd * p0 elementwise.
    NAMES.forEach((n) => {
      const p0 = fix(`init.${n}`).data;
      const g = fix(`grad.1.${n}`).data;
      const p1 = fix(`lamb.step1.${n}`).data;
      const u = g.map((gi, k) => gi / (Math.abs(gi) + hp.eps) + hp.weight_decay * p0[k]);
      const un = Math.hypot(...u);
      const pn = Math.hypot(...p0);
      const ratio = pn > 0 && un > 0 ? pn / un : 1;
      expect(ratio).toBeCloseTo(ratios[0][n], 5);
      p1.forEach((v, k) => expect(Math.abs(v - (p0[k] - hp.lr * ratio * u[k]))).toBeLessThan(1e-6));
    });
  });
});

describe('learning-rate schedules', () => {
  it('linearWarmupDecay through LRScheduler equals the HF formula at every fixture step', () => {
    const s = info.schedules.linear_warmup;
    const backend = new ReferenceBackend();
    const p = tensor([0], [1], { backend, requiresGrad: true });
    const opt = new SGD([p], { lr: s.base_lr });
    const sched = new LRScheduler(opt, linearWarmupDecay(s.num_warmup_steps, s.num_training_steps));
    s.steps.forEach((step, i) => {
      if (step > 0) sched.step();
      expect(sched.lastStep).toBe(step);
      expect(Math.abs(opt.groups[0].lr - s.lr[i])).toBeLessThan(1e-15);
      const formula = step < s.num_warmup_steps ? step / Math.max(1, s.num_warmup_steps) : Math.max(0, (s.num_training_steps - step) / Math.max(1, s.num_training_steps - s.num_warmup_steps));
      expect(opt.groups[0].lr).toBeCloseTo(s.base_lr * formula, 15);
    });
    // setStep (resume) lands on the same lr.
    sched.setStep(7);
    expect(Math.abs(opt.groups[0].lr - s.lr[s.steps.indexOf(7)])).toBeLessThan(1e-15);
    p.dispose();
  });

  it('noam equals factor * d^-0.5 * min(step^-0.5, step * warmup^-1.5) at every fixture step', () => {
    const s = info.schedules.noam;
    const f = noam(s.d_model, s.warmup, s.factor);
    s.steps.forEach((step, i) => {
      expect(Math.abs(f(step) - s.lr[i])).toBeLessThan(1e-15);
      expect(f(step)).toBeCloseTo(s.factor * s.d_model ** -0.5 * Math.min(step ** -0.5, step * s.warmup ** -1.5), 15);
    });
    // The peak is at the warmup step.
    const peak = s.steps.reduce((a, b) => (f(b) > f(a) ? b : a));
    expect(peak).toBe(s.warmup);
  });
});

describe('gradient accumulation', () => {
  it('accumIters micro-batches with loss/accumIters equal one big batch (Linear, reference backend)', async () => {
    const backend = new ReferenceBackend();
    const accumIters = 4;
    const micro = 3;
    const n = accumIters * micro;
    const xs = Array.from({ length: n * 5 }, (_, i) => Math.sin(i * 0.7) * 2);
    const ys = Array.from({ length: n }, (_, i) => i % 3);
    const run = async (mode: 'big' | 'accum'): Promise<number[][]> => {
      setSeed(11);
      const model = new Linear(5, 3, { backend, initStd: 0.5 });
      const opt = new AdamW(model.parameters(), { lr: 0.05, weightDecay: 0.1 });
      for (let step = 0; step < 3; step++) {
        tidy(() => {
          if (mode === 'big') {
            const loss = F.crossEntropy(model.forward(tensor(xs, [n, 5], { backend })), tensor(Int32Array.from(ys), [n], { backend }));
            loss.backward();
          } else {
            for (let k = 0; k < accumIters; k++) {
              const x = tensor(xs.slice(k * micro * 5, (k + 1) * micro * 5), [micro, 5], { backend });
              const y = tensor(Int32Array.from(ys.slice(k * micro, (k + 1) * micro)), [micro], { backend });
              F.mul(F.crossEntropy(model.forward(x), y), 1 / accumIters).backward();
            }
          }
          clipGradNorm(model.parameters(), 0.5);
          opt.step();
          opt.zeroGrad();
        });
      }
      const out = await Promise.all(model.parameters().map((p) => p.toArray()));
      opt.dispose();
      model.dispose();
      return out;
    };
    const big = await run('big');
    const acc = await run('accum');
    for (let i = 0; i < big.length; i++) expect(maxAbs(big[i], acc[i])).toBeLessThan(1e-12);
  });
});

describe('clipGradNorm', () => {
  const backend = new ReferenceBackend();
  const grads = [
    [3, -4, 1.5, 0.25],
    [-2, 7, 0.5],
    [0, 0],
  ];
  const setup = () => {
    const ps = grads.map((g) => tensor(new Array(g.length).fill(1), [g.length], { backend, requiresGrad: true }));
    ps.forEach((p, i) => (p.grad = tidy(() => tensor(grads[i], [grads[i].length], { backend }))));
    return ps;
  };
  const total = Math.hypot(...grads.flat());

  it('returns the total 2-norm and scales by maxNorm / (norm + 1e-6) when above maxNorm', async () => {
    const ps = setup();
    const norm = clipGradNorm(ps, 2);
    expect(await norm.item()).toBeCloseTo(total, 12);
    const coef = 2 / (total + 1e-6);
    for (let i = 0; i < ps.length; i++) {
      const g = await ps[i].grad!.toArray();
      g.forEach((v, k) => expect(v).toBeCloseTo(grads[i][k] * coef, 12));
    }
    // After clipping the norm is maxNorm (up to the 1e-6 guard).
    const after = Math.hypot(...(await Promise.all(ps.map((p) => p.grad!.toArray()))).flat());
    expect(Math.abs(after - 2)).toBeLessThan(1e-5);
    norm.dispose();
    ps.forEach((p) => p.dispose());
  });

  it('leaves gradients unchanged (coefficient clamped to 1) when the norm is below maxNorm', async () => {
    const ps = setup();
    const norm = clipGradNorm(ps, total * 2);
    expect(await norm.item()).toBeCloseTo(total, 12);
    for (let i = 0; i < ps.length; i++) expect(await ps[i].grad!.toArray()).toEqual(grads[i]);
    norm.dispose();
    ps.forEach((p) => p.dispose());
  });

  it('skips parameters without gradients and rejects a list where none has one', () => {
    const p = tensor([1, 2], [2], { backend, requiresGrad: true });
    expect(() => clipGradNorm([p], 1)).toThrow(/no parameter has a gradient/);
    p.dispose();
  });
});
