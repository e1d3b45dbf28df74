// Role: WordPiece vocabulary training from a raw corpus, the job TWilBERT's create_vocab.py did
// with SentencePiece. The algorithm is the one HF `tokenizers`' WordPieceTrainer uses: start from
// the characters (word-initial `c` and continuation `##c`), then repeatedly merge the most
// frequent adjacent pair of pieces until the vocabulary has `vocabSize` tokens or no pair occurs
// `minFrequency` times. Output is deterministic (ties broken by token ids, no Map/Set order
// leaks) and can be written as vocab.txt. Browser-safe.

import { BasicTokenizer } from './basic.js';
import { VocabError, vocabToText } from './vocab.js';

export interface WordPieceTrainerOptions {
  /** Target vocabulary size, special tokens included. */
  vocabSize: number;
  /** A pair is merged only if it occurs at least this often (weighted by word counts). Default 2. */
  minFrequency?: number;
  /** Put first, in this order. Default [PAD], [UNK], [CLS], [SEP], [MASK]. */
  specialTokens?: string[];
  /** Normalize like an uncased BERT (lowercase + strip accents). Default true. */
  lowercase?: boolean;
  stripAccents?: boolean;
  /** Keep only the N most frequent characters; words with other characters are left out. */
  limitAlphabet?: number;
  continuingSubwordPrefix?: string;
  /** Do not create pieces longer than this many UTF-16 units. Default 100 (BERT's max word). */
  maxPieceLength?: number;
}

const SHIFT = 2 ** 21; // pair key = a * SHIFT + b; ids stay below 2^21

/**
 * Streaming trainer: `feed` texts (any number of times), then `train`. Word counting uses the
 * same basic tokenizer as encoding, so training and tokenization see identical words.
 */
export class WordPieceTrainer {
  private readonly wordCounts = new Map<string, number>();
  private readonly basic: BasicTokenizer;
  readonly options: Required<Omit<WordPieceTrainerOptions, 'limitAlphabet' | 'stripAccents'>> & { limitAlphabet?: number };

  constructor(options: WordPieceTrainerOptions) {
    if (!Number.isInteger(options.vocabSize) || options.vocabSize < 1 || options.vocabSize >= SHIFT) {
      throw new RangeError(`vocabSize must be an integer in [1, ${SHIFT}), got ${options.vocabSize}`);
    }
    this.options = {
      vocabSize: options.vocabSize,
      minFrequency: options.minFrequency ?? 2,
      specialTokens: options.specialTokens ?? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
      lowercase: options.lowercase ?? true,
      continuingSubwordPrefix: options.continuingSubwordPrefix ?? '##',
      maxPieceLength: options.maxPieceLength ?? 100,
      limitAlphabet: options.limitAlphabet,
    };
    this.basic = new BasicTokenizer({ lowercase: this.options.lowercase, stripAccents: options.stripAccents });
  }

  /** Count the words of some texts. */
  feed(texts: Iterable<string>): this {
    const counts = this.wordCounts;
    for (const text of texts) {
      this.basic.forEachWord(text, 0, text.length, (w) => {
        counts.set(w, (counts.get(w) ?? 0) + 1);
      });
    }
    return this;
  }

  /** Run the merges; returns the vocabulary as a token list (index = id). */
  train(): string[] {
    const { vocabSize, minFrequency, specialTokens, continuingSubwordPrefix: prefix, maxPieceLength, limitAlphabet } = this.options;
    const tokens: string[] = [];
    const ids = new Map<string, number>();
    const add = (t: string): number => {
      let id = ids.get(t);
      if (id === undefined) {
        id = tokens.length;
        tokens.push(t);
        ids.set(t, id);
      }
      return id;
    };
    for (const s of specialTokens) {
      if (ids.has(s)) throw new VocabError(`special token ${JSON.stringify(s)} is listed twice`);
      add(s);
    }

    // Words in a canonical order (by string), so the result never depends on corpus order.
    const entries = [...this.wordCounts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));

