// Top-k along rows and its gather/scatter companions.
//   topk: one workgroup per row, k selection rounds. Round t picks the largest element that comes
//     after the previous pick in the order (value descending, index ascending), so no "taken" mask is
//     needed; each round is a strided scan plus a (value, index) tree. O(rows * k * len) work,
//     O(k * (len / ROW_WG + log ROW_WG)) depth per row.
//   gatherLast: one invocation per output (r, j), moves u32 bits (f32 and i32 alike). O(rows * k);
//     an index outside [0, len) gives 0.
//   scatterLast: one invocation per output (r, c) summing g[r, j] over j with idx[r, j] == c in
//     ascending j (deterministic, no atomics). O(rows * len * k).

import type { KernelSpec } from '../engine/backend/spec.js';
import { EW_WG, ROW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, out, source, storage, wgReduce, type KernelPlan } from './common.js';

const layout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['k', 'u32']]);

type TopkSpec = Extract<KernelSpec, { kind: 'topk' }>;
export function topkKernel(spec: TopkSpec): KernelPlan {
  const src = source('topk', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'i32', 'write') + layout.wgsl(2) +
      entry(ROW_WG, `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  var pv = 0.0;
  var pi = 0u;
  for (var t = 0u; t < u.k; t = t + 1u) {
    var best = -inf_f32();
    var bi = 0xffffffffu;
    for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
      let v = x[base + j];
      let eligible = t == 0u || v < pv || (v == pv && j > pi);
      if (eligible && (v > best || bi == 0xffffffffu)) { best = v; bi = j; }
    }
    let w = wg_argmax(best, bi, lid);
    if (lid == 0u) { y[row * u.k + t] = i32(w); }
    pv = x[base + w];
    pi = w;
  }`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { rows: spec.rows, len: spec.len, k: spec.k }, workgroups: spec.rows }] };
}

type GatherLastSpec = Extract<KernelSpec, { kind: 'gatherLast' }>;
export function gatherLastKernel(spec: GatherLastSpec): KernelPlan {
  const src = source('gatherLast', () => ({
    wgsl: storage(0, 'x', 'u32', 'read') + storage(1, 'idx', 'i32', 'read') + storage(2, 'y', 'u32', 'write') + layout.wgsl(3) +
      entry(EW_WG, `  if (gid >= u.rows * u.k) { return; }
  let r = gid / u.k;
  let c = idx[gid];
  var v = 0u;
  if (c >= 0 && c < i32(u.len)) { v = x[r * u.len + u32(c)]; }
  y[gid] = v;`),
    bindings: ['read', 'read', 'write'], uniform: layout,
  }));
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, len: spec.len, k: spec.k }, workgroups: ceilDiv(spec.rows * spec.k, EW_WG) }],
  };
}

type ScatterLastSpec = Extract<KernelSpec, { kind: 'scatterLast' }>;
export function scatterLastKernel(spec: ScatterLastSpec): KernelPlan {
  const src = source('scatterLast', () => ({
    wgsl: storage(0, 'g', 'f32', 'read') + storage(1, 'idx', 'i32', 'read') + storage(2, 'dx', 'f32', 'write') + layout.wgsl(3) +
      entry(EW_WG, `  if (gid >= u.rows * u.len) { return; }
  let r = gid / u.len;
  let c = i32(gid % u.len);
  var acc = 0.0;
  for (var j = 0u; j < u.k; j = j + 1u) {
    let p = r * u.k + j;
    if (idx[p] == c) { acc = acc + g[p]; }
  }
  dx[gid] = acc;`),
    bindings: ['read', 'read', 'write'], uniform: layout,
  }));
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, len: spec.len, k: spec.k }, workgroups: ceilDiv(spec.rows * spec.len, EW_WG) }],
  };
}
