// Fused scaled-dot-product attention over q, k, v with BH heads of T rows of hs (hs a multiple of 4;
// the op pads otherwise), with an additive per-key bias [B, T] (head h of batch b reads row bh / heads),
// a scale, and optional dropout on the probabilities from the counter RNG of engine/random.ts (the
// same mask as F.dropout on the [BH, T, T] probability tensor with that seed). Row i of head bh lies
// at memory row base + i * RS, base and RS from the spec's layout ('bhtd' [B, nh, T, hs] or 'bthd'
// [B, T, nh, hs], kernels/attention-tex.ts layoutStrides) passed as uniforms: one pipeline serves both.
// This file: the 'storage' variant (real GPUs) and the variant switch; attention-tex*.ts: 'texture'.
//
// Cost model (Mesa llvmpipe): every storage or workgroup load costs about the same per invocation
// whatever its width, arithmetic is cheap; so q/k/v/o are read as vec4 and every phase is register
// blocked like kernels/matmul.ts. A workgroup is 8x8 invocations (ty, tx); a tile is 64 rows x 64
// columns; invocation (ty, tx) owns rows ty*8 .. ty*8+7 (contiguous, so the workgroup tile W can be
// read as vec4 along them) and the strided columns tx + 8*b.
//
// Forward (one dispatch, one workgroup per (bh, block of 64 query rows)), flash style: for each key
// tile of 64, (1) S = q k^T * scale + bias as 8x8 register blocks (16 vec4 loads per 256 MACs) into W
// (key-major), (2) the invocation owning row `lid` updates that row's running max m and sum l
// (online softmax), rewrites W to exp(s - m) (times the dropout factor) and publishes the rescale
// factor, (3) O = O * alpha + P V as 8 rows x NC vec4 columns per invocation. At the end O /= l and
// the row statistics (m, log l) are saved: P = exp((s - m) - log l) is recomputed in backward.
// (m, log l) are kept apart rather than summed into one lse because a row masked with float32 min
// has m = -3.4e38, where adding log l would be lost to rounding.
//
// Backward (three dispatches, no atomics, every sum in a fixed order, so deterministic):
//   stats: per row D = rowsum(dO * O), packed with (m, log l) into a vec4 temp.
//   dQ:    one workgroup per (bh, query block); per key tile S and dP = dO v^T as register blocks,
//          dS = P * (dP * f - D) (f = dropout factor) into W, then dQ += dS K. dQ *= scale at the end.
//   dK/dV: one workgroup per (bh, key block); per query tile S^T and dP^T, W = P * f -> dV += W^T dO,
//          then W = dS -> dK += dS^T Q. dK *= scale at the end.
// Every pass stops at the batch's last unpadded key (attention-tex.ts KEY_END: padded keys after it
// have probability exactly 0), in whole key tiles here.
// Rows whose bias is -inf everywhere (m = -inf) give O = 0 and zero gradients, like F.softmax's
// all -inf rows; a row masked with a large finite negative bias (HF's float32 min) attends uniformly,
// exactly like the composite.

import type { KernelSpec } from '../engine/backend/spec.js';
import { WGSL_RANDOM } from '../engine/random.js';
import { texAttentionBackwardKernel } from './attention-tex-bwd.js';
import { KEY_END, TEX_TILES, layoutStrides, texAttentionKernel } from './attention-tex.js';
import { EW_WG, UniformLayout, WGSL_SPECIALS, WG_SYNC, ceilDiv, entry, inp, out, source, tmp, type Access, type KernelPlan } from './common.js';

/** Storage declaration with any element type (common.ts's helper takes scalar types only). */
const storage = (binding: number, name: string, type: string, access: Access): string =>
  `@group(0) @binding(${binding}) var<storage, ${access === 'read' ? 'read' : 'read_write'}> ${name}: array<${type}>;\n`;

const TILE = 64;
const layout = new UniformLayout([
  ['bh', 'u32'], ['heads', 'u32'], ['t', 'u32'], ['h4', 'u32'], ['tiles', 'u32'],
  ['scale', 'f32'], ['seed', 'u32'], ['threshold', 'f32'], ['dscale', 'f32'], ['hstr', 'u32'], ['rs', 'u32'],
]);

