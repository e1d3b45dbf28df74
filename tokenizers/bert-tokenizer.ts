// Role: the BERT WordPiece tokenizer with a Hugging Face-style encoding API: special tokens kept
// whole, basic tokenization, word pieces, [CLS] A [SEP] (B [SEP]) assembly with token type ids,
// truncation (longest_first / only_first / only_second / proportional), padding, attention mask,
// character offsets, batch encoding and decoding. Its ids match HF `tokenizers` (Rust) with a
// BertNormalizer + BertPreTokenizer + WordPiece + BertProcessing pipeline. Browser-safe.

import { BasicTokenizer } from './basic.js';
import { TRUNCATION_STRATEGIES, TruncationError, truncateLengths, type TruncationStrategy } from './truncation.js';
import { BERT_SPECIAL_TOKENS, Vocab, type SpecialTokenNames } from './vocab.js';
import { WordPiece } from './wordpiece.js';

export type PaddingStrategy = 'longest' | 'max_length';

export interface EncodeOptions {
  /** Maximum total length including [CLS]/[SEP]. Defaults to `modelMaxLength` (512). */
  maxLength?: number;
  /** true = 'longest_first'. Default false: a too-long input is an error, never cut silently. */
  truncation?: boolean | TruncationStrategy;
  /** true = 'longest'. For a single `encode`, 'longest' means no padding. */
  padding?: boolean | PaddingStrategy;
  /** Add [CLS]/[SEP]. Default true. */
  addSpecialTokens?: boolean;
}

/** One encoded example. All arrays have the same length (padding included). */
export interface Encoding {
  inputIds: number[];
  /** Segment ids: 0 for [CLS] A [SEP], 1 for B [SEP]. */
  tokenTypeIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** 1 for [CLS]/[SEP]/[PAD] added by the tokenizer or special tokens found in the text. */
  specialTokensMask: number[];
  /** [start, end) in the source string (UTF-16 units, so `text.slice(start, end)`); [0, 0] for added tokens. */
  offsets: [number, number][];
  /** Index of the pre-tokenized word within its sequence (pieces of one word share it); null for added tokens. */
  wordIds: (number | null)[];
  /** 0 or 1 for tokens of sequence A or B, null for added tokens. */
  sequenceIds: (number | null)[];
  tokens: string[];
  /** How many word pieces truncation removed (0 when nothing was cut). */
  numTruncated: number;
}

/** A batch: one row per input, padded (by default) to the longest row. */
export interface BatchEncoding {
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
  specialTokensMask: number[][];
  offsets: [number, number][][];
  encodings: Encoding[];
}

export type TextInput = string | readonly [string, string];

export interface BertTokenizerOptions {
  /** Lowercase (and strip accents): uncased vocabularies. Default 'auto': true when no token of the vocabulary has an uppercase letter. */
  lowercase?: boolean | 'auto';
  /** Default: same as lowercase. */
  stripAccents?: boolean;
  cleanText?: boolean;
  handleChineseChars?: boolean;
  /** Default 512: longer encodings are an error (or truncated when truncation is on). */
  modelMaxLength?: number;
  maxInputCharsPerWord?: number;
  /** Names of the special tokens; their ids are looked up in the vocabulary. */
  specialTokens?: Partial<SpecialTokenNames>;
  /** More tokens (present in the vocabulary) to keep whole when they appear in text. */
  extraSpecialTokens?: string[];
}

interface RawSequence {
  ids: number[];
  starts: number[];
  ends: number[];
  words: number[];
  special: number[];
}

export class BertTokenizer {
  readonly vocab: Vocab;
  readonly lowercase: boolean;
  readonly modelMaxLength: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  readonly specialTokenNames: SpecialTokenNames;
  /** Ids of every special token (never masked, skipped by decode). */
  readonly specialIds: ReadonlySet<number>;
  readonly basic: BasicTokenizer;
  readonly wordpiece: WordPiece;
  private readonly specialRe: RegExp | null;

