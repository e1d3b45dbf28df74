// Embedding lookup and its deterministic backward.
//
// gather: one invocation per run of STRIDED_RUN elements (r, d..d+7) of an output row: out = table[ids[r], d]
//   or 0 when the id is out of range. O(rows * dim). (Runs, not single elements: llvmpipe scalarises
//   the u32 division that splits the invocation index; see common.ts STRIDED_RUN.) When dim % 4 == 0
//   the run is STRIDED_RUN vec4s (on llvmpipe a storage load costs ~14 ns per invocation whatever its
//   width): 4x fewer loads and stores, measured 20-25% faster (4096 x 256 from 30522 rows 7.9 -> 6.5 ms).
//
// scatterAdd (no atomics, bit-for-bit deterministic), dtable[v, :] = sum of dy[r, :] over ids[r] == v
// in increasing r:
//   1. keys[p] = (ids[p], p) for p < rows, (SENTINEL, p) for invalid ids and padding up to N = 2^ceil(log2 rows).
//   2. bitonic sort of the keys, lexicographic on (id, row), O(N log^2 N) compare-exchanges. Stages
//      whose pairs lie within a block of SORT_BLOCK keys run in one dispatch per run of such stages,
//      in workgroup memory (one workgroup per block, a barrier per stage); only the stages with a
//      partner distance j >= SORT_BLOCK take a dispatch each. N = 4096 (BERT's 32 x 128 tokens): 10
//      dispatches instead of 78. Keys are unique, so the result does not depend on the schedule.
//   3. segment bounds: seg[2v], seg[2v+1] = first/last+1 sorted position of id v (zero-filled first,
//      so unreferenced rows have empty segments). O(rows + vocab).
//   4. one invocation per (v, run of STRIDED_RUN d's) sums dy[row(p), d] over its segment in sorted
//      (= increasing r) order; for a small vocabulary, per (part of the segment, v, run) into
//      partials that the reduce kernel then sums in part order.
//      O(vocab * dim + rows * dim).
//      Image variant (PlanOptions.imageInputs, dim % 4 == 0): dy, the keys and the segment bounds
//      are read as images (on llvmpipe a storage load is a per-lane loop, ~30 ns per invocation; an
//      image texel ~1 ns) and one invocation per (part, v, SUM_CHUNK texels of the row) accumulates
//      and stores vec4s: 4x fewer invocations, each without storage loads. Same sums, same order.
// A vocabulary of at most SMALL_VOCAB rows (token types) skips steps 1-3: see smallVocabPlan.

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  EW_WG, STRIDED_RUN, UniformLayout, WG_SYNC, ceilDiv, entry, imageLoad, inp, linearTextureShape, out, source, storage, tex, tmp, type BufRef, type KernelPlan,
  type KernelSource, type TextureStep,
} from './common.js';
import type { ImageOption } from './elementwise.js';
import { fillKernel } from './elementwise.js';
import { reduceKernel } from './reduce.js';

const gatherLayout = new UniformLayout([['rows', 'u32'], ['dim', 'u32'], ['vocab', 'u32'], ['runs', 'u32']]);
const RUN = STRIDED_RUN;
const runLoop = (body: string) => `  for (var j = 0u; j < ${RUN}u; j = j + 1u) {\n    let d = d0 + j;\n    if (d < u.dim) {\n${body}\n    }\n  }`;

type GatherSpec = Extract<KernelSpec, { kind: 'gather' }>;
/** The gather kernel over elements of type `t` (f32, or vec4<f32> with `dim` counted in vec4s). */
const gatherSource = (vec4: boolean): KernelSource => source(vec4 ? 'gather:vec4' : 'gather', () => {
  const t = vec4 ? 'vec4<f32>' : 'f32';
  return {
    wgsl: `@group(0) @binding(0) var<storage, read> table: array<${t}>;\n` + storage(1, 'ids', 'i32', 'read') +
      `@group(0) @binding(2) var<storage, read_write> y: array<${t}>;\n` + gatherLayout.wgsl(3) +
      entry(EW_WG, `  if (gid >= u.rows * u.runs) { return; }
  let r = gid / u.runs;
  let d0 = (gid - r * u.runs) * ${RUN}u;
  let id = ids[r];
  let ok = id >= 0 && id < i32(u.vocab);
  let base = select(0u, u32(id) * u.dim, ok);
${runLoop(`      var v = ${t}(0.0);\n      if (ok) { v = table[base + d]; }\n      y[r * u.dim + d] = v;`)}`),
    bindings: ['read', 'read', 'write'], uniform: gatherLayout,
  };
});

