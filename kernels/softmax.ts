// Row kernels over x viewed as [rows, len]: one workgroup of ROW_WG invocations per row, strided
// loops plus fixed-tree workgroup reductions (deterministic). Each is O(rows * len) work with
// O(len / ROW_WG + log ROW_WG) depth per row.
//   softmax / log-softmax: max pass, sum-of-exp pass, write pass. All -inf rows give 0 / -inf.
//   softmaxBackward: one dot-product pass, one write pass. Entries with y = 0 (softmax) or y = -inf
//     (log-softmax) get zero gradient, so all -inf input rows do.
//   crossEntropy: logsumexp - x[label]; 0 when ignored; NaN for an out-of-range label.
//   crossEntropyBackward: (softmax - onehot) * dloss; zero row when ignored; an out-of-range label
//     has an all-zero onehot (like the reference).

import { softmaxGradScale, type KernelSpec } from '../engine/backend/spec.js';
import { ROW_WG, UniformLayout, WGSL_SPECIALS, entry, inp, out, source, storage, wgReduce, type KernelPlan } from './common.js';

const rowLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32']]);
const ceLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['ignore', 'i32']]);

const PRELUDE = WGSL_SPECIALS + wgReduce(ROW_WG);
const ROW_HEAD = `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;`;

/** WGSL computing `m` (row max) and `s` (sum of exp(x - m)) of row `base` of array `x`. */
const MAX_SUM = `
  var mx = -inf_f32();
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { mx = max(mx, x[base + j]); }
  let m = wg_max(mx, lid);
  var sx = 0.0;
  if (m != -inf_f32()) {
    for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { sx = sx + exp(x[base + j] - m); }
  }
  let s = wg_sum(sx, lid);`;

type SoftmaxSpec = Extract<KernelSpec, { kind: 'softmax' }>;
export function softmaxKernel(spec: SoftmaxSpec): KernelPlan {
  const write = spec.log
    ? `let ls = log(s);
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { y[base + j] = select((x[base + j] - m) - ls, -inf_f32(), allInf); }`
    : `let inv = 1.0 / s;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { y[base + j] = select(exp(x[base + j] - m) * inv, 0.0, allInf); }`;
  const src = source(`softmax:${spec.log ? 'log' : 'lin'}`, () => ({
    wgsl: PRELUDE + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + rowLayout.wgsl(2) +
      entry(ROW_WG, `${ROW_HEAD}${MAX_SUM}
  let allInf = m == -inf_f32();
  ${write}`),
    bindings: ['read', 'write'], uniform: rowLayout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { rows: spec.rows, len: spec.len }, workgroups: spec.rows }] };
}

const maskedLayout = new UniformLayout([
  ['rows', 'u32'], ['len', 'u32'], ['scale', 'f32'], ['d1', 'u32'], ['d2', 'u32'], ['s0', 'u32'], ['s1', 'u32'], ['s2', 'u32'],
]);
/** Uniforms of a maskedSoftmax spec (mdims[0] is implied by rows). */
const maskedUniforms = (spec: MaskedSoftmaxSpec) => ({
  rows: spec.rows, len: spec.len, scale: spec.scale, d1: spec.mdims[1], d2: spec.mdims[2], s0: spec.mstrides[0], s1: spec.mstrides[1], s2: spec.mstrides[2],
});
/** WGSL: the mask row of x row `row` (spec.ts maskedSoftmax). */
export const MASK_ROW = '(row / (u.d1 * u.d2)) * u.s0 + ((row / u.d2) % u.d1) * u.s1 + (row % u.d2) * u.s2';

type MaskedSoftmaxSpec = Extract<KernelSpec, { kind: 'maskedSoftmax' }>;
export function maskedSoftmaxKernel(spec: MaskedSoftmaxSpec): KernelPlan {
  // The softmax kernel's three passes over z = x * scale + mask (recomputed in each pass).
  const z = (j: string) => `(x[base + ${j}] * u.scale${spec.masked ? ` + mask[mb + ${j}]` : ''})`;
  const src = source(`maskedSoftmax:${spec.masked ? 'm' : 'n'}`, () => ({
    wgsl: PRELUDE + storage(0, 'x', 'f32', 'read') + storage(1, 'mask', 'f32', 'read') + storage(2, 'y', 'f32', 'write') + maskedLayout.wgsl(3) +
      entry(ROW_WG, `${ROW_HEAD}
  let mb = (${MASK_ROW}) * u.len;
  var mx = -inf_f32();
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { mx = max(mx, ${z('j')}); }
  let m = wg_max(mx, lid);
  var sx = 0.0;
  if (m != -inf_f32()) {
    for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { sx = sx + exp(${z('j')} - m); }
  }
  let s = wg_sum(sx, lid);
  let allInf = m == -inf_f32();
  let inv = 1.0 / s;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { y[base + j] = select(exp(${z('j')} - m) * inv, 0.0, allInf); }`),
    bindings: ['read', 'read', 'write'], uniform: maskedLayout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), inp(1), out(0)], uniforms: maskedUniforms(spec), workgroups: spec.rows }] };
}

const bwdLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['scale', 'f32']]);

type SoftmaxBackwardSpec = Extract<KernelSpec, { kind: 'softmaxBackward' }>;
export function softmaxBackwardKernel(spec: SoftmaxBackwardSpec): KernelPlan {
  // softmax: dx = scale * (y * (dy - sum(dy * y))); log: dx = dy - exp(y) * sum(dy).
  const body = spec.log
    ? `  var acc = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { acc = acc + dy[base + j]; }
  let s = wg_sum(acc, lid);
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
    let yv = y[base + j];
    dx[base + j] = select(dy[base + j] - exp(yv) * s, 0.0, yv == -inf_f32());
  }`
    : `  var acc = 0.0;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { acc = acc + dy[base + j] * y[base + j]; }
  let s = wg_sum(acc, lid);
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { dx[base + j] = u.scale * (y[base + j] * (dy[base + j] - s)); }`;
  const src = source(`softmaxBackward:${spec.log ? 'log' : 'lin'}`, () => ({
    wgsl: PRELUDE + storage(0, 'y', 'f32', 'read') + storage(1, 'dy', 'f32', 'read') + storage(2, 'dx', 'f32', 'write') + bwdLayout.wgsl(3) +
      entry(ROW_WG, `${ROW_HEAD}\n${body}`),
    bindings: ['read', 'read', 'write'], uniform: bwdLayout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, len: spec.len, scale: softmaxGradScale(spec) }, workgroups: spec.rows }] };
}

type CrossEntropySpec = Extract<KernelSpec, { kind: 'crossEntropy' }>;
export function crossEntropyKernel(spec: CrossEntropySpec): KernelPlan {
  const src = source('crossEntropy', () => ({
    wgsl: PRELUDE + storage(0, 'x', 'f32', 'read') + storage(1, 'labels', 'i32', 'read') + storage(2, 'loss', 'f32', 'write') +
      ceLayout.wgsl(3) +
      entry(ROW_WG, `${ROW_HEAD}
  let label = labels[row];
  if (label == u.ignore) {
    if (lid == 0u) { loss[row] = 0.0; }
    return;
  }${MAX_SUM}
  if (lid == 0u) {
    if (label < 0 || label >= i32(u.len)) { loss[row] = nan_f32(); }
    else { loss[row] = (m - x[base + u32(label)]) + log(s); }
  }`),
    bindings: ['read', 'read', 'write'], uniform: ceLayout,
  }));
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, len: spec.classes, ignore: spec.ignoreIndex }, workgroups: spec.rows }],
  };
}

type CrossEntropyBackwardSpec = Extract<KernelSpec, { kind: 'crossEntropyBackward' }>;
export function crossEntropyBackwardKernel(spec: CrossEntropyBackwardSpec): KernelPlan {
  const src = source('crossEntropyBackward', () => ({
    wgsl: PRELUDE + storage(0, 'x', 'f32', 'read') + storage(1, 'labels', 'i32', 'read') + storage(2, 'dloss', 'f32', 'read') +
      storage(3, 'dx', 'f32', 'write') + ceLayout.wgsl(4) +
      entry(ROW_WG, `${ROW_HEAD}
  let label = labels[row];
  if (label == u.ignore) {
    for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { dx[base + j] = 0.0; }
    return;
  }${MAX_SUM}
  let g = dloss[row];
  let inv = 1.0 / s;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
    let p = exp(x[base + j] - m) * inv;
    let onehot = select(0.0, 1.0, i32(j) == label);
    dx[base + j] = (p - onehot) * g;
  }`),
    bindings: ['read', 'read', 'read', 'write'], uniform: ceLayout,
  }));
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), out(0)],
      uniforms: { rows: spec.rows, len: spec.classes, ignore: spec.ignoreIndex }, workgroups: spec.rows,
    }],
  };
}
