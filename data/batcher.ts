// Role: batching for training and evaluation: a seeded shuffle per epoch, optional length
// bucketing (sort by length inside large shuffled windows so a batch holds similar lengths and
// wastes little padding, then shuffle the batches), and collation that pads every row to the
// longest in its batch into flat Int32Arrays ready for the engine. Browser-safe.

import { Rng } from './rng.js';

export interface BatchOptions {
  batchSize: number;
  /** Default true. */
  shuffle?: boolean;
  /** Seed of the shuffle; each epoch derives its own order from (seed, epoch). Default 0. */
  seed?: number;
  /** Drop the last incomplete batch. Default false. */
  dropLast?: boolean;
  /** Length of item i: turns on bucketing by length. */
  lengthOf?: (index: number) => number;
  /** Bucketing window, in batches: items are sorted by length within windows of this many batches. Default 50. */
  bucketWindow?: number;
}

/** Item indices of every batch of one epoch. */
export function batchIndices(n: number, options: BatchOptions, epoch = 0): number[][] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const shuffle = options.shuffle ?? true;
  const rng = Rng.derive(options.seed ?? 0, epoch);
  const order = Array.from({ length: n }, (_, i) => i);
  if (shuffle) rng.shuffle(order);
  if (options.lengthOf) {
    const length = Float64Array.from({ length: n }, (_, i) => options.lengthOf!(i));
    const pos = new Int32Array(n);
    order.forEach((item, k) => (pos[item] = k));
    const window = batchSize * (options.bucketWindow ?? 50);
    for (let s = 0; s < n; s += window) {
      const chunk = order.slice(s, s + window);
      // Stable sort by length: ties keep the shuffled order.
      chunk.sort((x, y) => length[x]! - length[y]! || pos[x]! - pos[y]!);
      order.splice(s, chunk.length, ...chunk);
    }
  }
  const batches: number[][] = [];
  for (let s = 0; s < n; s += batchSize) {
    const b = order.slice(s, s + batchSize);
    if (b.length < batchSize && options.dropLast) break;
    batches.push(b);
  }
  // With bucketing the batches come out sorted by length; shuffle their order.
  if (options.lengthOf && shuffle) rng.shuffle(batches);
  return batches;
}

/** A padded 2-D int tensor in row-major order. */
export interface IntMatrix {
  data: Int32Array;
  rows: number;
  cols: number;
}

/** Pad rows to the longest (or to `padTo`, rounded up to a multiple of `multipleOf`). */
export function padRows(rows: readonly ArrayLike<number>[], padValue: number, options: { padTo?: number; multipleOf?: number } = {}): IntMatrix {
  let cols = rows.reduce((m, r) => Math.max(m, r.length), 0);
  if (options.padTo !== undefined) {
    if (options.padTo < cols) throw new RangeError(`padTo ${options.padTo} is shorter than the longest row (${cols})`);
    cols = options.padTo;
  }
  const mult = options.multipleOf ?? 1;
  cols = Math.ceil(cols / mult) * mult;
  const data = new Int32Array(rows.length * cols).fill(padValue);
  rows.forEach((r, i) => {
    for (let j = 0; j < r.length; j++) data[i * cols + j] = r[j]!;
  });
  return { data, rows: rows.length, cols };
}

export interface CollateInput {
  inputIds: ArrayLike<number>;
  tokenTypeIds?: ArrayLike<number>;
  attentionMask?: ArrayLike<number>;
  /** MLM labels (-100 where not predicted). */
  labels?: ArrayLike<number>;
  predPositions?: ArrayLike<number>;
  predLabels?: ArrayLike<number>;
}

export interface CollatedBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  labels?: Int32Array;
  /** d2l-style: positions padded to the batch's most predictions, with 0/1 weights. */
  predPositions?: Int32Array;
  predLabels?: Int32Array;
  predWeights?: Float32Array;
  maxPreds?: number;
}

/**
 * Pad a batch to its longest sequence. Attention masks are derived from lengths when absent.
 * If any example has predPositions, all must; they are padded to the batch maximum (or
 * `maxPreds`) with position 0, label 0 and weight 0.
 */
export function collate(examples: readonly CollateInput[], options: { padId: number; ignoreIndex?: number; maxPreds?: number; multipleOf?: number }): CollatedBatch {
  if (examples.length === 0) throw new RangeError('collate: empty batch');
  const m = options.multipleOf ? { multipleOf: options.multipleOf } : {};
  const ids = padRows(examples.map((e) => e.inputIds), options.padId, m);
  const cols = ids.cols;
  const types = padRows(examples.map((e) => e.tokenTypeIds ?? new Array<number>(e.inputIds.length).fill(0)), 0, { padTo: cols });
  const att = padRows(examples.map((e) => e.attentionMask ?? new Array<number>(e.inputIds.length).fill(1)), 0, { padTo: cols });
  const out: CollatedBatch = { batchSize: examples.length, seqLen: cols, inputIds: ids.data, tokenTypeIds: types.data, attentionMask: att.data };
  if (examples.some((e) => e.labels)) {
    if (!examples.every((e) => e.labels)) throw new RangeError('collate: some examples have labels and some do not');
    out.labels = padRows(examples.map((e) => e.labels!), options.ignoreIndex ?? -100, { padTo: cols }).data;
  }
  if (examples.some((e) => e.predPositions)) {
    if (!examples.every((e) => e.predPositions && e.predLabels)) throw new RangeError('collate: every example needs predPositions and predLabels');
    const most = examples.reduce((mx, e) => Math.max(mx, e.predPositions!.length), 0);
    const maxPreds = options.maxPreds ?? most;
    if (most > maxPreds) throw new RangeError(`collate: an example has ${most} predictions, more than maxPreds ${maxPreds}`);
    out.maxPreds = maxPreds;
    out.predPositions = padRows(examples.map((e) => e.predPositions!), 0, { padTo: maxPreds }).data;
    out.predLabels = padRows(examples.map((e) => e.predLabels!), 0, { padTo: maxPreds }).data;
    out.predWeights = new Float32Array(examples.length * maxPreds);
    examples.forEach((e, i) => out.predWeights!.fill(1, i * maxPreds, i * maxPreds + e.predPositions!.length));
  }
  return out;
}

/** Iterate the batches of one epoch as arrays of items. */
export class Batcher<T> {
  constructor(
    readonly items: readonly T[],
    readonly options: Omit<BatchOptions, 'lengthOf'> & { lengthOf?: (item: T) => number },
  ) {}

  get batchesPerEpoch(): number {
    const n = this.items.length;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  *epoch(epoch: number): Generator<T[]> {
    const lengthOf = this.options.lengthOf;
    const opts: BatchOptions = { ...this.options, lengthOf: lengthOf ? (i: number) => lengthOf(this.items[i]!) : undefined };
    for (const b of batchIndices(this.items.length, opts, epoch)) yield b.map((i) => this.items[i]!);
  }
}
