// Shared code of the sentence(-pair) classification examples (sst2.ts, snli.ts, cola.ts):
// backend choice and the adapter line, dataset-path checks, a WordPiece vocabulary trained on the
// task's own text (cached under .cache/), tokenization of single sentences and d2l-truncated pairs,
// length-bucketed batches padded to the longest row, d2l's BERTClassifier (encoder + hidden MLP on
// [CLS] + output layer, or a masked mean over the tokens), frozen-feature extraction, a linear
// probe trained on those features, and evaluation (loss, accuracy, predictions).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  AdamW, Dropout, F, LRScheduler, Linear, Module, ReferenceBackend, keep, linearWarmupDecay, noGrad, tensor, tidy,
  type Backend, type Tensor,
} from '../../engine/index.js';
import { batchIndices, collate, type CollatedBatch } from '../../data/index.js';
import { BertModel, meanPool, type BertConfig } from '../../models/index.js';
import { BertTokenizer, Vocab, trainWordPiece } from '../../tokenizers/index.js';

/** Repository root (examples/lib/../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---- backend ----------------------------------------------------------------------------------

export type BackendName = 'webgpu' | 'reference';

/** The engine backend by name; WebGPU through Dawn (node.ts), or the float64 reference. */
export async function makeBackend(name: BackendName): Promise<Backend> {
  if (name === 'reference') return new ReferenceBackend();
  const { createNodeBackend } = await import('../../engine/backend/webgpu/node.js');
  return createNodeBackend();
}

/** The first line every example prints: what runs the kernels. */
export function adapterLine(backend: Backend): string {
  const report = (backend as { adapter?: unknown }).adapter;
  return report ? `adapter: ${JSON.stringify(report)}` : `adapter: none (backend '${backend.name}', float64 reference on the CPU)`;
}

// ---- files --------------------------------------------------------------------------------------

/** Throws a clear error when a dataset file given by a flag does not exist. */
export function requireFile(path: string, flag: string): string {
  if (!existsSync(path)) throw new Error(`${flag}: data file not found: ${resolve(path)}`);
  return path;
}

/** out/<name> under the repository root unless `dir` is given. */
export function outDirFor(name: string, dir?: string): string {
  const d = dir ? resolve(dir) : join(REPO_ROOT, 'out', name);
  mkdirSync(d, { recursive: true });
  return d;
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

// ---- vocabulary ---------------------------------------------------------------------------------

export interface TaskVocabOptions {
  vocabSize: number;
  /** Name in the cache file (e.g. 'sst2'). */
  name: string;
  cacheDir?: string;
  minFrequency?: number;
}

/**
 * A WordPiece vocabulary trained on `texts` (the HF WordPieceTrainer algorithm), cached in
 * `cacheDir` under a name that hashes the corpus and the settings. Returns the tokenizer and
 * whether the cache was hit.
 */
export function taskTokenizer(texts: readonly string[], o: TaskVocabOptions): { tokenizer: BertTokenizer; path: string; cached: boolean } {
  const cacheDir = o.cacheDir ?? join(REPO_ROOT, '.cache');
  const h = createHash('sha256');
  h.update(`${o.vocabSize}\n${o.minFrequency ?? 2}\n`);
  for (const t of texts) h.update(t + '\n');
  const path = join(cacheDir, `${o.name}-wordpiece-${o.vocabSize}-${h.digest('hex').slice(0, 12)}.txt`);
  let cached = true;
  if (!existsSync(path)) {
    cached = false;
    const tokens = trainWordPiece(texts, { vocabSize: o.vocabSize, minFrequency: o.minFrequency ?? 2 });
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, tokens.join('\n') + '\n');
    renameSync(tmp, path);
  }
  const tokenizer = new BertTokenizer(Vocab.parse(readFileSync(path, 'utf8'), path), { lowercase: true });
  return { tokenizer, path, cached };
}

// ---- examples and batches -----------------------------------------------------------------------

/** One tokenized example: [CLS] A [SEP] (B [SEP]) ids, segment ids, and the class. */
export interface Example {
  ids: number[];
  types: number[];
  label: number;
}

/** Tokenizes single sentences, truncated to maxLength (special tokens included). */
export function encodeSingles(tok: BertTokenizer, rows: readonly { text: string; label: number }[], maxLength: number): Example[] {
  return rows.map((r) => {
    const e = tok.encode(r.text, null, { maxLength, truncation: true });
    return { ids: e.inputIds, types: e.tokenTypeIds, label: r.label };
  });
}

