// Low-level helpers for op implementations: run one KernelSpec on the inputs' backend and
// wrap the outputs as fresh tensors. No autodiff here; ops in the table build on these.

import type { DType, KernelSpec } from '../backend/spec.js';
import { contiguousStrides, sizeOf, type Shape } from '../shape.js';
import { empty, Tensor } from '../tensor.js';

/** Runs `spec` with `inputs`, allocating one output per entry of `outs`. */
export function runKernel(spec: KernelSpec, inputs: Tensor[], outs: { shape: Shape; dtype: DType }[]): Tensor[] {
  const backend = inputs[0]?.backend;
  if (!backend) throw new Error(`${spec.kind}: kernel needs at least one input`);
  const outputs = outs.map((o) => empty(o.shape, o.dtype, backend));
  backend.run(spec, inputs.map((t) => t.storage), outputs.map((t) => t.storage));
  return outputs;
}

/** Single-output convenience form of runKernel. */
export function runKernel1(spec: KernelSpec, inputs: Tensor[], shape: Shape, dtype: DType = 'f32'): Tensor {
  return runKernel(spec, inputs, [{ shape, dtype }])[0];
}

/** A tensor of `like`'s shape (or `shape`) filled with `value`. */
export function fillLike(like: Tensor, value: number, shape: Shape = like.shape, dtype: DType = 'f32'): Tensor {
  const out = empty(shape, dtype, like.backend);
  like.backend.run({ kind: 'fill', dtype, size: sizeOf(shape), value }, [], [out.storage]);
  return out;
}

/** Elementwise a + b of equal shapes, unrecorded (gradient accumulation). */
export function addRaw(a: Tensor, b: Tensor): Tensor {
  const strides = contiguousStrides(a.shape);
  return runKernel1({ kind: 'binary', op: 'add', outShape: [...a.shape], aStrides: strides, bStrides: strides }, [a, b], a.shape);
}

/** x * scale + shift, unrecorded. */
export function affineRaw(x: Tensor, scale: number, shift = 0): Tensor {
  return runKernel1({ kind: 'affine', size: x.size, scale, shift }, [x], x.shape);
}

/** The tensors' elements one after another in one 1-D tensor (WebGPU: buffer copies, no dispatch), unrecorded. */
export function packRaw(ts: Tensor[]): Tensor {
  const dtype = ts[0]?.dtype;
  if (!dtype || ts.some((t) => t.dtype !== dtype || t.backend !== ts[0]!.backend)) throw new Error('pack: needs at least one tensor, all of one dtype and backend');
  const total = ts.reduce((a, t) => a + t.size, 0);
  return runKernel1({ kind: 'pack', sizes: ts.map((t) => t.size) }, ts, [total], dtype);
}

/** Splits the 1-D tensor `flat` into tensors of `shapes` (packRaw's reverse), unrecorded. */
export function unpackRaw(flat: Tensor, shapes: Shape[]): Tensor[] {
  const sizes = shapes.map(sizeOf);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (flat.rank !== 1 || flat.size !== total) throw new Error(`unpack: a 1-D tensor of ${total} elements is split into ${shapes.length} tensors, got shape [${flat.shape.join(', ')}]`);
  return runKernel({ kind: 'unpack', sizes }, [flat], shapes.map((shape) => ({ shape, dtype: flat.dtype })));
}
