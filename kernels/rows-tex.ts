// Row kernels, strategies 'serial-tex' and 'serial-image': barrier-free, one invocation per row (or
// per few rows), inputs read through rgba32float textures (sampled, or read-only storage textures:
// TexAccess below), vec4 arithmetic, vec4 stores. Built for Mesa llvmpipe
// (Dawn's GL backend without a GPU). Measured there, CPU time per invocation and vec4 (one thread):
// storage-buffer load ~30 ns, workgroup-memory access ~13 ns, sampled texel fetch ~2.5-4 ns,
// read-only storage-texture (image) load ~0.8 ns, vec4 storage store ~6 ns (four scalar stores ~10
// ns, textureStore ~10 ns), vec4 exp ~2.4 ns, loop overhead ~0.8 ns; a barrier ~0.5 us per workgroup.
// Stores are the dearest part of every kernel, so each output texel is stored exactly once, as one
// vec4. kernels/softmax.ts etc. (strategy 'workgroup') suit real GPUs. The layernorm family is in
// kernels/rows-tex-ln.ts.
//
// Layout: every input is copied (copyBufferToTexture) into a texture viewed as a linear array of
// texels, texel t at (t & (W - 1), t >> log2 W): texel t holds elements 4t .. 4t+3 of the flat
// buffer. Rows are walked texel by texel, always aligned (one fetch per texel): a row of any length
// at any start covers texels base>>2 .. (end-1)>>2, and lanes outside [base, end) are masked (the
// identity: -inf for max, 0 for sums; masked lanes never reach arithmetic, so whatever the texture
// holds past the data is harmless).
//
// Outputs: row-shaped outputs are bound as array<vec4<f32>>; the main kernel stores the texels that
// lie wholly inside its row (every texel when len % 4 == 0). When len % 4 != 0, a 'fix' kernel then
// writes the elements of the (at most two) boundary texels of each row as scalars, recomputing them
// from the row scalars (max, sum, ...) the main kernel saved in a temporary. Both kernels are listed
// in the plan's `warm`, so the set of pipelines never depends on sizes.
//
// Determinism: fixed order everywhere (4 interleaved per-lane partials, combined (x + y) + (z + w)).
// Semantics are kernels/softmax.ts's, kernels/reduce.ts's (engine/backend/spec.ts). The softmax
// normaliser is computed online in one pass over blocks of SM_BLOCK texels (one rescale per block:
// 1 + 1/SM_BLOCK exps per element).
// Work: O(rows * len) per kernel; depth O(len) per row (O(rows) for the column reduction).

import { softmaxGradScale, type KernelSpec } from '../engine/backend/spec.js';
import { MASK_ROW } from './softmax.js';
import {
  UniformLayout, WGSL_SPECIALS, type Access, ceilDiv, entry, inp, linearTextureShape, maxNan, maxNan4, out, source, storage, tex, tmp, type BufRef, type KernelPlan,
  type KernelSource, type TextureStep, type WgslType,
} from './common.js';

/**
 * Invocations per workgroup: one SIMD group of llvmpipe's (8 lanes on AVX2). llvmpipe runs a workgroup
 * on one thread and a workgroup costs ~0.1 us, so small workgroups spread few rows (128) over the
 * threads at no measurable cost.
 */
export const SERIAL_WG = 8;
/**
 * Binding kind of the row kernels' textures: 'texture' (sampled, textureLoad(T, c, 0); strategy
 * 'serial-tex') or 'image' (read-only rgba32float storage texture, textureLoad(T, c); strategy
 * 'serial-image', needs the WGSL language feature readonly_and_readwrite_storage_textures). An image
 * fetch is ~3x cheaper on llvmpipe (~0.8 vs ~2.5 ns a texel per invocation). The kind is part of
 * every source key.
 */
export type TexAccess = Extract<Access, 'texture' | 'image'>;
/** Options of the row-kernel plans: the device's maxTextureDimension2D and the texture binding kind. */
export interface TexOptions { maxTexDim: number; tex: TexAccess }

/** Texels per block of the online softmax normaliser. */
const SM_BLOCK = 4;

export interface TexShape { width: number; height: number }