  constructor(vocab: Vocab, options: BertTokenizerOptions = {}) {
    this.vocab = vocab;
    const lc = options.lowercase ?? 'auto';
    this.lowercase = lc === 'auto' ? !vocabHasUppercase(vocab) : lc;
    this.modelMaxLength = options.modelMaxLength ?? 512;
    if (!Number.isInteger(this.modelMaxLength) || this.modelMaxLength < 2) {
      throw new RangeError(`modelMaxLength must be an integer >= 2, got ${this.modelMaxLength}`);
    }
    const names = { ...BERT_SPECIAL_TOKENS, ...options.specialTokens };
    this.specialTokenNames = names;
    this.padId = vocab.requireId(names.pad, 'padding');
    this.unkId = vocab.requireId(names.unk, 'unknown-word');
    this.clsId = vocab.requireId(names.cls, 'classification ([CLS])');
    this.sepId = vocab.requireId(names.sep, 'separator ([SEP])');
    this.maskId = vocab.requireId(names.mask, 'mask');
    const specials = [names.pad, names.unk, names.cls, names.sep, names.mask, ...(options.extraSpecialTokens ?? [])];
    this.specialIds = new Set(specials.map((t) => vocab.requireId(t, 'special')));
    // Longest first so that "[SEP2]" would win over "[SEP]" (leftmost-longest, like HF).
    const sorted = [...new Set(specials)].sort((a, b) => b.length - a.length);
    this.specialRe = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
    this.basic = new BasicTokenizer({
      lowercase: this.lowercase,
      stripAccents: options.stripAccents,
      cleanText: options.cleanText,
      handleChineseChars: options.handleChineseChars,
    });
    this.wordpiece = new WordPiece(vocab, { unkToken: names.unk, maxInputCharsPerWord: options.maxInputCharsPerWord });
  }

