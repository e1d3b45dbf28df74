// Row kernels, strategy 'serial-tex': barrier-free, one invocation per row (per 4 columns for the
// column passes), inputs read through rgba32float textures, vec4 arithmetic, vec4 stores when the
// row length is a multiple of 4. Built for Mesa llvmpipe (Dawn's GL backend without a GPU), where a
// storage or workgroup-memory load costs ~13 ns per invocation, a texel fetch ~1.2 ns and barriers
// are expensive; kernels/softmax.ts etc. (strategy 'workgroup') suit real GPUs.
//
// Layout: every input is copied (copyBufferToTexture) into a texture viewed as a linear array of
// texels, texel t at (t & (W - 1), t >> log2 W): texel t holds elements 4t .. 4t+3 of the flat
// buffer. ld4_X(e) returns elements e .. e+3 (one fetch when e is a multiple of 4, else two and a
// shift), so rows of any length (and any start) are walked in chunks of 4; the last chunk of a row
// is masked (lanes past the row get the identity: -inf for max, 0 for sums; masked lanes never
// reach arithmetic, so whatever the texture holds past the data is harmless).
//
// Outputs: the 'v4' variant binds row-shaped outputs as array<vec4<f32>> (len % 4 == 0, so every
// chunk is one whole vec4); the 's' variant stores components one by one (masked). Both variants of
// a kernel are listed in the plan's `warm` so the set of pipelines never depends on sizes.
//
// Determinism: fixed order everywhere (4 interleaved per-lane partials, combined (x + y) + (z + w)).
// Semantics are kernels/softmax.ts's, kernels/layernorm.ts's, ... (engine/backend/spec.ts); the
// softmax normaliser is computed online (running max and rescaled sum per lane) in one pass.
// Work: O(rows * len) per kernel; depth O(len) per row (O(rows) for the column passes).

import type { KernelSpec } from '../engine/backend/spec.js';
import {
  UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, out, source, storage, tex, type BufRef, type DispatchStep, type KernelPlan,
  type KernelSource, type TextureStep,
} from './common.js';

/** Invocations per workgroup (small: llvmpipe runs a workgroup on one thread, 8 lanes at a time). */
export const SERIAL_WG = 16;

export interface TexShape { width: number; height: number }

/** Texture shape for `texels` texels (power-of-two width, at most maxDim); null when too large. */
export function rowTextureShape(texels: number, maxDim: number): TexShape | null {
  const maxW = 2 ** Math.floor(Math.log2(maxDim));
  if (texels <= maxW) return { width: Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, texels)))), height: 1 };
  const height = ceilDiv(texels, maxW);
  return height <= maxDim ? { width: maxW, height } : null;
}

/** Texture binding `T_name` plus ld4_name(e) (elements e..e+3) and ld1_name(e); shift in u.<shift>. */
function texInput(binding: number, name: string, shift: string): string {
  const at = (t: string) => `vec2<u32>((${t}) & ((1u << u.${shift}) - 1u), (${t}) >> u.${shift})`;
  return `@group(0) @binding(${binding}) var T_${name}: texture_2d<f32>;
fn ld4_${name}(e: u32) -> vec4<f32> {
  let t = e >> 2u;
  let a = textureLoad(T_${name}, ${at('t')}, 0);
  let o = e & 3u;
  if (o == 0u) { return a; }
  let b = textureLoad(T_${name}, ${at('t + 1u')}, 0);
  if (o == 1u) { return vec4<f32>(a.yzw, b.x); }
  if (o == 2u) { return vec4<f32>(a.zw, b.xy); }
  return vec4<f32>(a.w, b.xyz);
}
fn ld1_${name}(e: u32) -> f32 {
  let t = e >> 2u;
  return textureLoad(T_${name}, ${at('t')}, 0)[e & 3u];
}
`;
}