type AttentionSpec = Extract<KernelSpec, { kind: 'attention' }>;
type AttentionBackwardSpec = Extract<KernelSpec, { kind: 'attentionBackward' }>;

function uniforms(spec: AttentionSpec | AttentionBackwardSpec) {
  if (spec.hs % 4 !== 0) throw new Error(`attention kernel: head size ${spec.hs} must be a multiple of 4 (the op pads)`);
  const p = spec.p;
  return {
    bh: spec.bh, heads: spec.heads, t: spec.t, h4: spec.hs / 4, tiles: ceilDiv(spec.t, TILE), scale: spec.scale,
    seed: spec.seed >>> 0, threshold: Math.min(1, Math.max(0, Math.ceil(p * 16777216) / 16777216)), dscale: p < 1 ? 1 / (1 - p) : 0,
    ...layoutStrides(spec),
  };
}

/** vec4 columns per invocation: hs/4 columns spread over 8 invocations. */
const ncFor = (hs: number) => Math.max(1, ceilDiv(hs / 4, 8));

const COMMON = (dropout: boolean) => WGSL_SPECIALS + (dropout ? WGSL_RANDOM : '') + WG_SYNC + `
var<workgroup> W: array<f32, ${TILE * TILE}>;
fn wset(i: u32, x: f32) { W[i] = x; }
fn wget(i: u32) -> f32 { return W[i]; }
`;

/** Dropout factor of probability (row, col) of head bh: 1 without dropout. */
const dropFactor = (dropout: boolean, row: string, col: string) =>
  dropout ? `select(0.0, u.dscale, uniform01(u.seed, (bh * T + (${row})) * T + (${col})) >= u.threshold)` : '1.0';

const HEAD = `  if (wgid >= u.bh * u.tiles) { return; }
  let T = u.t;
  let H4 = u.h4;
  let bh = wgid / u.tiles;
  let blk = (wgid % u.tiles) * ${TILE}u;
  let bat = bh / u.heads;
  let bb = bat * T;
  // Memory row of (bh, i) is base + i * RS: bh * T + i ('bhtd') or (b * T + i) * heads + h ('bthd').
  let base = bb * u.heads + (bh - bat * u.heads) * u.hstr;
  let RS = u.rs;
  let ty = lid >> 3u;
  let tx = lid & 7u;`;

// The kernels keep their 8x8 register blocks in private arrays indexed in loops with constant trip
// counts (a GPU compiler unrolls them into registers) rather than as generated scalars: fully unrolled,
// the backward's two 8x8 products and 64 P/dS blocks per tile (128 live accumulators) made
// SwiftShader's shader compiler run for minutes and gigabytes without finishing, and llvmpipe took
// ~15 s to compile the three kernels (under 1 s rolled, at the same speed there).
// Accumulators get an explicit zero initializer: on Dawn -> Vulkan -> SwiftShader a `var a: T;` declared
// inside a loop was zeroed only on the first iteration (a second key tile then added to stale sums).

/** 8 rows (rowOff[a]) x 8 cols (colOff[b]) dot products into acc[a * 8 + b], for each pair, over hs/4 vec4 steps. */
function loopDots(pairs: { acc: string; rowArr: string; rowOff: string; colArr: string; colOff: string }[]): string {
  return `${pairs.map(({ acc }) => `    var ${acc} = array<f32, 64>();`).join('\n')}
    for (var d = 0u; d < H4; d = d + 1u) {
${pairs.map(({ rowArr, colArr }) => `      var ${rowArr}_r: array<vec4<f32>, 8>;\n      var ${colArr}_c: array<vec4<f32>, 8>;`).join('\n')}
      for (var i = 0u; i < 8u; i = i + 1u) {
${pairs.map(({ rowArr, rowOff, colArr, colOff }) => `        ${rowArr}_r[i] = ${rowArr}[${rowOff}[i] + d];\n        ${colArr}_c[i] = ${colArr}[${colOff}[i] + d];`).join('\n')}
      }
      for (var a = 0u; a < 8u; a = a + 1u) {
        for (var b = 0u; b < 8u; b = b + 1u) {
${pairs.map(({ acc, rowArr, colArr }) => `          ${acc}[a * 8u + b] = ${acc}[a * 8u + b] + dot(${rowArr}_r[a], ${colArr}_c[b]);`).join('\n')}
        }
      }
    }`;
}

