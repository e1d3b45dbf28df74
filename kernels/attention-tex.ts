// Fused attention reading q, k, v, o, dO through rgba32float textures (the 'texture' variant of
// kernels/attention.ts; same specs, same inputs/outputs, same values up to float rounding).
//
// Why: on Mesa llvmpipe a storage or workgroup load costs ~13 ns per invocation and a barrier is
// expensive, while a textureLoad of a texel costs ~1.2 ns (see kernels/matmul-tex.ts). So this
// variant has no workgroup memory and no barrier at all: one invocation owns R rows (query rows in
// forward and dQ, key rows in dK/dV) and keeps everything about them in registers (their q/k/v/dO
// texels, the accumulators, the softmax row state), streaming the other side C rows at a time as
// texels. hs/4 (H4) is a compile-time constant, so every loop over the head dimension is unrolled.
// Bad for real GPUs (few invocations, huge register tiles): they keep the storage variant.
//
// Forward (1 dispatch): per chunk of C keys, S = q k^T * scale + bias (R x C), online softmax per
// row (running max m, sum l, rescale O by alpha once per chunk), O += P V. Saves (m, log l).
// Backward (2 dispatches, deterministic, no atomics):
//   dQ:    per query row D = rowsum(dO * O) (also written with (m, log l) to a vec4 temp for dK/dV);
//          per key chunk S, dP = dO v^T, dS = P * (dP * f - D), dQ += dS K. dQ *= scale.
//   dK/dV: per key row block, per query chunk S^T, dP^T, dV += (P f)^T dO, dK += dS^T Q. dK *= scale.
// Indices past T are clamped on load and their probabilities forced to 0; rows past T are not stored.
//
// Textures are linear arrays of texels (width 2^ws, texel t at (t & (2^ws - 1), t >> ws)); every
// operand is [bh * T, H4] texels, copied as is from its buffer (hs is a multiple of 4).

import type { KernelSpec } from '../engine/backend/spec.js';
import { WGSL_RANDOM } from '../engine/random.js';
import { UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, out, tex, tmp, source, type Access, type KernelPlan } from './common.js';

type AttentionSpec = Extract<KernelSpec, { kind: 'attention' }>;
type AttentionBackwardSpec = Extract<KernelSpec, { kind: 'attentionBackward' }>;

/** Rows per invocation (R) and streamed rows per step (C) of each pass. */
export interface TexAttentionTiles { fwd: [number, number]; dq: [number, number]; dkv: [number, number] }
export const TEX_TILES: TexAttentionTiles = { fwd: [8, 8], dq: [8, 4], dkv: [4, 4] };
const WG = 64;

const range = (n: number) => [...Array(n).keys()];
const storage = (binding: number, name: string, type: string, access: Access): string =>
  `@group(0) @binding(${binding}) var<storage, ${access === 'read' ? 'read' : 'read_write'}> ${name}: array<${type}>;\n`;
const texture = (binding: number, name: string) => `@group(0) @binding(${binding}) var ${name}: texture_2d<f32>;\n`;

const layout = new UniformLayout([
  ['bh', 'u32'], ['heads', 'u32'], ['t', 'u32'], ['blocks', 'u32'], ['ws', 'u32'],
  ['scale', 'f32'], ['seed', 'u32'], ['threshold', 'f32'], ['dscale', 'f32'],
]);

function uniforms(spec: AttentionSpec | AttentionBackwardSpec, r: number, ws: number) {
  const p = spec.p;
  return {
    bh: spec.bh, heads: spec.heads, t: spec.t, blocks: ceilDiv(spec.t, r), ws, scale: spec.scale,
    seed: spec.seed >>> 0, threshold: Math.min(1, Math.max(0, Math.ceil(p * 16777216) / 16777216)), dscale: p < 1 ? 1 / (1 - p) : 0,
  };
}

/** Texture shape for `texels` texels as a linear array, or null when too large. */
function texShape(texels: number, maxDim: number): { width: number; height: number; ws: number } | null {
  const MAX_TEX_DIM = 2 ** Math.floor(Math.log2(maxDim));
  if (texels <= MAX_TEX_DIM) {
    const width = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, texels))));
    return { width, height: 1, ws: Math.log2(width) };
  }
  const height = ceilDiv(texels, MAX_TEX_DIM);
  return height <= maxDim ? { width: MAX_TEX_DIM, height, ws: Math.log2(MAX_TEX_DIM) } : null;
}

const ld = (t: string, e: string) => `textureLoad(${t}, vec2<u32>((${e}) & WM, (${e}) >> u.ws), 0)`;