export function gatherKernel(spec: GatherSpec): KernelPlan {
  const vec4 = spec.dim % 4 === 0;
  const dim = vec4 ? spec.dim / 4 : spec.dim;
  const runs = ceilDiv(dim, RUN);
  return {
    temps: [],
    steps: [{
      source: gatherSource(vec4), bind: [inp(0), inp(1), out(0)], uniforms: { rows: spec.rows, dim, vocab: spec.vocab, runs },
      workgroups: ceilDiv(spec.rows * runs, EW_WG),
    }],
    // The other element width, so the pipelines do not depend on dim.
    alternates: [gatherSource(!vec4)],
  };
}

const keyLayout = new UniformLayout([['rows', 'u32'], ['n', 'u32'], ['vocab', 'u32']]);
const sortLayout = new UniformLayout([['half', 'u32'], ['j', 'u32'], ['k', 'u32']]);
const localSortLayout = new UniformLayout([['n', 'u32'], ['k0', 'u32'], ['k1', 'u32']]);
/** Keys per workgroup of the local bitonic stages (two per invocation of an EW_WG workgroup). */
const SORT_BLOCK = 2 * EW_WG;
/** Invocations of a local-sort workgroup on software adapters (one llvmpipe SIMD group). */
const SOFT_SORT_LANES = 8;
const sumLayout = new UniformLayout([['dim', 'u32'], ['vocab', 'u32'], ['runs', 'u32'], ['parts', 'u32']]);
const sumImageLayout = new UniformLayout([
  ['dim4', 'u32'], ['vocab', 'u32'], ['chunks', 'u32'], ['parts', 'u32'], ['sh_dy', 'u32'], ['sh_keys', 'u32'], ['sh_seg', 'u32'],
]);
/** Texels of a row each invocation of the image sum kernel covers. */
const SUM_CHUNK = 8;


/**
 * Step 4 reading images: T_dy (texel t = dy elements 4t..4t+3), T_keys (texel t = keys 2t, 2t+1 as
 * raw u32 bits), T_seg (texel t = segment bounds of ids 2t, 2t+1); writes vec4s of dt (or partials).
 */
const sumImageSource: KernelSource = source('scatterAdd:sum-image', () => {
  const acc = [...Array(SUM_CHUNK).keys()];
  return {
    wgsl: 'requires readonly_and_readwrite_storage_textures;\n' +
      ['dy', 'keys', 'seg'].map((n, i) => `@group(0) @binding(${i}) var T_${n}: texture_storage_2d<rgba32float, read>;\n`).join('') +
      '@group(0) @binding(3) var<storage, read_write> dt: array<vec4<f32>>;\n' + sumImageLayout.wgsl(4) +
      entry(EW_WG, `  if (gid >= u.parts * u.vocab * u.chunks) { return; }
  let cv = gid / u.chunks;
  let j0 = (gid - cv * u.chunks) * ${SUM_CHUNK}u;
  let c = cv / u.vocab;
  let v = cv - c * u.vocab;
  let sg = ${imageLoad('seg', 'v >> 1u')};
  let sb = select(sg.xy, sg.zw, (v & 1u) == 1u);
  let s0 = bitcast<u32>(sb.x);
  let n = bitcast<u32>(sb.y) - s0;
  let s = s0 + (n * c) / u.parts;
  let e = s0 + (n * (c + 1u)) / u.parts;
${acc.map((i) => `  var a${i} = vec4<f32>(0.0);`).join('\n')}
  let last = u.dim4 - 1u;
  for (var p = s; p < e; p = p + 1u) {
    let kt = ${imageLoad('keys', 'p >> 1u')};
    let b = bitcast<u32>(select(kt.y, kt.w, (p & 1u) == 1u)) * u.dim4;
${acc.map((i) => `    a${i} = a${i} + ${imageLoad('dy', `b + min(j0 + ${i}u, last)`)};`).join('\n')}
  }
  let o = cv * u.dim4 + j0;
${acc.map((i) => `  if (j0 + ${i}u < u.dim4) { dt[o + ${i}u] = a${i}; }`).join('\n')}`),
    bindings: ['image', 'image', 'image', 'write'], uniform: sumImageLayout,
  };
});