/** Texture shape for `texels` texels (kernels/common.ts). */
export const rowTextureShape = (texels: number, maxDim: number): TexShape | null => linearTextureShape(texels, maxDim);

/**
 * Texture binding `T_name` plus ldt_name(t) (texel t: elements 4t..4t+3), ld1_name(e) (element e)
 * and ld4_name(e) (elements e..e+3, any alignment); the log2 of the texture width is in u.<shift>.
 */
export function texInput(binding: number, name: string, shift: string, tex: TexAccess): string {
  const image = tex === 'image';
  return `@group(0) @binding(${binding}) var T_${name}: ${image ? 'texture_storage_2d<rgba32float, read>' : 'texture_2d<f32>'};
fn ldt_${name}(t: u32) -> vec4<f32> { return textureLoad(T_${name}, vec2<u32>(t & ((1u << u.${shift}) - 1u), t >> u.${shift})${image ? '' : ', 0'}); }
fn ld1_${name}(e: u32) -> f32 { return ldt_${name}(e >> 2u)[e & 3u]; }
fn ld4_${name}(e: u32) -> vec4<f32> {
  let a = ldt_${name}(e >> 2u);
  let o = e & 3u;
  if (o == 0u) { return a; }
  let b = ldt_${name}((e >> 2u) + 1u);
  if (o == 1u) { return vec4<f32>(a.yzw, b.x); }
  if (o == 2u) { return vec4<f32>(a.zw, b.xy); }
  return vec4<f32>(a.w, b.xyz);
}
`;
}

const HELPERS = WGSL_SPECIALS + `
const IDX4 = vec4<u32>(0u, 1u, 2u, 3u);
fn ninf4() -> vec4<f32> { return vec4<f32>(-inf_f32()); }
fn hsum(v: vec4<f32>) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
// Lanes of texel t inside [b, e).
fn lanes(t: u32, b: u32, e: u32) -> vec4<bool> {
  let ev = vec4<u32>(4u * t) + IDX4;
  return (ev >= vec4<u32>(b)) & (ev < vec4<u32>(e));
}
// Combines the 4 lanes of an online normaliser: returns (max, sum of exp(x - max)); sum is 0 for an all -inf row.
fn ol_final(m: vec4<f32>, s: vec4<f32>) -> vec2<f32> {
  let mm = hmax(m);
  if (mm == -inf_f32()) { return vec2<f32>(mm, 0.0); }
  let w = select(exp(m - vec4<f32>(mm)), vec4<f32>(0.0), m == ninf4());
  return vec2<f32>(mm, hsum(s * w));
}
`;
/** Shader header for texture kind `tex` (the `requires` directive of 'image') plus the shared helpers. */
export const helpers = (tex: TexAccess): string => (tex === 'image' ? 'requires readonly_and_readwrite_storage_textures;\n' : '') + HELPERS;

export const rowLayout = new UniformLayout([
  ['rows', 'u32'], ['len', 'u32'], ['nt', 'u32'], ['sx', 'u32'], ['sg', 'u32'], ['nc', 'u32'], ['eps', 'f32'], ['ignore', 'i32'],
]);
/**
 * rowLayout plus maskedSoftmax's scale and mask indexing (kernels/softmax.ts MASK_ROW) and the mask
 * texture's shift `sm`; softmaxBackward uses its scale.
 */
const scaledRowLayout = new UniformLayout([
  ...rowLayout.fields, ['scale', 'f32'], ['d1', 'u32'], ['d2', 'u32'], ['s0', 'u32'], ['s1', 'u32'], ['s2', 'u32'], ['sm', 'u32'],
]);
const NO_MASK = { d1: 1, d2: 1, s0: 0, s1: 0, s2: 0, sm: 0 };

/**
 * Loop over the texels of one row in order (vars: t, ok = lanes of t in the row). The body is emitted
 * three times: masked (ok = lanes(...)) for the texels before lo and from hi (the row's partial
 * boundary texels), and with ok a constant true for the interior texels [lo, hi), where the compiler
 * folds the masks and their selects away (llvmpipe, kernel alone: row sums 1.3-1.6x, softmax and
 * cross-entropy backward 1.0-1.1x). The order of texels, hence every sum, is as one loop's.
 */
