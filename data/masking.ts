// Role: masked-language-model corruption, applied dynamically (a fresh draw per epoch, from a
// seed, RoBERTa-style) at three granularities: single tokens (BERT), whole words (all pieces of
// a word together) and spans (TWilBERT's "type": "span": lengths 1..max_span with P(L) ∝ 1/L).
// A budget (default 15%) of the maskable tokens is chosen; each chosen token becomes [MASK] /
// a random token / itself with probabilities 80/10/10 (configurable). Special and padding tokens
// are never chosen; labels are the original ids at chosen positions and -100 elsewhere, and the
// chosen positions are also returned d2l-style (`predPositions`) so the MLM head can project
// only there. Browser-safe.

import { Rng } from './rng.js';

export type MaskStrategy = 'token' | 'whole_word' | 'span';

/** What masking needs to know about the vocabulary (BertTokenizer.maskingVocab() gives it). */
export interface MaskingVocab {
  maskId: number;
  vocabSize: number;
  /** Never chosen, never used as a random replacement ([PAD], [CLS], [SEP], [UNK], [MASK], ...). */
  specialIds: readonly number[];
  /** 1 for "##" continuation pieces: whole-word masking groups them with the previous piece. */
  isContinuation?: Uint8Array;
}

export interface MaskingOptions {
  strategy?: MaskStrategy;
  /** Fraction of maskable tokens to choose. Default 0.15. */
  budget?: number;
  /** At least this many predictions when there is anything to mask (d2l: 1). Default 1. */
  minPredictions?: number;
  /** Replacement probabilities; must sum to 1. Defaults 0.8 / 0.1 / 0.1. */
  maskProb?: number;
  randomProb?: number;
  keepProb?: number;
  /** Longest span for 'span'. Default 3 (TWilBERT's config). */
  maxSpan?: number;
  /** Label at positions that are not predicted. Default -100 (PyTorch's ignore_index). */
  ignoreIndex?: number;
}

/** One sequence to corrupt: plain ids, or an encoding (its masks/word ids are then used). */
export interface MaskInput {
  inputIds: ArrayLike<number>;
  attentionMask?: ArrayLike<number>;
  specialTokensMask?: ArrayLike<number>;
  /** Word index per token (null for added tokens), used by whole-word masking. */
  wordIds?: ArrayLike<number | null>;
  /** Segment ids: spans never cross a segment boundary. */
  tokenTypeIds?: ArrayLike<number>;
}

export type Replacement = 'mask' | 'random' | 'keep';

export interface MaskedExample {
  /** The corrupted ids fed to the model. */
  inputIds: number[];
  /** Original id at chosen positions, `ignoreIndex` elsewhere. */
  labels: number[];
  /** Chosen positions, ascending (d2l's pred_positions). */
  predPositions: number[];
  /** Original ids at predPositions (d2l's mlm_Y). */
  predLabels: number[];
  /** What was done at each predPosition. */
  replacements: Replacement[];
}

interface Resolved {
  strategy: MaskStrategy;
  budget: number;
  minPredictions: number;
  maskProb: number;
  randomProb: number;
  maxSpan: number;
  ignoreIndex: number;
  spanCdf: number[];
}

