// Backward of the texture variant of fused attention (kernels/attention-tex.ts): same spec, same
// values up to float rounding as kernels/attention.ts's storage backward.
//
// Recomputing S = q k^T and dP = dO v^T in both a dQ pass and a dK/dV pass (7 head-size products)
// cost more on llvmpipe than writing dS once: here S and dP are computed once (5 products) and dS
// goes through memory, one vec4 store per 4 keys (~10% of the backward).
//   0. stats:  per row D = rowsum(dO * O) through textures, stored with the forward's (m, log l) as
//              (m, log l, D, 0); then read as a texture (a storage load per streamed row cost ~10%).
//   1. dK/dV:  invocation owns R keys (k, v, dk, dv in registers) and streams the queries C at a time:
//              S^T, dP^T (the chunk's q and dO texels kept for step 3), P = exp(S - m - log l),
//              dS = P * (dP * f - D) (f the dropout factor), then dV += (P f)^T dO, dK += dS^T Q
//              accumulator-major. dS is stored key-packed: texel (bh, i, j4) holds
//              dS[i, 4 j4 .. 4 j4 + 3] (keys past T hold 0).
//   2. dQ:     invocation owns RQ queries and streams dS texels (4 keys each) and those keys' K texels:
//              dQ += dS K, times scale at the end.
// Both passes skip the keys after the batch's last unpadded one (KEY_END).
// dS of all heads at once is bh * t * ceil(t/4) texels; passes 1-2 run per group of heads so that it
// stays under DS_LIMIT.texels (one temp reused, copied to a texture before each dQ pass).
// Deterministic: no atomics, every sum in a fixed order.

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  DROP_INIT, HEAD, KEY_END, PRELUDE, TEX_TILES, drop, layout, loader, range, storage, tag, texShape, texture, uniforms, type TexAttentionTiles,
} from './attention-tex.js';
import { ceilDiv, entry, inp, out, source, tex, tmp, type DispatchStep, type KernelPlan, type TextureStep } from './common.js';

type AttentionBackwardSpec = Extract<KernelSpec, { kind: 'attentionBackward' }>;
const WG = 64;
/** Largest dS temp of one group of heads, in texels of 16 bytes (64 MiB; mutable for tests). */
export const DS_LIMIT = { texels: 1 << 22 };

/** D = rowsum(dO * O) per memory row, packed with (m, log l) as (m, log l, D, 0). */
function statsWgsl(h4: number, img: boolean): string {
  const ld = loader(img);
  return PRELUDE(false, img) + texture(0, 'TO', img) + texture(1, 'TG', img) + storage(2, 'ml', 'vec2<f32>', 'read') + storage(3, 'st', 'vec4<f32>', 'write') + layout.wgsl(4) +
    entry(WG, `  if (gid >= u.bh * u.t) { return; }
  let b = gid * ${h4}u;
  let acc = ${range(h4).map((d) => `dot(${ld('TO', `b + ${d}u`)}, ${ld('TG', `b + ${d}u`)})`).join(' + ')};
  st[gid] = vec4<f32>(ml[gid], acc, 0.0);`);
}