export const TEXEL_LOOP = (body: string) => `for (var t = t0; t < lo; t = t + 1u) {
    let ok = lanes(t, base, end);
${body}
  }
  for (var t = lo; t < hi; t = t + 1u) {
    let ok = vec4<bool>(true);
${body}
  }
  for (var t = hi; t < tend; t = t + 1u) {
    let ok = lanes(t, base, end);
${body}
  }`;
/**
 * Texel span of the row [base, end) (elements): t0 (first texel), tend (one past the last texel the
 * row may touch: t0 + u.nt), [lo, hi) the texels wholly inside the row (clamped to [t0, tend)).
 */
export const ROW_SPAN = `  let t0 = base >> 2u;
  let tend = t0 + u.nt;
  let lo = min((base + 3u) >> 2u, tend);
  let hi = max(lo, min(end >> 2u, tend));`;
/** Per-row prologue (one row per invocation): row, base, end, then ROW_SPAN. */
export const ROW_HEAD = `  let row = gid;
  if (row >= u.rows) { return; }
  let base = row * u.len;
  let end = base + u.len;
${ROW_SPAN}`;

/** Texels a row of `len` elements may touch (over every start alignment that occurs). */
export function rowTexels(rows: number, len: number): number {
  return len % 4 === 0 || rows === 1 ? ceilDiv(len, 4) : (len + 6) >> 2;
}

/** A texture input of a plan: `from` buffer with `elements` elements, filled before step `before`. */
export interface TexIn { from: BufRef; elements: number; before?: number }

/** TextureSteps for `ins` (null when one is too large for a texture). */
export function textureSteps(ins: readonly TexIn[], maxDim: number): TextureStep[] | null {
  const out: TextureStep[] = [];
  for (const t of ins) {
    const texels = Math.max(1, ceilDiv(t.elements, 4));
    const s = rowTextureShape(texels, maxDim);
    if (!s) return null;
    out.push({ from: t.from, texels, width: s.width, height: s.height, beforeStep: t.before ?? 0 });
  }
  return out;
}
export const shiftOf = (t: TextureStep): number => Math.log2(t.width);

// ---- texel-aligned row kernels with row-shaped outputs ----------------------------------------

interface RowKernel {
  key: string;
  /** Texture inputs (the flat [rows, len] layout unless `texShifts` names another shift), bindings 0.. . */
  texNames: readonly string[];
  /** Uniform holding log2 of each texture's width (default 'sx' for all). */
  texShifts?: readonly string[];
  /** WGSL helpers after the bindings (functions of the textures). */
  helpers?: string;
  /** Uniform layout (default rowLayout). */
  layout?: UniformLayout;
  /** Read-only storage inputs bound after the textures. */
  extra: readonly (readonly [string, WgslType])[];
  /** Statements at the top of both kernels, after ROW_HEAD (e.g. reading the label). */
  rowPre?: string;
  /** Main kernel: statements computing the row scalars `saved`. */
  stats: string;
  saved: readonly string[];
  /** Statements once per row after the row scalars are known (e.g. 1 / sum). */
  rowPost?: string;
  /** Statements then a vec4 expression: the output texel t (vars: t, ok, row, base, end, saved). */
  pre?: string;
  value: string;
}