/**
 * Tokenizes pairs as d2l's SNLIBERTDataset: [CLS] premise [SEP] hypothesis [SEP], and while the
 * pair is too long the longer side loses its last token (d2l's _truncate_pair_of_tokens, which is
 * the 'longest_first' strategy).
 */
export function encodePairs(tok: BertTokenizer, rows: readonly { a: string; b: string; label: number }[], maxLength: number): Example[] {
  return rows.map((r) => {
    const e = tok.encode(r.a, r.b, { maxLength, truncation: 'longest_first' });
    return { ids: e.inputIds, types: e.tokenTypeIds, label: r.label };
  });
}

export interface BatchPlan {
  batchSize: number;
  seed: number;
  shuffle?: boolean;
  /** Sort by length inside windows of this many batches (0: no bucketing). Default 50. */
  bucketWindow?: number;
}

/** Index batches of one epoch, bucketed by length so little padding is wasted. */
export function epochBatches(examples: readonly Example[], plan: BatchPlan, epoch: number): number[][] {
  const bucket = plan.bucketWindow ?? 50;
  return batchIndices(examples.length, {
    batchSize: plan.batchSize, seed: plan.seed, shuffle: plan.shuffle ?? true,
    lengthOf: bucket > 0 ? (i) => examples[i]!.ids.length : undefined, bucketWindow: bucket > 0 ? bucket : undefined,
  }, epoch);
}