/** acc[a * NC + c] += W[j][row a] * arr[rowOff + column tx + 8c] for j < n (8 rows x NC vec4 columns). */
function loopAccumulate(acc: string, arr: string, rowOff: string, n: string, nc: number): string {
  return `    for (var j = 0u; j < ${n}; j = j + 1u) {
      let ro = ${rowOff};
      var x: array<vec4<f32>, ${nc}>;
      for (var c = 0u; c < ${nc}u; c = c + 1u) { x[c] = ${arr}[ro + min(tx + 8u * c, H4 - 1u)]; }
      for (var a = 0u; a < 8u; a = a + 1u) {
        let w = W[j * 64u + ty * 8u + a];
        for (var c = 0u; c < ${nc}u; c = c + 1u) { ${acc}[a * ${nc}u + c] = ${acc}[a * ${nc}u + c] + w * x[c]; }
      }
    }`;
}

/** Writes acc[a * NC + c] * factor to out at this invocation's rows (blk + ty*8 + a) and columns (tx + 8c). */
function loopStore(pairs: { out: string; acc: string; factor: string }[], nc: number): string {
  return `  for (var a = 0u; a < 8u; a = a + 1u) {
    if (blk + ty * 8u + a < T) {
      let ob = (base + (blk + ty * 8u + a) * RS) * H4;
      for (var c = 0u; c < ${nc}u; c = c + 1u) {
        if (tx + 8u * c < H4) {
${pairs.map(({ out, acc, factor }) => `          ${out}[ob + tx + 8u * c] = ${acc}[a * ${nc}u + c]${factor};`).join('\n')}
        }
      }
    }
  }`;
}

/** Memory offsets (in vec4) of the 8 rows this invocation owns in a block starting at `start`, and their stats. */
const ownRows = (name: string, start: string, step: string, stats?: string) => `  var ${name}: array<u32, 8>;
${stats ? `  var ${stats}: array<vec4<f32>, 8>;\n` : ''}  for (var i = 0u; i < 8u; i = i + 1u) {
    let row = base + min(${start} + ${step} * i, T - 1u) * RS;
    ${name}[i] = row * H4;${stats ? `\n    ${stats}[i] = st[row];` : ''}
  }`;

