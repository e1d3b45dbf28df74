// Fused attention reading q, k, v (and o, dO in backward) through rgba32float textures: the
// 'texture' variant of kernels/attention.ts (same specs, same values up to float rounding). This
// file: the forward and what both passes share; kernels/attention-tex-bwd.ts: the backward.
//
// Why: on Mesa llvmpipe a storage or workgroup load costs ~13-30 ns per invocation and a barrier is
// expensive, while a textureLoad of a texel costs ~1-2.5 ns, ~0.8 ns from a read-only storage
// texture (the 'image' bindings, used where the backend's matmul strategy reads images). So this
// variant has no workgroup memory and no barrier at all: one invocation owns R rows (query rows in
// forward and dQ, key rows in dK/dV) and keeps everything about them in registers (their q/k/v
// texels, the accumulators, the softmax row state), streaming the other side C rows at a time as
// texels. hs/4 (H4) is a compile-time constant, so every loop over the head dimension is unrolled.
// Bad for real GPUs (few invocations, huge register tiles): they keep the storage variant.
//
// Forward (1 dispatch): per chunk of C keys, S = q k^T * scale + bias (R x C), online softmax per
// row (running max m, sum l), then O = O * alpha + P V accumulator-major (each o texel read and
// written once per chunk: llvmpipe spills these tiles, and this order measured 1.1-1.4x over
// key-major updates). Saves (m, log l) per row. Indices past T are clamped on load and their
// probabilities forced to 0; rows past T are not stored. Keys after the batch's last unpadded key
// are skipped in every pass (KEY_END).
//
// Layouts: rows of q, k, v, o are at memory row base + i * RS (base, RS from the spec's layout as
// uniforms: 'bhtd' and 'bthd' share every pipeline). Textures are linear arrays of texels (width
// 2^ws, texel t at (t & (2^ws - 1), t >> ws)); q, k, v are copied as is from their buffers.

import type { KernelSpec } from '../engine/backend/spec.js';
import { WGSL_RANDOM } from '../engine/random.js';
import { UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, linearTextureShape, out, source, tex, type Access, type KernelPlan } from './common.js';

type AttentionSpec = Extract<KernelSpec, { kind: 'attention' }>;
type AttentionBackwardSpec = Extract<KernelSpec, { kind: 'attentionBackward' }>;

/**
 * Rows per invocation (R) and streamed rows per step (C) of each pass (dq streams 4 keys per step,
 * its C is unused; dkv's R must be a multiple of 4). Mutable for benches. Measured on llvmpipe
 * (B32 nh4 T128 hs64): fwd 16x4 beat 8x8 by ~1.25x, dkv 8x4 beat 4x4 by ~1.2x.
 */
export interface TexAttentionTiles { fwd: [number, number]; dq: [number, number]; dkv: [number, number] }
export const TEX_TILES: TexAttentionTiles = { fwd: [16, 4], dq: [16, 4], dkv: [8, 4] };
const WG = 64;

export const range = (n: number) => [...Array(n).keys()];
export const storage = (binding: number, name: string, type: string, access: Access): string =>
  `@group(0) @binding(${binding}) var<storage, ${access === 'read' ? 'read' : 'read_write'}> ${name}: array<${type}>;\n`;
/** A texture binding: sampled, or (img) a read-only rgba32float storage texture ('image' access). */
export const texture = (binding: number, name: string, img: boolean) =>
  `@group(0) @binding(${binding}) var ${name}: ${img ? 'texture_storage_2d<rgba32float, read>' : 'texture_2d<f32>'};\n`;

/**
 * bh: heads of this dispatch, starting at head bh0; blocks: row blocks of R per head; ws: log2 width
 * of the q/k/v/o textures; thr: dropout threshold ceil(p 2^24); wst, wsd, tk4: backward only.
 */
export const layout = new UniformLayout([
  ['bh', 'u32'], ['heads', 'u32'], ['t', 'u32'], ['blocks', 'u32'], ['ws', 'u32'],
  ['scale', 'f32'], ['seed', 'u32'], ['thr', 'u32'], ['dscale', 'f32'], ['hstr', 'u32'], ['rs', 'u32'],
  ['bh0', 'u32'], ['wst', 'u32'], ['wsd', 'u32'], ['tk4', 'u32'],
]);

/**
 * Row strides of the spec's layout (uniforms, so both layouts share one pipeline): the memory row
 * of query/key i of head h in batch b is b * t * heads + h * hstr + i * rs (spec.ts attentionRow).
 */
export function layoutStrides(spec: AttentionSpec | AttentionBackwardSpec): { hstr: number; rs: number } {
  return spec.layout === 'bthd' ? { hstr: 1, rs: spec.heads } : { hstr: spec.t, rs: 1 };
}