function dkvWgsl(h4: number, R: number, C: number, masked: boolean, dropout: boolean, img: boolean): string {
  // Rows are keys r0 + a (R a multiple of 4, so r0 is too), the streamed side queries q0 + c.
  const D = range(h4);
  const ld = loader(img);
  const ldS = loader(false); // compatibility mode allows 4 storage textures per stage: TS stays sampled
  const body = `${HEAD(R)}
${range(R).map((a) => `  let kb${a} = (base + min(r0 + ${a}u, T - 1u) * RS) * ${h4}u;
  let bi${a} = ${masked ? `bias[bb + min(r0 + ${a}u, T - 1u)]` : '0.0'};
  let kout${a} = r0 + ${a}u >= T;
${D.map((d) => `  let k${a}_${d} = ${ld('TK', `kb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  let v${a}_${d} = ${ld('TV', `kb${a} + ${d}u`)};`).join('\n')}
${D.map((d) => `  var dk${a}_${d} = vec4<f32>(0.0); var dv${a}_${d} = vec4<f32>(0.0);`).join('\n')}`).join('\n')}
${DROP_INIT(dropout)}
  let dsRow = bhl * T * u.tk4 + r0 / 4u;
  // Keys past key_end have zero probability: their dK, dV are 0, and their dS texels (never read by
  // dQ, which stops at key_end too) are not written.
  let qend = select(0u, T, r0 < key_end(bb, T));
  for (var q0 = 0u; q0 < qend; q0 = q0 + ${C}u) {
${range(C).map((c) => `    let qr${c} = base + min(q0 + ${c}u, T - 1u) * RS;
    let qb${c} = qr${c} * ${h4}u;
    let st${c} = ${ldS('TS', `qr${c}`, 'u.wst')};
    let gone${c} = st${c}.x == -inf_f32() || q0 + ${c}u >= T;${dropout ? `\n    let drq${c} = (bh * T + q0 + ${c}u) * T;` : ''}`).join('\n')}
${range(R).map((a) => range(C).map((c) => `    var s${a}_${c} = 0.0; var p${a}_${c} = 0.0;`).join(' ')).join('\n')}
${D.map((d) => range(C).map((c) => `    let x${c}_${d} = ${ld('TQ', `qb${c} + ${d}u`)};
    let y${c}_${d} = ${ld('TG', `qb${c} + ${d}u`)};
${range(R).map((a) => `    s${a}_${c} = s${a}_${c} + dot(k${a}_${d}, x${c}_${d}); p${a}_${c} = p${a}_${c} + dot(v${a}_${d}, y${c}_${d});`).join('\n')}`).join('\n')).join('\n')}
${range(R).map((a) => range(C).map((c) => `    {
      let pr = select(exp((s${a}_${c} * u.scale + bi${a} - st${c}.x) - st${c}.y), 0.0, gone${c} || kout${a});
      let f = ${drop(dropout, `drq${c}`, `r0 + ${a}u`)};
      s${a}_${c} = pr * (p${a}_${c} * f - st${c}.z);
      p${a}_${c} = pr * f;
    }`).join('\n')).join('\n')}
${range(C).map((c) => `    if (q0 + ${c}u < T) {
      let o = dsRow + (q0 + ${c}u) * u.tk4;
${range(R / 4).map((g) => `      if (r0 + ${4 * g}u < T) { ds[o + ${g}u] = vec4<f32>(${range(4).map((i) => `s${4 * g + i}_${c}`).join(', ')}); }`).join('\n')}
    }`).join('\n')}
${D.map((d) => range(R).map((a) => `    dk${a}_${d} = dk${a}_${d} + ${range(C).map((c) => `s${a}_${c} * x${c}_${d}`).join(' + ')};
    dv${a}_${d} = dv${a}_${d} + ${range(C).map((c) => `p${a}_${c} * y${c}_${d}`).join(' + ')};`).join('\n')).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
${D.map((d) => `    dk[kb${a} + ${d}u] = dk${a}_${d} * u.scale; dv[kb${a} + ${d}u] = dv${a}_${d};`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(dropout, img) + texture(0, 'TQ', img) + texture(1, 'TK', img) + texture(2, 'TV', img) + texture(3, 'TG', img) + texture(4, 'TS', false) +
    storage(5, 'bias', 'f32', 'read') + storage(6, 'ds', 'vec4<f32>', 'write') +
    storage(7, 'dk', 'vec4<f32>', 'write') + storage(8, 'dv', 'vec4<f32>', 'write') + layout.wgsl(9) + KEY_END(masked) + entry(WG, body);
}

function dqWgsl(h4: number, R: number, masked: boolean, img: boolean): string {
  // Rows are queries r0 + a; per step the 4 keys 4 j4 .. 4 j4 + 3 (one dS texel per row).
  const D = range(h4);
  const ld = loader(img);
  const X = ['x', 'y', 'z', 'w'];
  const body = `${HEAD(R)}
${range(R).map((a) => `  let dr${a} = (bhl * T + min(r0 + ${a}u, T - 1u)) * u.tk4;
${D.map((d) => `  var dq${a}_${d} = vec4<f32>(0.0);`).join(' ')}`).join('\n')}
  let j4end = (key_end(bb, T) + 3u) / 4u;
  for (var j4 = 0u; j4 < j4end; j4 = j4 + 1u) {
${range(R).map((a) => `    let w${a} = ${ld('TD', `dr${a} + j4`, 'u.wsd')};`).join('\n')}
${range(4).map((kk) => `    let kb${kk} = (base + min(4u * j4 + ${kk}u, T - 1u) * RS) * ${h4}u;`).join('\n')}
${D.map((d) => `    {
${range(4).map((kk) => `      let x${kk} = ${ld('TK', `kb${kk} + ${d}u`)};`).join('\n')}
${range(R).map((a) => `      dq${a}_${d} = dq${a}_${d} + ${range(4).map((kk) => `w${a}.${X[kk]} * x${kk}`).join(' + ')};`).join('\n')}
    }`).join('\n')}
  }
${range(R).map((a) => `  if (r0 + ${a}u < T) {
    let qb = (base + (r0 + ${a}u) * RS) * ${h4}u;
${D.map((d) => `    dq[qb + ${d}u] = dq${a}_${d} * u.scale;`).join('\n')}
  }`).join('\n')}`;
  return PRELUDE(false, img) + texture(0, 'TK', img) + texture(1, 'TD', img) + storage(2, 'bias', 'f32', 'read') + storage(3, 'dq', 'vec4<f32>', 'write') +
    layout.wgsl(4) + KEY_END(masked) + entry(WG, body);
}

/** The texture backward plan, or null when an operand exceeds a texture (caller uses storage); img as texAttentionKernel. */
export function texAttentionBackwardKernel(spec: AttentionBackwardSpec, maxTexDim: number, tiles: TexAttentionTiles = TEX_TILES, img = false): KernelPlan | null {
  const h4 = spec.hs / 4;
  const rows = spec.bh * spec.t;
  const texels = rows * h4;
  const tk4 = ceilDiv(spec.t, 4);
  const perHead = spec.t * tk4;
  const group = Math.min(spec.bh, Math.floor(DS_LIMIT.texels / perHead));
  const shape = texShape(texels, maxTexDim);
  const stShape = texShape(rows, maxTexDim);
  const dsShape = group > 0 ? texShape(group * perHead, maxTexDim) : null;
  if (!shape || !stShape || !dsShape) return null;
  const dropout = spec.p > 0;
  const [RK, CK] = tiles.dkv;
  const [RQ] = tiles.dq;
  if (RK % 4 !== 0) throw new Error(`attention-tex: dK/dV rows per invocation must be a multiple of 4, got ${RK}`);
  const tx = img ? 'image' : 'texture';
  const it = img ? ':i' : '';
  const statsSrc = source(`attention-tex:stats:h${h4}${it}`, () => ({ wgsl: statsWgsl(h4, img), bindings: [tx, tx, 'read', 'write'], uniform: layout }));
  const dkvSrc = source(`attention-tex:dkv:${tag(spec, RK, CK, img)}`, () => ({
    wgsl: dkvWgsl(h4, RK, CK, spec.masked, dropout, img),
    bindings: [tx, tx, tx, tx, 'texture', 'read', 'write', 'write', 'write'], uniform: layout,
  }));
  const mk = spec.masked ? 'm' : 'n';
  const dqSrc = source(`attention-tex:dq:h${h4}:r${RQ}:${mk}${it}`, () => ({ wgsl: dqWgsl(h4, RQ, spec.masked, img), bindings: [tx, tx, 'read', 'write'], uniform: layout }));
  const common = { ws: shape.ws, wst: stShape.ws, wsd: dsShape.ws, tk4 };
  const us = { ...uniforms(spec, 1, shape.ws), ...common };
  const uk = { ...uniforms(spec, RK, shape.ws), ...common };
  const uq = { ...uniforms(spec, RQ, shape.ws), ...common };
  const t = (from: number): TextureStep => ({ from: inp(from), texels, width: shape.width, height: shape.height, beforeStep: 0 });
  // in: [q, k, v, bias, o, stats, dO]; out: [dq, dk, dv]; tmp 0: (m, log l, D, 0) per row; tmp 1: dS of a group.
  // Textures (the backend numbers them in creation order, so listed by beforeStep): 0-4 q, k, v, dO,
  // o; 5 the row stats; 6.. dS of each group.
  const textures: TextureStep[] = [t(0), t(1), t(2), t(6), t(4), { from: tmp(0), texels: rows, width: stShape.width, height: stShape.height, beforeStep: 1 }];
  const steps: DispatchStep[] = [{ source: statsSrc, bind: [tex(4), tex(3), inp(5), tmp(0)], uniforms: us, workgroups: ceilDiv(rows, WG) }];
  for (let bh0 = 0; bh0 < spec.bh; bh0 += group) {
    const bh = Math.min(group, spec.bh - bh0);
    textures.push({ from: tmp(1), texels: bh * perHead, width: dsShape.width, height: dsShape.height, beforeStep: steps.length + 1 });
    steps.push(
      { source: dkvSrc, bind: [tex(0), tex(1), tex(2), tex(3), tex(5), inp(3), tmp(1), out(1), out(2)], uniforms: { ...uk, bh0, bh }, workgroups: ceilDiv(bh * uk.blocks, WG) },
      { source: dqSrc, bind: [tex(1), tex(textures.length - 1), inp(3), out(0)], uniforms: { ...uq, bh0, bh }, workgroups: ceilDiv(bh * uq.blocks, WG) },
    );
  }
  return { temps: [rows * 4, group * perHead * 4], textures, steps };
}