/** A row-shaped output `name`: binding plus st4_name(e, v, ok) (e = element index of the chunk). */
function rowOutput(binding: number, name: string, vec: boolean): string {
  if (vec) {
    return storage(binding, name, 'vec4<f32>' as 'f32', 'write') +
      `fn st4_${name}(e: u32, v: vec4<f32>, ok: vec4<bool>) { ${name}[e >> 2u] = v; }\n`;
  }
  return storage(binding, name, 'f32', 'write') + `fn st4_${name}(e: u32, v: vec4<f32>, ok: vec4<bool>) {
  if (ok.x) { ${name}[e] = v.x; }
  if (ok.y) { ${name}[e + 1u] = v.y; }
  if (ok.z) { ${name}[e + 2u] = v.z; }
  if (ok.w) { ${name}[e + 3u] = v.w; }
}
`;
}

const HELPERS = WGSL_SPECIALS + `
const IDX4 = vec4<u32>(0u, 1u, 2u, 3u);
fn ninf4() -> vec4<f32> { return vec4<f32>(-inf_f32()); }
fn hsum(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
// Online softmax normaliser per lane: folds v into (m, s) where s = sum exp(. - m).
fn ol_step(m: ptr<function, vec4<f32>>, s: ptr<function, vec4<f32>>, v: vec4<f32>) {
  let nm = max(*m, v);
  let sc = select(exp(*m - nm), vec4<f32>(1.0), *m == nm);
  let e = select(exp(v - nm), vec4<f32>(0.0), v == ninf4());
  *s = *s * sc + e;
  *m = nm;
}
// Combines the 4 lanes: returns (max, sum of exp(x - max)); sum is 0 for an all -inf row.
fn ol_final(m: vec4<f32>, s: vec4<f32>) -> vec2<f32> {
  let mm = hmax(m);
  if (mm == -inf_f32()) { return vec2<f32>(mm, 0.0); }
  let w = select(exp(m - vec4<f32>(mm)), vec4<f32>(0.0), m == ninf4());
  return vec2<f32>(mm, hsum(s * w));
}
`;

/** Loop over the chunks of one row starting at element `base` (vars: c, e = base + 4c, ok). */
const ROW_LOOP = (body: string) => `for (var c = 0u; c < n4; c = c + 1u) {
    let e = base + 4u * c;
    let ok = (vec4<u32>(4u * c) + IDX4) < vec4<u32>(u.len);
${body}
  }`;
const ROW_HEAD = `  let row = gid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let n4 = (u.len + 3u) >> 2u;`;

const rowLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['sx', 'u32'], ['sg', 'u32'], ['eps', 'f32'], ['ignore', 'i32']]);

interface Built {
  key: string;
  wgsl: (vec: boolean) => string;
  bindings: KernelSource['bindings'];
  /** Whether the kernel has row-shaped outputs (then there are 'v4' and 's' variants). */
  variants: boolean;
}

function variantSources(b: Built): { v4: KernelSource; s: KernelSource } | { one: KernelSource } {
  if (!b.variants) return { one: source(`${b.key}:tex`, () => ({ wgsl: b.wgsl(false), bindings: b.bindings, uniform: rowLayout })) };
  return {
    v4: source(`${b.key}:tex:v4`, () => ({ wgsl: b.wgsl(true), bindings: b.bindings, uniform: rowLayout })),
    s: source(`${b.key}:tex:s`, () => ({ wgsl: b.wgsl(false), bindings: b.bindings, uniform: rowLayout })),
  };
}

/** Texture inputs of a plan: `from` buffer with `elements` elements. */
interface TexIn { from: BufRef; elements: number }