export function uniforms(spec: AttentionSpec | AttentionBackwardSpec, r: number, ws: number) {
  const p = spec.p;
  return {
    bh: spec.bh, heads: spec.heads, t: spec.t, blocks: ceilDiv(spec.t, r), ws, scale: spec.scale,
    seed: spec.seed >>> 0, thr: Math.min(16777216, Math.max(0, Math.ceil(p * 16777216))), dscale: p < 1 ? 1 / (1 - p) : 0,
    ...layoutStrides(spec), bh0: 0, wst: 0, wsd: 0, tk4: 0,
  };
}

/** Texture shape for `texels` texels as a linear array, or null when too large. */
export function texShape(texels: number, maxDim: number): { width: number; height: number; ws: number } | null {
  const s = linearTextureShape(texels, maxDim);
  return s && { ...s, ws: Math.log2(s.width) };
}

/** Texel loader: texel e of texture t viewed as a linear array of width 2^ws (ws: a uniform, u.ws by default). */
export const loader = (img: boolean) => (t: string, e: string, ws = 'u.ws') =>
  `textureLoad(${t}, vec2<u32>((${e}) & ((1u << ${ws}) - 1u), (${e}) >> ${ws})${img ? '' : ', 0'})`;

/**
 * Dropout factor of probability (row, col) of head bh, F.dropout's keep(seed, (bh * T + row) * T + col)
 * with uniform01 >= p compared as integers ((h >> 8) >= ceil(p * 2^24), the same test): rowBase is
 * (bh * T + row) * T, hseed = hash32(seed) (DROP_INIT).
 */
export const drop = (dropout: boolean, rowBase: string, col: string) =>
  dropout ? `select(0.0, u.dscale, (hash32(hseed ^ (${rowBase} + ${col})) >> 8u) >= u.thr)` : '1.0';
export const DROP_INIT = (dropout: boolean) => (dropout ? '  let hseed = hash32(u.seed);' : '');

/** Invocation gid -> head bh (bhl within the dispatch), first row r0, and the layout's row base. */
export const HEAD = (r: number) => `  if (gid >= u.bh * u.blocks) { return; }
  let T = u.t;
  let bhl = gid / u.blocks;
  let bh = u.bh0 + bhl;
  let r0 = (gid % u.blocks) * ${r}u;
  let bat = bh / u.heads;
  let bb = bat * T;
  // Memory row of (bh, i) is base + i * RS (layoutStrides).
  let base = bb * u.heads + (bh - bat * u.heads) * u.hstr;
  let RS = u.rs;`;

/**
 * Bias at or below which a key counts as padding for key_end (HF's float32 min, -inf, or any mask
 * value under -1e30).
 */
export const PAD_BIAS = -1e30;
/**
 * WGSL key_end(bb, T) over the module's \`bias\` binding (masked kernels): one past the last key of
 * the batch whose bias is above PAD_BIAS, or T when there is none. Every loop over keys stops there
 * (varlen, FlashAttention's padding skip): a key after the last live one has s <= -1e30 + q.k scale
 * while the row max is at least a live key's score, so its probability exp(s - m) underflows to
 * exactly 0 in float32 (and float64) unless |q.k scale| nears 1e30. With no live key every key
 * counts: a keep-mask's fully masked row attends uniformly, a -inf row stays all zero, as before.
 * Unmasked kernels use T. The scan reads the padded suffix once per invocation (one load when none).
 * Loops skip whole chunks/blocks of keys, which are then not read: a NaN or infinity in their k or v
 * no longer reaches the output (0 * inf gave NaN); padded keys sharing a chunk with a live key are
 * computed as before.
 */
export const KEY_END = (masked: boolean) => (masked ? `
fn key_end(bb: u32, T: u32) -> u32 {
  var e = T;
  while (e > 0u && bias[bb + e - 1u] <= ${PAD_BIAS.toExponential()}) { e = e - 1u; }
  return select(e, T, e == 0u);
}
` : `
fn key_end(bb: u32, T: u32) -> u32 { return T; }
`);

/** WGSL prelude: the image feature's \`requires\` (it must come first), specials, the dropout hash. */
export const PRELUDE = (dropout: boolean, img: boolean) =>
  (img ? 'requires readonly_and_readwrite_storage_textures;\n' : '') + WGSL_SPECIALS + (dropout ? WGSL_RANDOM : '');