function rowKernelSources(k: RowKernel, tex: TexAccess): { main: KernelSource; fix: KernelSource } {
  const nt = k.texNames.length;
  const ns = k.saved.length;
  const layout = k.layout ?? rowLayout;
  const decl = (outType: 'vec4' | 'f32', stAccess: 'read' | 'write') =>
    helpers(tex) + k.texNames.map((n, i) => texInput(i, n, k.texShifts?.[i] ?? 'sx', tex)).join('') +
    k.extra.map(([n, t], i) => storage(nt + i, n, t, 'read')).join('') +
    storage(nt + k.extra.length, outType === 'vec4' ? 'y' : 'y1', (outType === 'vec4' ? 'vec4<f32>' : 'f32') as WgslType, 'write') +
    storage(nt + k.extra.length + 1, 'st', 'f32', stAccess) + layout.wgsl(nt + k.extra.length + 2) + (k.helpers ?? '');
  const bindings: Access[] = [...k.texNames.map(() => tex), ...k.extra.map(() => 'read' as const), 'write'];
  const pre = k.pre ?? '';
  const main = source(`${k.key}:${tex}`, () => ({
    wgsl: decl('vec4', 'write') + entry(SERIAL_WG, `${ROW_HEAD}
${k.rowPre ?? ''}
${k.stats}
${k.rowPost ?? ''}
  ${TEXEL_LOOP(`${pre}
    let v = ${k.value};
    if (all(ok)) { y[t] = v; }`)}
${k.saved.map((n, i) => `  st[${ns}u * row + ${i}u] = ${n};`).join('\n')}`),
    bindings: [...bindings, 'write'], uniform: layout,
  }));
  const fix = source(`${k.key}:${tex}:fix`, () => ({
    wgsl: decl('f32', 'read') + entry(SERIAL_WG, `${ROW_HEAD}
${k.rowPre ?? ''}
${k.saved.map((n, i) => `  let ${n} = st[${ns}u * row + ${i}u];`).join('\n')}
${k.rowPost ?? ''}
  let tl = (end - 1u) >> 2u;
  for (var j = 0u; j < 2u; j = j + 1u) {
    let t = select(t0, tl, j == 1u);
    let ok = lanes(t, base, end);
    if ((j == 0u || tl != t0) && !all(ok)) {
${pre}
      let v = ${k.value};
      let q = 4u * t;
      if (ok.x) { y1[q] = v.x; }
      if (ok.y) { y1[q + 1u] = v.y; }
      if (ok.z) { y1[q + 2u] = v.z; }
      if (ok.w) { y1[q + 3u] = v.w; }
    }
  }`),
    bindings: [...bindings, 'read'], uniform: layout,
  }));
  return { main, fix };
}

/**
 * Plan of a texel-aligned row kernel: textures of `texFrom`, then the main kernel, then (len % 4 != 0)
 * the boundary fix. `extraFrom` are the storage inputs, `yOut` the row-shaped output.
 */
function rowKernelPlan(
  k: RowKernel, rows: number, len: number, texFrom: readonly BufRef[], extraFrom: readonly BufRef[], yOut: BufRef,
  o: TexOptions, uniforms: Record<string, number> = {}, texElements: readonly number[] = [],
): KernelPlan | null {
  const n = rows * len;
  if (n < 4) return null; // a vec4 binding needs 16 bytes: the workgroup kernels serve tiny tensors
  const textures = textureSteps(texFrom.map((from, i) => ({ from, elements: texElements[i] ?? n })), o.maxTexDim);
  if (!textures) return null;
  const { main, fix } = rowKernelSources(k, o.tex);
  const u: Record<string, number> = { rows, len, nt: rowTexels(rows, len), sx: shiftOf(textures[0]!), sg: 0, nc: 0, eps: 0, ignore: 0, ...uniforms };
  textures.forEach((t, i) => { u[k.texShifts?.[i] ?? 'sx'] = shiftOf(t); }); // each texture's width shift
  const ins = [...texFrom.map((_, i) => tex(i)), ...extraFrom];
  const wg = ceilDiv(rows, SERIAL_WG);
  const steps = [{ source: main, bind: [...ins, yOut, tmp(0)], uniforms: u, workgroups: wg }];
  if (len % 4 !== 0) steps.push({ source: fix, bind: [...ins, yOut, tmp(0)], uniforms: u, workgroups: wg });
  return { temps: [Math.max(1, k.saved.length * rows)], textures, warm: [main, fix], steps };
}

// ---- softmax ---------------------------------------------------------------------------------

/**
 * Online normaliser of texture x over the row, SM_BLOCK texels per block: defines m, s. Blocks start at
 * t0 + SM_BLOCK k (as one loop would); those wholly inside the row skip the lane masks. Per lane,
 * exponents are taken against ns = the new max, or 0 where that is -inf (every value so far -inf), so
 * exp(-inf - ns) = 0 needs no select: the same values as exp(v - nm) with -inf lanes forced to 0.
 */
