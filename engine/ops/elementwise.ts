// Elementwise ops: unary maps, broadcasting binary ops, affine (scalar arithmetic), where, cast.
// The gradient rules are exhaustive records over UnaryOp/BinaryOp: a new kernel op without a
// rule does not compile.

import type { BinaryOp, UnaryOp } from '../backend/spec.js';
import type { Tensor } from '../tensor.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { runKernel1 } from './kernel.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

/** d out / d x times g, given input x, output y and the output gradient g. null: no gradient. */
const unaryGrad: Record<UnaryOp, (x: Tensor, y: Tensor, g: Tensor) => Tensor | null> = {
  neg: (_x, _y, g) => F.neg(g),
  exp: (_x, y, g) => F.mul(g, y),
  log: (x, _y, g) => F.div(g, x),
  sqrt: (_x, y, g) => F.div(F.mul(g, 0.5), y),
  rsqrt: (_x, y, g) => F.mul(F.mul(g, -0.5), F.mul(y, F.mul(y, y))),
  tanh: (_x, y, g) => F.mul(g, F.affine(F.mul(y, y), -1, 1)),
  erf: (x, _y, g) => F.mul(g, F.mul(F.exp(F.neg(F.mul(x, x))), 2 / Math.sqrt(Math.PI))),
  abs: (x, _y, g) => F.mul(g, F.sub(F.unary('step', x), F.unary('step', F.neg(x)))),
  recip: (_x, y, g) => F.neg(F.mul(g, F.mul(y, y))),
  sigmoid: (_x, y, g) => F.mul(g, F.mul(y, F.affine(y, -1, 1))),
  relu: (x, _y, g) => F.mul(g, F.unary('step', x)),
  // Piecewise constant: zero gradient almost everywhere.
  step: () => null,
  gelu: (x, _y, g) => F.geluBackward(g, x),
  // Second derivatives are not needed (backward runs unrecorded), so these carry none.
  geluGrad: () => null,
  geluTanh: (x, _y, g) => F.geluBackward(g, x, { tanh: true }),
  geluTanhGrad: () => null,
};

/** Gradients of a binary op for (a, b), before reduction to the input shapes. */
const binaryGrad: Record<BinaryOp, (a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | null, Tensor | null]> = {
  add: (_a, _b, _y, g) => [g, g],
  sub: (_a, _b, _y, g) => [g, F.neg(g)],
  mul: (a, b, _y, g) => [F.mul(g, b), F.mul(g, a)],
  div: (_a, b, y, g) => [F.div(g, b), F.neg(F.div(F.mul(g, y), b))],
  pow: (a, b, y, g) => [
    F.mul(g, F.mul(b, F.pow(a, F.affine(b, 1, -1)))),
    b.requiresGrad ? F.mul(g, F.mul(y, F.log(a))) : null,
  ],
  // Ties send the whole gradient to a (PyTorch splits it; documented difference).
  max: (a, b, _y, g) => [F.mul(g, F.ge(a, b)), F.mul(g, F.lt(a, b))],
  min: (a, b, _y, g) => [F.mul(g, F.le(a, b)), F.mul(g, F.gt(a, b))],
  eq: () => [null, null],
  ne: () => [null, null],
  lt: () => [null, null],
  le: () => [null, null],
  gt: () => [null, null],
  ge: () => [null, null],
  // Backward-only ops (second derivatives are not needed).
  geluBackward: () => [null, null],
  geluTanhBackward: () => [null, null],
};

export const elementwiseOps: {
  unary: OpDef<OpAttrs['unary']>;
  binary: OpDef<OpAttrs['binary']>;
  affine: OpDef<OpAttrs['affine']>;
  where: OpDef<OpAttrs['where']>;
  cast: OpDef<OpAttrs['cast']>;
} = {
  unary: {
    forward: ([x], { op }) => ({ out: runKernel1({ kind: 'unary', op, size: x.size }, [x], x.shape) }),
    backward: (g, { inputs: [x], output, attrs }) => [unaryGrad[attrs.op](x, output, g)],
  },
  binary: {
    forward: ([a, b], { op }) => {
      const shape = broadcastShapes(op, a.shape, b.shape);
      const spec = { kind: 'binary' as const, op, outShape: shape, aStrides: broadcastStrides(a.shape, shape), bStrides: broadcastStrides(b.shape, shape) };
      return { out: runKernel1(spec, [a, b], shape) };
    },
    backward: (g, { inputs: [a, b], output, attrs }) => {
      const [ga, gb] = binaryGrad[attrs.op](a, b, output, g);
      return [ga && F.sumToShape(ga, a.shape), gb && F.sumToShape(gb, b.shape)];
    },
  },
  affine: {
    forward: ([x], { scale, shift }) => ({ out: runKernel1({ kind: 'affine', size: x.size, scale, shift }, [x], x.shape) }),
    backward: (g, { attrs }) => [F.mul(g, attrs.scale)],
  },
  where: {
    forward: ([c, a, b]) => {
      const shape = broadcastShapes('where', broadcastShapes('where', c.shape, a.shape), b.shape);
      const spec = {
        kind: 'where' as const, outShape: shape,
        condStrides: broadcastStrides(c.shape, shape), aStrides: broadcastStrides(a.shape, shape), bStrides: broadcastStrides(b.shape, shape),
      };
      return { out: runKernel1(spec, [c, a, b], shape) };
    },
    backward: (g, { inputs: [c, a, b] }) => {
      const zero = F.zerosLike(g);
      return [null, F.sumToShape(F.where(c, g, zero), a.shape), F.sumToShape(F.where(c, zero, g), b.shape)];
    },
  },
  cast: {
    forward: ([x], { to }) => ({ out: runKernel1({ kind: 'cast', from: x.dtype, to, size: x.size }, [x], x.shape, to) }),
    backward: () => [null],
  },
};
