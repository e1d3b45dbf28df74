// Batched matmul with broadcasting batch dimensions and transposes read in place.
// op(A) is [.., M, K], op(B) is [.., K, N]; a batch side that is not the full broadcast batch
// either has batch size 1 (read with stride 0) or is expanded first.

import { broadcastShapes, fmtShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { runKernel, runKernel1 } from './kernel.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

interface MatmulGeometry {
  batchShape: number[];
  m: number;
  n: number;
  k: number;
}

/** Checks shapes and returns the geometry; errors name both shapes and the clash. */
export function matmulGeometry(a: Tensor, b: Tensor, transA: boolean, transB: boolean): MatmulGeometry {
  if (a.rank < 2 || b.rank < 2) {
    throw new Error(`matmul: both operands need rank >= 2, got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`matmul: operands must be f32, got ${a.dtype} and ${b.dtype}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, ka] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (ka !== kb) {
    throw new Error(
      `matmul: inner dimensions differ: a ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} has K=${ka}, ` +
        `b ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} has K=${kb}`,
    );
  }
  const batchShape = broadcastShapes('matmul (batch dimensions)', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { batchShape, m, n, k: ka };
}

/** x as a [batch..., r, c] operand laid out for the broadcast batch: stride 0 or a materialised expand. */
function batchOperand(x: Tensor, batchShape: number[]): { t: Tensor; stride: number; owned: boolean } {
  const mat = x.shape.slice(-2);
  const own = sizeOf(x.shape.slice(0, -2));
  if (own === 1) return { t: x, stride: 0, owned: false };
  if (own === sizeOf(batchShape)) return { t: x, stride: mat[0] * mat[1], owned: false };
  return { t: F.expand(x, [...batchShape, ...mat]), stride: mat[0] * mat[1], owned: true };
}

export const matmulOps: { matmul: OpDef<OpAttrs['matmul']>; fusedLinear: OpDef<OpAttrs['fusedLinear']> } = {
  matmul: {
    forward: ([a, b], { transA, transB }) => {
      const { batchShape, m, n, k } = matmulGeometry(a, b, transA, transB);
      const A = batchOperand(a, batchShape);
      const B = batchOperand(b, batchShape);
      const batch = sizeOf(batchShape);
      const spec = { kind: 'matmul' as const, transA, transB, batch, m, n, k, aBatchStride: A.stride, bBatchStride: B.stride };
      const out = runKernel1(spec, [A.t, B.t], [...batchShape, m, n]);
      if (A.owned) A.t.dispose();
      if (B.owned) B.t.dispose();
      return { out };
    },
    // With A' = op(A), B' = op(B): dA' = g B'^T and dB' = A'^T g; a transposed operand takes the transpose.
    backward: (g, { inputs: [a, b], attrs: { transA, transB } }) => {
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      if (a.requiresGrad) {
        da = transA ? F.matmul(b, g, { transA: transB, transB: true }) : F.matmul(g, b, { transB: !transB });
        da = F.sumToShape(da, a.shape);
      }
      if (b.requiresGrad) {
        db = transB ? F.matmul(g, a, { transA: true, transB: transA }) : F.matmul(a, g, { transA: !transA });
        db = F.sumToShape(db, b.shape);
      }
      return [da, db];
    },
  },
  // One dispatch: out = act(x @ w^T + bias) + residual, x [..., in] read as N = size / in rows,
  // w [out, in], out [..., out] (spec epilogue). Inputs [x, w, bias?, residual?]. The pre-activation
  // is saved when an activation needs it.
  fusedLinear: {
    forward: (inputs, { activation, bias, residual }) => {
      const [x, w] = inputs as [Tensor, Tensor];
      const inF = w.shape[1]!;
      const outF = w.shape[0]!;
      const outShape = [...x.shape.slice(0, -1), outF];
      const savePre = activation !== 'none' && inputs.some((t) => t.requiresGrad);
      const epilogue = { bias, residual, activation: activation === 'none' ? undefined : activation, savePre };
      const spec = { kind: 'matmul' as const, transA: false, transB: true, batch: 1, m: x.size / inF, n: outF, k: inF, aBatchStride: 0, bBatchStride: 0, epilogue };
      const outs = runKernel(spec, inputs, savePre ? [{ shape: outShape, dtype: 'f32' }, { shape: outShape, dtype: 'f32' }] : [{ shape: outShape, dtype: 'f32' }]);
      return { out: outs[0]!, saved: outs.slice(1) };
    },
    // gz = g * act'(pre); dx = gz @ w (+ x's gradient accumulated so far, in the same dispatch);
    // dw = gz^T @ x; dbias = column sums of gz; dresidual = g. All as [N, .] 2-D products.
    backward: (g, { inputs, saved, attrs: { activation, bias, residual }, takeAccumulated }) => {
      const [x, w] = inputs as [Tensor, Tensor];
      const [outF, inF] = w.shape as [number, number];
      const rows = x.size / inF;
      const gz = activation === 'none' ? g : F.geluBackward(g, saved[0]!, { tanh: activation === 'geluTanh' });
      const mm = (transA: boolean, m: number, n: number, k: number) => ({ kind: 'matmul' as const, transA, transB: false, batch: 1, m, n, k, aBatchStride: 0, bBatchStride: 0 });
      let dx: Tensor | null = null;
      if (x.requiresGrad) {
        const acc = takeAccumulated?.(0) ?? null;
        dx = acc
          ? runKernel1({ ...mm(false, rows, inF, outF), epilogue: { bias: false, residual: true, savePre: false } }, [gz, w, acc], x.shape)
          : runKernel1(mm(false, rows, inF, outF), [gz, w], x.shape);
      }
      const grads: (Tensor | null)[] = [dx, w.requiresGrad ? runKernel1(mm(true, outF, inF, rows), [gz, x], w.shape) : null];
      if (bias) grads.push(inputs[2]!.requiresGrad ? F.sum(gz, [...Array(gz.rank - 1).keys()]) : null);
      if (residual) grads.push(g);
      return grads;
    },
  },
};
