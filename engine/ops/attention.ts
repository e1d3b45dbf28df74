// Fused ops: scaled-dot-product attention (kernels/attention.ts) and LayerNorm with the residual
// add fused in (kernels/layernorm-residual.ts), with their table entries and functional API.
//
// attention(q, k, v) over (B, nh, T, hs) equals the composite
//   softmax(q k^T * scale + bias) -> dropout(p, seed) -> @ v
// where bias [B, T] is added to every head and query row of batch b (a key padding mask). A 0/1
// keep-mask becomes HF's additive mask (1 - mask) * float32_min; a row whose keys are all masked
// that way attends uniformly to all keys (exactly what the composite computes); a row whose bias is
// -inf everywhere gives zeros and zero gradient (F.softmax's all -inf rows). The dropout mask is
// F.dropout's on the [B, nh, T, T] probabilities with the same seed, recomputed in backward. No
// gradient flows to the mask.
// With { layout: 'bthd' } q, k, v are (B, T, nh, hs) (a linear layer's (B, T, C) output reshaped,
// no head permute) and the output and gradients are (B, T, nh, hs) too: the same values as the
// composite on the permuted tensors, the kernels only index rows differently.

import { apply } from '../autodiff.js';
import { nextSeed } from '../seed.js';
import type { AttentionLayout } from '../backend/spec.js';
import { fmtShape, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { fillLike, runKernel } from './kernel.js';
import type { OpAttrs, OpDef } from './table.js';
import * as F from './api.js';

/** torch.finfo(torch.float32).min, the additive value of a masked key (HF). */
export const ATTENTION_MASK_VALUE = -3.4028234663852886e38;

export interface AttentionOptions {
  /** Keep-mask [B, T] (1 attend, 0 padding; f32 or i32), turned into (1 - mask) * float32_min. */
  mask?: Tensor | null;
  /** Additive key bias [B, T] or [B, 1, 1, T] (e.g. HF's extended attention mask). */
  bias?: Tensor | null;
  /** Score scale; default 1 / sqrt(hs). */
  scale?: number;
  /** Dropout probability on the attention probabilities (default 0). */
  dropout?: number;
  /** Dropout seed (default: the next global seed). */
  seed?: number;
  /** Dropout applies only when training (default true). */
  training?: boolean;
  /** Memory layout of q, k, v and the output: 'bhtd' (B, nh, T, hs) (default) or 'bthd' (B, T, nh, hs). */
  layout?: AttentionLayout;
}

/** (B, nh, T, hs) of a q/k/v shape in `layout`. */
const dims = (shape: readonly number[], layout: AttentionLayout): [number, number, number, number] => {
  const [B, a, b, hs] = shape as [number, number, number, number];
  return layout === 'bthd' ? [B, b, a, hs] : [B, a, b, hs];
};

export const fusedOps: {
  attention: OpDef<OpAttrs['attention']>;
  layernormResidual: OpDef<OpAttrs['layernormResidual']>;
} = {
  attention: {
    forward: (inputs, { heads, scale, p, seed, masked, layout }) => {
      const [q, k, v] = inputs;
      const [B, nh, t, hs] = dims(q.shape, layout);
      const bias = masked ? inputs[3] : q;
      const spec = { kind: 'attention' as const, bh: B * nh, heads, t, hs, scale, masked, p, seed, layout };
      // stats: (m, log l) per row, in the rows' memory order: (B, nh, T, 2) or (B, T, nh, 2).
      const statsShape = [...q.shape.slice(0, 3), 2];
      const [o, stats] = runKernel(spec, [q, k, v, bias], [{ shape: q.shape, dtype: 'f32' }, { shape: statsShape, dtype: 'f32' }]);
      return { out: o, saved: [stats] };
    },
    backward: (g, { inputs, output, attrs: { heads, scale, p, seed, masked, layout }, saved: [stats] }) => {
      const [q, k, v] = inputs;
      const [B, nh, t, hs] = dims(q.shape, layout);
      const bias = masked ? inputs[3] : q;
      const spec = { kind: 'attentionBackward' as const, bh: B * nh, heads, t, hs, scale, masked, p, seed, layout };
      const [dq, dk, dv] = runKernel(spec, [q, k, v, bias, output, stats, g], [q, k, v].map((x) => ({ shape: x.shape, dtype: 'f32' as const })));
      return masked ? [dq, dk, dv, null] : [dq, dk, dv];
    },
  },
  layernormResidual: {
    forward: ([x, res, gamma, beta], { eps }) => {
      const len = x.shape[x.rank - 1];
      const rows = x.size / len;
      const [out, mean, rstd, s] = runKernel({ kind: 'layernormResidual', rows, len, eps }, [x, res, gamma, beta], [
        { shape: x.shape, dtype: 'f32' },
        { shape: [rows], dtype: 'f32' },
        { shape: [rows], dtype: 'f32' },
        { shape: x.shape, dtype: 'f32' },
      ]);
      return { out, saved: [mean, rstd, s] };
    },
    backward: (g, { inputs: [x, , gamma, beta], saved: [mean, rstd, s] }) => {
      const len = x.shape[x.rank - 1];
      const [dx, dgamma, dbeta] = runKernel({ kind: 'layernormBackward', rows: x.size / len, len }, [s, gamma, mean, rstd, g], [
        { shape: x.shape, dtype: 'f32' },
        { shape: gamma.shape, dtype: 'f32' },
        { shape: beta.shape, dtype: 'f32' },
      ]);
      return [dx, dx.view(x.shape), dgamma, dbeta];
    },
  },
};

/**
 * Fused attention over q, k, v of shape (B, nh, T, hs), or (B, T, nh, hs) with layout 'bthd' (the
 * output has the inputs' shape); see the file comment.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const layout = opts.layout ?? 'bhtd';
  if (layout !== 'bhtd' && layout !== 'bthd') throw new Error(`attention: layout must be 'bhtd' or 'bthd', got ${String(layout)}`);
  const named = layout === 'bthd' ? '(B, T, nh, hs)' : '(B, nh, T, hs)';
  if (q.rank !== 4 || !sameShape(q.shape, k.shape) || !sameShape(q.shape, v.shape)) {
    throw new Error(`attention: q, k, v must share one shape ${named}; got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  }
  for (const [n, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.dtype !== 'f32') throw new Error(`attention: ${n} must be f32, got ${t.dtype}`);
  }
  const [B, nh, T, hs] = dims(q.shape, layout);
  if (T === 0 || hs === 0) throw new Error(`attention: empty sequence or head in ${fmtShape(q.shape)}`);
  if (opts.mask && opts.bias) throw new Error('attention: give either mask (keep 0/1) or bias (additive), not both');
  const p = opts.training === false ? 0 : (opts.dropout ?? 0);
  if (!(p >= 0 && p < 1)) throw new Error(`attention: dropout must be in [0, 1), got ${p}`);
  const scale = opts.scale ?? 1 / Math.sqrt(hs);
  let bias: Tensor | null = null;
  if (opts.mask) {
    const m = opts.mask;
    if (m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== T) throw new Error(`attention: mask must be [${B}, ${T}], got ${fmtShape(m.shape)}`);
    bias = F.mul(F.sub(1, F.cast(m, 'f32')), ATTENTION_MASK_VALUE);
  } else if (opts.bias) {
    const b = opts.bias;
    if (b.size !== B * T || b.shape[0] !== B || b.shape[b.rank - 1] !== T) {
      throw new Error(`attention: bias must be [${B}, ${T}] or [${B}, 1, 1, ${T}], got ${fmtShape(b.shape)}`);
    }
    bias = F.reshape(b, [B, T]);
  }
  const seed = p > 0 ? (opts.seed ?? nextSeed()) >>> 0 : 0;
  const pad = (4 - (hs % 4)) % 4;
  const widen = (t: Tensor) => (pad ? F.concat([t, fillLike(t, 0, [...t.shape.slice(0, 3), pad])], 3) : t);
  const attrs = { heads: nh, scale, p, seed, masked: bias !== null, layout };
  const y = apply('attention', bias ? [widen(q), widen(k), widen(v), bias] : [widen(q), widen(k), widen(v)], attrs);
  return pad ? F.slice(y, 3, 0, hs) : y;
}

/** LayerNorm(x + residual) over the last axis in one kernel (gradients to x, residual, gamma, beta). */
export function layerNormResidual(x: Tensor, residual: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-12): Tensor {
  if (!sameShape(x.shape, residual.shape)) throw new Error(`layerNormResidual: x ${fmtShape(x.shape)} and residual ${fmtShape(residual.shape)} differ`);
  if (x.rank === 0 || x.shape[x.rank - 1] === 0) throw new Error(`layerNormResidual: needs a non-empty last axis, got ${fmtShape(x.shape)}`);
  const d = x.shape[x.rank - 1];
  if (!sameShape(gamma.shape, [d]) || !sameShape(beta.shape, [d])) {
    throw new Error(`layerNormResidual: gamma ${fmtShape(gamma.shape)} and beta ${fmtShape(beta.shape)} must both be [${d}] for input ${fmtShape(x.shape)}`);
  }
  for (const t of [x, residual, gamma, beta]) if (t.dtype !== 'f32') throw new Error(`layerNormResidual: inputs must be f32, got ${t.dtype}`);
  return apply('layernormResidual', [x, residual, gamma, beta], { eps });
}