function forwardWgsl(nc: number, masked: boolean, dropout: boolean): string {
  return COMMON(dropout) + 'var<workgroup> AL: array<f32, 64>;\n' + storage(0, 'q', 'vec4<f32>', 'read') + storage(1, 'k', 'vec4<f32>', 'read') +
    storage(2, 'v', 'vec4<f32>', 'read') + storage(3, 'bias', 'f32', 'read') + storage(4, 'o', 'vec4<f32>', 'write') +
    storage(5, 'stats', 'vec2<f32>', 'write') + layout.wgsl(6) + KEY_END(masked) +
    entry(TILE, `${HEAD}
  // Query rows blk + ty*8 + a, key columns k0 + tx + 8b (k and v share the offsets).
${ownRows('qr', 'blk + ty * 8u', '1u')}
  var oa = array<vec4<f32>, ${8 * nc}>();
  var m = -inf_f32();
  var l = 0.0;
  let kend = key_end(bb, T);
  for (var k0 = 0u; k0 < kend; k0 = k0 + ${TILE}u) {
    let nj = min(${TILE}u, T - k0);
  ${ownRows('kr', 'k0 + tx', '8u').replace(/\n/g, '\n  ')}
${loopDots([{ acc: 's', rowArr: 'q', rowOff: 'qr', colArr: 'k', colOff: 'kr' }])}
    for (var b = 0u; b < 8u; b = b + 1u) {
      let bi = ${masked ? 'bias[bb + min(k0 + tx + 8u * b, T - 1u)]' : '0.0'};
      for (var a = 0u; a < 8u; a = a + 1u) { wset((tx + 8u * b) * 64u + ty * 8u + a, s[a * 8u + b] * u.scale + bi); }
    }
    wg_sync();
    {
      var mt = -inf_f32();
      for (var j = 0u; j < nj; j = j + 1u) { mt = max(mt, wget(j * 64u + lid)); }
      let mn = max(m, mt);
      let dead = mn == -inf_f32();
      let alpha = select(exp(m - mn), 0.0, dead);
      var ls = 0.0;
      for (var j = 0u; j < nj; j = j + 1u) {
        let p = select(exp(wget(j * 64u + lid) - mn), 0.0, dead);
        ls = ls + p;
        wset(j * 64u + lid, p * ${dropFactor(dropout, 'blk + lid', 'k0 + j')});
      }
      l = l * alpha + ls;
      m = mn;
      AL[lid] = alpha;
    }
    wg_sync();
    for (var a = 0u; a < 8u; a = a + 1u) {
      let al = AL[ty * 8u + a];
      for (var c = 0u; c < ${nc}u; c = c + 1u) { oa[a * ${nc}u + c] = oa[a * ${nc}u + c] * al; }
    }
${loopAccumulate('oa', 'v', '(base + (k0 + j) * RS) * H4', 'nj', nc)}
    wg_sync();
  }
  AL[lid] = select(1.0 / l, 0.0, l == 0.0);
  if (blk + lid < T) { stats[base + (blk + lid) * RS] = vec2<f32>(m, select(log(l), 0.0, l == 0.0)); }
  wg_sync();
${loopStore([{ out: 'o', acc: 'oa', factor: ' * AL[ty * 8u + a]' }], nc)}`);
}

/**
 * 'storage': this file's workgroup-tiled kernels (real GPUs); 'texture': kernels/attention-tex.ts,
 * register tiles over texel fetches, no barriers (software GL / llvmpipe). The backend picks one per
 * adapter (webgpu.ts); 'texture' falls back to 'storage' when the operands exceed a texture.
 */
export type AttentionVariant = 'storage' | 'texture';
export const ATTENTION_VARIANTS: readonly AttentionVariant[] = ['storage', 'texture'];

/** The variant forced by env WEBGPU_ATTENTION, if any (an unknown name throws). */
export function envAttentionVariant(): AttentionVariant | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.['WEBGPU_ATTENTION']?.trim();
  if (!v) return undefined;
  if (!(ATTENTION_VARIANTS as readonly string[]).includes(v)) throw new Error(`WEBGPU_ATTENTION=${v}: unknown attention variant (one of ${ATTENTION_VARIANTS.join(', ')})`);
  return v as AttentionVariant;
}

/**
 * The plan of `variant`; `image`: the texture variant binds its textures as read-only storage
 * textures (the backend sets it where the WGSL feature exists and its matmul reads images).
 */
export function attentionKernel(spec: AttentionSpec, variant: AttentionVariant = 'storage', maxTexDim = 8192, image = false): KernelPlan {
  if (variant === 'texture') {
    const plan = texAttentionKernel(spec, maxTexDim, TEX_TILES, image);
    if (plan) return plan;
  }
  const nc = ncFor(spec.hs);
  const dropout = spec.p > 0;
  const src = source(`attention:fwd:nc${nc}:${spec.masked ? 'm' : 'n'}:${dropout ? 'd' : 'n'}`, () => ({
    wgsl: forwardWgsl(nc, spec.masked, dropout),
    bindings: ['read', 'read', 'read', 'read', 'write', 'write'], uniform: layout,
  }));
  const u = uniforms(spec);
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), inp(1), inp(2), inp(3), out(0), out(1)], uniforms: u, workgroups: spec.bh * u.tiles }],
  };
}

// ---- backward -----------------------------------------------------------------------------------

const statsLayout = new UniformLayout([['rows', 'u32'], ['h4', 'u32']]);