function plan(
  b: Built, texIns: readonly TexIn[], bind: (texIndex: (i: number) => BufRef) => BufRef[], rows: number, len: number,
  invocations: number, extra: Record<string, number>, maxDim: number, extraSteps?: { before: DispatchStep[] },
): KernelPlan | null {
  const shapes = texIns.map((t) => rowTextureShape(ceilDiv(t.elements, 4), maxDim));
  if (shapes.some((s) => s === null)) return null;
  const pre = extraSteps?.before ?? [];
  const textures: TextureStep[] = texIns.map((t, i) => ({
    from: t.from, texels: ceilDiv(t.elements, 4), width: shapes[i]!.width, height: shapes[i]!.height, beforeStep: pre.length,
  }));
  const srcs = variantSources(b);
  const vec = len % 4 === 0;
  const src = 'one' in srcs ? srcs.one : vec ? srcs.v4 : srcs.s;
  const warm = 'one' in srcs ? [srcs.one] : [srcs.v4, srcs.s];
  const shiftOf = (i: number) => (texIns[i] ? Math.log2(shapes[i]!.width) : 0);
  const uniforms = { rows, len, sx: shiftOf(0), sg: 0, eps: 0, ignore: 0, ...extra };
  return {
    temps: [],
    textures,
    warm,
    steps: [...pre, { source: src, bind: bind(tex), uniforms, workgroups: ceilDiv(invocations, SERIAL_WG) }],
  };
}

// ---- softmax ---------------------------------------------------------------------------------

const STATS = `  var m4 = ninf4();
  var s4 = vec4<f32>(0.0);
  ${ROW_LOOP(`    ol_step(&m4, &s4, select(ninf4(), ld4_x(e), ok));`)}
  let ms = ol_final(m4, s4);
  let m = ms.x;
  let s = ms.y;`;

type SoftmaxSpec = Extract<KernelSpec, { kind: 'softmax' }>;
export function softmaxTexPlan(spec: SoftmaxSpec, maxDim: number): KernelPlan | null {
  const write = spec.log
    ? `let ls = log(s);
  ${ROW_LOOP(`    st4_y(e, select((ld4_x(e) - vec4<f32>(m)) - vec4<f32>(ls), ninf4(), allInf), ok);`)}`
    : `let inv = 1.0 / s;
  ${ROW_LOOP(`    st4_y(e, select(exp(ld4_x(e) - vec4<f32>(m)) * inv, vec4<f32>(0.0), allInf), ok);`)}`;
  const b: Built = {
    key: `softmax:${spec.log ? 'log' : 'lin'}`, variants: true, bindings: ['texture', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'x', 'sx') + rowOutput(1, 'y', vec) + rowLayout.wgsl(2) + entry(SERIAL_WG, `${ROW_HEAD}
${STATS}
  let allInf = m == -inf_f32();
  ${write}`),
  };
  const n = spec.rows * spec.len;
  return plan(b, [{ from: inp(0), elements: n }], (t) => [t(0), out(0)], spec.rows, spec.len, spec.rows, {}, maxDim);
}

type SoftmaxBackwardSpec = Extract<KernelSpec, { kind: 'softmaxBackward' }>;
export function softmaxBackwardTexPlan(spec: SoftmaxBackwardSpec, maxDim: number): KernelPlan | null {
  const body = spec.log
    ? `  var a4 = vec4<f32>(0.0);
  ${ROW_LOOP(`    a4 = a4 + select(vec4<f32>(0.0), ld4_dy(e), ok);`)}
  let s = hsum(a4);
  ${ROW_LOOP(`    let yv = ld4_y(e);
    st4_dx(e, select(ld4_dy(e) - exp(yv) * s, vec4<f32>(0.0), yv == ninf4()), ok);`)}`
    : `  var a4 = vec4<f32>(0.0);
  ${ROW_LOOP(`    a4 = a4 + select(vec4<f32>(0.0), ld4_dy(e) * ld4_y(e), ok);`)}
  let s = hsum(a4);
  ${ROW_LOOP(`    st4_dx(e, ld4_y(e) * (ld4_dy(e) - vec4<f32>(s)), ok);`)}`;
  const b: Built = {
    key: `softmaxBackward:${spec.log ? 'log' : 'lin'}`, variants: true, bindings: ['texture', 'texture', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'y', 'sx') + texInput(1, 'dy', 'sx') + rowOutput(2, 'dx', vec) + rowLayout.wgsl(3) +
      entry(SERIAL_WG, `${ROW_HEAD}\n${body}`),
  };
  const n = spec.rows * spec.len;
  return plan(b, [{ from: inp(0), elements: n }, { from: inp(1), elements: n }], (t) => [t(0), t(1), out(0)], spec.rows, spec.len, spec.rows, {}, maxDim);
}

