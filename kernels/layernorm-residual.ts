// y = LayerNorm(x + residual) in one dispatch: one workgroup per row (like kernels/layernorm.ts),
// pass 1 writes s = x + residual and sums it, pass 2 the centred variance of s (two-pass), pass 3
// y = (s - mean) * rstd * gamma + beta. s is saved for the backward, which is layernormBackward on s.

import type { KernelSpec } from '../engine/backend/spec.js';
import { ROW_WG, UniformLayout, WGSL_SPECIALS, entry, inp, out, source, storage, wgReduce, type KernelPlan } from './common.js';

const layout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['eps', 'f32']]);

type Spec = Extract<KernelSpec, { kind: 'layernormResidual' }>;
export function layernormResidualKernel(spec: Spec): KernelPlan {
  const src = source('layernormResidual', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'res', 'f32', 'read') +
      storage(2, 'gamma', 'f32', 'read') + storage(3, 'beta', 'f32', 'read') + storage(4, 'y', 'f32', 'write') +
      storage(5, 'mean', 'f32', 'write') + storage(6, 'rstd', 'f32', 'write') + storage(7, 's', 'f32', 'write') + layout.wgsl(8) +
      entry(ROW_WG, `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let n = f32(u.len);
  var acc = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { let v = x[base + j] + res[base + j]; s[base + j] = v; acc = acc + v; }
  let mu = wg_sum(acc, lid) / n;
  var acc2 = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { let d = (x[base + j] + res[base + j]) - mu; acc2 = acc2 + d * d; }
  let r = 1.0 / sqrt(wg_sum(acc2, lid) / n + u.eps);
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { y[base + j] = ((x[base + j] + res[base + j]) - mu) * r * gamma[j] + beta[j]; }
  if (lid == 0u) { mean[row] = mu; rstd[row] = r; }`),
    bindings: ['read', 'read', 'read', 'read', 'write', 'write', 'write', 'write'], uniform: layout,
  }));
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), inp(3), out(0), out(1), out(2), out(3)],
      uniforms: { rows: spec.rows, len: spec.len, eps: spec.eps }, workgroups: spec.rows,
    }],
  };
}