function resolve(o: MaskingOptions): Resolved {
  const strategy = o.strategy ?? 'token';
  if (strategy !== 'token' && strategy !== 'whole_word' && strategy !== 'span') {
    throw new RangeError(`unknown masking strategy ${JSON.stringify(strategy)}: use 'token', 'whole_word' or 'span'`);
  }
  const budget = o.budget ?? 0.15;
  if (!(budget >= 0 && budget <= 1)) throw new RangeError(`masking budget must be in [0, 1], got ${budget}`);
  const maskProb = o.maskProb ?? 0.8;
  const randomProb = o.randomProb ?? 0.1;
  const keepProb = o.keepProb ?? 0.1;
  for (const [name, p] of [['maskProb', maskProb], ['randomProb', randomProb], ['keepProb', keepProb]] as const) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
  }
  if (Math.abs(maskProb + randomProb + keepProb - 1) > 1e-9) {
    throw new RangeError(`maskProb + randomProb + keepProb must be 1, got ${maskProb} + ${randomProb} + ${keepProb}`);
  }
  const maxSpan = o.maxSpan ?? 3;
  if (!Number.isInteger(maxSpan) || maxSpan < 1) throw new RangeError(`maxSpan must be a positive integer, got ${maxSpan}`);
  // TWilBERT: P(L) = (1/L) / sum_{k=1..max_span} 1/k.
  const w = Array.from({ length: maxSpan }, (_, i) => 1 / (i + 1));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  const spanCdf = w.map((x) => (acc += x / total));
  return {
    strategy,
    budget,
    minPredictions: o.minPredictions ?? 1,
    maskProb,
    randomProb,
    maxSpan,
    ignoreIndex: o.ignoreIndex ?? -100,
    spanCdf,
  };
}

const candidateCache = new WeakMap<MaskingVocab, Int32Array>();

/** Ids a random replacement may use: every id that is not special. */
function randomCandidates(v: MaskingVocab): Int32Array {
  let c = candidateCache.get(v);
  if (!c) {
    const special = new Set(v.specialIds);
    const out: number[] = [];
    for (let i = 0; i < v.vocabSize; i++) if (!special.has(i)) out.push(i);
    if (out.length === 0) throw new RangeError('vocabulary has no non-special token to use as a random replacement');
    c = Int32Array.from(out);
    candidateCache.set(v, c);
  }
  return c;
}

/** Number of tokens to predict among `n` maskable ones. */
export function maskBudget(n: number, budget = 0.15, minPredictions = 1): number {
  if (n === 0) return 0;
  return Math.min(n, Math.max(minPredictions, Math.round(budget * n)));
}

/** Corrupt one sequence with the given generator (see DynamicMasker for per-epoch seeding). */
export function maskTokens(input: MaskInput | ArrayLike<number>, vocab: MaskingVocab, rng: Rng, options: MaskingOptions = {}): MaskedExample {
  const o = resolve(options);
  const inp: MaskInput = isMaskInput(input) ? input : { inputIds: input };
  const ids = inp.inputIds;
  const len = ids.length;
  const special = new Set(vocab.specialIds);
  const maskable = new Uint8Array(len);
  let n = 0;
  for (let i = 0; i < len; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocab.vocabSize) throw new RangeError(`token id ${id} at position ${i} is outside the vocabulary (size ${vocab.vocabSize})`);
    const ok = !special.has(id) && (inp.specialTokensMask?.[i] ?? 0) !== 1 && (inp.attentionMask?.[i] ?? 1) !== 0;
    if (ok) {
      maskable[i] = 1;
      n++;
    }
  }
  const k = maskBudget(n, o.budget, o.minPredictions);
  const picked = new Uint8Array(len);
  if (o.strategy === 'token') pickTokens(maskable, k, picked, rng);
  else if (o.strategy === 'whole_word') pickWholeWords(inp, vocab, maskable, k, picked, rng);
  else pickSpans(inp, maskable, k, picked, rng, o);

  const out: MaskedExample = { inputIds: Array.from(ids), labels: new Array<number>(len).fill(o.ignoreIndex), predPositions: [], predLabels: [], replacements: [] };
  const cands = o.randomProb > 0 ? randomCandidates(vocab) : null;
  for (let i = 0; i < len; i++) {
    if (!picked[i]) continue;
    const orig = ids[i]!;
    out.labels[i] = orig;
    out.predPositions.push(i);
    out.predLabels.push(orig);
    const r = rng.next();
    if (r < o.maskProb) {
      out.inputIds[i] = vocab.maskId;
      out.replacements.push('mask');
    } else if (r < o.maskProb + o.randomProb) {
      out.inputIds[i] = cands![rng.int(cands!.length)]!;
      out.replacements.push('random');
    } else {
      out.replacements.push('keep');
    }
  }
  return out;
}

function isMaskInput(x: MaskInput | ArrayLike<number>): x is MaskInput {
  return typeof x === 'object' && x !== null && 'inputIds' in x;
}

