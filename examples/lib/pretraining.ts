// Shared pre-training batch building for examples/pretrain.ts (BERT: MLM + NSP) and
// examples/twilbert.ts (ALBERT + PKM: span MLM + reply-order prediction):
//   documents of tokenized sentences -> sentence pairs (data/pairs.ts) -> [CLS] A [SEP] B [SEP]
//   with segment ids (longest-first truncation to maxLen) -> dynamic masking (data/masking.ts,
//   token | whole_word | span) -> padded batches with d2l's masked positions, so the vocabulary
//   projection runs only where a prediction is made (models' `maskedPositions`).
// Pair labels: data/pairs.ts says 1 = "B follows A / in order". Hugging Face's BertForPreTraining
// NSP head uses 0 = "is next", ALBERT's SOP head uses 0 = "in order" as well (HF's
// AlbertForPreTraining: sentence_order_label 0 = original order), so `hfPairLabel` flips them.
// The forward helpers return the summed loss and its two parts, and LossMeter keeps running device
// sums of the parts so the examples can print MLM and NSP/ROP losses without extra readbacks.

import { F, keep, noGrad, tensor, type Backend, type Tensor } from '../../engine/index.js';
import { DynamicMasker, type MaskingOptions, type MaskingVocab, type SentencePair } from '../../data/index.js';
import type { AlbertForPreTraining, BertForPreTraining } from '../../models/index.js';

/** One pre-training example, host side. */
export interface PretrainExample {
  inputIds: number[];
  tokenTypeIds: number[];
  /** Positions of the predicted tokens (ascending). */
  predPositions: number[];
  /** Original ids at predPositions. */
  predLabels: number[];
  /** Hugging Face convention: 0 = B follows A / in order, 1 = random B / swapped. */
  pairLabel: number;
}

/** A padded batch, host side (convert with batchTensors). */
export interface PretrainBatch {
  size: number;
  /** Longest row. */
  seqLen: number;
  /** Most predictions in a row (columns of maskedPositions). */
  numPreds: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** [B, P]; padded columns point at position 0 and carry label -100. */
  maskedPositions: Int32Array;
  mlmLabels: Int32Array;
  pairLabels: Int32Array;
}

export interface PairSpecialIds {
  clsId: number;
  sepId: number;
}

/** data/pairs.ts label (1 = follows / in order) -> the Hugging Face head's label (0 = follows / in order). */
export function hfPairLabel(label: 0 | 1): number {
  return 1 - label;
}

/**
 * Cuts two token lists so that [CLS] a [SEP] b [SEP] fits in maxLen: one token at a time from the
 * end of the longer one (Google's truncate_seq_pair). Returns new arrays.
 */
export function truncatePair(a: readonly number[], b: readonly number[], maxLen: number): [number[], number[]] {
  if (maxLen < 5) throw new RangeError(`maxLen must be at least 5 for a sentence pair, got ${maxLen}`);
  const x = a.slice();
  const y = b.slice();
  while (x.length + y.length + 3 > maxLen) {
    if (x.length >= y.length) x.pop();
    else y.pop();
  }
  return [x, y];
}

/** [CLS] a [SEP] b [SEP] and its segment ids (0 for [CLS] a [SEP], 1 for b [SEP]). */
export function assemblePair(a: readonly number[], b: readonly number[], ids: PairSpecialIds): { inputIds: number[]; tokenTypeIds: number[] } {
  const inputIds = [ids.clsId, ...a, ids.sepId, ...b, ids.sepId];
  const tokenTypeIds = inputIds.map((_, i) => (i < a.length + 2 ? 0 : 1));
  return { inputIds, tokenTypeIds };
}

export interface BuildOptions {
  maxLen: number;
  /** Index offset of the first pair (so masks stay distinct across calls). Default 0. */
  indexOffset?: number;
}

