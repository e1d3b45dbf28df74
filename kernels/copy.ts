// Strided copy (permute, slice, expand, concat parts), and pack/unpack (several tensors into one and
// back, by buffer copies). Strided copy: for every index tuple t of `shape`,
//   out[outOffset + sum(t * outStrides)] = x[inOffset + sum(t * inStrides)].
// One invocation per run of STRIDED_RUN elements of the innermost dimension (common.ts), rank <= MAX_DIMS
// after coalescing.
// Elements are moved as u32 bits, so one pipeline serves f32 and i32. Strides may be negative.

import { MAX_DIMS, type KernelSpec } from '../engine/backend/spec.js';
import { EW_WG, UniformLayout, ceilDiv, coalesce, entry, forRun, inp, out, runCounts, source, storage, stridedRuns, type CopyStep, type KernelPlan } from './common.js';

const layout = new UniformLayout([
  ['shape', 'u32x8'], ['st_in', 'i32x8'], ['st_out', 'i32x8'], ['total', 'u32'], ['rank', 'u32'], ['runs', 'u32'], ['off_in', 'i32'], ['off_out', 'i32'],
]);

type CopySpec = Extract<KernelSpec, { kind: 'copy' }>;
export function copyKernel(spec: CopySpec): KernelPlan {
  if (spec.shape.length > MAX_DIMS) throw new Error(`copy: rank ${spec.shape.length} exceeds MAX_DIMS=${MAX_DIMS}`);
  if (spec.inStrides.length !== spec.shape.length || spec.outStrides.length !== spec.shape.length) {
    throw new Error('copy: strides must have the rank of shape');
  }
  const src = source('copy', () => ({
    wgsl: storage(0, 'x', 'u32', 'read') + storage(1, 'y', 'u32', 'write') + layout.wgsl(2) +
      entry(EW_WG, `${stridedRuns(['in', 'out'], { in: 'u.off_in', out: 'u.off_out' })}
${forRun((j) => `    y[o_out + ${j}i * s0_out] = x[o_in + ${j}i * s0_in];`)}`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  const c = coalesce(spec.shape, [spec.inStrides, spec.outStrides]);
  const { runs, total } = runCounts(c.shape);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), out(0)],
      uniforms: { shape: c.shape, st_in: c.strides[0]!, st_out: c.strides[1]!, total, rank: c.shape.length, runs, off_in: spec.inOffset, off_out: spec.outOffset },
      workgroups: ceilDiv(total, EW_WG),
    }],
  };
}

type PackSpec = Extract<KernelSpec, { kind: 'pack' | 'unpack' }>;
/** pack / unpack: buffer copies only (no dispatch), input i at word offset sum(sizes[0..i)) of the packed side. */
export function packKernel(spec: PackSpec): KernelPlan {
  const copies: CopyStep[] = [];
  let at = 0;
  spec.sizes.forEach((words, i) => {
    copies.push(spec.kind === 'pack'
      ? { from: inp(i), fromOffset: 0, to: out(0), toOffset: at, words, beforeStep: 0 }
      : { from: inp(0), fromOffset: at, to: out(i), toOffset: 0, words, beforeStep: 0 });
    at += words;
  });
  return { temps: [], steps: [], copies };
}