type ScatterAddSpec = Extract<KernelSpec, { kind: 'scatterAdd' }>;
export function scatterAddKernel(spec: ScatterAddSpec, image?: ImageOption): KernelPlan {
  const { rows, dim, vocab } = spec;
  if (vocab <= SMALL_VOCAB) return smallVocabPlan(spec, image);
  const n = rows <= 1 ? 1 : 2 ** Math.ceil(Math.log2(rows));
  const keysSrc = source('scatterAdd:keys', () => ({
    wgsl: storage(0, 'ids', 'i32', 'read') + storage(1, 'keys', 'vec2<u32>', 'write') + keyLayout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.n) { return; }
  var id = 0xffffffffu;
  if (gid < u.rows) {
    let v = ids[gid];
    if (v >= 0 && v < i32(u.vocab)) { id = u32(v); }
  }
  keys[gid] = vec2<u32>(id, gid);`),
    bindings: ['read', 'write'], uniform: keyLayout,
  }));
  const sortSrc = source('scatterAdd:bitonic', () => ({
    wgsl: storage(0, 'keys', 'vec2<u32>', 'write') + sortLayout.wgsl(1) +
      entry(EW_WG, `  if (gid >= u.half) { return; }
  let lo = gid & (u.j - 1u);
  let i = ((gid - lo) << 1u) | lo;
  let l = i | u.j;
  let a = keys[i];
  let b = keys[l];
  let aGreater = a.x > b.x || (a.x == b.x && a.y > b.y);
  let ascending = (i & u.k) == 0u;
  if (aGreater == ascending) { keys[i] = b; keys[l] = a; }`),
    bindings: ['write'], uniform: sortLayout,
  }));
  // Stages k = k0..k1 (doubling), each with j = min(k, SORT_BLOCK) / 2 .. 1, on the workgroup's block
  // of SORT_BLOCK keys; the direction of a pair comes from its global index, as in sortSrc.
  // With `image` (software adapters) a workgroup is one llvmpipe SIMD group of SOFT_SORT_LANES lanes,
  // each taking SORT_BLOCK / 2 / lanes pairs per stage: its barriers then switch no coroutines (256-lane
  // workgroups spent 4.2 ms on the first local sort of 4096 keys, 8 lanes ~0.5 ms). Same pairs, same
  // stages: the same sorted keys.
  const lanes = image ? SOFT_SORT_LANES : EW_WG;
  const localSortSrc = source(`scatterAdd:bitonic-local:${lanes}`, () => ({
    wgsl: storage(0, 'keys', 'vec2<u32>', 'write') + localSortLayout.wgsl(1) + WG_SYNC + `var<workgroup> K: array<vec2<u32>, ${SORT_BLOCK}>;
` + entry(lanes, `  let base = wgid * ${SORT_BLOCK}u;
  for (var t = lid; t < ${SORT_BLOCK}u; t = t + ${lanes}u) {
    if (base + t < u.n) { K[t] = keys[base + t]; }
  }
  wg_sync();
  for (var k = u.k0; k <= u.k1; k = k << 1u) {
    for (var j = min(k, ${SORT_BLOCK}u) >> 1u; j > 0u; j = j >> 1u) {
      for (var q = lid; q < ${SORT_BLOCK / 2}u; q = q + ${lanes}u) {
        let lo = q & (j - 1u);
        let i = ((q - lo) << 1u) | lo;
        let l = i | j;
        if (base + l < u.n) {
          let a = K[i];
          let b = K[l];
          let aGreater = a.x > b.x || (a.x == b.x && a.y > b.y);
          let ascending = ((base + i) & k) == 0u;
          if (aGreater == ascending) { K[i] = b; K[l] = a; }
        }
      }
      wg_sync();
    }
  }
  for (var t = lid; t < ${SORT_BLOCK}u; t = t + ${lanes}u) {
    if (base + t < u.n) { keys[base + t] = K[t]; }
  }`),
    bindings: ['write'], uniform: localSortLayout,
  }));
  const segSrc = source('scatterAdd:segments', () => ({
    wgsl: storage(0, 'keys', 'vec2<u32>', 'read') + storage(1, 'seg', 'u32', 'write') + keyLayout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.rows) { return; }
  let id = keys[gid].x;
  if (id >= u.vocab) { return; }
  if (gid == 0u || keys[gid - 1u].x != id) { seg[2u * id] = gid; }
  if (gid + 1u == u.rows || keys[gid + 1u].x != id) { seg[2u * id + 1u] = gid + 1u; }`),
    bindings: ['read', 'write'], uniform: keyLayout,
  }));
  // Invocation (c, v, run) sums part c of v's segment (parts split it evenly) into partial[c, v, :].
  const sumSrc = source('scatterAdd:sum', () => ({
    wgsl: storage(0, 'dy', 'f32', 'read') + storage(1, 'keys', 'vec2<u32>', 'read') + storage(2, 'seg', 'u32', 'read') +
      storage(3, 'dt', 'f32', 'write') + sumLayout.wgsl(4) +
      entry(EW_WG, `  if (gid >= u.parts * u.vocab * u.runs) { return; }
  let cv = gid / u.runs;
  let d0 = (gid - cv * u.runs) * ${RUN}u;
  let c = cv / u.vocab;
  let v = cv - c * u.vocab;
  let s0 = seg[2u * v];
  let n = seg[2u * v + 1u] - s0;
  let s = s0 + (n * c) / u.parts;
  let e = s0 + (n * (c + 1u)) / u.parts;
${runLoop('      var acc = 0.0;\n      for (var p = s; p < e; p = p + 1u) { acc = acc + dy[keys[p].y * u.dim + d]; }\n      dt[cv * u.dim + d] = acc;')}`),
    bindings: ['read', 'read', 'read', 'write'], uniform: sumLayout,
  }));

  const steps: KernelPlan['steps'][number][] = [];
  steps.push({ source: keysSrc, bind: [inp(1), tmp(0)], uniforms: { rows, n, vocab }, workgroups: ceilDiv(n, EW_WG) });
  const blocks = ceilDiv(n, SORT_BLOCK);
  if (n > 1) steps.push({ source: localSortSrc, bind: [tmp(0)], uniforms: { n, k0: 2, k1: Math.min(n, SORT_BLOCK) }, workgroups: blocks });
  for (let k = 2 * SORT_BLOCK; k <= n; k *= 2) {
    for (let j = k / 2; j >= SORT_BLOCK; j /= 2) {
      steps.push({ source: sortSrc, bind: [tmp(0)], uniforms: { half: n / 2, j, k }, workgroups: ceilDiv(n / 2, EW_WG) });
    }
    steps.push({ source: localSortSrc, bind: [tmp(0)], uniforms: { n, k0: k, k1: k }, workgroups: blocks });
  }
  const fillPlan = fillKernel({ kind: 'fill', dtype: 'i32', size: 2 * vocab, value: 0 });
  steps.push({ ...fillPlan.steps[0]!, bind: [tmp(1)] });
  steps.push({ source: segSrc, bind: [tmp(0), tmp(1)], uniforms: { rows, n, vocab }, workgroups: ceilDiv(rows, EW_WG) });
  const runs = ceilDiv(dim, RUN);
  const dim4 = dim / 4;
  const chunks = ceilDiv(dim4, SUM_CHUNK);
  const textures = image && dim % 4 === 0 ? sumTextures(rows * dim4, n, vocab, image.maxTexDim) : null;
  // A small vocabulary (token types: 2 rows of 4096 tokens each) would leave most cores idle with
  // one long segment per invocation: split each segment into `parts`, then sum the parts in order.
  const units = textures ? vocab * chunks : vocab * runs; // invocations per part
  const parts = units >= 16 * EW_WG ? 1 : Math.min(64, ceilDiv(16 * EW_WG, units));
  const target: BufRef = parts === 1 ? out(0) : tmp(2);
  if (textures) {
    const sh = (t: TextureStep) => Math.log2(t.width);
    steps.push({
      source: sumImageSource, bind: [tex(0), tex(1), tex(2), target],
      uniforms: { dim4, vocab, chunks, parts, sh_dy: sh(textures[0]!), sh_keys: sh(textures[1]!), sh_seg: sh(textures[2]!) },
      workgroups: ceilDiv(parts * units, EW_WG),
    });
  } else {
    steps.push({ source: sumSrc, bind: [inp(0), tmp(0), tmp(1), target], uniforms: { dim, vocab, runs, parts }, workgroups: ceilDiv(parts * units, EW_WG) });
  }
  if (parts > 1) {
    for (const st of reduceKernel({ kind: 'reduce', op: 'sum', outer: 1, len: parts, inner: vocab * dim, scale: 1 }).steps) {
      steps.push({ ...st, bind: st.bind.map((r) => (r.io === 'in' ? tmp(2) : r)) });
    }
  }
  // keys and seg padded to whole texels (their textures copy whole texels).
  const temps = [4 * ceilDiv(n, 2), 4 * ceilDiv(vocab, 2), ...(parts > 1 ? [parts * vocab * dim] : [])];
  const sumStep = steps.length - 1 - (parts > 1 ? 1 : 0);
  return {
    temps, steps,
    ...(textures ? { textures: textures.map((t) => ({ ...t, beforeStep: sumStep })) } : {}),
    // The other sum kernel, both sort kernels and the other fill width, so the pipelines do not depend on
    // dim, rows or vocab.
    alternates: [...(image ? [textures ? sumSrc : sumImageSource] : []), sortSrc, localSortSrc, ...(fillPlan.alternates ?? [])],
  };
}