// ---- cross-entropy ---------------------------------------------------------------------------

type CrossEntropySpec = Extract<KernelSpec, { kind: 'crossEntropy' }>;
export function crossEntropyTexPlan(spec: CrossEntropySpec, maxDim: number): KernelPlan | null {
  const b: Built = {
    key: 'crossEntropy', variants: false, bindings: ['texture', 'read', 'write'],
    wgsl: () => HELPERS + texInput(0, 'x', 'sx') + storage(1, 'labels', 'i32', 'read') + storage(2, 'loss', 'f32', 'write') +
      rowLayout.wgsl(3) + entry(SERIAL_WG, `${ROW_HEAD}
  let label = labels[row];
  if (label == u.ignore) { loss[row] = 0.0; return; }
${STATS}
  if (label < 0 || label >= i32(u.len)) { loss[row] = nan_f32(); }
  else { loss[row] = (m - ld1_x(base + u32(label))) + log(s); }`),
  };
  const n = spec.rows * spec.classes;
  return plan(b, [{ from: inp(0), elements: n }], (t) => [t(0), inp(1), out(0)], spec.rows, spec.classes, spec.rows, { ignore: spec.ignoreIndex }, maxDim);
}

type CrossEntropyBackwardSpec = Extract<KernelSpec, { kind: 'crossEntropyBackward' }>;
export function crossEntropyBackwardTexPlan(spec: CrossEntropyBackwardSpec, maxDim: number): KernelPlan | null {
  const b: Built = {
    key: 'crossEntropyBackward', variants: true, bindings: ['texture', 'read', 'read', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'x', 'sx') + storage(1, 'labels', 'i32', 'read') + storage(2, 'dloss', 'f32', 'read') +
      rowOutput(3, 'dx', vec) + rowLayout.wgsl(4) + entry(SERIAL_WG, `${ROW_HEAD}
  let label = labels[row];
  if (label == u.ignore) {
    ${ROW_LOOP(`    st4_dx(e, vec4<f32>(0.0), ok);`)}
    return;
  }
${STATS}
  let g = dloss[row];
  let inv = 1.0 / s;
  ${ROW_LOOP(`    let p = exp(ld4_x(e) - vec4<f32>(m)) * inv;
    let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<i32>(vec4<u32>(4u * c) + IDX4) == vec4<i32>(label));
    st4_dx(e, (p - onehot) * g, ok);`)}`),
  };
  const n = spec.rows * spec.classes;
  return plan(b, [{ from: inp(0), elements: n }], (t) => [t(0), inp(1), inp(2), out(0)], spec.rows, spec.classes, spec.rows, { ignore: spec.ignoreIndex }, maxDim);
}

// ---- layernorm -------------------------------------------------------------------------------

/** Two-pass mean / centred variance of the row chunks `val` (an expression of e). */
const LN_STATS = (val: string, pre = '') => `  let n = f32(u.len);
  var a4 = vec4<f32>(0.0);
  ${ROW_LOOP(`${pre}    a4 = a4 + select(vec4<f32>(0.0), ${val}, ok);`)}
  let mu = hsum(a4) / n;
  var b4 = vec4<f32>(0.0);
  ${ROW_LOOP(`    let d = ${val} - vec4<f32>(mu);
    b4 = b4 + select(vec4<f32>(0.0), d * d, ok);`)}
  let r = 1.0 / sqrt(hsum(b4) / n + u.eps);`;

