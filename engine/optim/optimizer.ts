// Optimizers over parameter groups: SGD (momentum), Adam, AdamW (decoupled decay) and LAMB
// (per-tensor trust ratio, NVIDIA BERT recipe). Updates are written with tensor ops under
// noGrad, so they run on the parameters' backend and the reference backend alike; everything
// stays on the device (no readback per step). State is exposed for checkpoints.

import * as F from '../ops/api.js';
import { keep, noGrad, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { packRaw, unpackRaw } from '../ops/kernel.js';
import { adamStepFused, lambStepFused, packable, type StepItem } from './fused.js';

export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

interface Group {
  params: Tensor[];
  lr: number;
  /** The lr the group was created with; schedules multiply it. */
  baseLr: number;
  weightDecay: number;
}

/** Per-parameter optimizer state: named device tensors and the step count. */
export interface ParamState {
  step: number;
  tensors: Record<string, Tensor>;
}

export abstract class Optimizer {
  readonly groups: Group[];
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Tensor[] | ParamGroup[], defaults: { lr: number; weightDecay?: number }) {
    const list: ParamGroup[] = params.length > 0 && !('params' in params[0]) ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    if (!(defaults.lr >= 0)) throw new Error(`${this.constructor.name}: lr must be >= 0, got ${defaults.lr}`);
    this.groups = list.map((g) => {
      const lr = g.lr ?? defaults.lr;
      return { params: g.params, lr, baseLr: lr, weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0 };
    });
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const g of this.groups) {
        const items: StepItem[] = [];
        for (const p of g.params) {
          if (!p.grad) continue;
          const st = this.state.get(p) ?? { step: 0, tensors: {} };
          this.state.set(p, st);
          st.step++;
          items.push({ p, grad: p.grad, st });
        }
        this.updateGroup(items, g);
      }
    });
  }

  /** Updates a group's parameters that have gradients (default: one at a time). */
  protected updateGroup(items: StepItem[], g: Group): void {
    for (const { p, grad, st } of items) tidy(() => this.update(p, grad, st, g));
  }

  /** Sets every parameter's gradient to null. */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  /** Sets the lr of every group to `factor` times its base lr (used by schedules). */
  scaleLr(factor: number): void {
    for (const g of this.groups) g.lr = g.baseLr * factor;
  }

  /** Replaces a state tensor, keeping the new one alive and freeing the old. */
  setState(st: ParamState, name: string, t: Tensor): void {
    const old = st.tensors[name];
    st.tensors[name] = keep(t);
    if (old && old !== t) old.dispose();
  }

  protected abstract update(p: Tensor, grad: Tensor, st: ParamState, g: Group): void;

  /** Frees the state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
  }
}

/** SGD with optional momentum (PyTorch's form: buf = mu*buf + g; p -= lr*buf) and L2 weight decay. */
export class SGD extends Optimizer {
  readonly momentum: number;
  constructor(params: Tensor[] | ParamGroup[], opts: { lr: number; momentum?: number; weightDecay?: number }) {
    super(params, opts);
    this.momentum = opts.momentum ?? 0;
  }
  protected update(p: Tensor, grad: Tensor, st: ParamState, g: Group): void {
    let d = g.weightDecay ? F.add(grad, F.mul(p, g.weightDecay)) : grad;
    if (this.momentum) {
      const buf = st.tensors.momentum ? F.add(F.mul(st.tensors.momentum, this.momentum), d) : F.mul(d, 1);
      this.setState(st, 'momentum', buf);
      d = buf;
    }
    p.assign(F.sub(p, F.mul(d, g.lr)));
  }
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Fused kernels (engine/optim/fused.ts: one dispatch per large tensor for Adam/AdamW, two for LAMB,
   * and one for all the small tensors of a group) instead of the composite below. Default: true on
   * the WebGPU backend, false elsewhere.
   */
  fused?: boolean;
}

/** The shared moment update; returns m_hat / (sqrt(v_hat) + eps) as PyTorch computes it. */
function adamDirection(opt: Optimizer & { betas: [number, number]; eps: number }, grad: Tensor, st: ParamState): Tensor {
  const [b1, b2] = opt.betas;
  const m0 = st.tensors.expAvg;
  const v0 = st.tensors.expAvgSq;
  const m = m0 ? F.add(F.mul(m0, b1), F.mul(grad, 1 - b1)) : F.mul(grad, 1 - b1);
  const v = v0 ? F.add(F.mul(v0, b2), F.mul(F.mul(grad, grad), 1 - b2)) : F.mul(F.mul(grad, grad), 1 - b2);
  opt.setState(st, 'expAvg', m);
  opt.setState(st, 'expAvgSq', v);
  const bc1 = 1 - b1 ** st.step;
  const bc2 = 1 - b2 ** st.step;
  // PyTorch: denom = sqrt(v) / sqrt(bc2) + eps; step = lr / bc1 * m / denom.
  const denom = F.add(F.mul(F.sqrt(v), 1 / Math.sqrt(bc2)), opt.eps);
  return F.div(F.mul(m, 1 / bc1), denom);
}