/** Textures of the image sum: dy (rows * dim / 4 texels), keys (2 per texel), seg (2 ids per texel). */
function sumTextures(dyTexels: number, n: number, vocab: number, maxTexDim: number): TextureStep[] | null {
  const out: TextureStep[] = [];
  for (const [from, texels] of [[inp(0), dyTexels], [tmp(0), ceilDiv(n, 2)], [tmp(1), ceilDiv(vocab, 2)]] as const) {
    const shape = linearTextureShape(texels, maxTexDim);
    if (!shape) return null;
    out.push({ from, texels, width: shape.width, height: shape.height, beforeStep: 0 });
  }
  return out;
}

// ---- small vocabularies: no sort ------------------------------------------------------------------

/**
 * Vocabularies up to this size (token types: 2) skip the sort, whose ~12 dispatches cost more than the
 * sums (a BERT-small step's token-type backward 12.7 ms, 5.6 ms of the SST-2 demo's ~100 ms step):
 * invocation (part c, v, columns) scans the rows of part c in increasing order and adds dy[r] where
 * ids[r] == v; the parts are then summed in part order. O(vocab * rows * dim / 32) id checks, so only
 * for small vocabularies.
 */
export const SMALL_VOCAB = 16;
const smallLayout = new UniformLayout([['rows', 'u32'], ['dim', 'u32'], ['vocab', 'u32'], ['runs', 'u32'], ['parts', 'u32']]);
const smallImageLayout = new UniformLayout([
  ['rows', 'u32'], ['dim4', 'u32'], ['vocab', 'u32'], ['chunks', 'u32'], ['parts', 'u32'], ['sh_dy', 'u32'], ['sh_ids', 'u32'],
]);
/**
 * Head of both small-vocabulary kernels (WGSL): invocation gid is (part c, id v, column block), with
 * `blocks` column blocks of `width` columns per (c, v); defines cv, c, v, the block's first column
 * `col`, and the rows [s, e) of part c (parts split the rows evenly).
 */