type LayernormSpec = Extract<KernelSpec, { kind: 'layernorm' }>;
export function layernormTexPlan(spec: LayernormSpec, maxDim: number): KernelPlan | null {
  const b: Built = {
    key: 'layernorm', variants: true, bindings: ['texture', 'texture', 'texture', 'write', 'write', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'x', 'sx') + texInput(1, 'gamma', 'sg') + texInput(2, 'beta', 'sg') + rowOutput(3, 'y', vec) +
      storage(4, 'mean', 'f32', 'write') + storage(5, 'rstd', 'f32', 'write') + rowLayout.wgsl(6) + entry(SERIAL_WG, `${ROW_HEAD}
${LN_STATS('ld4_x(e)')}
  ${ROW_LOOP(`    st4_y(e, (ld4_x(e) - vec4<f32>(mu)) * r * ld4_gamma(4u * c) + ld4_beta(4u * c), ok);`)}
  mean[row] = mu;
  rstd[row] = r;`),
  };
  const { rows, len } = spec;
  const p = plan(b, [{ from: inp(0), elements: rows * len }, { from: inp(1), elements: len }, { from: inp(2), elements: len }],
    (t) => [t(0), t(1), t(2), out(0), out(1), out(2)], rows, len, rows, { eps: spec.eps }, maxDim);
  return p && withShift(p, 'sg', 1);
}

type LayernormResidualSpec = Extract<KernelSpec, { kind: 'layernormResidual' }>;
export function layernormResidualTexPlan(spec: LayernormResidualSpec, maxDim: number): KernelPlan | null {
  const b: Built = {
    key: 'layernormResidual', variants: true,
    bindings: ['texture', 'texture', 'texture', 'texture', 'write', 'write', 'write', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'x', 'sx') + texInput(1, 'res', 'sx') + texInput(2, 'gamma', 'sg') + texInput(3, 'beta', 'sg') +
      rowOutput(4, 'y', vec) + storage(5, 'mean', 'f32', 'write') + storage(6, 'rstd', 'f32', 'write') + rowOutput(7, 's', vec) +
      rowLayout.wgsl(8) + entry(SERIAL_WG, `${ROW_HEAD}
${LN_STATS('(ld4_x(e) + ld4_res(e))', '    st4_s(e, ld4_x(e) + ld4_res(e), ok);\n')}
  ${ROW_LOOP(`    st4_y(e, ((ld4_x(e) + ld4_res(e)) - vec4<f32>(mu)) * r * ld4_gamma(4u * c) + ld4_beta(4u * c), ok);`)}
  mean[row] = mu;
  rstd[row] = r;`),
  };
  const { rows, len } = spec;
  const n = rows * len;
  const p = plan(b, [{ from: inp(0), elements: n }, { from: inp(1), elements: n }, { from: inp(2), elements: len }, { from: inp(3), elements: len }],
    (t) => [t(0), t(1), t(2), t(3), out(0), out(1), out(2), out(3)], rows, len, rows, { eps: spec.eps }, maxDim);
  return p && withShift(p, 'sg', 2);
}

/** Sets uniform `field` of the last step to the shift of texture `texIndex`. */
function withShift(p: KernelPlan, field: string, texIndex: number): KernelPlan {
  const steps = [...p.steps];
  const last = steps[steps.length - 1]!;
  steps[steps.length - 1] = { ...last, uniforms: { ...last.uniforms, [field]: Math.log2(p.textures![texIndex]!.width) } };
  return { ...p, steps };
}