  /** Build from `vocab.txt` text (see `load-node.ts` for reading a file). */
  static fromVocabText(text: string, options: BertTokenizerOptions = {}, source?: string): BertTokenizer {
    return new BertTokenizer(Vocab.parse(text, source), options);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Word-piece strings of `text`, no special tokens added. */
  tokenize(text: string): string[] {
    return this.rawEncode(text).ids.map((id) => this.vocab.token(id)!);
  }

  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.vocab.id(t) ?? this.unkId);
  }

  convertIdsToTokens(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.tokenOf(id));
  }

  /** Encode one text or a pair. */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    if (pair !== undefined && pair !== null && typeof pair !== 'string') throw new TypeError(`encode: pair must be a string, got ${typeof pair}`);
    const { maxLength, strategy, padding, addSpecial } = this.resolveOptions(options);
    const a = this.rawEncode(text);
    const b = pair === undefined || pair === null ? null : this.rawEncode(pair);
    const nSpecial = addSpecial ? (b ? 3 : 2) : 0;
    let keepA = a.ids.length;
    let keepB = b ? b.ids.length : 0;
    const total = keepA + keepB + nSpecial;
    if (total > maxLength) {
      if (!strategy) {
        throw new RangeError(
          `encode: input has ${total} tokens but the limit is ${maxLength}` +
            (maxLength === this.modelMaxLength ? ` (the model's ${this.modelMaxLength} positions)` : '') +
            `; pass {truncation: true} (or a strategy) to cut it`,
        );
      }
      if (maxLength < nSpecial) throw new TruncationError(`maxLength ${maxLength} leaves no room for the ${nSpecial} special tokens`);
      [keepA, keepB] = truncateLengths(keepA, b ? keepB : null, maxLength - nSpecial, strategy);
    }
    const enc = this.assemble(a, keepA, b, keepB, addSpecial);
    enc.numTruncated = a.ids.length - keepA + (b ? b.ids.length - keepB : 0);
    if (padding === 'max_length') this.pad(enc, maxLength);
    return enc;
  }

  /** Encode many texts or pairs; pads to the longest row unless `padding` says otherwise. */
  encodeBatch(inputs: readonly TextInput[], options: EncodeOptions = {}): BatchEncoding {
    const padding = options.padding ?? 'longest';
    const encodings = inputs.map((inp) =>
      typeof inp === 'string' ? this.encode(inp, null, { ...options, padding: false }) : this.encode(inp[0], inp[1], { ...options, padding: false }),
    );
    if (padding === true || padding === 'longest') {
      const longest = encodings.reduce((m, e) => Math.max(m, e.inputIds.length), 0);
      for (const e of encodings) this.pad(e, longest);
    } else if (padding === 'max_length') {
      const target = this.resolveOptions(options).maxLength;
      for (const e of encodings) this.pad(e, target);
    }
    return {
      inputIds: encodings.map((e) => e.inputIds),
      tokenTypeIds: encodings.map((e) => e.tokenTypeIds),
      attentionMask: encodings.map((e) => e.attentionMask),
      specialTokensMask: encodings.map((e) => e.specialTokensMask),
      offsets: encodings.map((e) => e.offsets),
      encodings,
    };
  }

  /** Pad an encoding in place (on the right) to `length`; longer encodings are left as they are. */
  pad(enc: Encoding, length: number): Encoding {
    const padTok = this.specialTokenNames.pad;
    while (enc.inputIds.length < length) {
      enc.inputIds.push(this.padId);
      enc.tokenTypeIds.push(0);
      enc.attentionMask.push(0);
      enc.specialTokensMask.push(1);
      enc.offsets.push([0, 0]);
      enc.wordIds.push(null);
      enc.sequenceIds.push(null);
      enc.tokens.push(padTok);
    }
    return enc;
  }

  /**
   * Ids back to text, as HF's WordPiece decoder does: "##" pieces are glued to the previous
   * token, other tokens are separated by a space, and (by default) the space before . ? ! , is
   * removed. Special tokens are skipped by default.
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const cleanup = options.cleanUpTokenizationSpaces ?? true;
    const prefix = this.wordpiece.prefix;
    let out = '';
    let first = true;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (skip && this.specialIds.has(id)) continue;
      let tok = this.tokenOf(id);
      if (!first) tok = tok.startsWith(prefix) ? tok.slice(prefix.length) : ' ' + tok;
      out += cleanup ? cleanupToken(tok) : tok;
      first = false;
    }
    return out;
  }

  decodeBatch(batch: readonly ArrayLike<number>[], options?: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean }): string[] {
    return batch.map((ids) => this.decode(ids, options));
  }

  /** What the masking code needs to know about this vocabulary. */
  maskingVocab(): { maskId: number; vocabSize: number; specialIds: number[]; isContinuation: Uint8Array } {
    const isContinuation = new Uint8Array(this.vocab.size);
    this.vocab.tokens.forEach((t, i) => {
      if (t.startsWith(this.wordpiece.prefix)) isContinuation[i] = 1;
    });
    return { maskId: this.maskId, vocabSize: this.vocab.size, specialIds: [...this.specialIds], isContinuation };
  }

  private tokenOf(id: number): string {
    const t = this.vocab.token(id);
    if (t === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocab.size})`);
    return t;
  }

  private resolveOptions(o: EncodeOptions): { maxLength: number; strategy: TruncationStrategy | null; padding: PaddingStrategy | null; addSpecial: boolean } {
    const maxLength = o.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    if (maxLength > this.modelMaxLength) {
      throw new RangeError(`maxLength ${maxLength} exceeds the model's ${this.modelMaxLength} positions (modelMaxLength)`);
    }
    const t = o.truncation ?? false;
    const strategy = t === true ? 'longest_first' : t === false ? null : t;
    if (strategy !== null && !TRUNCATION_STRATEGIES.includes(strategy)) {
      throw new RangeError(`unknown truncation ${JSON.stringify(t)}: use true, false or one of ${TRUNCATION_STRATEGIES.join(', ')}`);
    }
    const p = o.padding ?? false;
    const padding = p === true ? 'longest' : p === false ? null : p;
    if (padding !== null && padding !== 'longest' && padding !== 'max_length') {
      throw new RangeError(`unknown padding ${JSON.stringify(p)}: use 'longest' or 'max_length'`);
    }
    return { maxLength, strategy, padding, addSpecial: o.addSpecialTokens ?? true };
  }

  /** Word pieces of one sequence with offsets, no [CLS]/[SEP]. */
  private rawEncode(text: string): RawSequence {
    const seq: RawSequence = { ids: [], starts: [], ends: [], words: [], special: [] };
    let word = 0;
    const sink = (w: string, starts: Int32Array, ends: Int32Array): void => {
      const p = this.wordpiece.tokenize(w);
      let prev = 0;
      for (let k = 0; k < p.length; k += 2) {
        const end = p[k + 1]!;
        seq.ids.push(p[k]!);
        seq.starts.push(starts[prev]!);
        seq.ends.push(ends[end - 1]!);
        seq.words.push(word);
        seq.special.push(0);
        prev = end;
      }
      word++;
    };
    const re = this.specialRe;
    let from = 0;
    if (re) {
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        this.basic.forEachWord(text, from, m.index, sink);
        seq.ids.push(this.vocab.id(m[0])!);
        seq.starts.push(m.index);
        seq.ends.push(m.index + m[0].length);
        seq.words.push(word++);
        seq.special.push(1);
        from = m.index + m[0].length;
      }
    }
    this.basic.forEachWord(text, from, text.length, sink);
    return seq;
  }

  private assemble(a: RawSequence, keepA: number, b: RawSequence | null, keepB: number, addSpecial: boolean): Encoding {
    const enc: Encoding = {
      inputIds: [],
      tokenTypeIds: [],
      attentionMask: [],
      specialTokensMask: [],
      offsets: [],
      wordIds: [],
      sequenceIds: [],
      tokens: [],
      numTruncated: 0,
    };
    const added = (id: number, type: number): void => {
      enc.inputIds.push(id);
      enc.tokenTypeIds.push(type);
      enc.attentionMask.push(1);
      enc.specialTokensMask.push(1);
      enc.offsets.push([0, 0]);
      enc.wordIds.push(null);
      enc.sequenceIds.push(null);
      enc.tokens.push(this.tokenOf(id));
    };
    const body = (s: RawSequence, keep: number, type: number): void => {
      for (let i = 0; i < keep; i++) {
        enc.inputIds.push(s.ids[i]!);
        enc.tokenTypeIds.push(type);
        enc.attentionMask.push(1);
        enc.specialTokensMask.push(s.special[i]!);
        enc.offsets.push([s.starts[i]!, s.ends[i]!]);
        enc.wordIds.push(s.words[i]!);
        enc.sequenceIds.push(type);
        enc.tokens.push(this.tokenOf(s.ids[i]!));
      }
    };
    if (addSpecial) added(this.clsId, 0);
    body(a, keepA, 0);
    if (addSpecial) added(this.sepId, 0);
    if (b) {
      body(b, keepB, 1);
      if (addSpecial) added(this.sepId, 1);
    }
    return enc;
  }
}

// HF Rust `decoders::wordpiece::cleanup`, applied to each token with its leading space.
function cleanupToken(t: string): string {
  return t
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when some ordinary token has an uppercase letter (a cased vocabulary). */
function vocabHasUppercase(vocab: Vocab): boolean {
  for (const t of vocab.tokens) {
    if (t.startsWith('[') && t.endsWith(']')) continue; // [CLS], [unused0], ...
    if (t !== t.toLowerCase()) return true;
  }
  return false;
}
