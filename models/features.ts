// Feature extraction from a BERT or ALBERT trunk (or a task model's trunk): the last hidden
// state, all hidden states, the pooled output, and sentence vectors by [CLS] or by the mean over
// the attention mask. Runs without recording gradients unless asked to.

import { F, noGrad, tensor, type Tensor } from '../engine/index.js';
import { AlbertModel } from './albert.js';
import { BertModel, checkIds, type EncoderInputs, type EncoderOutput } from './bert.js';
import type { AnyModel } from './auto.js';

export type SentencePooling = 'cls' | 'mean' | 'pooler';

export interface Features {
  /** [B, T, H] */
  lastHiddenState: Tensor;
  /** L + 1 tensors [B, T, H] when allHiddenStates. */
  hiddenStates: Tensor[] | null;
  /** [B, H] from the tanh pooler (null when the trunk has none). */
  poolerOutput: Tensor | null;
  /** [B, H] by the chosen pooling. */
  sentenceVectors: Tensor;
}

/** The BERT/ALBERT trunk of any model. */
export function trunkOf(model: AnyModel): BertModel | AlbertModel {
  if (model instanceof BertModel || model instanceof AlbertModel) return model;
  return 'bert' in model ? model.bert : model.albert;
}

/** h[:, 0] -> [B, H]. */
export function clsVectors(h: Tensor): Tensor {
  const [B, , H] = h.shape;
  return F.reshape(F.slice(h, 1, 0, 1), [B, H]); // (B, 1, H) -> (B, H)
}

/** sum_t h[b, t] m[b, t] / sum_t m[b, t] -> [B, H] (rows with an all-zero mask give 0). */
export function meanPool(h: Tensor, mask: Tensor | null): Tensor {
  const [B, T] = h.shape;
  if (!mask) return F.mean(h, 1); // (B, H)
  const m = F.reshape(F.cast(mask, 'f32'), [B, T, 1]); // (B, T, 1)
  const summed = F.sum(F.mul(h, m), 1); // (B, H)
  const count = F.maximum(F.sum(m, 1), 1e-9); // (B, 1)
  return F.div(summed, count);
}

export interface FeatureOptions {
  pooling?: SentencePooling;
  allHiddenStates?: boolean;
  /** Record gradients (fine-tuning through features); default false. */
  grad?: boolean;
}

/** Runs the trunk of `model` on `inputs` and returns its features. */
export function extractFeatures(model: AnyModel, inputs: EncoderInputs, opts: FeatureOptions = {}): Features {
  const run = () => {
    checkIds(inputs.inputIds);
    const trunk = trunkOf(model);
    const out: EncoderOutput = trunk.forward({ ...inputs, outputHiddenStates: opts.allHiddenStates ?? false });
    const pooling = opts.pooling ?? 'cls';
    let sentenceVectors: Tensor;
    if (pooling === 'pooler') {
      if (!out.poolerOutput) throw new Error('extractFeatures: this model has no pooling layer; use pooling "cls" or "mean"');
      sentenceVectors = out.poolerOutput;
    } else if (pooling === 'mean') sentenceVectors = meanPool(out.lastHiddenState, inputs.attentionMask ?? null);
    else sentenceVectors = clsVectors(out.lastHiddenState);
    return { lastHiddenState: out.lastHiddenState, hiddenStates: out.hiddenStates, poolerOutput: out.poolerOutput, sentenceVectors };
  };
  return opts.grad ? run() : noGrad(run);
}

/** Batches of token id lists -> padded i32 ids and the 1/0 mask on `like`'s backend. */
export function padBatch(ids: number[][], padId: number, backend: Tensor['backend']): { inputIds: Tensor; attentionMask: Tensor } {
  const T = Math.max(1, ...ids.map((r) => r.length));
  const B = ids.length;
  const x = new Int32Array(B * T).fill(padId);
  const m = new Int32Array(B * T);
  ids.forEach((r, b) => r.forEach((v, t) => ((x[b * T + t] = v), (m[b * T + t] = 1))));
  return { inputIds: tensor(x, [B, T], { backend, dtype: 'i32' }), attentionMask: tensor(m, [B, T], { backend, dtype: 'i32' }) };
}