type LayernormBackwardSpec = Extract<KernelSpec, { kind: 'layernormBackward' }>;
export function layernormBackwardTexPlan(spec: LayernormBackwardSpec, maxDim: number): KernelPlan | null {
  // in: [x, gamma, mean, rstd, dy]; out: [dx, dgamma, dbeta]. Textures: x, dy (rows x len), gamma
  // (len), mean, rstd (rows). Step 1: dx per row; step 2: dgamma/dbeta per 4 columns over rows in order.
  const { rows, len } = spec;
  const n = rows * len;
  const shapes = [n, n, len, rows, rows].map((e) => rowTextureShape(ceilDiv(e, 4), maxDim));
  if (shapes.some((s) => s === null)) return null;
  const froms = [inp(0), inp(4), inp(1), inp(2), inp(3)];
  const textures: TextureStep[] = froms.map((from, i) => ({
    from, texels: ceilDiv([n, n, len, rows, rows][i]!, 4), width: shapes[i]!.width, height: shapes[i]!.height, beforeStep: 0,
  }));
  const sh = (i: number) => Math.log2(shapes[i]!.width);
  const layout = bwdLayout;
  const dxB: Built = {
    key: 'layernormBackward:dx', variants: true, bindings: ['texture', 'texture', 'texture', 'read', 'read', 'write'],
    wgsl: (vec) => HELPERS + texInput(0, 'x', 'sx') + texInput(1, 'dy', 'sx') + texInput(2, 'gamma', 'sg') +
      storage(3, 'mean', 'f32', 'read') + storage(4, 'rstd', 'f32', 'read') + rowOutput(5, 'dx', vec) + layout.wgsl(6) +
      entry(SERIAL_WG, `${ROW_HEAD}
  let n = f32(u.len);
  let mu = mean[row];
  let r = rstd[row];
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  ${ROW_LOOP(`    let g = select(vec4<f32>(0.0), ld4_dy(e) * ld4_gamma(4u * c), ok);
    a1 = a1 + g;
    a2 = a2 + select(vec4<f32>(0.0), g * (ld4_x(e) - vec4<f32>(mu)) * r, ok);`)}
  let mg = hsum(a1) / n;
  let mgx = hsum(a2) / n;
  ${ROW_LOOP(`    let g = ld4_dy(e) * ld4_gamma(4u * c);
    let xh = (ld4_x(e) - vec4<f32>(mu)) * r;
    st4_dx(e, r * (g - vec4<f32>(mg) - xh * mgx), ok);`)}`),
  };
  const dgSrc = source('layernormBackward:dgamma:tex', () => ({
    wgsl: HELPERS + texInput(0, 'x', 'sx') + texInput(1, 'dy', 'sx') + texInput(2, 'mean', 'sm') + texInput(3, 'rstd', 'sm') +
      storage(4, 'dgamma', 'f32', 'write') + storage(5, 'dbeta', 'f32', 'write') + layout.wgsl(6) +
      entry(SERIAL_WG, `  let n4 = (u.len + 3u) >> 2u;
  if (gid >= n4) { return; }
  let col = 4u * gid;
  let ok = (vec4<u32>(col) + IDX4) < vec4<u32>(u.len);
  var sg = vec4<f32>(0.0);
  var sb = vec4<f32>(0.0);
  var p = col;
  for (var r = 0u; r < u.rows; r = r + 1u) {
    let d = select(vec4<f32>(0.0), ld4_dy(p), ok);
    sg = sg + d * select(vec4<f32>(0.0), (ld4_x(p) - vec4<f32>(ld1_mean(r))) * ld1_rstd(r), ok);
    sb = sb + d;
    p = p + u.len;
  }
  if (ok.x) { dgamma[col] = sg.x; dbeta[col] = sb.x; }
  if (ok.y) { dgamma[col + 1u] = sg.y; dbeta[col + 1u] = sb.y; }
  if (ok.z) { dgamma[col + 2u] = sg.z; dbeta[col + 2u] = sb.z; }
  if (ok.w) { dgamma[col + 3u] = sg.w; dbeta[col + 3u] = sb.w; }`),
    bindings: ['texture', 'texture', 'texture', 'texture', 'write', 'write'], uniform: layout,
  }));
  // Built directly (not variantSources): this kernel uses bwdLayout (one more shift field).
  const v4 = source('layernormBackward:dx:tex:v4', () => ({ wgsl: dxB.wgsl(true), bindings: dxB.bindings, uniform: layout }));
  const s = source('layernormBackward:dx:tex:s', () => ({ wgsl: dxB.wgsl(false), bindings: dxB.bindings, uniform: layout }));
  const uniforms = { rows, len, sx: sh(0), sg: sh(2), sm: sh(3) };
  return {
    temps: [],
    textures,
    warm: [v4, s, dgSrc],
    steps: [
      { source: len % 4 === 0 ? v4 : s, bind: [tex(0), tex(1), tex(2), inp(2), inp(3), out(0)], uniforms, workgroups: ceilDiv(rows, SERIAL_WG) },
      { source: dgSrc, bind: [tex(0), tex(1), tex(3), tex(4), out(1), out(2)], uniforms, workgroups: ceilDiv(ceilDiv(len, 4), SERIAL_WG) },
    ],
  };
}
const bwdLayout = new UniformLayout([['rows', 'u32'], ['len', 'u32'], ['sx', 'u32'], ['sg', 'u32'], ['sm', 'u32']]);

