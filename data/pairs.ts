// Role: sentence-pair pre-training objectives, built from documents (lists of sentences, or of
// already tokenized sentences: the functions are generic in the sentence type):
// - next-sentence prediction (BERT, d2l): B is the true next sentence of the same document with
//   probability 0.5, otherwise a random sentence from another document;
// - sentence-order prediction (ALBERT): two consecutive sentences, swapped with probability 0.5;
// - reply-order prediction (TWilBERT): a tweet and its reply, in order or swapped.
// Label convention (d2l, TWilBERT): 1 = positive (is next / in order), 0 = negative. Hugging
// Face's BertForPreTraining uses the opposite for NSP (0 = is next): use `1 - label` there.
// Browser-safe.

import { Rng } from './rng.js';

export interface SentencePair<T> {
  a: T;
  b: T;
  /** 1: B really follows A (NSP) / A and B are in their original order (SOP, RPO); 0 otherwise. */
  label: 0 | 1;
}

function checkProb(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
}

/**
 * NSP pairs: one per pair of consecutive sentences (d2l's `_get_nsp_data_from_paragraph`). The
 * random B comes from a different document (as in Google's create_pretraining_data) unless there
 * is only one document, where it is any sentence of it other than the true next one.
 */
export function makeNspPairs<T>(docs: readonly (readonly T[])[], rng: Rng, options: { probNext?: number } = {}): SentencePair<T>[] {
  const probNext = options.probNext ?? 0.5;
  checkProb('probNext', probNext);
  const nonEmpty = docs.map((d, i) => [d, i] as const).filter(([d]) => d.length > 0);
  const out: SentencePair<T>[] = [];
  for (const [doc, di] of nonEmpty) {
    for (let i = 0; i + 1 < doc.length; i++) {
      if (rng.next() < probNext) {
        out.push({ a: doc[i]!, b: doc[i + 1]!, label: 1 });
        continue;
      }
      let b: T;
      if (nonEmpty.length > 1) {
        let other = nonEmpty[rng.int(nonEmpty.length)]!;
        // Rejection sampling for a different document (at most a few draws on average).
        while (other[1] === di) other = nonEmpty[rng.int(nonEmpty.length)]!;
        b = other[0][rng.int(other[0].length)]!;
      } else {
        let j = rng.int(doc.length);
        while (j === i + 1) j = rng.int(doc.length);
        b = doc[j]!;
      }
      out.push({ a: doc[i]!, b, label: 0 });
    }
  }
  return out;
}

/** SOP pairs: consecutive sentences of one document, swapped with probability `probSwap`. */
export function makeSopPairs<T>(docs: readonly (readonly T[])[], rng: Rng, options: { probSwap?: number } = {}): SentencePair<T>[] {
  const probSwap = options.probSwap ?? 0.5;
  checkProb('probSwap', probSwap);
  const out: SentencePair<T>[] = [];
  for (const doc of docs) {
    for (let i = 0; i + 1 < doc.length; i++) {
      if (rng.next() < probSwap) out.push({ a: doc[i + 1]!, b: doc[i]!, label: 0 });
      else out.push({ a: doc[i]!, b: doc[i + 1]!, label: 1 });
    }
  }
  return out;
}

export interface RopOptions {
  /**
   * 'random': each pair once, swapped with probability `probSwap` (default);
   * 'both': each pair twice, in order (label 1) then swapped (label 0), as TWilBERT's generator does.
   */
  mode?: 'random' | 'both';
  probSwap?: number;
}

/** RPO pairs from (tweet, reply) items. */
export function makeRopPairs<T>(pairs: readonly { orig: T; reply: T }[], rng: Rng, options: RopOptions = {}): SentencePair<T>[] {
  const mode = options.mode ?? 'random';
  const probSwap = options.probSwap ?? 0.5;
  checkProb('probSwap', probSwap);
  const out: SentencePair<T>[] = [];
  for (const p of pairs) {
    if (mode === 'both') {
      out.push({ a: p.orig, b: p.reply, label: 1 }, { a: p.reply, b: p.orig, label: 0 });
    } else if (mode === 'random') {
      out.push(rng.next() < probSwap ? { a: p.reply, b: p.orig, label: 0 } : { a: p.orig, b: p.reply, label: 1 });
    } else {
      throw new RangeError(`unknown RPO mode ${JSON.stringify(mode)}: use 'random' or 'both'`);
    }
  }
  return out;
}
