// Top-k along rows and its gather/scatter companions.
//   topk: one workgroup per row, k selection rounds. Round t picks the largest element that comes
//     after the previous pick in the order (value descending, index ascending), so no "taken" mask is
//     needed; each round is a strided scan plus a (value, index) tree. O(rows * k * len) work,
//     O(k * (len / ROW_WG + log ROW_WG)) depth per row.
//   topk, image variant (software adapters, k <= TOPK_SERIAL_MAX): one invocation per row reads it
//     through an image and keeps its k best in a sorted private list (insertion; an element no larger
//     than the k-th is skipped with one compare). No barriers: on llvmpipe the workgroup kernel spent
//     ~95 ms on 2048 rows of 32 (k = 8, a PKM layer's sub-key search), nearly all at its barriers.
//   gatherLast: one invocation per output (r, j), moves u32 bits (f32 and i32 alike). O(rows * k);
//     an index outside [0, len) gives 0.
//   scatterLast: dx = 0 (the fill kernel), then one invocation per row r adds g[r, j] into
//     dx[r, idx[r, j]] for j ascending (the row is its own, so no atomics; deterministic); an index
//     outside [0, len) is skipped. O(rows * (len + k)). (One invocation per output looping over all k
//     was O(rows * len * k): llvmpipe, 8192 rows of 512 with k = 32, 547 ms.)

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  EW_WG, ROW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, linearTextureShape, out, source, storage, tex, texelAt, wgReduce, withAlternates,
  type KernelPlan,
} from './common.js';
import { fillKernel } from './elementwise.js';

const layout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['k', 'u32']]);

type TopkSpec = Extract<KernelSpec, { kind: 'topk' }>;
const topkSource = source('topk', () => ({
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

/** Largest k of the image variant (its private lists hold this many values and indices). */
export const TOPK_SERIAL_MAX = 64;
const imageLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['k', 'u32'], ['sh', 'u32']]);
export const topkImageSource = source('topk:image', () => ({
  wgsl: 'requires readonly_and_readwrite_storage_textures;\n@group(0) @binding(0) var T_x: texture_storage_2d<rgba32float, read>;\n' +
    storage(1, 'y', 'i32', 'write') + imageLayout.wgsl(2) + `fn texel(t: u32) -> vec4<f32> {
  return ${texelAt('T_x', 't', 'u.sh')};
}
` + entry(EW_WG, `  let row = gid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let k = u.k;
  // tv[0 .. n) descending; on equal values the earlier index stays first (strict compares).
  var tv: array<f32, ${TOPK_SERIAL_MAX}>;
  var ti: array<u32, ${TOPK_SERIAL_MAX}>;
  var n = 0u;
  // One texel load per 4 elements (rows need not start on a texel).
  var cur = texel((base) >> 2u);
  for (var j = 0u; j < u.len; j = j + 1u) {
    let e = base + j;
    if ((e & 3u) == 0u) { cur = texel(e >> 2u); }
    let v = cur[e & 3u];
    if (n == k && !(v > tv[k - 1u])) { continue; }
    var p = select(n, k - 1u, n == k);
    loop {
      if (p == 0u || !(v > tv[p - 1u])) { break; }
      tv[p] = tv[p - 1u];
      ti[p] = ti[p - 1u];
      p = p - 1u;
    }
    tv[p] = v;
    ti[p] = j;
    n = min(n + 1u, k);
  }
  for (var t = 0u; t < k; t = t + 1u) { y[row * k + t] = i32(ti[t]); }`),
  bindings: ['image', 'write'], uniform: imageLayout,
}));

/** The image variant's plan of top-k of `rows` rows of `len`, or null when k > TOPK_SERIAL_MAX or x does not fit a texture. */
export function topkImagePlan(rows: number, len: number, k: number, maxTexDim: number): KernelPlan | null {
  const texels = ceilDiv(rows * len, 4);
  const shape = k <= TOPK_SERIAL_MAX && texels > 0 ? linearTextureShape(texels, maxTexDim) : null;
  if (!shape) return null;
  return {
    temps: [],
    textures: [{ from: inp(0), texels, width: shape.width, height: shape.height, beforeStep: 0 }],
    steps: [{ source: topkImageSource, bind: [tex(0), out(0)], uniforms: { rows, len, k, sh: Math.log2(shape.width) }, workgroups: ceilDiv(rows, EW_WG) }],
  };
}

/** With `image` (software adapters): the per-row image kernel where topkImagePlan takes it; else the workgroup one. */
export function topkKernel(spec: TopkSpec, image?: { maxTexDim: number }): KernelPlan {
  const plan = (image && topkImagePlan(spec.rows, spec.len, spec.k, image.maxTexDim)) || {
    temps: [],
    steps: [{ source: topkSource, bind: [inp(0), out(0)], uniforms: { rows: spec.rows, len: spec.len, k: spec.k }, workgroups: spec.rows }],
  };
  return withAlternates(plan, image ? [topkSource, topkImageSource] : []);
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
const scatterLastSource = source('scatterLast', () => ({
  wgsl: storage(0, 'g', 'f32', 'read') + storage(1, 'idx', 'i32', 'read') + storage(2, 'dx', 'f32', 'write') + layout.wgsl(3) +
    entry(EW_WG, `  let r = gid;
  if (r >= u.rows) { return; }
  for (var j = 0u; j < u.k; j = j + 1u) {
    let p = r * u.k + j;
    let c = idx[p];
    if (c >= 0 && c < i32(u.len)) {
      let o = r * u.len + u32(c);
      dx[o] = dx[o] + g[p];
    }
  }`),
  bindings: ['read', 'read', 'write'], uniform: layout,
}));
export function scatterLastKernel(spec: ScatterLastSpec): KernelPlan {
  const zero = fillKernel({ kind: 'fill', dtype: 'f32', size: spec.rows * spec.len, value: 0 });
  return {
    temps: [],
    steps: [
      zero.steps[0]!,
      { source: scatterLastSource, bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, len: spec.len, k: spec.k }, workgroups: ceilDiv(spec.rows, EW_WG) },
    ],
    alternates: zero.alternates,
  };
}