/** Batches in a fixed order sorted by length (evaluation: least padding, same result every time). */
export function evalBatches(examples: readonly Example[], batchSize: number): number[][] {
  const order = examples.map((_, i) => i).sort((a, b) => examples[a]!.ids.length - examples[b]!.ids.length || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

export interface BatchTensors {
  inputIds: Tensor;
  tokenTypeIds: Tensor;
  attentionMask: Tensor;
  labels: Tensor;
  batchSize: number;
  seqLen: number;
}

/** Pads the examples at `idx` to the longest row and uploads them. */
export function batchTensors(examples: readonly Example[], idx: readonly number[], padId: number, backend: Backend): BatchTensors {
  const rows = idx.map((i) => examples[i]!);
  const c: CollatedBatch = collate(rows.map((r) => ({ inputIds: r.ids, tokenTypeIds: r.types })), { padId });
  const [B, T] = [c.batchSize, c.seqLen];
  const i32 = { backend, dtype: 'i32' as const };
  return {
    inputIds: tensor(c.inputIds, [B, T], i32),
    tokenTypeIds: tensor(c.tokenTypeIds, [B, T], i32),
    attentionMask: tensor(c.attentionMask, [B, T], i32),
    labels: tensor(Int32Array.from(rows, (r) => r.label), [B], i32),
    batchSize: B,
    seqLen: T,
  };
}

/** Token count statistics of a set (for the log). */
export function lengthStats(examples: readonly Example[]): { mean: number; max: number; tokens: number } {
  let tokens = 0;
  let max = 0;
  for (const e of examples) {
    tokens += e.ids.length;
    max = Math.max(max, e.ids.length);
  }
  return { mean: examples.length ? tokens / examples.length : 0, max, tokens };
}

// ---- the classifier -----------------------------------------------------------------------------

export type Pooling = 'cls' | 'mean';

/**
 * d2l's BERTClassifier (16.7): the BERT encoder, its hidden layer (Linear + tanh on [CLS], which
 * is BertModel's pooler) and an output layer. With pooling 'mean' the output layer reads the
 * masked mean of the last hidden states instead (no pooler). Parameter names follow Hugging
 * Face's BertForSequenceClassification (bert.*, classifier.*).
 */
export class BERTClassifier extends Module {
  readonly bert: BertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  readonly pooling: Pooling;
  constructor(config: BertConfig, opts: { backend: Backend; pooling?: Pooling; numClasses?: number; dropout?: number; bert?: BertModel }) {
    super();
    this.pooling = opts.pooling ?? 'cls';
    this.bert = this.module('bert', opts.bert ?? new BertModel(config, { backend: opts.backend, addPoolingLayer: this.pooling === 'cls' }));
    if (this.pooling === 'cls' && !this.bert.pooler) throw new Error('BERTClassifier: pooling cls needs a BertModel with a pooling layer');
    this.dropout = this.module('dropout', new Dropout(opts.dropout ?? config.classifier_dropout ?? config.hidden_dropout_prob));
    this.classifier = this.module('classifier', new Linear(config.hidden_size, opts.numClasses ?? config.num_labels, { backend: opts.backend, initStd: config.initializer_range }));
  }

  /** The sentence vector the output layer reads: [B, H]. */
  features(b: Pick<BatchTensors, 'inputIds' | 'tokenTypeIds' | 'attentionMask'>): Tensor {
    const out = this.bert.forward({ inputIds: b.inputIds, tokenTypeIds: b.tokenTypeIds, attentionMask: b.attentionMask });
    return this.pooling === 'cls' ? out.poolerOutput! : meanPool(out.lastHiddenState, b.attentionMask);
  }

  /** Logits from features: [B, H] -> [B, classes]. */
  head(features: Tensor): Tensor {
    return this.classifier.forward(this.dropout.forward(features));
  }

  forward(b: Pick<BatchTensors, 'inputIds' | 'tokenTypeIds' | 'attentionMask'>): Tensor {
    return this.head(this.features(b));
  }
}

/** Anything that maps a batch to logits [B, classes]. */
export type LogitsFn = (b: BatchTensors) => Tensor;

export interface EvalResult {
  loss: number;
  accuracy: number;
  predictions: number[];
  labels: number[];
  examplesPerSec: number;
}

/** Loss, accuracy and per-example predictions (in the order of `examples`), without gradients. */
export async function evaluate(logits: LogitsFn, examples: readonly Example[], o: { batchSize: number; padId: number; backend: Backend; model?: Module }): Promise<EvalResult> {
  const wasTraining = o.model?.training ?? false;
  o.model?.eval();
  const predictions = new Array<number>(examples.length).fill(-1);
  let lossSum = 0;
  const t0 = performance.now();
  try {
    for (const idx of evalBatches(examples, o.batchSize)) {
      const [l, p] = noGrad(() => tidy(() => {
        const b = batchTensors(examples, idx, o.padId, o.backend);
        const z = logits(b);
        return [F.crossEntropy(z, b.labels, { reduction: 'sum' }), F.argmax(z)];
      }));
      const [ls, pd] = await Promise.all([l.item(), p.data()]);
      l.dispose();
      p.dispose();
      lossSum += ls;
      idx.forEach((i, k) => (predictions[i] = pd[k]!));
    }
  } finally {
    if (wasTraining) o.model?.train();
  }
  const labels = examples.map((e) => e.label);
  const correct = predictions.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0);
  const sec = (performance.now() - t0) / 1000;
  return { loss: lossSum / Math.max(1, examples.length), accuracy: correct / Math.max(1, examples.length), predictions, labels, examplesPerSec: examples.length / sec };
}

// ---- frozen encoder: features once, then a linear probe -----------------------------------------

/** Sentence features [n, H] of every example (noGrad, eval mode), on the host. */
export async function extractAll(model: BERTClassifier, examples: readonly Example[], o: { batchSize: number; padId: number; backend: Backend; onProgress?: (done: number) => void }): Promise<Float32Array> {
  const H = model.classifier.inFeatures;
  const out = new Float32Array(examples.length * H);
  const wasTraining = model.training;
  model.eval();
  try {
    let done = 0;
    for (const idx of evalBatches(examples, o.batchSize)) {
      const f = noGrad(() => tidy(() => model.features(batchTensors(examples, idx, o.padId, o.backend))));
      const v = await f.data();
      f.dispose();
      idx.forEach((i, k) => out.set(v.subarray(k * H, (k + 1) * H), i * H));
      done += idx.length;
      o.onProgress?.(done);
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

export interface ProbeOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  backend: Backend;
  weightDecay?: number;
  log?: (line: string) => void;
}

/**
 * Trains `linear` (the output layer) on fixed features [n, H]: a linear probe. The features are
 * standardized per dimension (train mean/std) while training, with AdamW and a linear decay on
 * the cross-entropy; at the end the standardization is folded into the layer's weight and bias,
 * so `linear` then reads raw features like the fine-tuned model does. Returns the last epoch's
 * mean loss.
 */
export async function trainProbe(linear: Linear, feats: Float32Array, labels: readonly number[], o: ProbeOptions): Promise<number> {
  const n = labels.length;
  const H = feats.length / n;
  if (linear.inFeatures !== H) throw new Error(`trainProbe: features have ${H} dims, the layer reads ${linear.inFeatures}`);
  const mu = new Float64Array(H);
  const sd = new Float64Array(H);
  for (let i = 0; i < n; i++) for (let j = 0; j < H; j++) mu[j] += feats[i * H + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < H; j++) sd[j] += (feats[i * H + j]! - mu[j]!) ** 2 / n;
  for (let j = 0; j < H; j++) sd[j] = Math.sqrt(sd[j]!) + 1e-6;
  const z = new Float32Array(feats.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < H; j++) z[i * H + j] = (feats[i * H + j]! - mu[j]!) / sd[j]!;
  const params = linear.parameters();
  const opt = new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay ?? 0 });
  const perEpoch = Math.ceil(n / o.batchSize);
  const sched = new LRScheduler(opt, linearWarmupDecay(0, perEpoch * o.epochs));
  let last = NaN;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    let sum: Tensor | null = null;
    for (const idx of batchIndices(n, { batchSize: o.batchSize, seed: o.seed }, epoch)) {
      const x = new Float32Array(idx.length * H);
      idx.forEach((i, k) => x.set(z.subarray(i * H, (i + 1) * H), k * H));
      const l = tidy(() => {
        const loss = F.crossEntropy(linear.forward(tensor(x, [idx.length, H], { backend: o.backend })), tensor(Int32Array.from(idx, (i) => labels[i]!), [idx.length], { backend: o.backend, dtype: 'i32' }));
        loss.backward();
        opt.step();
        opt.zeroGrad();
        for (const p of params) p.grad = null;
        return F.mul(loss.detach(), idx.length);
      });
      const next: Tensor = sum ? tidy(() => F.add(sum!, l)) : l;
      if (sum) {
        sum.dispose();
        l.dispose();
      }
      sum = next;
      sched.step();
    }
    last = (await sum!.item()) / n;
    sum!.dispose();
    o.log?.(`  probe epoch ${epoch + 1}/${o.epochs}  train loss ${last.toFixed(4)}`);
  }
  // Fold the standardization in: W' = W / sd (per input), b' = b - W' mu.
  const C = linear.outFeatures;
  const W = await linear.weight.data();
  const b = linear.bias ? await linear.bias.data() : new Float32Array(C);
  const W2 = new Float32Array(C * H);
  const b2 = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let shift = 0;
    for (let j = 0; j < H; j++) {
      W2[c * H + j] = W[c * H + j]! / sd[j]!;
      shift += W2[c * H + j]! * mu[j]!;
    }
    b2[c] = b[c]! - shift;
  }
  linear.weight.assign(tensor(W2, [C, H], { backend: o.backend }));
  linear.bias?.assign(tensor(b2, [C], { backend: o.backend }));
  return last;
}

