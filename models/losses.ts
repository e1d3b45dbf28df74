// Losses of the task heads, as composites of engine ops (the engine has crossEntropy; MSE,
// BCE-with-logits and the QA span loss are written here), with Hugging Face's semantics.

import { F, tensor, type Tensor } from '../engine/index.js';
import type { ModelConfig, ProblemType } from './configs.js';

/** mean((x - y)^2) (torch.nn.MSELoss). */
export function mseLoss(x: Tensor, y: Tensor): Tensor {
  if (x.size !== y.size) throw new Error(`mseLoss: ${x.size} predictions [${x.shape.join(', ')}] vs ${y.size} targets [${y.shape.join(', ')}]`);
  const d = F.sub(F.reshape(x, [-1]), F.reshape(F.cast(y, 'f32'), [-1])); // (N,)
  return F.mean(F.mul(d, d));
}

/**
 * mean(-(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))) (torch.nn.BCEWithLogitsLoss), stable
 * for any x: [log(1 - sigmoid(x)), log sigmoid(x)] = logSoftmax([0, x]).
 */
export function bceWithLogitsLoss(x: Tensor, y: Tensor): Tensor {
  if (x.rank === 0 || x.shape.join() !== y.shape.join()) {
    throw new Error(`bceWithLogitsLoss: logits [${x.shape.join(', ')}] and targets [${y.shape.join(', ')}] must have one shape`);
  }
  const x1 = F.reshape(x, [...x.shape, 1]); // (..., 1)
  const pair = F.concat([F.zerosLike(x1), x1], -1); // (..., 2): logits of "0" and "1"
  const logp = F.logSoftmax(pair); // (..., 2)
  const logNeg = F.reshape(F.slice(logp, -1, 0, 1), [...x.shape]); // log(1 - sigmoid(x))
  const logPos = F.reshape(F.slice(logp, -1, 1, 2), [...x.shape]); // log sigmoid(x)
  const yf = F.cast(y, 'f32');
  const ll = F.add(F.mul(yf, logPos), F.mul(F.sub(1, yf), logNeg));
  return F.neg(F.mean(ll));
}

/** HF's *ForSequenceClassification problem_type logic: regression (MSE), single-label (CE), multi-label (BCE). */
export function resolveProblemType(config: ModelConfig, labels: Tensor): ProblemType {
  if (config.problem_type) return config.problem_type;
  if (config.num_labels === 1) return 'regression';
  return labels.dtype === 'i32' ? 'single_label_classification' : 'multi_label_classification';
}

export function sequenceClassificationLoss(config: ModelConfig, logits: Tensor, labels: Tensor): Tensor {
  const kind = resolveProblemType(config, labels);
  if (kind === 'regression') return mseLoss(logits, labels);
  if (kind === 'single_label_classification') {
    if (labels.dtype !== 'i32') throw new Error(`single-label classification needs i32 labels, got ${labels.dtype}`);
    return F.crossEntropy(F.reshape(logits, [-1, config.num_labels]), F.reshape(labels, [-1])); // (B, C), (B,)
  }
  return bceWithLogitsLoss(logits, labels);
}

/**
 * Positions clamped to [0, T]; T is the ignore index (HF's BertForQuestionAnswering).
 * Host-known positions are clamped on the host; device positions with f32 min/max.
 */
export function clampPositions(pos: Tensor, T: number): Tensor {
  if (pos.dtype !== 'i32') throw new Error(`QA positions must be i32, got ${pos.dtype}`);
  const flat = F.reshape(pos, [-1]); // (B,) from [B] or [B, 1]
  const h = pos.hostInts;
  if (h) return tensor(Int32Array.from(h, (v) => Math.min(Math.max(v, 0), T)), [h.length], { backend: pos.backend, dtype: 'i32' });
  return F.cast(F.minimum(F.maximum(F.cast(flat, 'f32'), 0), T), 'i32');
}

/** (CE(start) + CE(end)) / 2 with out-of-range positions ignored. logits [B, T]. */
export function questionAnsweringLoss(startLogits: Tensor, endLogits: Tensor, start: Tensor, end: Tensor): { loss: Tensor; startLoss: Tensor; endLoss: Tensor } {
  const T = startLogits.shape[1];
  const startLoss = F.crossEntropy(startLogits, clampPositions(start, T), { ignoreIndex: T });
  const endLoss = F.crossEntropy(endLogits, clampPositions(end, T), { ignoreIndex: T });
  return { loss: F.div(F.add(startLoss, endLoss), 2), startLoss, endLoss };
}
