// Fused optimizer steps (kernels/optimizer.ts): Adam/AdamW in one dispatch per parameter tensor,
// LAMB in two (moments + per-chunk norms, then the trust-ratio update), instead of ~10 elementwise
// dispatches each. Same arithmetic order as the composite in optimizer.ts (equal to float32 rounding).

import { lambParts } from '../../kernels/optimizer.js';
import { fillLike, runKernel } from '../ops/kernel.js';
import type { Tensor } from '../tensor.js';
import type { ParamState } from './optimizer.js';

interface AdamLike {
  betas: [number, number];
  eps: number;
  setState(st: ParamState, name: string, t: Tensor): void;
}

const f32 = (t: Tensor) => ({ shape: t.shape, dtype: 'f32' as const });

function moments(st: ParamState, p: Tensor): [Tensor, Tensor] {
  return [st.tensors.expAvg ?? fillLike(p, 0), st.tensors.expAvgSq ?? fillLike(p, 0)];
}

export function adamStepFused(opt: AdamLike, p: Tensor, grad: Tensor, st: ParamState, lr: number, weightDecay: number, decoupled: boolean): void {
  const [b1, b2] = opt.betas;
  const [m, v] = moments(st, p);
  const spec = {
    kind: 'adamStep' as const, size: p.size, lr, beta1: b1, beta2: b2, eps: opt.eps,
    bc1: 1 - b1 ** st.step, bc2: 1 - b2 ** st.step, weightDecay, decoupled,
  };
  const [p2, m2, v2] = runKernel(spec, [p, grad, m, v], [f32(p), f32(p), f32(p)]);
  opt.setState(st, 'expAvg', m2);
  opt.setState(st, 'expAvgSq', v2);
  p.assign(p2);
}

export function lambStepFused(opt: AdamLike, p: Tensor, grad: Tensor, st: ParamState, lr: number, weightDecay: number): void {
  const [b1, b2] = opt.betas;
  const [m, v] = moments(st, p);
  const parts = lambParts(p.size);
  const common = { size: p.size, parts, eps: opt.eps, bc1: 1 - b1 ** st.step, bc2: 1 - b2 ** st.step, weightDecay };
  const [m2, v2, partials] = runKernel({ kind: 'lambStats', ...common, beta1: b1, beta2: b2 }, [p, grad, m, v], [f32(p), f32(p), { shape: [parts, 2], dtype: 'f32' }]);
  const [p2] = runKernel({ kind: 'lambApply', ...common, lr }, [p, m2, v2, partials], [f32(p)]);
  opt.setState(st, 'expAvg', m2);
  opt.setState(st, 'expAvgSq', v2);
  p.assign(p2);
}
