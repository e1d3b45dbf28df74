// LayerNorm over the last axis of x viewed as [rows, len].
//   forward: one workgroup per row; pass 1 mean, pass 2 variance of (x - mean) (two-pass, no
//     E[x^2] - mean^2), pass 3 write y = (x - mean) * rstd * gamma + beta. O(rows * len).
//   backward, two dispatches:
//     dx: one workgroup per row, xhat = (x - mean) * rstd, g = dy * gamma,
//         dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). O(rows * len).
//     dgamma/dbeta: one invocation per column summing over rows in increasing order
//         (deterministic, no atomics). O(rows * len) work, O(rows) depth.

import type { KernelSpec } from '../engine/backend/spec.js';
import { EW_WG, ROW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, out, source, storage, wgReduce, type KernelPlan } from './common.js';

const fwdLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['eps', 'f32']]);
const bwdLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32']]);

type LayernormSpec = Extract<KernelSpec, { kind: 'layernorm' }>;
export function layernormKernel(spec: LayernormSpec): KernelPlan {
  const src = source('layernorm', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'gamma', 'f32', 'read') +
      storage(2, 'beta', 'f32', 'read') + storage(3, 'y', 'f32', 'write') + storage(4, 'mean', 'f32', 'write') +
      storage(5, 'rstd', 'f32', 'write') + fwdLayout.wgsl(6) +
      entry(ROW_WG, `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let n = f32(u.len);
  var acc = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { acc = acc + x[base + j]; }
  let mu = wg_sum(acc, lid) / n;
  var acc2 = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { let d = x[base + j] - mu; acc2 = acc2 + d * d; }
  let r = 1.0 / sqrt(wg_sum(acc2, lid) / n + u.eps);
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { y[base + j] = (x[base + j] - mu) * r * gamma[j] + beta[j]; }
  if (lid == 0u) { mean[row] = mu; rstd[row] = r; }`),
    bindings: ['read', 'read', 'read', 'write', 'write', 'write'], uniform: fwdLayout,
  }));
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), out(0), out(1), out(2)],
      uniforms: { rows: spec.rows, len: spec.len, eps: spec.eps }, workgroups: spec.rows,
    }],
  };
}

type LayernormBackwardSpec = Extract<KernelSpec, { kind: 'layernormBackward' }>;
export function layernormBackwardKernel(spec: LayernormBackwardSpec): KernelPlan {
  const dxSrc = source('layernormBackward:dx', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'gamma', 'f32', 'read') +
      storage(2, 'mean', 'f32', 'read') + storage(3, 'rstd', 'f32', 'read') + storage(4, 'dy', 'f32', 'read') +
      storage(5, 'dx', 'f32', 'write') + bwdLayout.wgsl(6) +
      entry(ROW_WG, `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let n = f32(u.len);
  let mu = mean[row];
  let r = rstd[row];
  var a1 = 0.0;
  var a2 = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
    let g = dy[base + j] * gamma[j];
    a1 = a1 + g;
    a2 = a2 + g * (x[base + j] - mu) * r;
  }
  let mg = wg_sum(a1, lid) / n;
  let mgx = wg_sum(a2, lid) / n;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
    let g = dy[base + j] * gamma[j];
    let xh = (x[base + j] - mu) * r;
    dx[base + j] = r * (g - mg - xh * mgx);
  }`),
    bindings: ['read', 'read', 'read', 'read', 'read', 'write'], uniform: bwdLayout,
  }));
  const dgSrc = source('layernormBackward:dgamma', () => ({
    wgsl: storage(0, 'x', 'f32', 'read') + storage(1, 'mean', 'f32', 'read') + storage(2, 'rstd', 'f32', 'read') +
      storage(3, 'dy', 'f32', 'read') + storage(4, 'dgamma', 'f32', 'write') + storage(5, 'dbeta', 'f32', 'write') +
      bwdLayout.wgsl(6) +
      entry(EW_WG, `  if (gid >= u.len) { return; }
  var sg = 0.0;
  var sb = 0.0;
  var p = gid;
  for (var r = 0u; r < u.rows; r = r + 1u) {
    let d = dy[p];
    sg = sg + d * (x[p] - mean[r]) * rstd[r];
    sb = sb + d;
    p = p + u.len;
  }
  dgamma[gid] = sg;
  dbeta[gid] = sb;`),
    bindings: ['read', 'read', 'read', 'read', 'write', 'write'], uniform: bwdLayout,
  }));
  const uniforms = { rows: spec.rows, len: spec.len };
  return {
    temps: [],
    steps: [
      { source: dxSrc, bind: [inp(0), inp(1), inp(2), inp(3), inp(4), out(0)], uniforms, workgroups: spec.rows },
      { source: dgSrc, bind: [inp(0), inp(2), inp(3), inp(4), out(1), out(2)], uniforms, workgroups: ceilDiv(spec.len, EW_WG) },
    ],
  };
}