/** Adam (Kingma & Ba); weightDecay adds an L2 term to the gradient, as torch.optim.Adam. */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly fused: boolean | undefined;
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, opts);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.fused = opts.fused;
  }
  /** Whether the update of `p` uses the fused kernels. */
  protected useFused(p: Tensor): boolean {
    return this.fused ?? p.backend.name === 'webgpu';
  }
  /**
   * Fused: the small tensors (fused.ts packable) of the group that share a backend and a step count
   * are updated together in one dispatch, the others one by one.
   */
  protected override updateGroup(items: StepItem[], g: Group): void {
    const runs = new Map<unknown, Map<number, StepItem[]>>();
    const alone: StepItem[] = [];
    for (const it of items) {
      if (!this.useFused(it.p) || !packable(it.p)) { alone.push(it); continue; }
      let byStep = runs.get(it.p.backend);
      if (!byStep) runs.set(it.p.backend, (byStep = new Map()));
      const run = byStep.get(it.st.step);
      if (run) run.push(it);
      else byStep.set(it.st.step, [it]);
    }
    for (const byStep of runs.values()) for (const run of byStep.values()) tidy(() => this.fusedUpdate(run, g));
    super.updateGroup(alone, g);
  }
  /** The fused update of `items` (one tensor, or small tensors sharing backend and step count). */
  protected fusedUpdate(items: StepItem[], g: Group): void {
    adamStepFused(this, items, g.lr, g.weightDecay, false);
  }
  protected update(p: Tensor, grad: Tensor, st: ParamState, g: Group): void {
    if (this.useFused(p)) return this.fusedUpdate([{ p, grad, st }], g);
    const gr = g.weightDecay ? F.add(grad, F.mul(p, g.weightDecay)) : grad;
    p.assign(F.sub(p, F.mul(adamDirection(this, gr, st), g.lr)));
  }
}

/** AdamW (Loshchilov & Hutter): decay applied to the weights, decoupled from the gradient. */
export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, { ...opts, weightDecay: opts.weightDecay ?? 0.01 });
  }
  protected override fusedUpdate(items: StepItem[], g: Group): void {
    adamStepFused(this, items, g.lr, g.weightDecay, true);
  }
  protected override update(p: Tensor, grad: Tensor, st: ParamState, g: Group): void {
    if (this.useFused(p)) return this.fusedUpdate([{ p, grad, st }], g);
    const decayed = g.weightDecay ? F.mul(p, 1 - g.lr * g.weightDecay) : p;
    const next = F.sub(decayed, F.mul(adamDirection(this, grad, st), g.lr));
    p.assign(next);
  }
}

/** LAMB (You et al. 2019) as NVIDIA's BERT: Adam direction + decay, scaled per tensor by ||p|| / ||u||. */
export class LAMB extends Adam {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions) {
    super(params, { ...opts, eps: opts.eps ?? 1e-6, weightDecay: opts.weightDecay ?? 0.01 });
  }
  protected override fusedUpdate(items: StepItem[], g: Group): void {
    lambStepFused(this, items, g.lr, g.weightDecay);
  }
  protected override update(p: Tensor, grad: Tensor, st: ParamState, g: Group): void {
    if (this.useFused(p)) return this.fusedUpdate([{ p, grad, st }], g);
    let u = adamDirection(this, grad, st);
    if (g.weightDecay) u = F.add(u, F.mul(p, g.weightDecay));
    const wn = F.sqrt(F.sum(F.mul(p, p)));
    const un = F.sqrt(F.sum(F.mul(u, u)));
    // ratio = ||p|| / ||u||, or 1 when either norm is 0.
    const ok = F.mul(F.gt(wn, 0), F.gt(un, 0));
    const ratio = F.where(ok, F.div(wn, F.maximum(un, 1e-30)), 1);
    p.assign(F.sub(p, F.mul(F.mul(u, ratio), g.lr)));
  }
}

/**
 * Splits named parameters into a decayed group and an undecayed one (biases and LayerNorm
 * weights), as in the BERT recipe and Hugging Face's examples.
 */
export function decayGroups(named: [string, Tensor][], weightDecay: number): ParamGroup[] {
  const noDecay = (n: string) => n.endsWith('bias') || /LayerNorm|layer_norm|_norm\./.test(n);
  return [
    { params: named.filter(([n]) => !noDecay(n)).map(([, t]) => t), weightDecay },
    { params: named.filter(([n]) => noDecay(n)).map(([, t]) => t), weightDecay: 0 },
  ];
}

/**
 * Scales all gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_:
 * coef = maxNorm / (norm + 1e-6), capped at 1). Returns the pre-clipping norm as a device scalar.
 * The small gradients (fused.ts packable) travel packed into one vector (WebGPU: buffer copies), so
 * their squares, sum and scaling are a few dispatches instead of a few per tensor.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  return noGrad(() => {
    const withGrad = params.filter((p) => p.grad);
    if (withGrad.length === 0) throw new Error('clipGradNorm: no parameter has a gradient');
    const backend = withGrad[0]!.backend;
    const small = withGrad.filter((p) => packable(p) && p.backend === backend);
    const pack = small.length > 1;
    const packed = new Set(pack ? small : []);
    const alone = withGrad.filter((p) => !packed.has(p));
    const flat = pack ? packRaw(small.map((p) => p.grad!)) : null; // [sum of the small sizes]
    const total = tidy(() => {
      let sq: Tensor | null = null;
      for (const g of [...alone.map((p) => p.grad!), ...(flat ? [flat] : [])]) {
        const s = F.sum(F.mul(g, g));
        sq = sq ? F.add(sq, s) : s;
      }
      return F.sqrt(sq!);
    });
    tidy(() => {
      const coef = F.minimum(F.div(maxNorm, F.add(total, 1e-6)), 1);
      for (const p of alone) p.grad = F.mul(p.grad!, coef);
      if (flat) unpackRaw(F.mul(flat, coef), small.map((p) => p.shape)).forEach((g, i) => { small[i]!.grad = g; });
    });
    flat?.dispose();
    return total;
  });
}
