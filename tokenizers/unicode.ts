// Role: the Unicode character classes that BERT's basic tokenizer needs (control, whitespace,
// punctuation, CJK ideographs, accent stripping, per-character lowercasing), defined the way the
// Hugging Face Rust implementation (`BertNormalizer` + `BertPreTokenizer`) defines them, so that
// our ids match it. Browser-safe: only ECMAScript built-ins (Unicode property escapes, normalize).

// Cc, Cf, Co, Cs. Not Cn (unassigned): the Rust code calls `char::is_other()` from the
// unicode_categories crate, whose tables come from UnicodeData.txt, which never lists
// unassigned code points, so HF keeps them (checked against HF on every code point; the Python
// reference, `category(c).startswith("C")`, would drop them).
const RE_OTHER = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;
// Rust's `char::is_whitespace` is the White_Space property (Python's reference used Zs only;
// HF Rust is the oracle we match).
const RE_WHITE_SPACE = /\p{White_Space}/u;
// Rust: `char::is_ascii_punctuation(c) || c.is_punctuation()` (Pc Pd Ps Pe Pi Pf Po).
const RE_PUNCT = /\p{P}/u;
// Non-spacing marks, removed after NFD when stripping accents.
const RE_MN = /\p{Mn}/gu;

/** Tab, LF and CR count as whitespace, never as control characters. */
export function isControl(cp: number): boolean {
  if (cp === 9 || cp === 10 || cp === 13) return false;
  if (cp < 128) return cp < 32 || cp === 127;
  return RE_OTHER.test(String.fromCodePoint(cp));
}

export function isWhitespace(cp: number): boolean {
  if (cp < 128) return cp === 32 || (cp >= 9 && cp <= 13);
  return RE_WHITE_SPACE.test(String.fromCodePoint(cp));
}

/** ASCII punctuation (which includes symbols such as `$`, `+`, `^`) or Unicode category P*. */
export function isPunctuation(cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  if (cp < 128) return false;
  return RE_PUNCT.test(String.fromCodePoint(cp));
}

/**
 * CJK Unified Ideographs blocks as listed by BERT (not Hangul, Hiragana or Katakana, which are
 * written with spaces). The ranges are those of the HF Rust `is_chinese_char`.
 */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** NFD, then drop non-spacing marks ("é" -> "e", "ñ" -> "n"). */
export function stripAccents(s: string): string {
  return s.normalize('NFD').replace(RE_MN, '');
}

/**
 * Lowercase one code point at a time, as Rust's `char::to_lowercase` does (no context rules:
 * a final capital sigma becomes σ, not ς, unlike `String.prototype.toLowerCase` on a word).
 */
export function lowercaseChars(s: string): string {
  let out = '';
  for (const ch of s) out += ch.toLowerCase();
  return out;
}

export interface NormalizerOptions {
  /** Drop NUL, U+FFFD and control characters; map every whitespace character to a space. */
  cleanText: boolean;
  /** Put spaces around CJK ideographs so that each becomes its own word. */
  handleChineseChars: boolean;
  stripAccents: boolean;
  lowercase: boolean;
}

/** Classes of a normalized code point for pre-tokenization. */
export const enum CharClass {
  Normal = 0,
  Space = 1,
  Punct = 2,
}

/**
 * Per-code-point normalizer with memoization. BERT's normalization is a pure function of each
 * input code point (clean -> CJK spacing -> NFD/strip -> lowercase), so the result for a code
 * point can be cached; this is what makes the tokenizer fast on non-ASCII text too.
 */
export class CharNormalizer {
  private readonly cache = new Map<number, string>();
  private readonly classCache = new Map<number, CharClass>();

  constructor(readonly options: NormalizerOptions) {}

  /** The normalized text that input code point `cp` turns into ('' when it is removed). */
  normalize(cp: number): string {
    let out = this.cache.get(cp);
    if (out === undefined) {
      out = this.compute(cp);
      this.cache.set(cp, out);
    }
    return out;
  }

  /** Pre-tokenizer class of an already normalized code point. */
  classify(cp: number): CharClass {
    if (cp < 128) {
      if (isWhitespace(cp)) return CharClass.Space;
      return isPunctuation(cp) ? CharClass.Punct : CharClass.Normal;
    }
    let c = this.classCache.get(cp);
    if (c === undefined) {
      c = isWhitespace(cp) ? CharClass.Space : isPunctuation(cp) ? CharClass.Punct : CharClass.Normal;
      this.classCache.set(cp, c);
    }
    return c;
  }

  private compute(cp: number): string {
    const o = this.options;
    if (o.cleanText) {
      if (cp === 0 || cp === 0xfffd || isControl(cp)) return '';
      if (isWhitespace(cp)) return ' ';
    }
    let s = String.fromCodePoint(cp);
    if (o.stripAccents) s = stripAccents(s);
    if (o.lowercase) s = lowercaseChars(s);
    // The CJK test looks at the original code point, but NFD still applies inside the spaces
    // (a compatibility ideograph such as U+F902 becomes U+8ECA), as in HF.
    if (o.handleChineseChars && isChineseChar(cp)) return ` ${s} `;
    return s;
  }
}
