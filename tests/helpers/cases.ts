// Op cases shared by the gradient checks (reference backend, float64 finite differences) and
// the WebGPU-vs-reference comparisons. Each case draws its input shapes from a few random
// dimensions (1..70 in property tests) and builds the op under test from the public API.

import { F, type Tensor } from '../../engine/index.js';

export interface InputSpec {
  shape: number[];
  /** Value range for random data; default [-2, 2]. */
  range?: [number, number];
  /** Keep values at least this far from 0 (abs/relu kinks). */
  awayFromZero?: number;
  /** Integer input in [0, maxInt). */
  maxInt?: number;
  /** How integer input is stored: i32 ids/labels, or an f32 0/1 mask. */
  ints?: 'ids' | 'mask';
  /** Not differentiated (masks, ids). */
  constant?: boolean;
}

export interface OpCase {
  name: string;
  /** Input specs from dims d (each in 1..maxDim). */
  inputs: (d: number[]) => InputSpec[];
  run: (xs: Tensor[], d: number[]) => Tensor;
}

const U = (name: string, f: (x: Tensor) => Tensor, range?: [number, number], awayFromZero?: number): OpCase => ({
  name,
  inputs: (d) => [{ shape: [d[0], d[1]], range, awayFromZero }],
  run: ([x]) => f(x),
});

