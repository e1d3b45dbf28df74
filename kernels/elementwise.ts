// Elementwise kernels: one invocation per output element, EW_WG invocations per workgroup.
// fill, unary, affine, cast: O(n). binary, where: one invocation per run of STRIDED_RUN elements of the
// innermost dimension after coalescing (common.ts stridedRuns).

import type { BinaryOp, DType, KernelSpec, UnaryOp } from '../engine/backend/spec.js';
import {
  EW_WG, UniformLayout, WGSL_SPECIALS, ceilDiv, coalesce, entry, forRun, inp, isNan, maxNan, out, runCounts, source, storage, stridedRuns,
  withAlternates, type KernelPlan,
} from './common.js';
import { WGSL_MATH } from './math.js';
import { imageElementwisePlan, imageElementwiseSource } from './elementwise-image.js';
import { stridedImagePlan, stridedImageSource, type StridedImageOp } from './strided-image.js';

/** Set when the backend reads inputs as images where a kernel supports it (elementwise-image.ts). */
export interface ImageOption { maxTexDim: number }

const sizeLayout = new UniformLayout([['size', 'u32']]);

type FillSpec = Extract<KernelSpec, { kind: 'fill' }>;
const fillLayout = new UniformLayout([['size', 'u32'], ['bits', 'u32']]);
/** Fill kernels storing one u32 or (`vec4`: sizes a multiple of 4, `size` then counting vec4s) four per invocation. */
const fillSource = (vec4: boolean) => source(vec4 ? 'fill:vec4' : 'fill', () => ({
  wgsl: `@group(0) @binding(0) var<storage, read_write> y: array<${vec4 ? 'vec4<u32>' : 'u32'}>;\n` + fillLayout.wgsl(1) +
    entry(EW_WG, `  if (gid < u.size) { y[gid] = ${vec4 ? 'vec4<u32>(u.bits)' : 'u.bits'}; }`),
  bindings: ['write'], uniform: fillLayout,
}));
/**
 * out[i] = value (bit pattern of the dtype, so one pipeline serves f32 and i32). Sizes a multiple of 4
 * store vec4s: on llvmpipe a store is a per-lane loop, so 31 MB took 13.3 ms as u32 stores.
 */
export function fillKernel(spec: FillSpec): KernelPlan {
  const vec4 = spec.size % 4 === 0 && spec.size > 0;
  const size = vec4 ? spec.size / 4 : spec.size;
  return {
    temps: [],
    steps: [{ source: fillSource(vec4), bind: [out(0)], uniforms: { size, bits: valueBits(spec.dtype, spec.value) }, workgroups: ceilDiv(size, EW_WG) }],
    // The other width, so the pipelines do not depend on sizes.
    alternates: [fillSource(!vec4)],
  };
}

const scratch = new DataView(new ArrayBuffer(4));
export function valueBits(dtype: DType, value: number): number {
  if (dtype === 'f32') scratch.setFloat32(0, value, true);
  else scratch.setInt32(0, value | 0, true);
  return scratch.getUint32(0, true);
}

// NaN in, NaN out where the reference says so, on every driver (SwiftShader's exp(NaN) is inf, and its
// log ignores the sign and NaN bits and gives -88 for 0); relu and step of NaN are 0, as in the reference.
const UNARY: Record<UnaryOp, string> = {
  neg: '-v',
  exp: `select(exp(v), v, ${isNan('v')})`,
  log: `select(select(log(v), -inf_f32(), v == 0.0), nan_f32(), ${isNan('v')} || v < 0.0)`,
  sqrt: 'sqrt(v)',
  rsqrt: '1.0 / sqrt(v)',
  tanh: 'tanh_f(v)',
  erf: 'erf_f(v)',
  abs: 'abs(v)',
  recip: '1.0 / v',
  sigmoid: 'sigmoid_f(v)',
  relu: `select(0.0, v, !${isNan('v')} && v > 0.0)`,
  step: `select(0.0, 1.0, !${isNan('v')} && v > 0.0)`,
  gelu: 'gelu_f(v)',
  geluGrad: 'gelu_grad_f(v)',
  geluTanh: 'gelu_tanh_f(v)',
  geluTanhGrad: 'gelu_tanh_grad_f(v)',
};