const drop = (dropout: boolean, row: string, col: string) =>
  dropout ? `select(0.0, u.dscale, uniform01(u.seed, (bh * T + (${row})) * T + (${col})) >= u.threshold)` : '1.0';

const HEAD = (r: number) => `  if (gid >= u.bh * u.blocks) { return; }
  let T = u.t;
  let WM = (1u << u.ws) - 1u;
  let bh = gid / u.blocks;
  let r0 = (gid % u.blocks) * ${r}u;
  let base = bh * T;
  let bb = (bh / u.heads) * T;`;

const PRELUDE = (dropout: boolean) => WGSL_SPECIALS + (dropout ? WGSL_RANDOM : '');

function forwardWgsl(h4: number, R: number, C: number, masked: boolean, dropout: boolean): string {
  const D = range(h4);
  const body = `${HEAD(R)}
${range(R).map((a) => `  let qb${a} = (base + min(r0 + ${a}u, T - 1u)) * ${h4}u;
${D.map((d) => `  let q${a}_${d} = ${ld('TQ', `qb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  var o${a}_${d} = vec4<f32>(0.0);`).join(' ')}
  var m${a} = -inf_f32();
  var l${a} = 0.0;`).join('\n')}
  for (var k0 = 0u; k0 < T; k0 = k0 + ${C}u) {
${range(C).map((c) => `    let kc${c} = min(k0 + ${c}u, T - 1u);
    let kb${c} = (base + kc${c}) * ${h4}u;
    let bi${c} = ${masked ? `bias[bb + kc${c}]` : '0.0'};`).join('\n')}
${range(R).map((a) => range(C).map((c) => `    var s${a}_${c} = 0.0;`).join(' ')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TK', `kb${c} + ${d}u`)};
${range(R).map((a) => `      s${a}_${c} = s${a}_${c} + dot(q${a}_${d}, x);`).join('\n')}
    }`).join('\n')).join('\n')}
${range(R).map((a) => `    {
${range(C).map((c) => `      s${a}_${c} = select(s${a}_${c} * u.scale + bi${c}, -inf_f32(), k0 + ${c}u >= T);`).join('\n')}
      let mn = max(m${a}, max(${range(C).map((c) => `s${a}_${c}`).reduce((x, y) => `max(${x}, ${y})`)}, -inf_f32()));
      let dead = mn == -inf_f32();
      let alpha = select(exp(m${a} - mn), 0.0, dead);
${range(C).map((c) => `      s${a}_${c} = select(exp(s${a}_${c} - mn), 0.0, dead);`).join('\n')}
      l${a} = l${a} * alpha + ${range(C).map((c) => `s${a}_${c}`).join(' + ')};
      m${a} = mn;
${range(C).map((c) => `      s${a}_${c} = s${a}_${c} * ${drop(dropout, `r0 + ${a}u`, `k0 + ${c}u`)};`).join('\n')}
${D.map((d) => `      o${a}_${d} = o${a}_${d} * alpha;`).join(' ')}
    }`).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TV', `kb${c} + ${d}u`)};
${range(R).map((a) => `      o${a}_${d} = o${a}_${d} + s${a}_${c} * x;`).join('\n')}
    }`).join('\n')).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
    let row = base + r0 + ${a}u;
    let inv = select(1.0 / l${a}, 0.0, l${a} == 0.0);
    stats[row] = vec2<f32>(m${a}, select(log(l${a}), 0.0, l${a} == 0.0));
${D.map((d) => `    o[row * ${h4}u + ${d}u] = o${a}_${d} * inv;`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(dropout) + texture(0, 'TQ') + texture(1, 'TK') + texture(2, 'TV') + storage(3, 'bias', 'f32', 'read') +
    storage(4, 'o', 'vec4<f32>', 'write') + storage(5, 'stats', 'vec2<f32>', 'write') + layout.wgsl(6) + entry(WG, body);
}

function dqWgsl(h4: number, R: number, C: number, masked: boolean, dropout: boolean): string {
  const D = range(h4);
  const body = `${HEAD(R)}
${range(R).map((a) => `  let qr${a} = base + min(r0 + ${a}u, T - 1u);
  let qb${a} = qr${a} * ${h4}u;
${D.map((d) => `  let q${a}_${d} = ${ld('TQ', `qb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  let g${a}_${d} = ${ld('TG', `qb${a} + ${d}u`)};`).join('\n')}
  let ml${a} = ml[qr${a}];
  let D${a} = ${D.map((d) => `dot(${ld('TO', `qb${a} + ${d}u`)}, g${a}_${d})`).join(' + ')};
  if (r0 + ${a}u < T) { st[qr${a}] = vec4<f32>(ml${a}, D${a}, 0.0); }
  let dead${a} = ml${a}.x == -inf_f32();
${D.map((d) => `  var dq${a}_${d} = vec4<f32>(0.0);`).join(' ')}`).join('\n')}
  for (var k0 = 0u; k0 < T; k0 = k0 + ${C}u) {
${range(C).map((c) => `    let kc${c} = min(k0 + ${c}u, T - 1u);
    let kb${c} = (base + kc${c}) * ${h4}u;
    let bi${c} = ${masked ? `bias[bb + kc${c}]` : '0.0'};
    let out${c} = k0 + ${c}u >= T;`).join('\n')}
${range(R).map((a) => range(C).map((c) => `    var s${a}_${c} = 0.0; var p${a}_${c} = 0.0;`).join(' ')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TK', `kb${c} + ${d}u`)};
      let y = ${ld('TV', `kb${c} + ${d}u`)};
${range(R).map((a) => `      s${a}_${c} = s${a}_${c} + dot(q${a}_${d}, x); p${a}_${c} = p${a}_${c} + dot(g${a}_${d}, y);`).join('\n')}
    }`).join('\n')).join('\n')}
${range(R).map((a) => range(C).map((c) => `    {
      let pr = select(exp((s${a}_${c} * u.scale + bi${c} - ml${a}.x) - ml${a}.y), 0.0, dead${a} || out${c});
      s${a}_${c} = pr * (p${a}_${c} * ${drop(dropout, `r0 + ${a}u`, `k0 + ${c}u`)} - D${a});
    }`).join('\n')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TK', `kb${c} + ${d}u`)};
${range(R).map((a) => `      dq${a}_${d} = dq${a}_${d} + s${a}_${c} * x;`).join('\n')}
    }`).join('\n')).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
${D.map((d) => `    dq[qb${a} + ${d}u] = dq${a}_${d} * u.scale;`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(dropout) + texture(0, 'TQ') + texture(1, 'TK') + texture(2, 'TV') + texture(3, 'TO') + texture(4, 'TG') +
    storage(5, 'bias', 'f32', 'read') + storage(6, 'ml', 'vec2<f32>', 'read') + storage(7, 'st', 'vec4<f32>', 'write') +
    storage(8, 'dq', 'vec4<f32>', 'write') + layout.wgsl(9) + entry(WG, body);
}

function dkvWgsl(h4: number, R: number, C: number, masked: boolean, dropout: boolean): string {
  // Rows are keys r0 + a, the streamed side queries q0 + c.
  const D = range(h4);
  const body = `${HEAD(R)}
${range(R).map((a) => `  let kb${a} = (base + min(r0 + ${a}u, T - 1u)) * ${h4}u;
  let bi${a} = ${masked ? `bias[bb + min(r0 + ${a}u, T - 1u)]` : '0.0'};
${D.map((d) => `  let k${a}_${d} = ${ld('TK', `kb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  let v${a}_${d} = ${ld('TV', `kb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  var dk${a}_${d} = vec4<f32>(0.0); var dv${a}_${d} = vec4<f32>(0.0);`).join('\n')}`).join('\n')}
  for (var q0 = 0u; q0 < T; q0 = q0 + ${C}u) {
${range(C).map((c) => `    let qr${c} = base + min(q0 + ${c}u, T - 1u);
    let qb${c} = qr${c} * ${h4}u;
    let st${c} = st[qr${c}];
    let gone${c} = st${c}.x == -inf_f32() || q0 + ${c}u >= T;`).join('\n')}
${range(R).map((a) => range(C).map((c) => `    var s${a}_${c} = 0.0; var p${a}_${c} = 0.0;`).join(' ')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TQ', `qb${c} + ${d}u`)};
      let y = ${ld('TG', `qb${c} + ${d}u`)};
${range(R).map((a) => `      s${a}_${c} = s${a}_${c} + dot(k${a}_${d}, x); p${a}_${c} = p${a}_${c} + dot(v${a}_${d}, y);`).join('\n')}
    }`).join('\n')).join('\n')}
${range(R).map((a) => range(C).map((c) => `    {
      let pr = select(exp((s${a}_${c} * u.scale + bi${a} - st${c}.x) - st${c}.y), 0.0, gone${c});
      let f = ${drop(dropout, `q0 + ${c}u`, `r0 + ${a}u`)};
      s${a}_${c} = pr * (p${a}_${c} * f - st${c}.z);
      p${a}_${c} = pr * f;
    }`).join('\n')).join('\n')}
${D.map((d) => range(C).map((c) => `    {
      let x = ${ld('TQ', `qb${c} + ${d}u`)};
      let y = ${ld('TG', `qb${c} + ${d}u`)};
${range(R).map((a) => `      dk${a}_${d} = dk${a}_${d} + s${a}_${c} * x; dv${a}_${d} = dv${a}_${d} + p${a}_${c} * y;`).join('\n')}
    }`).join('\n')).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
${D.map((d) => `    dk[kb${a} + ${d}u] = dk${a}_${d} * u.scale; dv[kb${a} + ${d}u] = dv${a}_${d};`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(dropout) + texture(0, 'TQ') + texture(1, 'TK') + texture(2, 'TV') + texture(3, 'TG') +
    storage(4, 'bias', 'f32', 'read') + storage(5, 'st', 'vec4<f32>', 'read') +
    storage(6, 'dk', 'vec4<f32>', 'write') + storage(7, 'dv', 'vec4<f32>', 'write') + layout.wgsl(8) + entry(WG, body);
}

const tag = (spec: AttentionSpec | AttentionBackwardSpec, r: number, c: number) =>
  `h${spec.hs / 4}:r${r}c${c}:${spec.masked ? 'm' : 'n'}:${spec.p > 0 ? 'd' : 'n'}`;

/** The texture plan, or null when the operands exceed the texture size (caller uses storage). */
export function texAttentionKernel(spec: AttentionSpec, maxTexDim: number, tiles: TexAttentionTiles = TEX_TILES): KernelPlan | null {
  const h4 = spec.hs / 4;
  const texels = spec.bh * spec.t * h4;
  const shape = texShape(texels, maxTexDim);
  if (!shape) return null;
  const [R, C] = tiles.fwd;
  const src = source(`attention-tex:fwd:${tag(spec, R, C)}`, () => ({
    wgsl: forwardWgsl(h4, R, C, spec.masked, spec.p > 0),
    bindings: ['texture', 'texture', 'texture', 'read', 'write', 'write'], uniform: layout,
  }));
  const u = uniforms(spec, R, shape.ws);
  const t = (i: number) => ({ from: inp(i), texels, width: shape.width, height: shape.height, beforeStep: 0 });
  return {
    temps: [],
    textures: [t(0), t(1), t(2)],
    steps: [{ source: src, bind: [tex(0), tex(1), tex(2), inp(3), out(0), out(1)], uniforms: u, workgroups: ceilDiv(spec.bh * u.blocks, WG) }],
  };
}

export function texAttentionBackwardKernel(spec: AttentionBackwardSpec, maxTexDim: number, tiles: TexAttentionTiles = TEX_TILES): KernelPlan | null {
  const h4 = spec.hs / 4;
  const texels = spec.bh * spec.t * h4;
  const shape = texShape(texels, maxTexDim);
  if (!shape) return null;
  const dropout = spec.p > 0;
  const [RQ, CQ] = tiles.dq;
  const [RK, CK] = tiles.dkv;
  const dqSrc = source(`attention-tex:dq:${tag(spec, RQ, CQ)}`, () => ({
    wgsl: dqWgsl(h4, RQ, CQ, spec.masked, dropout),
    bindings: ['texture', 'texture', 'texture', 'texture', 'texture', 'read', 'read', 'write', 'write'], uniform: layout,
  }));
  const dkvSrc = source(`attention-tex:dkv:${tag(spec, RK, CK)}`, () => ({
    wgsl: dkvWgsl(h4, RK, CK, spec.masked, dropout),
    bindings: ['texture', 'texture', 'texture', 'texture', 'read', 'read', 'write', 'write'], uniform: layout,
  }));
  const uq = uniforms(spec, RQ, shape.ws);
  const uk = uniforms(spec, RK, shape.ws);
  const t = (i: number) => ({ from: inp(i), texels, width: shape.width, height: shape.height, beforeStep: 0 });
  // in: [q, k, v, bias, o, stats, dO]; out: [dq, dk, dv]; textures: q, k, v, o, dO; tmp 0: (m, log l, D, 0) per row.
  return {
    temps: [spec.bh * spec.t * 4],
    textures: [t(0), t(1), t(2), t(4), t(6)],
    steps: [
      { source: dqSrc, bind: [tex(0), tex(1), tex(2), tex(3), tex(4), inp(3), inp(5), tmp(0), out(0)], uniforms: uq, workgroups: ceilDiv(spec.bh * uq.blocks, WG) },
      { source: dkvSrc, bind: [tex(0), tex(1), tex(2), tex(4), inp(3), tmp(0), out(1), out(2)], uniforms: uk, workgroups: ceilDiv(spec.bh * uk.blocks, WG) },
    ],
  };
}