export const opCases: OpCase[] = [
  U('neg', F.neg),
  U('exp', F.exp),
  U('log', F.log, [0.2, 3]),
  U('sqrt', F.sqrt, [0.2, 3]),
  U('rsqrt', F.rsqrt, [0.2, 3]),
  U('tanh', F.tanh),
  U('erf', F.erf),
  U('abs', F.abs, [-2, 2], 0.05),
  U('sigmoid', F.sigmoid),
  U('relu', F.relu, [-2, 2], 0.05),
  U('gelu', F.gelu, [-4, 4]),
  U('geluTanh', F.geluTanh, [-4, 4]),
  U('affine', (x) => F.affine(x, -1.5, 0.25)),
  U('addScalar', (x) => F.add(x, 3)),
  U('rsubScalar', (x) => F.sub(1, x)),
  U('powScalar', (x) => F.pow(x, 3)),
  U('sqrtPow', (x) => F.pow(x, 0.5), [0.2, 3]),
  ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).map((op): OpCase => ({
    name: `${op}-broadcast`,
    // a: [d0, 1, d2], b: [d1, 1] -> [d0, d1, d2]
    inputs: (d) => [
      { shape: [d[0], 1, d[2]], range: op === 'div' ? [0.5, 2] : undefined },
      { shape: [d[1], 1], range: op === 'div' ? [0.5, 2] : undefined },
    ],
    run: ([a, b]) => F[op](a, b),
  })),
  {
    name: 'pow-tensor',
    inputs: (d) => [{ shape: [d[0], d[1]], range: [0.5, 2] }, { shape: [d[1]], range: [-1.5, 1.5] }],
    run: ([a, b]) => F.pow(a, b),
  },
  {
    name: 'where',
    inputs: (d) => [{ shape: [d[0], 1], maxInt: 2, ints: 'mask', constant: true }, { shape: [d[0], d[1]] }, { shape: [d[1]] }],
    run: ([c, a, b]) => F.where(c, a, b),
  },
  {
    name: 'maskedFill',
    inputs: (d) => [{ shape: [d[0], d[1]] }, { shape: [1, d[1]], maxInt: 2, ints: 'mask', constant: true }],
    run: ([x, m]) => F.maskedFill(x, m, -7.5),
  },
  { name: 'reshape', inputs: (d) => [{ shape: [d[0], d[1], 2] }], run: ([x], d) => F.reshape(x, [2, d[1], -1]) },
  { name: 'permute', inputs: (d) => [{ shape: [d[0], d[1], d[2]] }], run: ([x]) => F.permute(x, [2, 0, 1]) },
  { name: 'transpose', inputs: (d) => [{ shape: [d[0], d[1]] }], run: ([x]) => F.transpose(x) },
  {
    name: 'slice',
    inputs: (d) => [{ shape: [d[0], d[1] + 2] }],
    run: ([x], d) => F.slice(x, 1, 1, d[1] + 1),
  },
  {
    name: 'concat',
    inputs: (d) => [{ shape: [d[0], d[1]] }, { shape: [d[0], d[2]] }, { shape: [d[0], 1] }],
    run: (xs) => F.concat(xs, 1),
  },
  { name: 'expand', inputs: (d) => [{ shape: [d[0], 1] }], run: ([x], d) => F.expand(x, [d[2], d[0], d[1]]) },
  { name: 'sum-all', inputs: (d) => [{ shape: [d[0], d[1]] }], run: ([x]) => F.sum(x) },
  { name: 'sum-axis0-keepdim', inputs: (d) => [{ shape: [d[0], d[1], d[2]] }], run: ([x]) => F.sum(x, 0, true) },
  { name: 'sum-axes02', inputs: (d) => [{ shape: [d[0], d[1], d[2]] }], run: ([x]) => F.sum(x, [0, 2]) },
  { name: 'mean-axis1', inputs: (d) => [{ shape: [d[0], d[1], d[2]] }], run: ([x]) => F.mean(x, 1) },
  { name: 'max-axis-1', inputs: (d) => [{ shape: [d[0], d[1]] }], run: ([x]) => F.max(x, -1, true) },
  {
    name: 'matmul',
    inputs: (d) => [{ shape: [d[0], d[1]] }, { shape: [d[1], d[2]] }],
    run: ([a, b]) => F.matmul(a, b),
  },
  {
    name: 'matmul-transA-transB',
    inputs: (d) => [{ shape: [d[1], d[0]] }, { shape: [d[2], d[1]] }],
    run: ([a, b]) => F.matmul(a, b, { transA: true, transB: true }),
  },
  {
    name: 'matmul-batch-broadcast',
    inputs: (d) => [{ shape: [3, d[0], d[1]] }, { shape: [d[1], d[2]] }],
    run: ([a, b]) => F.matmul(a, b),
  },
  {
    name: 'matmul-batch-both',
    inputs: (d) => [{ shape: [2, 1, d[0], d[1]] }, { shape: [3, d[2], d[1]] }],
    run: ([a, b]) => F.matmul(a, b, { transB: true }),
  },
  {
    name: 'linear',
    inputs: (d) => [{ shape: [2, d[0], d[1]] }, { shape: [d[2], d[1]] }, { shape: [d[2]] }],
    run: ([x, w, b]) => F.linear(x, w, b),
  },
  { name: 'softmax', inputs: (d) => [{ shape: [d[0], d[1]], range: [-5, 5] }], run: ([x]) => F.softmax(x) },
  { name: 'logSoftmax', inputs: (d) => [{ shape: [d[0], d[1]], range: [-5, 5] }], run: ([x]) => F.logSoftmax(x) },
  // Scores [B, nh, T] with a mask broadcast over the heads (gradients flow to both), and a mask [T]
  // shared by every row with a negative scale.
  {
    name: 'maskedSoftmax',
    inputs: (d) => [{ shape: [d[0], d[1], d[2]], range: [-4, 4] }, { shape: [d[0], 1, d[2]], range: [-3, 3] }],
    run: ([x, m]) => F.maskedSoftmax(x, m, 0.7),
  },
  {
    name: 'maskedSoftmax-row-mask',
    inputs: (d) => [{ shape: [d[0], d[1] + 1], range: [-4, 4] }, { shape: [d[1] + 1], range: [-3, 3] }],
    run: ([x, m]) => F.maskedSoftmax(x, m, -1.3),
  },
  {
    name: 'layerNorm',
    inputs: (d) => [{ shape: [d[0], d[1] + 1] }, { shape: [d[1] + 1] }, { shape: [d[1] + 1] }],
    // eps 1e-3 keeps finite differences well conditioned when a short row has near-equal values.
    run: ([x, g, b]) => F.layerNorm(x, g, b, 1e-3),
  },
  {
    name: 'crossEntropy',
    inputs: (d) => [{ shape: [d[0], d[1] + 1], range: [-4, 4] }, { shape: [d[0]], maxInt: d[1] + 1, ints: 'ids', constant: true }],
    run: ([x, y]) => F.crossEntropy(x, y),
  },
  {
    name: 'gather',
    inputs: (d) => [{ shape: [d[0] + 1, d[1]] }, { shape: [d[2], 2], maxInt: d[0] + 1, ints: 'ids', constant: true }],
    run: ([t, ids]) => F.gather(t, ids),
  },
  {
    name: 'topk-values',
    inputs: (d) => [{ shape: [d[0], d[1] + 2] }],
    run: ([x], d) => F.topk(x, Math.min(3, d[1] + 2)).values,
  },
  { name: 'dropout', inputs: (d) => [{ shape: [d[0], d[1]] }], run: ([x]) => F.dropout(x, 0.3, { seed: 1234 }) },
];