/**
 * Pairs of tokenized sentences -> masked examples. Masking is drawn by `masker` from
 * (seed, epoch, index), so an epoch's examples are reproducible and differ between epochs.
 */
export function buildPretrainExamples(
  pairs: readonly SentencePair<readonly number[]>[],
  special: PairSpecialIds,
  masker: DynamicMasker,
  epoch: number,
  opts: BuildOptions,
): PretrainExample[] {
  return pairs.map((p, i) => {
    const [a, b] = truncatePair(p.a, p.b, opts.maxLen);
    const { inputIds, tokenTypeIds } = assemblePair(a, b, special);
    // [CLS], the middle [SEP] and the final [SEP] are never masked.
    const specialTokensMask = inputIds.map((_, j) => (j === 0 || j === a.length + 1 || j === inputIds.length - 1 ? 1 : 0));
    const m = masker.mask({ inputIds, tokenTypeIds, specialTokensMask }, epoch, (opts.indexOffset ?? 0) + i);
    return { inputIds: m.inputIds, tokenTypeIds, predPositions: m.predPositions, predLabels: m.predLabels, pairLabel: hfPairLabel(p.label) };
  });
}

/** Pads examples into one batch (right padding with padId; predictions padded with label -100). */
export function collatePretrain(examples: readonly PretrainExample[], padId: number): PretrainBatch {
  if (examples.length === 0) throw new RangeError('collatePretrain: empty batch');
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.inputIds.length));
  const P = Math.max(1, ...examples.map((e) => e.predPositions.length));
  const inputIds = new Int32Array(B * T).fill(padId);
  const tokenTypeIds = new Int32Array(B * T);
  const attentionMask = new Int32Array(B * T);
  const maskedPositions = new Int32Array(B * P);
  const mlmLabels = new Int32Array(B * P).fill(-100);
  const pairLabels = new Int32Array(B);
  examples.forEach((e, b) => {
    e.inputIds.forEach((id, t) => {
      inputIds[b * T + t] = id;
      tokenTypeIds[b * T + t] = e.tokenTypeIds[t]!;
      attentionMask[b * T + t] = 1;
    });
    e.predPositions.forEach((p, j) => {
      maskedPositions[b * P + j] = p;
      mlmLabels[b * P + j] = e.predLabels[j]!;
    });
    pairLabels[b] = e.pairLabel;
  });
  return { size: B, seqLen: T, numPreds: P, inputIds, tokenTypeIds, attentionMask, maskedPositions, mlmLabels, pairLabels };
}

/** Device tensors of a batch. */
export function batchTensors(batch: PretrainBatch, backend: Backend) {
  const { size: B, seqLen: T, numPreds: P } = batch;
  const i32 = (data: Int32Array, shape: number[]) => tensor(data, shape, { backend, dtype: 'i32' });
  return {
    inputIds: i32(batch.inputIds, [B, T]),
    tokenTypeIds: i32(batch.tokenTypeIds, [B, T]),
    attentionMask: i32(batch.attentionMask, [B, T]),
    maskedPositions: i32(batch.maskedPositions, [B, P]),
    labels: i32(batch.mlmLabels, [B, P]),
    pairLabels: i32(batch.pairLabels, [B]),
  };
}

export interface PretrainLosses {
  /** mlm + pair */
  loss: Tensor;
  mlm: Tensor;
  /** NSP (BERT) or SOP/ROP (ALBERT). */
  pair: Tensor;
  /** [B, P, V] vocabulary logits at the masked positions. */
  mlmLogits: Tensor;
  /** [B, 2] */
  pairLogits: Tensor;
}

