// The op table: every differentiable op's forward and vector-Jacobian product side by side,
// keyed by name. The mapped type below makes a missing op, a missing backward, or a wrong
// attribute type a compile error. Forwards run kernels (engine/ops/kernel.ts); backwards are
// written with the functional API (engine/ops/api.ts) and run with recording off.

import type { AttentionLayout, BinaryOp, DType, UnaryOp } from '../backend/spec.js';
import type { BackwardContext } from '../autodiff.js';
import type { Tensor } from '../tensor.js';
import { elementwiseOps } from './elementwise.js';
import { layoutOps } from './layout.js';
import { reduceOps } from './reduce.js';
import { matmulOps } from './matmul.js';
import { nnOps } from './nn.js';
import { fusedOps } from './attention.js';

/** Attributes of each op; the keys are the op names. */
export interface OpAttrs {
  unary: { op: UnaryOp };
  binary: { op: BinaryOp };
  affine: { scale: number; shift: number };
  where: Record<string, never>;
  cast: { to: DType };
  reshape: { shape: number[] };
  permute: { axes: number[] };
  slice: { starts: number[]; ends: number[] };
  concat: { axis: number };
  expand: { shape: number[] };
  sum: { axes: number[]; keepdim: boolean; scale: number };
  max: { axes: number[]; keepdim: boolean };
  argmax: Record<string, never>;
  matmul: { transA: boolean; transB: boolean };
  /** act(x @ w^T + bias) + residual in one matmul dispatch (engine/ops/matmul.ts); inputs [x, w, bias?, residual?]. */
  fusedLinear: { activation: 'none' | 'gelu' | 'geluTanh'; bias: boolean; residual: boolean };
  softmax: { log: boolean };
  /** softmax(x * scale + mask) (engine/ops/nn.ts maskGeometry); inputs [x] or [x, mask] when masked. */
  maskedSoftmax: { scale: number; masked: boolean; mdims: [number, number, number]; mstrides: [number, number, number] };
  layernorm: { eps: number };
  crossEntropyRows: { ignoreIndex: number };
  /** paddingIdx >= 0: that table row gets no gradient (PyTorch's padding_idx); -1: none. */
  gather: { paddingIdx: number };
  dropout: { p: number; seed: number };
  topk: { k: number };
  gatherLast: Record<string, never>;
  /** Fused attention (engine/ops/attention.ts); inputs [q, k, v] or [q, k, v, bias [B, T]] when masked. */
  attention: { heads: number; scale: number; p: number; seed: number; masked: boolean; layout: AttentionLayout };
  /** LayerNorm(x + residual); inputs [x, residual, gamma, beta]. */
  layernormResidual: { eps: number };
}
export type OpName = keyof OpAttrs;

export interface OpDef<A> {
  /** Computes the output; `saved` holds extra tensors for the backward (owned by the node). */
  forward(inputs: Tensor[], attrs: A): { out: Tensor; saved?: Tensor[] };
  /** Gradient for each input (null where none flows: integer inputs, non-differentiable ops). */
  backward(grad: Tensor, ctx: BackwardContext<A>): (Tensor | null)[];
}

export type OpTable = { [K in OpName]: OpDef<OpAttrs[K]> };

export const opTable: OpTable = {
  ...elementwiseOps,
  ...layoutOps,
  ...reduceOps,
  ...matmulOps,
  ...nnOps,
  ...fusedOps,
};
