// Role: the WordPiece model: greedy longest-match-first segmentation of one pre-tokenized word
// into vocabulary pieces, with "##" marking pieces that continue a word, and a single [UNK] for
// a word longer than `maxInputCharsPerWord` code points or with any unmatchable part (BERT's and
// HF's rule: the whole word becomes [UNK], not just the bad part). Browser-safe.

import { VocabError, type Vocab } from './vocab.js';

export interface WordPieceOptions {
  unkToken?: string;
  continuingSubwordPrefix?: string;
  /** Words longer than this many code points become [UNK]. Default 100 (BERT). */
  maxInputCharsPerWord?: number;
  /** Memoized words; the cache is cleared when it reaches this size. Default 100,000. */
  cacheSize?: number;
}

/**
 * Result of segmenting one word: pairs (id, end) flattened, where `end` is the UTF-16 offset in
 * the word where the piece ends (each piece starts where the previous one ended).
 */
export type Pieces = Int32Array;

export class WordPiece {
  readonly unkId: number;
  readonly prefix: string;
  readonly maxInputChars: number;
  // Word-initial lookups use the full vocabulary; continuation lookups use a map keyed by the
  // token without its "##" prefix, which saves building "##" + substring for every probe.
  private readonly initial: ReadonlyMap<string, number>;
  private readonly continuation = new Map<string, number>();
  private readonly maxInitialLen: number;
  private readonly maxContinuationLen: number;
  private readonly cache = new Map<string, Pieces>();
  private readonly cacheSize: number;

  constructor(
    readonly vocab: Vocab,
    options: WordPieceOptions = {},
  ) {
    const unk = options.unkToken ?? '[UNK]';
    this.unkId = vocab.requireId(unk, 'unknown-word');
    this.prefix = options.continuingSubwordPrefix ?? '##';
    if (this.prefix === '') throw new VocabError('continuingSubwordPrefix must not be empty');
    this.maxInputChars = options.maxInputCharsPerWord ?? 100;
    this.cacheSize = options.cacheSize ?? 100_000;
    this.initial = vocab.entries();
    let maxInit = 0;
    let maxCont = 0;
    for (const [tok, id] of vocab.entries()) {
      maxInit = Math.max(maxInit, tok.length);
      if (tok.startsWith(this.prefix)) {
        const rest = tok.slice(this.prefix.length);
        this.continuation.set(rest, id);
        maxCont = Math.max(maxCont, rest.length);
      }
    }
    // Bounding the probe length by the longest token changes nothing in the result (a longer
    // substring cannot be in the vocabulary) but turns the O(n^2) search into O(n * maxLen).
    this.maxInitialLen = maxInit;
    this.maxContinuationLen = maxCont;
  }

  /** Segment one word (already normalized and pre-tokenized). */
  tokenize(word: string): Pieces {
    let hit = this.cache.get(word);
    if (hit === undefined) {
      hit = this.compute(word);
      if (this.cache.size >= this.cacheSize) this.cache.clear();
      this.cache.set(word, hit);
    }
    return hit;
  }

  /** Convenience: the piece strings of a word. */
  tokenizeToStrings(word: string): string[] {
    const p = this.tokenize(word);
    const out: string[] = [];
    for (let k = 0; k < p.length; k += 2) out.push(this.vocab.token(p[k]!)!);
    return out;
  }

  private compute(word: string): Pieces {
    const n = word.length;
    const unk = Int32Array.of(this.unkId, n);
    // UTF-16 length >= code point count, so only long strings need counting.
    if (n > this.maxInputChars && countCodePoints(word) > this.maxInputChars) return unk;
    const out: number[] = [];
    let start = 0;
    while (start < n) {
      const map = start === 0 ? this.initial : this.continuation;
      let end = Math.min(n, start + (start === 0 ? this.maxInitialLen : this.maxContinuationLen));
      // Never cut a surrogate pair.
      if (end < n && isLowSurrogate(word.charCodeAt(end))) end--;
      let id: number | undefined;
      while (end > start) {
        id = map.get(word.slice(start, end));
        if (id !== undefined) break;
        end -= end - 2 >= start && isLowSurrogate(word.charCodeAt(end - 1)) && isHighSurrogate(word.charCodeAt(end - 2)) ? 2 : 1;
      }
      if (id === undefined) return unk;
      out.push(id, end);
      start = end;
    }
    return Int32Array.from(out);
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

export function countCodePoints(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isLowSurrogate(c) && i > 0 && isHighSurrogate(s.charCodeAt(i - 1)))) k++;
  }
  return k;
}