function forwardWgsl(h4: number, R: number, C: number, masked: boolean, dropout: boolean, img: boolean): string {
  const D = range(h4);
  const ld = loader(img);
  const body = `${HEAD(R)}
${range(R).map((a) => `  let qb${a} = (base + min(r0 + ${a}u, T - 1u) * RS) * ${h4}u;
${D.map((d) => `  let q${a}_${d} = ${ld('TQ', `qb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  var o${a}_${d} = vec4<f32>(0.0);`).join(' ')}
  var m${a} = -inf_f32();
  var l${a} = 0.0;${dropout ? `\n  let dr${a} = (bh * T + r0 + ${a}u) * T;` : ''}`).join('\n')}
${DROP_INIT(dropout)}
  let kend = key_end(bb, T);
  for (var k0 = 0u; k0 < kend; k0 = k0 + ${C}u) {
${range(C).map((c) => `    let kc${c} = min(k0 + ${c}u, T - 1u);
    let kb${c} = (base + kc${c} * RS) * ${h4}u;
    let bi${c} = ${masked ? `bias[bb + kc${c}]` : '0.0'};`).join('\n')}
${range(R).map((a) => range(C).map((c) => `    var s${a}_${c} = 0.0;`).join(' ')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TK', `kb${c} + ${d}u`)};
${range(R).map((a) => `      s${a}_${c} = s${a}_${c} + dot(q${a}_${d}, x);`).join('\n')}
    }`).join('\n')).join('\n')}
${range(R).map((a) => `    var al${a} = 0.0;
    {
${range(C).map((c) => `      s${a}_${c} = select(s${a}_${c} * u.scale + bi${c}, -inf_f32(), k0 + ${c}u >= T);`).join('\n')}
      let mn = max(m${a}, max(${range(C).map((c) => `s${a}_${c}`).reduce((x, y) => `max(${x}, ${y})`)}, -inf_f32()));
      let dead = mn == -inf_f32();
      al${a} = select(exp(m${a} - mn), 0.0, dead);
${range(C).map((c) => `      s${a}_${c} = select(exp(s${a}_${c} - mn), 0.0, dead);`).join('\n')}
      l${a} = l${a} * al${a} + ${range(C).map((c) => `s${a}_${c}`).join(' + ')};
      m${a} = mn;
${dropout ? range(C).map((c) => `      s${a}_${c} = s${a}_${c} * ${drop(dropout, `dr${a}`, `k0 + ${c}u`)};`).join('\n') : ''}
    }`).join('\n')}
${D.map((d) => `    {
${range(C).map((c) => `      let x${c} = ${ld('TV', `kb${c} + ${d}u`)};`).join('\n')}
${range(R).map((a) => `      o${a}_${d} = o${a}_${d} * al${a} + ${range(C).map((c) => `s${a}_${c} * x${c}`).join(' + ')};`).join('\n')}
    }`).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
    let row = base + (r0 + ${a}u) * RS;
    let inv = select(1.0 / l${a}, 0.0, l${a} == 0.0);
    stats[row] = vec2<f32>(m${a}, select(log(l${a}), 0.0, l${a} == 0.0));
${D.map((d) => `    o[row * ${h4}u + ${d}u] = o${a}_${d} * inv;`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(dropout, img) + texture(0, 'TQ', img) + texture(1, 'TK', img) + texture(2, 'TV', img) + storage(3, 'bias', 'f32', 'read') +
    storage(4, 'o', 'vec4<f32>', 'write') + storage(5, 'stats', 'vec2<f32>', 'write') + layout.wgsl(6) + KEY_END(masked) + entry(WG, body);
}

export const tag = (spec: AttentionSpec | AttentionBackwardSpec, r: number, c: number, img: boolean) =>
  `h${spec.hs / 4}:r${r}c${c}:${spec.masked ? 'm' : 'n'}:${spec.p > 0 ? 'd' : 'n'}${img ? ':i' : ''}`;

/**
 * The texture plan, or null when the operands exceed the texture size (caller uses storage). `img`:
 * bind the textures as read-only storage textures (WGSL readonly_and_readwrite_storage_textures),
 * whose textureLoad costs ~0.8 ns per invocation on llvmpipe against ~2.5 ns for a sampled one.
 */
export function texAttentionKernel(spec: AttentionSpec, maxTexDim: number, tiles: TexAttentionTiles = TEX_TILES, img = false): KernelPlan | null {
  const h4 = spec.hs / 4;
  const texels = spec.bh * spec.t * h4;
  const shape = texShape(texels, maxTexDim);
  if (!shape) return null;
  const [R, C] = tiles.fwd;
  const tx = img ? 'image' : 'texture';
  const src = source(`attention-tex:fwd:${tag(spec, R, C, img)}`, () => ({
    wgsl: forwardWgsl(h4, R, C, spec.masked, spec.p > 0, img),
    bindings: [tx, tx, tx, 'read', 'write', 'write'], uniform: layout,
  }));
  const u = uniforms(spec, R, shape.ws);
  const t = (i: number) => ({ from: inp(i), texels, width: shape.width, height: shape.height, beforeStep: 0 });
  return {
    temps: [],
    textures: [t(0), t(1), t(2)],
    steps: [{ source: src, bind: [tex(0), tex(1), tex(2), inp(3), out(0), out(1)], uniforms: u, workgroups: ceilDiv(spec.bh * u.blocks, WG) }],
  };
}