    // Alphabet: characters by frequency, optionally limited; then sorted for stable ids.
    const charFreq = new Map<string, number>();
    for (const [w, c] of entries) for (const ch of w) charFreq.set(ch, (charFreq.get(ch) ?? 0) + c);
    let alphabet = [...charFreq.keys()];
    if (limitAlphabet !== undefined && alphabet.length > limitAlphabet) {
      alphabet.sort((x, y) => charFreq.get(y)! - charFreq.get(x)! || (x < y ? -1 : 1));
      alphabet = alphabet.slice(0, limitAlphabet);
    }
    const allowed = new Set(alphabet);
    const initialChars = new Set<string>();
    const contChars = new Set<string>();
    const words: Int32Array[] = [];
    const freqs: number[] = [];
    const wordChars: string[][] = [];
    for (const [w, c] of entries) {
      const chars = [...w];
      if (!chars.every((ch) => allowed.has(ch))) continue;
      chars.forEach((ch, i) => (i === 0 ? initialChars : contChars).add(ch));
      wordChars.push(chars);
      freqs.push(c);
    }
    const sortStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    for (const ch of [...initialChars].sort(sortStr)) add(ch);
    for (const ch of [...contChars].sort(sortStr)) add(prefix + ch);
    for (const chars of wordChars) words.push(Int32Array.from(chars, (ch, i) => ids.get(i === 0 ? ch : prefix + ch)!));

    // Pair statistics: counts, and which words contain each pair (never pruned: a stale entry
    // just finds nothing to merge).
    const pairCounts = new Map<number, number>();
    const where = new Map<number, number[]>();
    for (let w = 0; w < words.length; w++) {
      const s = words[w]!;
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i]! * SHIFT + s[i + 1]!;
        pairCounts.set(k, (pairCounts.get(k) ?? 0) + freqs[w]!);
        const list = where.get(k);
        if (list === undefined) where.set(k, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    }
    const heap = new PairHeap();
    for (const [k, c] of pairCounts) heap.push(c, k);

    while (tokens.length < vocabSize && heap.size > 0) {
      const [count, key] = heap.pop();
      const current = pairCounts.get(key) ?? 0;
      if (current !== count) {
        // Stale entry (the count went down since it was pushed): requeue with the true count.
        if (current > 0) heap.push(current, key);
        continue;
      }
      if (count < minFrequency) break;
      const a = Math.floor(key / SHIFT);
      const b = key - a * SHIFT;
      const ta = tokens[a]!;
      const tb = tokens[b]!;
      const merged = ta + (tb.startsWith(prefix) ? tb.slice(prefix.length) : tb);
      pairCounts.delete(key);
      if (merged.length - (merged.startsWith(prefix) ? prefix.length : 0) > maxPieceLength) continue;
      const newId = add(merged);
      const delta = new Map<number, number>();
      for (const w of where.get(key) ?? []) {
        const s = words[w]!;
        let hit = false;
        for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) hit = true;
        if (!hit) continue;
        const f = freqs[w]!;
        for (let i = 0; i + 1 < s.length; i++) {
          const k = s[i]! * SHIFT + s[i + 1]!;
          delta.set(k, (delta.get(k) ?? 0) - f);
        }
        const next: number[] = [];
        for (let i = 0; i < s.length; ) {
          if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
            next.push(newId);
            i += 2;
          } else next.push(s[i++]!);
        }
        const ns = Int32Array.from(next);
        words[w] = ns;
        for (let i = 0; i + 1 < ns.length; i++) {
          const k = ns[i]! * SHIFT + ns[i + 1]!;
          delta.set(k, (delta.get(k) ?? 0) + f);
          const list = where.get(k);
          if (list === undefined) where.set(k, [w]);
          else if (list[list.length - 1] !== w) list.push(w);
        }
      }
      where.delete(key);
      for (const [k, d] of delta) {
        if (d === 0 || k === key) continue;
        const c = (pairCounts.get(k) ?? 0) + d;
        if (c <= 0) pairCounts.delete(k);
        else pairCounts.set(k, c);
        if (d > 0) heap.push(c, k); // decreases are handled lazily at pop time
      }
    }
    return tokens;
  }
}

/** Train a WordPiece vocabulary on `texts` (see WordPieceTrainerOptions). */
export function trainWordPiece(texts: Iterable<string>, options: WordPieceTrainerOptions): string[] {
  return new WordPieceTrainer(options).feed(texts).train();
}

/** Train and return vocab.txt text. */
export function trainWordPieceVocabText(texts: Iterable<string>, options: WordPieceTrainerOptions): string {
  return vocabToText(trainWordPiece(texts, options));
}

/** Max-heap of (count, pair key): highest count first, then smallest key (deterministic ties). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.before(l, m)) m = l;
        if (r < n && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }
}