const statsOf = (val: (t: string) => string): string => {
  const js = Array.from({ length: SM_BLOCK }, (_, j) => j);
  const mx = (vs: string[]): string => (vs.length === 1 ? vs[0]! : `max(${mx(vs.slice(0, vs.length >> 1))}, ${mx(vs.slice(vs.length >> 1))})`);
  const block = (masked: boolean) => `${js.map((j) => `    let v${j} = ${masked ? `select(ninf4(), ${val(`t + ${j}u`)}, lanes(t + ${j}u, base, end))` : val(`t + ${j}u`)};`).join('\n')}
    let nm = max(m4, ${mx(js.map((j) => `v${j}`))});
    let ns = select(nm, vec4<f32>(0.0), nm == ninf4());
    s4 = s4 * exp(m4 - ns) + ${js.map((j) => `exp(v${j} - ns)`).join(' + ')};
    m4 = nm;`;
  return `  var m4 = ninf4();
  var s4 = vec4<f32>(0.0);
  var t = t0;
  for (; t < tend && t < lo; t = t + ${SM_BLOCK}u) {
${block(true)}
  }
  for (; t + ${SM_BLOCK}u <= hi; t = t + ${SM_BLOCK}u) {
${block(false)}
  }
  for (; t < tend; t = t + ${SM_BLOCK}u) {
${block(true)}
  }
  let ms = ol_final(m4, s4);
  let m = ms.x;
  let s = ms.y;`;
};
const STATS = statsOf((t) => `ldt_x(${t})`);
/**
 * After the normaliser: y = exp(z - mv) * inv. m == -inf means every z is -inf and s == 0, so inv = 0
 * and mv = 0 give exp(-inf) * 0 = 0 (the spec's all -inf row); otherwise s >= 1 and y = exp(z - m) / s.
 */
const SOFTMAX_NORM = `  let inv = select(1.0 / s, 0.0, s == 0.0);
  let mv = vec4<f32>(select(m, 0.0, m == -inf_f32()));`;

type SoftmaxSpec = Extract<KernelSpec, { kind: 'softmax' }>;
export function softmaxTexPlan(spec: SoftmaxSpec, o: TexOptions): KernelPlan | null {
  const k: RowKernel = spec.log
    ? {
        key: 'softmax:log', texNames: ['x'], extra: [], stats: STATS, saved: ['m', 's'],
        rowPost: '  let ls = log(s);', value: 'select((ldt_x(t) - vec4<f32>(m)) - vec4<f32>(ls), ninf4(), m == -inf_f32())',
      }
    : {
        key: 'softmax:lin', texNames: ['x'], extra: [], stats: STATS, saved: ['m', 's'],
        rowPost: SOFTMAX_NORM, value: 'exp(ldt_x(t) - mv) * inv',
      };
  return rowKernelPlan(k, spec.rows, spec.len, [inp(0)], [], out(0), o);
}

type SoftmaxBackwardSpec = Extract<KernelSpec, { kind: 'softmaxBackward' }>;
export function softmaxBackwardTexPlan(spec: SoftmaxBackwardSpec, o: TexOptions): KernelPlan | null {
  const k: RowKernel = spec.log
    ? {
        key: 'softmaxBackward:log', texNames: ['y', 'dy'], extra: [], saved: ['s'],
        stats: `  var a4 = vec4<f32>(0.0);
  ${TEXEL_LOOP('    a4 = a4 + select(vec4<f32>(0.0), ldt_dy(t), ok);')}
  let s = hsum(a4);`,
        pre: '    let yv = ldt_y(t);', value: 'select(ldt_dy(t) - exp(yv) * s, vec4<f32>(0.0), yv == ninf4())',
      }
    : {
        key: 'softmaxBackward:lin', texNames: ['y', 'dy'], extra: [], saved: ['s'], layout: scaledRowLayout,
        stats: `  var a4 = vec4<f32>(0.0);
  ${TEXEL_LOOP('    a4 = a4 + select(vec4<f32>(0.0), ldt_dy(t) * ldt_y(t), ok);')}
  let s = hsum(a4);`,
        value: 'u.scale * (ldt_y(t) * (ldt_dy(t) - vec4<f32>(s)))',
      };
  const scale = softmaxGradScale(spec);
  return rowKernelPlan(k, spec.rows, spec.len, [inp(0), inp(1)], [], out(0), o, spec.log ? {} : { scale, ...NO_MASK });
}