const smallHead = (blocks: string, col: string, width: number) => `  if (gid >= u.parts * u.vocab * u.${blocks}) { return; }
  let cv = gid / u.${blocks};
  let ${col} = (gid - cv * u.${blocks}) * ${width}u;
  let c = cv / u.vocab;
  let v = i32(cv - c * u.vocab);
  let s = (u.rows * c) / u.parts;
  let e = (u.rows * (c + 1u)) / u.parts;`;

/** Storage variant: invocation (c, v, run of RUN columns). */
const smallSumSource: KernelSource = source('scatterAdd:small', () => ({
  wgsl: storage(0, 'dy', 'f32', 'read') + storage(1, 'ids', 'i32', 'read') + storage(2, 'dt', 'f32', 'write') + smallLayout.wgsl(3) +
    entry(EW_WG, `${smallHead('runs', 'd0', RUN)}
  var acc = array<f32, ${RUN}>();
  for (var r = s; r < e; r = r + 1u) {
    if (ids[r] == v) {
      for (var j = 0u; j < ${RUN}u; j = j + 1u) { acc[j] = acc[j] + dy[r * u.dim + min(d0 + j, u.dim - 1u)]; }
    }
  }
  for (var j = 0u; j < ${RUN}u; j = j + 1u) {
    if (d0 + j < u.dim) { dt[cv * u.dim + d0 + j] = acc[j]; }
  }`),
  bindings: ['read', 'read', 'write'], uniform: smallLayout,
}));