// ---- reduce ----------------------------------------------------------------------------------

const redLayout = new UniformLayout([['outer', 'u32'], ['len', 'u32'], ['inner', 'u32'], ['scale', 'f32'], ['sx', 'u32']]);

type ReduceSpec = Extract<KernelSpec, { kind: 'reduce' }>;
export function reduceTexPlan(spec: ReduceSpec, maxDim: number): KernelPlan | null {
  const { op, outer, len, inner } = spec;
  if (op !== 'sum' && op !== 'max') throw new Error(`reduce: unknown op ${op}`);
  const isSum = op === 'sum';
  const id4 = isSum ? 'vec4<f32>(0.0)' : 'ninf4()';
  const comb = (a: string, b: string) => (isSum ? `${a} + ${b}` : `max(${a}, ${b})`);
  const fin = isSum ? 'hsum(acc) * u.scale' : 'hmax(acc)';
  const n = outer * len * inner;
  const shape = rowTextureShape(ceilDiv(n, 4), maxDim);
  if (!shape) return null;
  const textures: TextureStep[] = [{ from: inp(0), texels: ceilDiv(n, 4), width: shape.width, height: shape.height, beforeStep: 0 }];
  const uniforms = { outer, len, inner, scale: spec.scale, sx: Math.log2(shape.width) };
  const rowsSrc = source(`reduce:${op}:rows:tex`, () => ({
    wgsl: HELPERS + texInput(0, 'x', 'sx') + storage(1, 'y', 'f32', 'write') + redLayout.wgsl(2) + entry(SERIAL_WG, `  let row = gid;
  if (row >= u.outer) { return; }
  let base = row * u.len;
  let n4 = (u.len + 3u) >> 2u;
  var acc = ${id4};
  ${ROW_LOOP(`    acc = ${comb('acc', `select(${id4}, ld4_x(e), ok)`)};`)}
  y[row] = ${fin};`),
    bindings: ['texture', 'write'], uniform: redLayout,
  }));
  // cols: one invocation per (o, 4 consecutive i), looping over j in order; per-lane results.
  const colsSrc = source(`reduce:${op}:cols:tex`, () => ({
    wgsl: HELPERS + texInput(0, 'x', 'sx') + storage(1, 'y', 'f32', 'write') + redLayout.wgsl(2) + entry(SERIAL_WG, `  let i4 = (u.inner + 3u) >> 2u;
  if (gid >= u.outer * i4) { return; }
  let o = gid / i4;
  let i = 4u * (gid % i4);
  let ok = (vec4<u32>(i) + IDX4) < vec4<u32>(u.inner);
  var p = o * u.len * u.inner + i;
  var acc = ${id4};
  for (var j = 0u; j < u.len; j = j + 1u) { acc = ${comb('acc', `select(${id4}, ld4_x(p), ok)`)}; p = p + u.inner; }
  ${isSum ? 'acc = acc * u.scale;' : ''}
  let q = o * u.inner + i;
  if (ok.x) { y[q] = acc.x; }
  if (ok.y) { y[q + 1u] = acc.y; }
  if (ok.z) { y[q + 2u] = acc.z; }
  if (ok.w) { y[q + 3u] = acc.w; }`),
    bindings: ['texture', 'write'], uniform: redLayout,
  }));
  const rowsVariant = inner === 1;
  return {
    temps: [],
    textures,
    warm: [rowsSrc, colsSrc],
    steps: [{
      source: rowsVariant ? rowsSrc : colsSrc, bind: [tex(0), out(0)], uniforms,
      workgroups: ceilDiv(rowsVariant ? outer : outer * ceilDiv(inner, 4), SERIAL_WG),
    }],
  };
}
