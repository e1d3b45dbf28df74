// Strided copy (permute, slice, expand, concat parts), and pack/unpack (several tensors into one and
// back, by buffer copies). Strided copy: for every index tuple t of `shape`,
//   out[outOffset + sum(t * outStrides)] = x[inOffset + sum(t * inStrides)].
// One invocation per run of STRIDED_RUN elements of the innermost dimension (common.ts), rank <= MAX_DIMS
// after coalescing.
// Elements are moved as u32 bits, so one pipeline serves f32 and i32. Strides may be negative.

import { MAX_DIMS, type KernelSpec } from '../engine/backend/spec.js';
import {
  EW_WG, UniformLayout, ceilDiv, coalesce, entry, forRun, inp, linearTextureShape, out, packCopies, runCounts, source, storage, stridedRuns, tex, texelAt,
  withAlternates, type KernelPlan,
} from './common.js';

const layout = new UniformLayout([
  ['shape', 'u32x8'], ['st_in', 'i32x8'], ['st_out', 'i32x8'], ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32'], ['off_in', 'i32'], ['off_out', 'i32'], ['sh', 'u32'],
]);

const copySource = source('copy', () => ({
  wgsl: storage(0, 'x', 'u32', 'read') + storage(1, 'y', 'u32', 'write') + layout.wgsl(2) +
    entry(EW_WG, `${stridedRuns(['in', 'out'], { in: 'u.off_in', out: 'u.off_out' })}
${forRun((j) => `    y[o_out + ${j}i * s0_out] = x[o_in + ${j}i * s0_in];`)}`),
  bindings: ['read', 'write'], uniform: layout,
}));
/**
 * The image variant (f32 only): x read as a read-only storage texture (texel e >> 2, component e & 3),
 * the bits stored unchanged. On llvmpipe a storage load is a per-lane loop (~30 ns a vec4), an image
 * fetch ~1 ns.
 */
const copyImageSource = source('copy:image', () => ({
  wgsl: 'requires readonly_and_readwrite_storage_textures;\n@group(0) @binding(0) var T_x: texture_storage_2d<rgba32float, read>;\n' +
    storage(1, 'y', 'u32', 'write') + layout.wgsl(2) + `fn ld1(e: i32) -> u32 {
  return bitcast<u32>(${texelAt('T_x', 'u32(e) >> 2u', 'u.sh')}[u32(e) & 3u]);
}
` + entry(EW_WG, `${stridedRuns(['in', 'out'], { in: 'u.off_in', out: 'u.off_out' })}
${forRun((j) => `    y[o_out + ${j}i * s0_out] = ld1(o_in + ${j}i * s0_in);`)}`),
  bindings: ['image', 'write'], uniform: layout,
}));

/**
 * The same two kernels moving groups of 4 elements (vec4 loads and stores: a quarter of each), for
 * copies whose innermost dimension is contiguous on both sides (permutes of the outer axes, row
 * slices, concat parts; see byFours). llvmpipe: permuting [32, 128, 4, 64] to [32, 4, 128, 64]
 * took 5.7 ms one element at a time.
 */
const copy4Source = source('copy:4', () => ({
  wgsl: storage(0, 'x', 'vec4<u32>', 'read') + storage(1, 'y', 'vec4<u32>', 'write') + layout.wgsl(2) +
    entry(EW_WG, `${stridedRuns(['in', 'out'], { in: 'u.off_in', out: 'u.off_out' })}
${forRun((j) => `    y[o_out + ${j}i] = x[o_in + ${j}i];`)}`),
  bindings: ['read', 'write'], uniform: layout,
}));
const copy4ImageSource = source('copy:4:image', () => ({
  wgsl: 'requires readonly_and_readwrite_storage_textures;\n@group(0) @binding(0) var T_x: texture_storage_2d<rgba32float, read>;\n' +
    storage(1, 'y', 'vec4<u32>', 'write') + layout.wgsl(2) + `fn ld4(t: i32) -> vec4<u32> {
  return bitcast<vec4<u32>>(${texelAt('T_x', 'u32(t)', 'u.sh')});
}
` + entry(EW_WG, `${stridedRuns(['in', 'out'], { in: 'u.off_in', out: 'u.off_out' })}
${forRun((j) => `    y[o_out + ${j}i] = ld4(o_in + ${j}i);`)}`),
  bindings: ['image', 'write'], uniform: layout,
}));