/**
 * Image variant (dim % 4 == 0): dy and the ids (4 per texel, raw i32 bits) read as images; invocation
 * (c, v, SUM_CHUNK texels of the row) accumulates vec4s. Same sums in the same order as the storage one.
 */
const smallSumImageSource: KernelSource = source('scatterAdd:small-image', () => {
  const acc = [...Array(SUM_CHUNK).keys()];
  return {
    wgsl: 'requires readonly_and_readwrite_storage_textures;\n' +
      ['dy', 'ids'].map((n, i) => `@group(0) @binding(${i}) var T_${n}: texture_storage_2d<rgba32float, read>;\n`).join('') +
      '@group(0) @binding(2) var<storage, read_write> dt: array<vec4<f32>>;\n' + smallImageLayout.wgsl(3) +
      entry(EW_WG, `${smallHead('chunks', 'j0', SUM_CHUNK)}
${acc.map((i) => `  var a${i} = vec4<f32>(0.0);`).join('\n')}
  let last = u.dim4 - 1u;
  for (var r = s; r < e; r = r + 1u) {
    if (bitcast<i32>(${imageLoad('ids', 'r >> 2u')}[r & 3u]) == v) {
      let b = r * u.dim4;
${acc.map((i) => `      a${i} = a${i} + ${imageLoad('dy', `b + min(j0 + ${i}u, last)`)};`).join('\n')}
    }
  }
  let o = cv * u.dim4 + j0;
${acc.map((i) => `  if (j0 + ${i}u < u.dim4) { dt[o + ${i}u] = a${i}; }`).join('\n')}`),
    bindings: ['image', 'image', 'write'], uniform: smallImageLayout,
  };
});

function smallVocabPlan(spec: ScatterAddSpec, image?: ImageOption): KernelPlan {
  const { rows, dim, vocab } = spec;
  // Enough invocations for every core (a part per 1/parts of the rows), the same count for both
  // variants so that their sums agree bit for bit.
  const parts = Math.min(64, ceilDiv(16 * EW_WG, vocab * ceilDiv(dim, 4 * SUM_CHUNK)));
  const target: BufRef = parts === 1 ? out(0) : tmp(0);
  const dim4 = dim / 4;
  let textures: TextureStep[] | null = null;
  if (image && dim % 4 === 0) {
    const dyShape = linearTextureShape(rows * dim4, image.maxTexDim);
    // The ids' buffer holds whole texels: pool buffers are multiples of 16 bytes.
    const idShape = linearTextureShape(ceilDiv(rows, 4), image.maxTexDim);
    if (dyShape && idShape) {
      textures = [
        { from: inp(0), texels: rows * dim4, width: dyShape.width, height: dyShape.height, beforeStep: 0 },
        { from: inp(1), texels: ceilDiv(rows, 4), width: idShape.width, height: idShape.height, beforeStep: 0 },
      ];
    }
  }
  const steps: KernelPlan['steps'][number][] = [];
  if (textures) {
    const chunks = ceilDiv(dim4, SUM_CHUNK);
    steps.push({
      source: smallSumImageSource, bind: [tex(0), tex(1), target],
      uniforms: { rows, dim4, vocab, chunks, parts, sh_dy: Math.log2(textures[0]!.width), sh_ids: Math.log2(textures[1]!.width) },
      workgroups: ceilDiv(parts * vocab * chunks, EW_WG),
    });
  } else {
    const runs = ceilDiv(dim, RUN);
    steps.push({ source: smallSumSource, bind: [inp(0), inp(1), target], uniforms: { rows, dim, vocab, runs, parts }, workgroups: ceilDiv(parts * vocab * runs, EW_WG) });
  }
  if (parts > 1) {
    for (const st of reduceKernel({ kind: 'reduce', op: 'sum', outer: 1, len: parts, inner: vocab * dim, scale: 1 }).steps) {
      steps.push({ ...st, bind: st.bind.map((r) => (r.io === 'in' ? tmp(0) : r)) });
    }
  }
  return {
    temps: parts > 1 ? [parts * vocab * dim] : [], steps,
    ...(textures ? { textures } : {}),
    // The other sum kernel, so the pipelines do not depend on rows (whether the textures fit).
    alternates: image ? [textures ? smallSumSource : smallSumImageSource] : [],
  };
}