type MaskedSoftmaxSpec = Extract<KernelSpec, { kind: 'maskedSoftmax' }>;
/**
 * softmax(x * scale + mask): the softmax kernels with z(t) = x texel t * scale + the mask's 4 elements
 * of the same columns (read through a texture of the [mrows, len] mask at any alignment, ld4).
 */
export function maskedSoftmaxTexPlan(spec: MaskedSoftmaxSpec, o: TexOptions): KernelPlan | null {
  const { masked, rows, len } = spec;
  const z = (t: string) => (masked ? `zt(${t}, base, mb)` : `(ldt_x(${t}) * u.scale)`);
  const k: RowKernel = {
    key: `maskedSoftmax:${masked ? 'm' : 'n'}`, texNames: masked ? ['x', 'm'] : ['x'], texShifts: ['sx', 'sm'], extra: [], layout: scaledRowLayout,
    // Column c = 4t - base of x's row is element mb + c of the mask (lanes outside the row are masked).
    helpers: masked ? 'fn zt(t: u32, base: u32, mb: u32) -> vec4<f32> { return ldt_x(t) * u.scale + ld4_m(mb + 4u * t - base); }\n' : '',
    rowPre: masked ? `  let mb = (${MASK_ROW}) * u.len;` : '',
    stats: statsOf(z), saved: ['m', 's'],
    rowPost: SOFTMAX_NORM,
    value: `exp(${z('t')} - mv) * inv`,
  };
  const [, d1, d2] = spec.mdims;
  const [s0, s1, s2] = spec.mstrides;
  const maskRows = (rows / (d1 * d2) - 1) * s0 + (d1 - 1) * s1 + (d2 - 1) * s2 + 1;
  return rowKernelPlan(k, rows, len, masked ? [inp(0), inp(1)] : [inp(0)], [], out(0), o,
    { scale: spec.scale, d1, d2, s0, s1, s2, sm: 0 }, masked ? [rows * len, maskRows * len] : []);
}

// ---- cross-entropy ---------------------------------------------------------------------------

type CrossEntropySpec = Extract<KernelSpec, { kind: 'crossEntropy' }>;
export function crossEntropyTexPlan(spec: CrossEntropySpec, o: TexOptions): KernelPlan | null {
  const n = spec.rows * spec.classes;
  const textures = textureSteps([{ from: inp(0), elements: n }], o.maxTexDim);
  if (!textures) return null;
  const src = source(`crossEntropy:${o.tex}`, () => ({
    wgsl: helpers(o.tex) + texInput(0, 'x', 'sx', o.tex) + storage(1, 'labels', 'i32', 'read') + storage(2, 'loss', 'f32', 'write') +
      rowLayout.wgsl(3) + entry(SERIAL_WG, `${ROW_HEAD}
  let label = labels[row];
  if (label == u.ignore) { loss[row] = 0.0; return; }
${STATS}
  if (label < 0 || label >= i32(u.len)) { loss[row] = nan_f32(); }
  else { loss[row] = (m - ld1_x(base + u32(label))) + log(s); }`),
    bindings: [o.tex, 'read', 'write'], uniform: rowLayout,
  }));
  const { rows, classes: len } = spec;
  const uniforms = { rows, len, nt: rowTexels(rows, len), sx: shiftOf(textures[0]!), sg: 0, nc: 0, eps: 0, ignore: spec.ignoreIndex };
  return { temps: [], textures, warm: [src], steps: [{ source: src, bind: [tex(0), inp(1), out(0)], uniforms, workgroups: ceilDiv(rows, SERIAL_WG) }] };
}