/** Exactly k maskable positions, uniformly (partial Fisher-Yates). */
function pickTokens(maskable: Uint8Array, k: number, picked: Uint8Array, rng: Rng): void {
  const pool: number[] = [];
  maskable.forEach((m, i) => m && pool.push(i));
  for (let j = 0; j < k; j++) {
    const r = j + rng.int(pool.length - j);
    const t = pool[j]!;
    pool[j] = pool[r]!;
    pool[r] = t;
    picked[pool[j]!] = 1;
  }
}

/**
 * Whole words in random order, each taken only if it fits in what is left of the budget (HF's
 * DataCollatorForWholeWordMask rule): never over budget; under it only when every word left
 * is longer than the remainder.
 */
function pickWholeWords(inp: MaskInput, vocab: MaskingVocab, maskable: Uint8Array, k: number, picked: Uint8Array, rng: Rng): void {
  const words: number[][] = [];
  const wordIds = inp.wordIds;
  const cont = vocab.isContinuation;
  if (!wordIds && !cont) throw new RangeError("whole_word masking needs `wordIds` on the input or `isContinuation` in the vocabulary");
  for (let i = 0; i < maskable.length; i++) {
    if (!maskable[i]) continue;
    const prev = words.length ? words[words.length - 1]! : null;
    const adjacent = prev !== null && prev[prev.length - 1] === i - 1;
    const sameSegment = !inp.tokenTypeIds || i === 0 || inp.tokenTypeIds[i] === inp.tokenTypeIds[i - 1];
    const joins = wordIds ? wordIds[i] !== null && wordIds[i] === wordIds[i - 1] : cont![inp.inputIds[i]!] === 1;
    if (adjacent && sameSegment && joins) prev!.push(i);
    else words.push([i]);
  }
  rng.shuffle(words);
  let count = 0;
  for (const w of words) {
    if (count === k) break;
    if (count + w.length > k) continue;
    for (const p of w) picked[p] = 1;
    count += w.length;
  }
}

/** TWilBERT-style spans: random start, length ~ 1/L, stopped by special tokens, segment ends and the budget. */
function pickSpans(inp: MaskInput, maskable: Uint8Array, k: number, picked: Uint8Array, rng: Rng, o: Resolved): void {
  // Pool of unpicked maskable positions with O(1) removal.
  const pool: number[] = [];
  const where = new Int32Array(maskable.length).fill(-1);
  maskable.forEach((m, i) => {
    if (m) {
      where[i] = pool.length;
      pool.push(i);
    }
  });
  const take = (p: number): void => {
    picked[p] = 1;
    const idx = where[p]!;
    const last = pool.pop()!;
    if (last !== p) {
      pool[idx] = last;
      where[last] = idx;
    }
    where[p] = -1;
  };
  const types = inp.tokenTypeIds;
  let remaining = k;
  while (remaining > 0) {
    const u = rng.next();
    let spanLen = 1;
    while (spanLen < o.maxSpan && u >= o.spanCdf[spanLen - 1]!) spanLen++;
    const start = pool[rng.int(pool.length)]!;
    for (let p = start; p < start + spanLen && remaining > 0; p++) {
      if (p >= maskable.length || !maskable[p] || picked[p]) break;
      if (types && p > start && types[p] !== types[p - 1]) break;
      take(p);
      remaining--;
    }
  }
}

/**
 * Dynamic masking: the draw for example `index` in epoch `epoch` depends only on
 * (seed, epoch, index), so it is reproducible, differs between epochs, and does not depend on
 * batch order or on which worker computes it.
 */
export class DynamicMasker {
  constructor(
    readonly vocab: MaskingVocab,
    readonly seed: number,
    readonly options: MaskingOptions = {},
  ) {
    resolve(options); // validate early
  }

  mask(input: MaskInput | ArrayLike<number>, epoch: number, index: number): MaskedExample {
    return maskTokens(input, this.vocab, Rng.derive(this.seed, epoch, index), this.options);
  }
}