// ---- small helpers ------------------------------------------------------------------------------

/** A deterministic subset of n items (seeded shuffle, original order kept), or all of them. */
export function subset<T>(items: readonly T[], n: number | undefined, seed: number): T[] {
  if (n === undefined || n <= 0 || n >= items.length) return [...items];
  const idx = batchIndices(items.length, { batchSize: items.length, seed }, 0)[0]!.slice(0, n).sort((a, b) => a - b);
  return idx.map((i) => items[i]!);
}

export const fmtSec = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

/** Elapsed seconds since `t0` (performance.now() ms). */
export const since = (t0: number) => (performance.now() - t0) / 1000;

/**
 * Device-side count of correct predictions (d2l's train accuracy without a readback per batch):
 * add() inside a training step, read() once per epoch.
 */
export class CorrectCounter {
  private sum: Tensor | null = null;
  private n = 0;
  add(logits: Tensor, labels: Tensor): void {
    const next = noGrad(() => tidy(() => {
      const c = F.sum(F.eq(F.cast(F.argmax(logits.detach()), 'f32'), F.cast(labels, 'f32')));
      return this.sum ? F.add(this.sum, c) : c;
    }));
    this.sum?.dispose();
    this.sum = keep(next);
    this.n += labels.shape[0]!;
  }
  /** Accuracy since the last read (NaN when nothing was added); resets. */
  async read(): Promise<number> {
    if (!this.sum) return NaN;
    const v = (await this.sum.item()) / this.n;
    this.sum.dispose();
    this.sum = null;
    this.n = 0;
    return v;
  }
}
