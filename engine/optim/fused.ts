// Fused optimizer steps (kernels/optimizer.ts) instead of ~10 elementwise dispatches per tensor:
// Adam/AdamW in one dispatch per large tensor and one for all small tensors of a group together
// (packed by buffer copies); LAMB in two per large tensor (moments + per-chunk norms, then the
// trust-ratio update) and one for all small tensors (one workgroup each). Same arithmetic order as
// the composite in optimizer.ts (equal to float32 rounding).

import { PACKED_MAX_SIZE, lambParts } from '../../kernels/optimizer.js';
import { fillLike, runKernel } from '../ops/kernel.js';
import { tensor, type Tensor } from '../tensor.js';
import type { ParamState } from './optimizer.js';

interface AdamLike {
  betas: [number, number];
  eps: number;
  setState(st: ParamState, name: string, t: Tensor): void;
}

/** One parameter's update: the tensor, its gradient and its state (step already counted). */
export interface StepItem { p: Tensor; grad: Tensor; st: ParamState }

/** Whether `p` is updated together with other small tensors in one dispatch. */
export const packable = (p: Tensor): boolean => p.size < PACKED_MAX_SIZE;

const f32 = (t: Tensor) => ({ shape: t.shape, dtype: 'f32' as const });

function moments(st: ParamState, p: Tensor): [Tensor, Tensor] {
  return [st.tensors.expAvg ?? fillLike(p, 0), st.tensors.expAvgSq ?? fillLike(p, 0)];
}

/** The bias corrections of the items' common step count. */
function corrections(opt: AdamLike, items: readonly StepItem[]): { bc1: number; bc2: number } {
  const step = items[0]!.st.step;
  if (items.some((it) => it.st.step !== step)) throw new Error('fused optimizer step: tensors updated together must share their step count');
  return { bc1: 1 - opt.betas[0] ** step, bc2: 1 - opt.betas[1] ** step };
}

/** Inputs [p, g, m, v] per item. */
const packedInputs = (items: readonly StepItem[]) => items.flatMap(({ p, grad, st }) => [p, grad, ...moments(st, p)]);

/** Takes outputs [p', m', v'] per item into the parameters and their state. */
function takeOutputs(opt: AdamLike, items: readonly StepItem[], outs: Tensor[]): void {
  items.forEach(({ p, st }, k) => {
    opt.setState(st, 'expAvg', outs[3 * k + 1]!);
    opt.setState(st, 'expAvgSq', outs[3 * k + 2]!);
    p.assign(outs[3 * k]!);
  });
}

/** Adam/AdamW over `items` (one tensor, or several sharing backend, step count and hyperparameters) in one dispatch. */
export function adamStepFused(opt: AdamLike, items: readonly StepItem[], lr: number, weightDecay: number, decoupled: boolean): void {
  const [b1, b2] = opt.betas;
  const spec = {
    kind: 'adamStep' as const, sizes: items.map((it) => it.p.size), lr, beta1: b1, beta2: b2, eps: opt.eps,
    ...corrections(opt, items), weightDecay, decoupled,
  };
  takeOutputs(opt, items, runKernel(spec, packedInputs(items), items.flatMap(({ p }) => [f32(p), f32(p), f32(p)])));
}

/**
 * LAMB over `items`: small tensors (packable) all in one lambStep dispatch; a large tensor (alone) in
 * two, lambStats over up to 256 chunks then lambApply.
 */
export function lambStepFused(opt: AdamLike, items: readonly StepItem[], lr: number, weightDecay: number): void {
  const [b1, b2] = opt.betas;
  const { bc1, bc2 } = corrections(opt, items);
  if (items.every((it) => packable(it.p))) {
    const sizes = items.map((it) => it.p.size);
    const offsets = [0];
    for (const s of sizes) offsets.push(offsets[offsets.length - 1]! + s);
    const off = tensor(Int32Array.from(offsets), [offsets.length], { backend: items[0]!.p.backend, dtype: 'i32' });
    const spec = { kind: 'lambStep' as const, sizes, lr, beta1: b1, beta2: b2, eps: opt.eps, bc1, bc2, weightDecay };
    takeOutputs(opt, items, runKernel(spec, [...packedInputs(items), off], items.flatMap(({ p }) => [f32(p), f32(p), f32(p)])));
    return;
  }
  if (items.length !== 1) throw new Error('lambStepFused: tensors of PACKED_MAX_SIZE elements or more are updated one at a time');
  const { p, grad, st } = items[0]!;
  const [m, v] = moments(st, p);
  const parts = lambParts(p.size);
  const common = { size: p.size, parts, eps: opt.eps, bc1, bc2, weightDecay };
  const [m2, v2, partials] = runKernel({ kind: 'lambStats', ...common, beta1: b1, beta2: b2 }, [p, grad, m, v], [f32(p), f32(p), { shape: [parts, 2], dtype: 'f32' }]);
  const [p2] = runKernel({ kind: 'lambApply', ...common, lr }, [p, m2!, v2!, partials!], [f32(p)]);
  takeOutputs(opt, items, [p2!, m2!, v2!]);
}