/** Forward of BertForPreTraining (NSP) or AlbertForPreTraining (SOP head, used for ROP) on a batch. */
export function pretrainForward(model: BertForPreTraining | AlbertForPreTraining, batch: PretrainBatch): PretrainLosses {
  const backend = model.config.model_type === 'bert' ? (model as BertForPreTraining).bert.backend : (model as AlbertForPreTraining).albert.backend;
  const t = batchTensors(batch, backend);
  const common = { inputIds: t.inputIds, tokenTypeIds: t.tokenTypeIds, attentionMask: t.attentionMask, maskedPositions: t.maskedPositions, labels: t.labels };
  if (model.config.model_type === 'bert') {
    const out = (model as BertForPreTraining).forward({ ...common, nextSentenceLabel: t.pairLabels });
    return { loss: out.loss!, mlm: out.mlmLoss!, pair: out.nspLoss!, mlmLogits: out.predictionLogits, pairLogits: out.seqRelationshipLogits };
  }
  const out = (model as AlbertForPreTraining).forward({ ...common, sentenceOrderLabel: t.pairLabels });
  return { loss: out.loss!, mlm: out.mlmLoss!, pair: out.sopLoss!, mlmLogits: out.predictionLogits, pairLogits: out.sopLogits };
}

/** Running device-side sums of the two loss parts; read back only when asked (readbacks stall a GPU). */
export class LossMeter {
  private mlm: Tensor | null = null;
  private pair: Tensor | null = null;
  private n = 0;

  /** Adds one micro-batch's losses (call inside the step; the sums are kept beyond its scope). */
  add(mlm: Tensor, pair: Tensor): void {
    noGrad(() => {
      const m = F.reshape(mlm.detach(), []);
      const p = F.reshape(pair.detach(), []);
      const nm = this.mlm ? F.add(this.mlm, m) : F.mul(m, 1);
      const np = this.pair ? F.add(this.pair, p) : F.mul(p, 1);
      this.mlm?.dispose();
      this.pair?.dispose();
      this.mlm = keep(nm);
      this.pair = keep(np);
    });
    this.n++;
  }

  /** Mean of each part since the last read (NaN when empty), and resets. */
  async read(): Promise<{ mlm: number; pair: number; count: number }> {
    if (!this.mlm || !this.pair || this.n === 0) return { mlm: NaN, pair: NaN, count: 0 };
    const [m, p] = await Promise.all([this.mlm.item(), this.pair.item()]);
    const out = { mlm: m / this.n, pair: p / this.n, count: this.n };
    this.dispose();
    return out;
  }

  dispose(): void {
    this.mlm?.dispose();
    this.pair?.dispose();
    this.mlm = this.pair = null;
    this.n = 0;
  }
}

/** Accuracy counts of MLM and pair predictions on a batch (host side, from logits). */
export async function pretrainAccuracy(out: PretrainLosses, batch: PretrainBatch): Promise<{ mlmCorrect: number; mlmTotal: number; pairCorrect: number; pairTotal: number }> {
  const V = out.mlmLogits.shape[2]!;
  const [mlmPred, pairLogits] = await Promise.all([F.argmax(F.reshape(out.mlmLogits, [-1, V])).data(), out.pairLogits.data()]);
  let mlmCorrect = 0;
  let mlmTotal = 0;
  batch.mlmLabels.forEach((l, i) => {
    if (l === -100) return;
    mlmTotal++;
    if (mlmPred[i] === l) mlmCorrect++;
  });
  let pairCorrect = 0;
  for (let b = 0; b < batch.size; b++) {
    const pred = pairLogits[2 * b + 1]! > pairLogits[2 * b]! ? 1 : 0;
    if (pred === batch.pairLabels[b]) pairCorrect++;
  }
  return { mlmCorrect, mlmTotal, pairCorrect, pairTotal: batch.size };
}

/** Splits items into consecutive batches of `size` (the last may be short). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** d2l's WikiText-2 preparation: paragraphs with at least two sentences, each a "document". */
export function wikiDocuments(articles: readonly { paragraphs: string[][] }[]): string[][] {
  const out: string[][] = [];
  for (const a of articles) for (const p of a.paragraphs) if (p.length >= 2) out.push(p);
  return out;
}

export type { MaskingOptions, MaskingVocab };