/** Per memory row D = rowsum(dO * O), stored with the forward's (m, log l) as (m, log l, D, 0). */
const statsSource = source('attention:stats', () => ({
  wgsl: storage(0, 'o', 'vec4<f32>', 'read') + storage(1, 'gy', 'vec4<f32>', 'read') +
    storage(2, 'ml', 'vec2<f32>', 'read') + storage(3, 'st', 'vec4<f32>', 'write') + statsLayout.wgsl(4) +
    entry(EW_WG, `  if (gid >= u.rows) { return; }
  var acc = 0.0;
  let b = gid * u.h4;
  for (var d = 0u; d < u.h4; d = d + 1u) { acc = acc + dot(o[b + d], gy[b + d]); }
  st[gid] = vec4<f32>(ml[gid], acc, 0.0);`),
  bindings: ['read', 'read', 'read', 'write'], uniform: statsLayout,
}));

function dqWgsl(nc: number, masked: boolean, dropout: boolean): string {
  return COMMON(dropout) + storage(0, 'q', 'vec4<f32>', 'read') + storage(1, 'k', 'vec4<f32>', 'read') +
    storage(2, 'v', 'vec4<f32>', 'read') + storage(3, 'bias', 'f32', 'read') + storage(4, 'gy', 'vec4<f32>', 'read') +
    storage(5, 'st', 'vec4<f32>', 'read') + storage(6, 'dq', 'vec4<f32>', 'write') + layout.wgsl(7) + KEY_END(masked) +
    entry(TILE, `${HEAD}
  // Query rows blk + ty*8 + a (q and dO share the offsets), key columns k0 + tx + 8b (k and v share them).
${ownRows('qr', 'blk + ty * 8u', '1u', 'sr')}
  var dqa = array<vec4<f32>, ${8 * nc}>();
  let kend = key_end(bb, T);
  for (var k0 = 0u; k0 < kend; k0 = k0 + ${TILE}u) {
    let nj = min(${TILE}u, T - k0);
  ${ownRows('kr', 'k0 + tx', '8u').replace(/\n/g, '\n  ')}
${loopDots([{ acc: 's', rowArr: 'q', rowOff: 'qr', colArr: 'k', colOff: 'kr' }, { acc: 'g', rowArr: 'gy', rowOff: 'qr', colArr: 'v', colOff: 'kr' }])}
    for (var b = 0u; b < 8u; b = b + 1u) {
      let col = k0 + tx + 8u * b;
      let bi = ${masked ? 'bias[bb + min(col, T - 1u)]' : '0.0'};
      for (var a = 0u; a < 8u; a = a + 1u) {
        let sa = sr[a];
        let p = select(exp((s[a * 8u + b] * u.scale + bi - sa.x) - sa.y), 0.0, sa.x == -inf_f32() || col >= T);
        wset((tx + 8u * b) * 64u + ty * 8u + a, p * (g[a * 8u + b] * ${dropFactor(dropout, 'blk + ty * 8u + a', 'col')} - sa.z));
      }
    }
    wg_sync();
${loopAccumulate('dqa', 'k', '(base + (k0 + j) * RS) * H4', 'nj', nc)}
    wg_sync();
  }
${loopStore([{ out: 'dq', acc: 'dqa', factor: ' * u.scale' }], nc)}`);
}