type CrossEntropyBackwardSpec = Extract<KernelSpec, { kind: 'crossEntropyBackward' }>;
export function crossEntropyBackwardTexPlan(spec: CrossEntropyBackwardSpec, o: TexOptions): KernelPlan | null {
  const k: RowKernel = {
    key: 'crossEntropyBackward', texNames: ['x'], extra: [['labels', 'i32'], ['dloss', 'f32']], stats: STATS, saved: ['m', 's'],
    rowPre: `  let label = labels[row];
  let g = dloss[row];`,
    rowPost: '  let inv = 1.0 / s;',
    pre: `    let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<i32>(vec4<u32>(4u * t) + IDX4 - vec4<u32>(base)) == vec4<i32>(label));`,
    value: 'select((exp(ldt_x(t) - vec4<f32>(m)) * inv - onehot) * g, vec4<f32>(0.0), label == u.ignore)',
  };
  return rowKernelPlan(k, spec.rows, spec.classes, [inp(0)], [inp(1), inp(2)], out(0), o, { ignore: spec.ignoreIndex });
}

// ---- reduce ----------------------------------------------------------------------------------

const redLayout = new UniformLayout([['outer', 'u32'], ['len', 'u32'], ['inner', 'u32'], ['scale', 'f32'], ['sx', 'u32'], ['nt', 'u32']]);

type ReduceSpec = Extract<KernelSpec, { kind: 'reduce' }>;
export function reduceTexPlan(spec: ReduceSpec, o: TexOptions): KernelPlan | null {
  const { op, outer, len, inner } = spec;
  if (op !== 'sum' && op !== 'max') throw new Error(`reduce: unknown op ${op}`);
  const isSum = op === 'sum';
  const id4 = isSum ? 'vec4<f32>(0.0)' : 'ninf4()';
  // acc = acc (+ or NaN-propagating max) v, with v a name.
  const comb = (v: string) => (isSum ? `acc + ${v}` : maxNan4('acc', v));
  const fin = isSum ? 'hsum(acc) * u.scale' : maxNan(maxNan('acc.x', 'acc.y'), maxNan('acc.z', 'acc.w'));
  const textures = textureSteps([{ from: inp(0), elements: outer * len * inner }], o.maxTexDim);
  if (!textures) return null;
  const uniforms = { outer, len, inner, scale: spec.scale, sx: shiftOf(textures[0]!), nt: rowTexels(outer, len) };
  const rowsSrc = source(`reduce:${op}:rows:${o.tex}`, () => ({
    wgsl: helpers(o.tex) + texInput(0, 'x', 'sx', o.tex) + storage(1, 'y', 'f32', 'write') + redLayout.wgsl(2) + entry(SERIAL_WG, `  let row = gid;
  if (row >= u.outer) { return; }
  let base = row * u.len;
  let end = base + u.len;
${ROW_SPAN}
  var acc = ${id4};
  ${TEXEL_LOOP(`    let v = select(${id4}, ldt_x(t), ok);\n    acc = ${comb('v')};`)}
  y[row] = ${fin};`),
    bindings: [o.tex, 'write'], uniform: redLayout,
  }));
  // cols: one invocation per (o, 4 consecutive i), looping over j in order; per-lane results.
  const colsSrc = source(`reduce:${op}:cols:${o.tex}`, () => ({
    wgsl: helpers(o.tex) + texInput(0, 'x', 'sx', o.tex) + storage(1, 'y', 'f32', 'write') + redLayout.wgsl(2) + entry(SERIAL_WG, `  let i4 = (u.inner + 3u) >> 2u;
  if (gid >= u.outer * i4) { return; }
  let o = gid / i4;
  let i = 4u * (gid % i4);
  let ok = (vec4<u32>(i) + IDX4) < vec4<u32>(u.inner);
  var p = o * u.len * u.inner + i;
  var acc = ${id4};
  for (var j = 0u; j < u.len; j = j + 1u) { let v = select(${id4}, ld4_x(p), ok); acc = ${comb('v')}; p = p + u.inner; }
  ${isSum ? 'acc = acc * u.scale;' : ''}
  let q = o * u.inner + i;
  if (ok.x) { y[q] = acc.x; }
  if (ok.y) { y[q + 1u] = acc.y; }
  if (ok.z) { y[q + 2u] = acc.z; }
  if (ok.w) { y[q + 3u] = acc.w; }`),
    bindings: [o.tex, 'write'], uniform: redLayout,
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