type UnarySpec = Extract<KernelSpec, { kind: 'unary' }>;
export function unaryKernel(spec: UnarySpec, image?: ImageOption): KernelPlan {
  const expr = UNARY[spec.op];
  if (!expr) throw new Error(`unary: unknown op ${spec.op}`);
  if (image) return imageElementwisePlan({ key: `unary:${spec.op}`, inputs: ['v'], expr, prelude: WGSL_SPECIALS + WGSL_MATH }, spec.size, image.maxTexDim, () => unaryKernel(spec));
  const src = source(`unary:${spec.op}`, () => ({
    wgsl: WGSL_SPECIALS + WGSL_MATH + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + sizeLayout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.size) { return; }\n  let v = x[gid];\n  y[gid] = ${expr};`),
    bindings: ['read', 'write'], uniform: sizeLayout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { size: spec.size }, workgroups: ceilDiv(spec.size, EW_WG) }] };
}

type AffineSpec = Extract<KernelSpec, { kind: 'affine' }>;
/** With `image`: the image kernel (x * 0.5 over 7.8M elements 53 -> ~12 ms on llvmpipe, as for unary ops). */
export function affineKernel(spec: AffineSpec, image?: ImageOption): KernelPlan {
  if (image) {
    return imageElementwisePlan({ key: 'affine', inputs: ['v'], expr: 'v * u.scale + u.shift', uniforms: { scale: spec.scale, shift: spec.shift } }, spec.size, image.maxTexDim, () => affineKernel(spec));
  }
  const layout = new UniformLayout([['size', 'u32'], ['scale', 'f32'], ['shift', 'f32']]);
  const src = source('affine', () => ({
    wgsl: storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + layout.wgsl(2) +
      entry(EW_WG, `  if (gid < u.size) { y[gid] = x[gid] * u.scale + u.shift; }`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { size: spec.size, scale: spec.scale, shift: spec.shift }, workgroups: ceilDiv(spec.size, EW_WG) }],
  };
}

// NaN operands follow the reference on every driver (common.ts isNan): max/min give NaN, a comparison
// with a NaN is false except ne.
const ordered = `!${isNan('a')} && !${isNan('b')}`;
const BINARY: Record<BinaryOp, string> = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b', pow: 'pow_f(a, b)', max: maxNan('a', 'b'), min: maxNan('a', 'b', 'min'),
  eq: `select(0.0, 1.0, ${ordered} && a == b)`, ne: `select(0.0, 1.0, !(${ordered}) || a != b)`, lt: `select(0.0, 1.0, ${ordered} && a < b)`,
  le: `select(0.0, 1.0, ${ordered} && a <= b)`, gt: `select(0.0, 1.0, ${ordered} && a > b)`, ge: `select(0.0, 1.0, ${ordered} && a >= b)`,
  geluBackward: 'a * gelu_grad_f(b)', geluTanhBackward: 'a * gelu_tanh_grad_f(b)',
};

type BinarySpec = Extract<KernelSpec, { kind: 'binary' }>;
export function binaryKernel(spec: BinarySpec, image?: ImageOption): KernelPlan {
  const expr = BINARY[spec.op];
  if (!expr) throw new Error(`binary: unknown op ${spec.op}`);
  if (image) {
    // Texel-wise when both operands are whole and contiguous (no broadcast), or when one of them is
    // a contiguous suffix repeated along the other ([R, P] + [P], e.g. position embeddings added to
    // every batch row): it is read cyclically. The other variants are listed as alternates, so the
    // pipelines do not depend on the shapes.
    // A one-element operand broadcast over a contiguous other (x * s, s a device scalar, as in gradient
    // clipping) is a one-texel image: 7.8M elements 66 -> 6.6 ms on llvmpipe (the storage fallback's loads).
    const flat = coalesce(spec.outShape, [spec.aStrides, spec.bStrides]);
    const base = { key: `binary:${spec.op}`, inputs: ['a', 'b'], expr, prelude: WGSL_SPECIALS + WGSL_MATH };
    const variants = {
      whole: base, a: { ...base, cyclic: 'a' }, b: { ...base, cyclic: 'b' }, sa: { ...base, scalar: 'a' }, sb: { ...base, scalar: 'b' },
    };
    const [sa, sb] = flat.strides as [number[], number[]];
    const isRow = (s: number[]) => s[0] === flat.shape[1] && s[1] === 1;
    const isRepeat = (s: number[]) => s[0] === 0 && s[1] === 1;
    const kind = flat.shape.length === 1
      ? (sa[0] === 1 && sb[0] === 1 ? 'whole' : sa[0] === 1 && sb[0] === 0 ? 'sb' : sa[0] === 0 && sb[0] === 1 ? 'sa' : null)
      : flat.shape.length === 2 ? (isRow(sa) && isRepeat(sb) ? 'b' : isRepeat(sa) && isRow(sb) ? 'a' : null) : null;
    const size = kind ? flat.shape.reduce((x, y) => x * y, 1) : -1;
    // Any other stride pattern (or a size the texel-wise kernels cannot take): both operands read
    // through images with strided indexing (strided-image.ts), else the storage kernel.
    const storage = binaryKernel(spec);
    let plan = imageElementwisePlan(variants[kind ?? 'whole'], size, image.maxTexDim, () => storage, kind === 'a' || kind === 'b' ? flat.shape[1]! : 0);
    const strided = { key: `binary:${spec.op}`, inputs: ['a', 'b'], expr, prelude: WGSL_SPECIALS + WGSL_MATH };
    if (plan.steps[0]!.source === storage.steps[0]!.source) plan = stridedImagePlan(strided, spec.outShape, [spec.aStrides, spec.bStrides], image.maxTexDim) ?? storage;
    return withAlternates(plan, [
      ...Object.values(variants).map((v) => imageElementwiseSource(v)),
      stridedImageSource(strided, true), stridedImageSource(strided, false), storage.steps[0]!.source,
    ]);
  }
  const layout = new UniformLayout([['shape', 'u32x8'], ['st_a', 'i32x8'], ['st_b', 'i32x8'], ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32']]);
  const src = source(`binary:${spec.op}`, () => ({
    wgsl: WGSL_SPECIALS + WGSL_MATH + storage(0, 'A', 'f32', 'read') + storage(1, 'B', 'f32', 'read') + storage(2, 'Y', 'f32', 'write') +
      layout.wgsl(3) +
      entry(EW_WG, `${stridedRuns(['a', 'b'])}
  let o_y = row * n0 + e0;
${forRun((j) => `    let a = A[o_a + ${j}i * s0_a];\n    let b = B[o_b + ${j}i * s0_b];\n    Y[o_y + ${j}u] = ${expr};`)}`),
    bindings: ['read', 'read', 'write'], uniform: layout,
  }));
  const c = coalesce(spec.outShape, [spec.aStrides, spec.bStrides]);
  const { runs, total } = runCounts(c.shape);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), out(0)],
      uniforms: { shape: c.shape, st_a: c.strides[0]!, st_b: c.strides[1]!, total, rank: c.shape.length, runs },
      workgroups: ceilDiv(total, EW_WG),
    }],
  };
}

type WhereSpec = Extract<KernelSpec, { kind: 'where' }>;
// The condition is tested on its bits (not ±0): WGSL lets a compiler assume no NaN, and SwiftShader's
// c != 0.0 is false for a NaN c, which the reference (and llvmpipe) count as true.
const WHERE: StridedImageOp = { key: 'where', inputs: ['c', 'a', 'b'], expr: 'select(b, a, (bitcast<u32>(c) & 0x7fffffffu) != 0u)' };
/**
 * a and b are moved as bits (u32), so `where` also works on i32 tensors. With `image` (software
 * adapters; the op takes f32 operands only) all three are read as images (strided-image.ts):
 * llvmpipe, [1024, 1024] 13.4 -> 3.0 ms against the storage kernel.
 */
export function whereKernel(spec: WhereSpec, image?: ImageOption): KernelPlan {
  if (!image) return whereStorageKernel(spec);
  const storage = whereStorageKernel(spec);
  const plan = stridedImagePlan(WHERE, spec.outShape, [spec.condStrides, spec.aStrides, spec.bStrides], image.maxTexDim) ?? storage;
  return withAlternates(plan, [stridedImageSource(WHERE, true), stridedImageSource(WHERE, false), storage.steps[0]!.source]);
}

function whereStorageKernel(spec: WhereSpec): KernelPlan {
  const layout = new UniformLayout([['shape', 'u32x8'], ['st_c', 'i32x8'], ['st_a', 'i32x8'], ['st_b', 'i32x8'], ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32']]);
  const src = source('where', () => ({
    wgsl: storage(0, 'C', 'f32', 'read') + storage(1, 'A', 'u32', 'read') + storage(2, 'B', 'u32', 'read') + storage(3, 'Y', 'u32', 'write') +
      layout.wgsl(4) +
      entry(EW_WG, `${stridedRuns(['c', 'a', 'b'])}
  let o_y = row * n0 + e0;
${forRun((j) => `    Y[o_y + ${j}u] = select(B[o_b + ${j}i * s0_b], A[o_a + ${j}i * s0_a], (bitcast<u32>(C[o_c + ${j}i * s0_c]) & 0x7fffffffu) != 0u);`)}`),
    bindings: ['read', 'read', 'read', 'write'], uniform: layout,
  }));
  const c = coalesce(spec.outShape, [spec.condStrides, spec.aStrides, spec.bStrides]);
  const { runs, total } = runCounts(c.shape);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), inp(2), out(0)],
      uniforms: { shape: c.shape, st_c: c.strides[0]!, st_a: c.strides[1]!, st_b: c.strides[2]!, total, rank: c.shape.length, runs },
      workgroups: ceilDiv(total, EW_WG),
    }],
  };
}

type CastSpec = Extract<KernelSpec, { kind: 'cast' }>;
/** f32 -> i32 truncates toward zero (WGSL i32() clamps out-of-range values); same-type casts copy bits. */
export function castKernel(spec: CastSpec): KernelPlan {
  const conv = spec.from === spec.to ? 'bits' : `${spec.from}->${spec.to}`;
  const tIn = spec.from === spec.to ? 'u32' : spec.from;
  const tOut = spec.from === spec.to ? 'u32' : spec.to;
  const src = source(`cast:${conv}`, () => ({
    wgsl: storage(0, 'x', tIn, 'read') + storage(1, 'y', tOut, 'write') + sizeLayout.wgsl(2) +
      entry(EW_WG, `  if (gid < u.size) { y[gid] = ${tOut}(x[gid]); }`),
    bindings: ['read', 'write'], uniform: sizeLayout,
  }));
  return { temps: [], steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { size: spec.size }, workgroups: ceilDiv(spec.size, EW_WG) }] };
}