function dkvWgsl(nc: number, masked: boolean, dropout: boolean): string {
  // Roles swapped: rows are keys (blk + ty*8 + a), columns are queries (q0 + tx + 8b).
  return COMMON(dropout) + storage(0, 'q', 'vec4<f32>', 'read') + storage(1, 'k', 'vec4<f32>', 'read') +
    storage(2, 'v', 'vec4<f32>', 'read') + storage(3, 'bias', 'f32', 'read') + storage(4, 'gy', 'vec4<f32>', 'read') +
    storage(5, 'st', 'vec4<f32>', 'read') + storage(6, 'dk', 'vec4<f32>', 'write') +
    storage(7, 'dv', 'vec4<f32>', 'write') + layout.wgsl(8) + KEY_END(masked) +
    entry(TILE, `${HEAD}
  // Key rows blk + ty*8 + a (k and v share the offsets), query columns q0 + tx + 8b (q and dO share them).
${ownRows('kr', 'blk + ty * 8u', '1u')}
  var bi: array<f32, 8>;
  for (var a = 0u; a < 8u; a = a + 1u) { bi[a] = ${masked ? 'bias[bb + min(blk + ty * 8u + a, T - 1u)]' : '0.0'}; }
  var dka = array<vec4<f32>, ${8 * nc}>();
  var dva = array<vec4<f32>, ${8 * nc}>();
  // A key block wholly past key_end has zero probabilities: dK = dV = 0 without the query loop.
  let qend = select(0u, T, blk < key_end(bb, T));
  for (var q0 = 0u; q0 < qend; q0 = q0 + ${TILE}u) {
    let nj = min(${TILE}u, T - q0);
  ${ownRows('qr', 'q0 + tx', '8u', 'sr').replace(/\n/g, '\n  ')}
${loopDots([{ acc: 's', rowArr: 'k', rowOff: 'kr', colArr: 'q', colOff: 'qr' }, { acc: 'g', rowArr: 'v', rowOff: 'kr', colArr: 'gy', colOff: 'qr' }])}
    for (var b = 0u; b < 8u; b = b + 1u) {
      let col = q0 + tx + 8u * b;
      let sb = sr[b];
      for (var a = 0u; a < 8u; a = a + 1u) {
        let p = select(exp((s[a * 8u + b] * u.scale + bi[a] - sb.x) - sb.y), 0.0, sb.x == -inf_f32() || col >= T);
        let f = ${dropFactor(dropout, 'col', 'blk + ty * 8u + a')};
        wset((tx + 8u * b) * 64u + ty * 8u + a, p * f);
        g[a * 8u + b] = p * (g[a * 8u + b] * f - sb.z);
      }
    }
    wg_sync();
${loopAccumulate('dva', 'gy', '(base + (q0 + j) * RS) * H4', 'nj', nc)}
    wg_sync();
    for (var b = 0u; b < 8u; b = b + 1u) {
      for (var a = 0u; a < 8u; a = a + 1u) { wset((tx + 8u * b) * 64u + ty * 8u + a, g[a * 8u + b]); }
    }
    wg_sync();
${loopAccumulate('dka', 'q', '(base + (q0 + j) * RS) * H4', 'nj', nc)}
    wg_sync();
  }
${loopStore([{ out: 'dk', acc: 'dka', factor: ' * u.scale' }, { out: 'dv', acc: 'dva', factor: '' }], nc)}`);
}

export function attentionBackwardKernel(spec: AttentionBackwardSpec, variant: AttentionVariant = 'storage', maxTexDim = 8192, image = false): KernelPlan {
  if (variant === 'texture') {
    const plan = texAttentionBackwardKernel(spec, maxTexDim, TEX_TILES, image);
    if (plan) return plan;
  }
  const nc = ncFor(spec.hs);
  const dropout = spec.p > 0;
  const tag = `nc${nc}:${spec.masked ? 'm' : 'n'}:${dropout ? 'd' : 'n'}`;
  const dqSrc = source(`attention:dq:${tag}`, () => ({
    wgsl: dqWgsl(nc, spec.masked, dropout),
    bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write'], uniform: layout,
  }));
  const dkvSrc = source(`attention:dkv:${tag}`, () => ({
    wgsl: dkvWgsl(nc, spec.masked, dropout),
    bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write'], uniform: layout,
  }));
  const u = uniforms(spec);
  const rows = spec.bh * spec.t;
  // in: [q, k, v, bias, o, stats, dO]; out: [dq, dk, dv]; tmp 0: per-row (m, log l, D, 0).
  return {
    temps: [rows * 4],
    steps: [
      { source: statsSource, bind: [inp(4), inp(6), inp(5), tmp(0)], uniforms: { rows, h4: spec.hs / 4 }, workgroups: ceilDiv(rows, EW_WG) },
      { source: dqSrc, bind: [inp(0), inp(1), inp(2), inp(3), inp(6), tmp(0), out(0)], uniforms: u, workgroups: spec.bh * u.tiles },
      { source: dkvSrc, bind: [inp(0), inp(1), inp(2), inp(3), inp(6), tmp(0), out(1), out(2)], uniforms: u, workgroups: spec.bh * u.tiles },
    ],
  };
}
