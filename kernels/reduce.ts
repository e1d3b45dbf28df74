// Reductions over the middle axis of x viewed as [outer, len, inner], and argmax over rows.
//
// reduce, two variants chosen by shape (both compiled at most once):
//   rows (inner == 1, len > 32): one workgroup of ROW_WG invocations per row, strided partial sums
//     then a fixed tree: O(outer * len) work, O(len / ROW_WG + log ROW_WG) depth.
//   cols (otherwise): one invocation per output (o, i) looping over j, reads coalesced along i:
//     O(outer * len * inner) work, O(len) depth; with few outputs and len >= 256, first partials over
//     chunks of j (splitParts), then cols over the partials.
// argmax: one workgroup per row, (value, index) tree where ties go to the smaller index: O(rows * len);
//   on software adapters the per-row top-k image kernel with k = 1 (topk.ts).

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  EW_WG, ROW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, isNan, maxNan, out, source, storage, tmp, wgReduce, withAlternates,
  type KernelPlan,
} from './common.js';
import { topkImagePlan, topkImageSource } from './topk.js';

const layout = new UniformLayout([['outer', 'u32'], ['len', 'u32'], ['inner', 'u32'], ['scale', 'f32']]);

type ReduceSpec = Extract<KernelSpec, { kind: 'reduce' }>;
export function reduceKernel(spec: ReduceSpec): KernelPlan {
  const { op, outer, len, inner } = spec;
  if (op !== 'sum' && op !== 'max') throw new Error(`reduce: unknown op ${op}`);
  const isSum = op === 'sum';
  const init = isSum ? '0.0' : '-inf_f32()';
  // acc = acc (+ or NaN-propagating max) v, with v a name.
  const comb = (v: string) => (isSum ? `acc + ${v}` : maxNan('acc', v));
  const fin = isSum ? 'acc * u.scale' : 'acc';
  const uniforms = { outer, len, inner, scale: spec.scale };
  if (inner === 1 && len > 32) {
    const src = source(`reduce:${op}:rows`, () => ({
      wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + layout.wgsl(2) +
        entry(ROW_WG, `  let row = wgid;
  if (row >= u.outer) { return; }
  let base = row * u.len;
  var acc = ${init};
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) { let v = x[base + j]; acc = ${comb('v')}; }
  acc = ${isSum ? 'wg_sum(acc, lid)' : 'wg_max(acc, lid)'};
  if (lid == 0u) { y[row] = ${fin}; }`),
      bindings: ['read', 'write'], uniform: layout,
    }));
    return { temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms, workgroups: outer }] };
  }
  const cols = source(`reduce:${op}:cols`, () => ({
    wgsl: WGSL_SPECIALS + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + layout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.outer * u.inner) { return; }
  let o = gid / u.inner;
  let i = gid % u.inner;
  var p = o * u.len * u.inner + i;
  var acc = ${init};
  for (var j = 0u; j < u.len; j = j + 1u) { let v = x[p]; acc = ${comb('v')}; p = p + u.inner; }
  y[gid] = ${fin};`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  const parts = splitParts(outer * inner, len);
  if (parts === 1) return { temps: [], steps: [{ source: cols, bind: [inp(0), out(0)], uniforms, workgroups: ceilDiv(outer * inner, EW_WG) }] };
  // Few outputs over a long axis (a bias gradient: 256 sums over 4096 tokens) would be one
  // workgroup, i.e. one core: first `parts` partial results per output over chunks of the axis,
  // then the cols kernel over the partials. Fixed order, so still deterministic.
  const chunk = ceilDiv(len, parts);
  const partial = source(`reduce:${op}:chunks`, () => ({
    wgsl: WGSL_SPECIALS + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + chunkLayout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.outer * u.parts * u.inner) { return; }
  let oc = gid / u.inner;
  let i = gid - oc * u.inner;
  let o = oc / u.parts;
  let j0 = (oc - o * u.parts) * u.chunk;
  let j1 = min(j0 + u.chunk, u.len);
  var p = (o * u.len + j0) * u.inner + i;
  var acc = ${init};
  for (var j = j0; j < j1; j = j + 1u) { let v = x[p]; acc = ${comb('v')}; p = p + u.inner; }
  y[gid] = acc;`),
    bindings: ['read', 'write'], uniform: chunkLayout,
  }));
  const n = ceilDiv(len, chunk);
  return {
    temps: [outer * n * inner],
    steps: [
      { source: partial, bind: [inp(0), tmp(0)], uniforms: { outer, len, inner, parts: n, chunk }, workgroups: ceilDiv(outer * n * inner, EW_WG) },
      { source: cols, bind: [tmp(0), out(0)], uniforms: { outer, len: n, inner, scale: spec.scale }, workgroups: ceilDiv(outer * inner, EW_WG) },
    ],
  };
}

const chunkLayout = new UniformLayout([['outer', 'u32'], ['len', 'u32'], ['inner', 'u32'], ['parts', 'u32'], ['chunk', 'u32']]);

/** Chunks of the reduced axis for the cols path: enough invocations for every core, 1 when short. */
function splitParts(outputs: number, len: number): number {
  if (len < 256 || outputs >= 16 * EW_WG) return 1;
  return Math.min(64, Math.ceil(len / 64), Math.ceil((16 * EW_WG) / outputs));
}

const argLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32']]);
type ArgmaxSpec = Extract<KernelSpec, { kind: 'argmax' }>;
/** With `image` (software adapters): k = 1 of the per-row top-k image kernel. */
export function argmaxKernel(spec: ArgmaxSpec, image?: { maxTexDim: number }): KernelPlan {
  const src = source('argmax', () => ({
    wgsl: WGSL_SPECIALS + wgReduce(ROW_WG) + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'i32', 'write') + argLayout.wgsl(2) +
      entry(ROW_WG, `  let row = wgid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  var best = -inf_f32();
  var bi = 0xffffffffu;
  for (var j = lid; j < u.len; j = j + ${ROW_WG}u) {
    let v = x[base + j];
    // The reference's order: a NaN first element wins (nothing is > NaN), any later NaN never does.
    // As +inf at index 0 it wins every tie; the test is on bits (a compiler may assume no NaN).
    if (${isNan('v')}) {
      if (j == 0u) { best = inf_f32(); bi = 0u; }
      continue;
    }
    if (v > best || bi == 0xffffffffu) { best = v; bi = j; }
  }
  let r = wg_argmax(best, bi, lid);
  if (lid == 0u) { y[row] = i32(r); }`),
    bindings: ['read', 'write'], uniform: argLayout,
  }));
  // Software adapters: the per-row top-k image kernel with k = 1 (strict >, as the reference: ties
  // and a leading NaN keep the first index); llvmpipe, 1024 rows of 1024: 9.6 ms in the workgroup kernel.
  const plan = (image && topkImagePlan(spec.rows, spec.len, 1, image.maxTexDim)) || {
    temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { rows: spec.rows, len: spec.len }, workgroups: spec.rows }],
  };
  return withAlternates(plan, image ? [src, topkImageSource] : []);
}