type CopySpec = Extract<KernelSpec, { kind: 'copy' }>;
type Coalesced = { shape: number[]; strides: number[][] };

/**
 * The coalesced copy as one over groups of 4 elements (shape, strides and offsets divided by 4), or
 * null unless the innermost dimension has stride 1 on both sides and a length divisible by 4, and
 * every other stride and both offsets are multiples of 4 (so every group is 4 aligned elements).
 */
function byFours(c: Coalesced, inOffset: number, outOffset: number): { c: Coalesced; inOffset: number; outOffset: number } | null {
  const last = c.shape.length - 1;
  const aligned = (n: number) => n % 4 === 0;
  if (c.strides.some((s) => s[last] !== 1) || !aligned(c.shape[last]!) || !aligned(inOffset) || !aligned(outOffset)) return null;
  if (c.strides.some((s) => s.slice(0, last).some((x) => !aligned(x)))) return null;
  return {
    c: { shape: c.shape.map((n, d) => (d === last ? n / 4 : n)), strides: c.strides.map((s) => s.map((x, d) => (d === last ? 1 : x / 4))) },
    inOffset: inOffset / 4, outOffset: outOffset / 4,
  };
}

/** With `image` (software adapters) f32 copies read x through a texture of its elements up to the last one read. */
export function copyKernel(spec: CopySpec, image?: { maxTexDim: number }): KernelPlan {
  if (spec.shape.length > MAX_DIMS) throw new Error(`copy: rank ${spec.shape.length} exceeds MAX_DIMS=${MAX_DIMS}`);
  if (spec.inStrides.length !== spec.shape.length || spec.outStrides.length !== spec.shape.length) {
    throw new Error('copy: strides must have the rank of shape');
  }
  const coalesced = coalesce(spec.shape, [spec.inStrides, spec.outStrides]);
  const fours = byFours(coalesced, spec.inOffset, spec.outOffset);
  const c = fours?.c ?? coalesced;
  const { runs, total } = runCounts(c.shape);
  const uniforms = {
    shape: c.shape, st_in: c.strides[0]!, st_out: c.strides[1]!, total, rank: c.shape.length, runs,
    off_in: fours?.inOffset ?? spec.inOffset, off_out: fours?.outOffset ?? spec.outOffset, sh: 0,
  };
  // The last element read (strides may be negative: the offset then points past the lowest index).
  const lastIn = spec.inOffset + spec.shape.reduce((a, d, i) => a + Math.max(0, (d - 1) * spec.inStrides[i]!), 0);
  // The texture holds elements 0 .. lastIn: worth its copy when the copy reads at least a quarter of them
  // (llvmpipe, every k-th row of [32, 512, 768]: k = 4 image 15.7 vs storage 18.0 ms, k = 8 11.4 vs 9.1,
  // k = 64 6.9 vs 1.4; a [CLS] slice would otherwise copy the whole tensor).
  const elements = spec.shape.reduce((a, d) => a * d, 1);
  const worth = image && spec.dtype === 'f32' && total > 0 && lastIn + 1 <= 4 * elements;
  const shape = worth ? linearTextureShape(ceilDiv(lastIn + 1, 4), image.maxTexDim) : null;
  const all = image ? [copySource, copyImageSource, copy4Source, copy4ImageSource] : [copySource, copy4Source];
  if (shape) {
    return withAlternates({
      temps: [],
      textures: [{ from: inp(0), texels: ceilDiv(lastIn + 1, 4), width: shape.width, height: shape.height, beforeStep: 0 }],
      steps: [{
        source: fours ? copy4ImageSource : copyImageSource, bind: [tex(0), out(0)], uniforms: { ...uniforms, sh: Math.log2(shape.width) },
        workgroups: ceilDiv(total, EW_WG),
      }],
    }, all);
  }
  return withAlternates({ temps: [], steps: [{ source: fours ? copy4Source : copySource, bind: [inp(0), out(0)], uniforms, workgroups: ceilDiv(total, EW_WG) }] }, all);
}

type PackSpec = Extract<KernelSpec, { kind: 'pack' | 'unpack' }>;
/** pack / unpack: buffer copies only (no dispatch), tensor i at word offset sum(sizes[0..i)) of the packed side. */
export function packKernel(spec: PackSpec): KernelPlan {
  const copies = spec.kind === 'pack' ? packCopies(spec.sizes, inp, out(0), 'pack', 0) : packCopies(spec.sizes, out, inp(0), 'unpack', 0);
  return { temps: [], steps: [], copies };
}
