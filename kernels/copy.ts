// Strided copy (permute, slice, expand, concat parts): for every index tuple t of `shape`,
//   out[outOffset + sum(t * outStrides)] = x[inOffset + sum(t * inStrides)].
// One invocation per element of `shape`, O(n * rank) with rank <= MAX_DIMS after coalescing.
// Elements are moved as u32 bits, so one pipeline serves f32 and i32. Strides may be negative.

import { MAX_DIMS, type KernelSpec } from '../engine/backend/spec.js';
import { EW_WG, UniformLayout, ceilDiv, coalesce, dim, entry, inp, out, product, source, storage, type KernelPlan } from './common.js';

const layout = new UniformLayout([
  ['shape', 'u32x8'], ['st_in', 'i32x8'], ['st_out', 'i32x8'], ['size', 'u32'], ['rank', 'u32'], ['off_in', 'i32'], ['off_out', 'i32'],
]);

type CopySpec = Extract<KernelSpec, { kind: 'copy' }>;
export function copyKernel(spec: CopySpec): KernelPlan {
  if (spec.shape.length > MAX_DIMS) throw new Error(`copy: rank ${spec.shape.length} exceeds MAX_DIMS=${MAX_DIMS}`);
  if (spec.inStrides.length !== spec.shape.length || spec.outStrides.length !== spec.shape.length) {
    throw new Error('copy: strides must have the rank of shape');
  }
  const src = source('copy', () => ({
    wgsl: storage(0, 'x', 'u32', 'read') + storage(1, 'y', 'u32', 'write') + layout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.size) { return; }
  var oi = u.off_in;
  var oo = u.off_out;
  var rem = gid;
  for (var d = i32(u.rank) - 1; d >= 0; d = d - 1) {
    let n = ${dim('u.shape', 'u32(d)')};
    let c = i32(rem % n);
    rem = rem / n;
    oi = oi + c * ${dim('u.st_in', 'u32(d)')};
    oo = oo + c * ${dim('u.st_out', 'u32(d)')};
  }
  y[oo] = x[oi];`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  const size = product(spec.shape);
  const c = coalesce(spec.shape, [spec.inStrides, spec.outStrides]);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), out(0)],
      uniforms: { shape: c.shape, st_in: c.strides[0]!, st_out: c.strides[1]!, size, rank: c.shape.length, off_in: spec.inOffset, off_out: spec.outOffset },
      workgroups: ceilDiv(size, EW_WG),
    }],
  };
}
