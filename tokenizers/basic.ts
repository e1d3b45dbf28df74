// Role: BERT's "basic tokenizer": normalization (clean control characters and whitespace, space
// out CJK ideographs, strip accents, lowercase) fused with pre-tokenization (split on whitespace,
// isolate every punctuation character). It keeps, for every UTF-16 unit of every word it emits,
// the span of the original text it came from, so word pieces can report character offsets.
// Browser-safe.

import { CharClass, CharNormalizer, type NormalizerOptions } from './unicode.js';

export interface BasicTokenizerOptions {
  /** Lowercase the text (uncased vocabularies). */
  lowercase: boolean;
  /** Strip accents; default: same as `lowercase` (BERT's rule, also HF's). */
  stripAccents?: boolean;
  /** Default true. */
  cleanText?: boolean;
  /** Default true. */
  handleChineseChars?: boolean;
}

/** A pre-token with its [start, end) span in the original string (UTF-16 offsets). */
export interface PreToken {
  text: string;
  start: number;
  end: number;
}

/**
 * Callback for each word. `starts[k]`/`ends[k]` give the original span of the k-th UTF-16 unit
 * of `word`. The arrays are scratch buffers reused for the next word: copy what you keep.
 */
export type WordSink = (word: string, starts: Int32Array, ends: Int32Array) => void;

export class BasicTokenizer {
  readonly normalizer: CharNormalizer;
  private starts = new Int32Array(256);
  private ends = new Int32Array(256);
  // ASCII fast path tables: 0 = removed, 1 = space, 2 = punctuation, 3 = word character.
  private readonly asciiKind = new Uint8Array(128);
  private readonly lowercase: boolean;

  constructor(options: BasicTokenizerOptions) {
    const opts: NormalizerOptions = {
      lowercase: options.lowercase,
      stripAccents: options.stripAccents ?? options.lowercase,
      cleanText: options.cleanText ?? true,
      handleChineseChars: options.handleChineseChars ?? true,
    };
    this.lowercase = opts.lowercase;
    this.normalizer = new CharNormalizer(opts);
    for (let cp = 0; cp < 128; cp++) {
      const n = this.normalizer.normalize(cp);
      if (n === '') this.asciiKind[cp] = 0;
      else {
        const c = this.normalizer.classify(n.codePointAt(0)!);
        this.asciiKind[cp] = c === CharClass.Space ? 1 : c === CharClass.Punct ? 2 : 3;
      }
    }
  }

  /** Split `text` into normalized words (pre-tokens) with original offsets. */
  tokenize(text: string): PreToken[] {
    const out: PreToken[] = [];
    this.forEachWord(text, 0, text.length, (word, starts, ends) => {
      out.push({ text: word, start: starts[0]!, end: ends[word.length - 1]! });
    });
    return out;
  }

  /** Stream the words of `text.slice(from, to)` to `sink` (offsets stay relative to `text`). */
  forEachWord(text: string, from: number, to: number, sink: WordSink): void {
    const norm = this.normalizer;
    const kind = this.asciiKind;
    let word = '';
    let n = 0; // UTF-16 units in `word`
    const flush = (): void => {
      if (n > 0) {
        sink(word, this.starts, this.ends);
        word = '';
        n = 0;
      }
    };
    let i = from;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        const k = kind[c]!;
        if (k === 3) {
          // A run of plain ASCII word characters: normalize it in one slice.
          let j = i + 1;
          while (j < to) {
            const d = text.charCodeAt(j);
            if (d >= 128 || kind[d] !== 3) break;
            j++;
          }
          const chunk = this.lowercase ? text.slice(i, j).toLowerCase() : text.slice(i, j);
          this.reserve(n + (j - i));
          for (let p = i; p < j; p++, n++) {
            this.starts[n] = p;
            this.ends[n] = p + 1;
          }
          word += chunk;
          i = j;
        } else if (k === 2) {
          flush();
          this.starts[0] = i;
          this.ends[0] = i + 1;
          sink(text[i]!, this.starts, this.ends);
          i++;
        } else {
          if (k === 1) flush();
          i++;
        }
        continue;
      }
      // Non-ASCII: go through the memoized per-code-point normalizer.
      const cp = text.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      const frag = norm.normalize(cp);
      for (let f = 0; f < frag.length; ) {
        const ncp = frag.codePointAt(f)!;
        const nlen = ncp > 0xffff ? 2 : 1;
        const cls = norm.classify(ncp);
        if (cls === CharClass.Space) {
          flush();
        } else if (cls === CharClass.Punct) {
          flush();
          this.reserve(nlen);
          for (let u = 0; u < nlen; u++) {
            this.starts[u] = i;
            this.ends[u] = i + len;
          }
          sink(frag.slice(f, f + nlen), this.starts, this.ends);
        } else {
          this.reserve(n + nlen);
          for (let u = 0; u < nlen; u++, n++) {
            this.starts[n] = i;
            this.ends[n] = i + len;
          }
          word += nlen === 1 ? frag[f] : frag.slice(f, f + nlen);
        }
        f += nlen;
      }
      i += len;
    }
    flush();
  }

  private reserve(size: number): void {
    if (size <= this.starts.length) return;
    let cap = this.starts.length;
    while (cap < size) cap *= 2;
    const s = new Int32Array(cap);
    s.set(this.starts);
    const e = new Int32Array(cap);
    e.set(this.ends);
    this.starts = s;
    this.ends = e;
  }
}
