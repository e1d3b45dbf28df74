// Layout ops: reshape (a view, no copy), permute, slice, concat, expand. All but reshape are
// one strided 'copy' kernel each; their gradients are the inverse layout moves.

import { contiguousStrides, broadcastStrides, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { fillLike, runKernel1 } from './kernel.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

/** Writes `src` into the box of `dst` that starts at `starts` (dst is modified in place). */
export function writeBox(dst: Tensor, src: Tensor, starts: number[]): void {
  const dstStrides = contiguousStrides(dst.shape);
  const outOffset = starts.reduce((acc, s, i) => acc + s * dstStrides[i], 0);
  if (src.size === 0) return;
  dst.backend.run(
    { kind: 'copy', dtype: src.dtype, shape: [...src.shape], inStrides: contiguousStrides(src.shape), inOffset: 0, outStrides: dstStrides, outOffset },
    [src.storage],
    [dst.storage],
  );
}

/** The box of `x` from starts (inclusive) to ends (exclusive), copied out. */
function readBox(x: Tensor, starts: number[], ends: number[]): Tensor {
  const shape = ends.map((e, i) => e - starts[i]);
  const strides = contiguousStrides(x.shape);
  const inOffset = starts.reduce((acc, s, i) => acc + s * strides[i], 0);
  return runKernel1(
    { kind: 'copy', dtype: x.dtype, shape, inStrides: strides, inOffset, outStrides: contiguousStrides(shape), outOffset: 0 },
    [x],
    shape,
    x.dtype,
  );
}

export const layoutOps: {
  reshape: OpDef<OpAttrs['reshape']>;
  permute: OpDef<OpAttrs['permute']>;
  slice: OpDef<OpAttrs['slice']>;
  concat: OpDef<OpAttrs['concat']>;
  expand: OpDef<OpAttrs['expand']>;
} = {
  reshape: {
    forward: ([x], { shape }) => ({ out: x.view(shape) }),
    backward: (g, { inputs: [x] }) => [F.reshape(g, [...x.shape])],
  },
  permute: {
    forward: ([x], { axes }) => {
      const strides = contiguousStrides(x.shape);
      const shape = axes.map((a) => x.shape[a]);
      const spec = { kind: 'copy' as const, dtype: x.dtype, shape, inStrides: axes.map((a) => strides[a]), inOffset: 0, outStrides: contiguousStrides(shape), outOffset: 0 };
      return { out: runKernel1(spec, [x], shape, x.dtype) };
    },
    backward: (g, { attrs: { axes } }) => {
      const inverse = new Array<number>(axes.length);
      axes.forEach((a, i) => (inverse[a] = i));
      return [F.permute(g, inverse)];
    },
  },
  slice: {
    forward: ([x], { starts, ends }) => ({ out: readBox(x, starts, ends) }),
    backward: (g, { inputs: [x], attrs: { starts } }) => {
      const dx = fillLike(x, 0);
      writeBox(dx, g, starts);
      return [dx];
    },
  },
  concat: {
    forward: (xs, { axis }) => {
      const shape = [...xs[0].shape];
      shape[axis] = xs.reduce((acc, t) => acc + t.shape[axis], 0);
      const out = fillLike(xs[0], 0, shape, xs[0].dtype);
      let at = 0;
      for (const t of xs) {
        const starts = shape.map((_, i) => (i === axis ? at : 0));
        writeBox(out, t, starts);
        at += t.shape[axis];
      }
      return { out };
    },
    backward: (g, { inputs, attrs: { axis } }) => {
      let at = 0;
      return inputs.map((t) => {
        const starts = g.shape.map((_, i) => (i === axis ? at : 0));
        const ends = g.shape.map((d, i) => (i === axis ? at + t.shape[axis] : d));
        at += t.shape[axis];
        return t.requiresGrad ? readBox(g, starts, ends) : null;
      });
    },
  },
  expand: {
    forward: ([x], { shape }) => {
      const spec = { kind: 'copy' as const, dtype: x.dtype, shape, inStrides: broadcastStrides(x.shape, shape), inOffset: 0, outStrides: contiguousStrides(shape), outOffset: 0 };
      return { out: sizeOf(shape) === 0 ? fillLike(x, 0, shape, x.dtype) : runKernel1(spec, [x], shape, x.dtype) };
    },
    backward: (g, { inputs: [x] }) => [F.sumToShape(g, x.shape)],
  },
};
