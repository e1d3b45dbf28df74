// Neural-network primitives with their own kernels: softmax / log-softmax and layernorm over
// the last axis, per-row cross-entropy, embedding gather (backward: deterministic scatter-add),
// dropout (counter-based RNG, mask recomputed in backward) and argmax.

import { sizeOf } from '../shape.js';
import { fillLike, runKernel, runKernel1 } from './kernel.js';
import { writeBox } from './layout.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

const lastDim = (shape: readonly number[]) => shape[shape.length - 1];

export const nnOps: {
  softmax: OpDef<OpAttrs['softmax']>;
  maskedSoftmax: OpDef<OpAttrs['maskedSoftmax']>;
  layernorm: OpDef<OpAttrs['layernorm']>;
  crossEntropyRows: OpDef<OpAttrs['crossEntropyRows']>;
  gather: OpDef<OpAttrs['gather']>;
  dropout: OpDef<OpAttrs['dropout']>;
  argmax: OpDef<OpAttrs['argmax']>;
  topk: OpDef<OpAttrs['topk']>;
  gatherLast: OpDef<OpAttrs['gatherLast']>;
} = {
  topk: {
    forward: ([x], { k }) => {
      const len = lastDim(x.shape);
      return { out: runKernel1({ kind: 'topk', rows: x.size / len, len, k }, [x], [...x.shape.slice(0, -1), k], 'i32') };
    },
    backward: () => [null],
  },
  gatherLast: {
    forward: ([x, idx]) => {
      const len = lastDim(x.shape);
      const k = lastDim(idx.shape);
      const spec = { kind: 'gatherLast' as const, dtype: x.dtype, rows: x.size / len, len, k };
      return { out: runKernel1(spec, [x, idx], idx.shape, x.dtype) };
    },
    backward: (g, { inputs: [x, idx] }) => {
      const len = lastDim(x.shape);
      const k = lastDim(idx.shape);
      return [runKernel1({ kind: 'scatterLast', rows: x.size / len, len, k }, [g, idx], x.shape), null];
    },
  },
  softmax: {
    forward: ([x], { log }) => {
      const len = lastDim(x.shape);
      return { out: runKernel1({ kind: 'softmax', log, rows: x.size / len, len }, [x], x.shape) };
    },
    backward: (g, { output: y, attrs: { log } }) => {
      const len = lastDim(y.shape);
      return [runKernel1({ kind: 'softmaxBackward', log, rows: y.size / len, len }, [y, g], y.shape)];
    },
  },
  maskedSoftmax: {
    forward: (inputs, { scale, masked, mdims, mstrides }) => {
      const [x] = inputs;
      const len = lastDim(x.shape);
      const spec = { kind: 'maskedSoftmax' as const, rows: x.size / len, len, scale, masked, mdims, mstrides };
      return { out: runKernel1(spec, [x, masked ? inputs[1] : x], x.shape) };
    },
    backward: (g, { inputs, output: y, attrs: { scale, masked } }) => {
      const [x, mask] = inputs;
      const len = lastDim(y.shape);
      const rows = y.size / len;
      // d/dx = scale * softmax'(z) g (one fused kernel); d/dmask = softmax'(z) g summed over the rows
      // the mask was broadcast to (only when the mask wants a gradient: usually it is a constant).
      const dz = (s: number) => runKernel1({ kind: 'softmaxBackward', log: false, rows, len, scale: s }, [y, g], y.shape);
      const dx = x!.requiresGrad ? dz(scale) : null;
      if (!masked) return [dx];
      return [dx, mask!.requiresGrad ? F.sumToShape(dz(1), mask!.shape) : null];
    },
  },
  layernorm: {
    forward: ([x, gamma, beta], { eps }) => {
      const len = lastDim(x.shape);
      const rows = x.size / len;
      const [out, mean, rstd] = runKernel({ kind: 'layernorm', rows, len, eps }, [x, gamma, beta], [
        { shape: x.shape, dtype: 'f32' },
        { shape: [rows], dtype: 'f32' },
        { shape: [rows], dtype: 'f32' },
      ]);
      return { out, saved: [mean, rstd] };
    },
    backward: (g, { inputs: [x, gamma, beta], saved: [mean, rstd] }) => {
      const len = lastDim(x.shape);
      const [dx, dgamma, dbeta] = runKernel({ kind: 'layernormBackward', rows: x.size / len, len }, [x, gamma, mean, rstd, g], [
        { shape: x.shape, dtype: 'f32' },
        { shape: gamma.shape, dtype: 'f32' },
        { shape: beta.shape, dtype: 'f32' },
      ]);
      return [dx, dgamma, dbeta];
    },
  },
  crossEntropyRows: {
    forward: ([logits, labels], { ignoreIndex }) => {
      const [rows, classes] = logits.shape;
      return { out: runKernel1({ kind: 'crossEntropy', rows, classes, ignoreIndex }, [logits, labels], [rows]) };
    },
    backward: (g, { inputs: [logits, labels], attrs: { ignoreIndex } }) => {
      const [rows, classes] = logits.shape;
      return [runKernel1({ kind: 'crossEntropyBackward', rows, classes, ignoreIndex }, [logits, labels, g], logits.shape), null];
    },
  },
  gather: {
    forward: ([table, ids]) => {
      const [vocab, dim] = table.shape;
      return { out: runKernel1({ kind: 'gather', rows: ids.size, dim, vocab }, [table, ids], [...ids.shape, dim]) };
    },
    backward: (g, { inputs: [table, ids], attrs: { paddingIdx } }) => {
      const [vocab, dim] = table.shape;
      const dtable = runKernel1({ kind: 'scatterAdd', rows: ids.size, dim, vocab }, [g, ids], table.shape);
      if (paddingIdx >= 0 && paddingIdx < vocab) writeBox(dtable, fillLike(dtable, 0, [1, dim]), [paddingIdx, 0]);
      return [dtable, null];
    },
  },
  dropout: {
    forward: ([x], { p, seed }) => ({ out: runKernel1({ kind: 'dropout', size: x.size, p, seed }, [x], x.shape) }),
    // Dropout is linear in x with a fixed mask: its VJP is the same map with the same seed.
    backward: (g, { attrs: { p, seed } }) => [F.dropout(g, p, { seed, training: true })],
  },
  argmax: {
    forward: ([x]) => {
      const len = lastDim(x.shape);
      return { out: runKernel1({ kind: 'argmax', rows: sizeOf(x.shape) / len, len }, [x], x.shape.slice(0, -1), 'i32') };
    },
    backward: () => [null],
  },
};
