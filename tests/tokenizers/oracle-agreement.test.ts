// Role: checks that our WordPiece tokenizer gives exactly the ids (and token types, attention
// masks, character offsets) of the independent oracle, Hugging Face `tokenizers` in Rust (via
// the @anush008/tokenizers N-API build), on every sentence of SST-2 (dev and train), the three
// CoLA files and every SNLI dev pair with the bert-base-uncased vocabulary, on a cased
// vocabulary, on BETO, and on hand-picked hard cases. Counts are printed.

import type { Tokenizer as HfTokenizer } from '@anush008/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { assetPath, loadCola, loadSnliJsonl, loadSst2 } from '../../data/readers/node.js';
import type { BertTokenizer } from '../../tokenizers/bert-tokenizer.js';
import { loadBertTokenizer } from '../../tokenizers/load-node.js';
import { codePointToUtf16Offsets, makeOracle } from './oracle.js';

type Input = readonly [string, string | null];

interface Agreement {
  total: number;
  agree: number;
  firstMismatches: string[];
}

async function compare(ours: BertTokenizer, oracle: HfTokenizer, inputs: readonly Input[], idsOnly = false): Promise<Agreement> {
  const singles = inputs.every(([, b]) => b === null);
  // encodeBatch (parallel in Rust) takes single strings only; pairs go one by one.
  const theirs = singles ? await oracle.encodeBatch(inputs.map(([a]) => a)) : await Promise.all(inputs.map(([a, b]) => oracle.encode(a, b)));
  const res: Agreement = { total: inputs.length, agree: 0, firstMismatches: [] };
  inputs.forEach(([a, b], i) => {
    const mine = ours.encode(a, b);
    const o = theirs[i]!;
    if (idsOnly) {
      // Each getter crosses the N-API boundary; on 67k sentences, ids alone keep the test fast.
      if (eq(o.getIds(), mine.inputIds)) res.agree++;
      else if (res.firstMismatches.length < 5) res.firstMismatches.push(`${JSON.stringify(a)}: ${mine.tokens.join(' ')} vs ${o.getTokens().join(' ')}`);
      return;
    }
    const seq = o.getSequenceIds();
    const rawOffsets = o.getOffsets();
    // HF offsets count code points within each sequence; ours count UTF-16 units.
    const offA = codePointToUtf16Offsets(a, rawOffsets);
    const offB = b === null ? offA : codePointToUtf16Offsets(b, rawOffsets);
    const offsets = seq.map((s, k) => (s === 1 ? offB[k]! : offA[k]!));
    const same =
      eq(o.getIds(), mine.inputIds) &&
      eq(o.getTypeIds(), mine.tokenTypeIds) &&
      eq(o.getAttentionMask(), mine.attentionMask) &&
      eq(offsets.flat(), mine.offsets.flat());
    if (same) res.agree++;
    else if (res.firstMismatches.length < 5) {
      res.firstMismatches.push(`${JSON.stringify([a, b])}\n  ours:   ${mine.tokens.join(' ')}\n  oracle: ${o.getTokens().join(' ')}`);
    }
  });
  return res;
}

function eq(x: readonly number[], y: readonly number[]): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function report(name: string, r: Agreement): void {
  console.log(`[oracle agreement] ${name}: ${r.agree} / ${r.total} identical (${((100 * r.agree) / r.total).toFixed(2)}%)`);
  if (r.firstMismatches.length) console.log(r.firstMismatches.join('\n'));
}

const HARD_CASES: string[] = [
  // Spanish accents and punctuation (stripped for uncased, kept for cased)
  'El pingüino Ñandú comió jalapeños en Cádiz, ¿verdad? ¡Sí!',
  'Árbol ÉLITE ÍNDICE ÓPERA ÚLTIMO über façade naïve coöperate',
  'e\u0301 (combining acute) vs é (precomposed)',
  // CJK: ideographs become single words; kana / hangul do not
  '你好，世界！我爱自然语言处理。',
  '日本語のテキストとカタカナ、ひらがな',
  '한국어 텍스트 ㄱㄴㄷ',
  '中文English混合123',
  '\u{20000}\u{2A700}\u{2B740}\u{2B820}\u{2F800} 車 北',
  // emoji: astral plane, ZWJ sequences, skin tones, flags, variation selectors
  '😀 😂🤣 👍🏽 👨‍👩‍👧‍👦 🇪🇸 ❤️ ☺︎ 🥰',
  'emoji😀inside a word',
  // control and format characters, odd whitespace
  'tab\there\nnewline\r\nCRLF \u0000nul \u0007bell \u001b[31mansi\u001b[0m',
  'zero\u200bwidth\u200djoiner soft\u00adhyphen \ufeffBOM \u2028line\u2029para',
  'no\u00a0break\u3000ideographic\u2003em\u202fnarrow',
  '\ufffd replacement \ud800 lone surrogate',
  // very long words and the 100-character limit
  'x'.repeat(100),
  'x'.repeat(101),
  'supercalifragilisticexpialidocious ' + 'antidisestablishmentarianism'.repeat(4),
  'é'.repeat(100) + ' ' + '😀'.repeat(60),
  // empty and blank inputs
  '',
  ' ',
  '\n\t \r',
  '\u0000\u0001',
  // punctuation, symbols, numbers
  "don't won't y'all rock'n'roll",
  '$100.00 + 5% = ~€105^2 | a<b>c `code` {json: [1, 2]}',
  '...!!!???---___***',
  'e-mail: someone@example.com, url: https://example.org/path?q=1&r=2',
  // special tokens in the text stay whole (not lowercased, not split)
  'Hello [MASK] world [SEP] and [CLS][PAD][UNK] but not [mask] or [ MASK ]',
  // case and Unicode casing corner cases
  'ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΥΣ İstanbul ǅemal ﬁnance ß ẞ',
  'ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ',
  'Ǆ ǅ ǆ Ⅻ ① ²',
];

describe('ids identical to Hugging Face tokenizers (Rust)', () => {
  let uncased: BertTokenizer;
  let oracleUncased: HfTokenizer;

  beforeAll(async () => {
    const path = assetPath('bert-base-uncased/vocab.txt');
    uncased = loadBertTokenizer(path);
    oracleUncased = await makeOracle(path, uncased.vocab, { lowercase: true });
  });

  it('SST-2 dev, every sentence (bert-base-uncased)', async () => {
    const rows = loadSst2(assetPath('sst2/dev.tsv')).rows;
    const r = await compare(uncased, oracleUncased, rows.map((x) => [x.sentence, null] as const));
    report('SST-2 dev', r);
    expect(r.total).toBe(872);
    expect(r.agree).toBe(r.total);
  });

  it('SST-2 train, every sentence (bert-base-uncased)', async () => {
    const rows = loadSst2(assetPath('sst2/train.tsv')).rows;
    const r = await compare(uncased, oracleUncased, rows.map((x) => [x.sentence, null] as const), true);
    report('SST-2 train (ids)', r);
    expect(r.total).toBe(67_349);
    expect(r.agree).toBe(r.total);
  });

  for (const [file, n] of [['in_domain_train', 8551], ['in_domain_dev', 527], ['out_of_domain_dev', 516]] as const) {
    it(`CoLA ${file}, every sentence (bert-base-uncased)`, async () => {
      const rows = loadCola(assetPath(`cola/${file}.tsv`)).rows;
      const r = await compare(uncased, oracleUncased, rows.map((x) => [x.sentence, null] as const));
      report(`CoLA ${file}`, r);
      expect(r.total).toBe(n);
      expect(r.agree).toBe(r.total);
    });
  }

  it('SNLI dev, every premise/hypothesis pair (bert-base-uncased)', async () => {
    const rows = loadSnliJsonl(assetPath('snli/dev.jsonl')).rows;
    const r = await compare(uncased, oracleUncased, rows.map((x) => [x.premise, x.hypothesis] as const));
    report('SNLI dev pairs (19,684 sentences)', r);
    expect(r.total).toBe(9842);
    expect(r.agree).toBe(r.total);
  });

  it('hand-picked hard cases, alone and as pairs (bert-base-uncased)', async () => {
    const single = await compare(uncased, oracleUncased, HARD_CASES.map((s) => [s, null] as const));
    const pairs = await compare(uncased, oracleUncased, HARD_CASES.map((s, i) => [s, HARD_CASES[(i + 7) % HARD_CASES.length]!] as const));
    report('hard cases (uncased)', single);
    report('hard-case pairs (uncased)', pairs);
    expect(single.agree).toBe(single.total);
    expect(pairs.agree).toBe(pairs.total);
  });

  it('decode equals the oracle decode on SST-2 dev', async () => {
    const rows = loadSst2(assetPath('sst2/dev.tsv')).rows;
    let same = 0;
    for (const { sentence } of rows) {
      const ids = uncased.encode(sentence).inputIds;
      if ((await oracleUncased.decode(ids, true)) === uncased.decode(ids)) same++;
    }
    console.log(`[oracle agreement] decode SST-2 dev: ${same} / ${rows.length}`);
    expect(same).toBe(rows.length);
  });

  it('every BMP code point and the emoji planes, in context "a?b" (Unicode-table differences reported)', async () => {
    const cps: number[] = [];
    for (let cp = 0; cp < 0x10000; cp++) if (cp < 0xd800 || cp > 0xdfff) cps.push(cp);
    for (let cp = 0x1f000; cp < 0x1fb00; cp++) cps.push(cp);
    const inputs = cps.map((cp) => [`a${String.fromCodePoint(cp)}b`, null] as const);
    const theirs = await oracleUncased.encodeBatch(inputs.map(([s]) => s));
    const differ: number[] = [];
    inputs.forEach(([s], i) => {
      if (!eq(theirs[i]!.getIds(), uncased.encode(s).inputIds)) differ.push(cps[i]!);
    });
    console.log(
      `[oracle agreement] single code points: ${cps.length - differ.length} / ${cps.length} identical; ` +
        `differing (characters added or re-categorized after Unicode 8.0, whose tables HF uses): ` +
        differ.length + ' code points, e.g. U+' + differ.slice(0, 12).map((c) => c.toString(16).toUpperCase()).join(' U+'),
    );
    // Everything the datasets and the usual scripts use agrees: Latin, Greek, Cyrillic, Hebrew,
    // general punctuation, CJK, kana, Hangul, full-width forms, emoji.
    const mustAgree = (c: number): boolean =>
      c < 0x0600 || (c >= 0x2000 && c < 0x2070) || (c >= 0x3000 && c < 0xa000) || (c >= 0xac00 && c < 0xd7b0) || (c >= 0xff00 && c < 0xfff0) || c >= 0x1f000;
    expect(differ.filter(mustAgree)).toEqual([]);
    expect(differ.length).toBeLessThan(0.01 * cps.length);
  });
});

describe('cased vocabularies agree with the oracle too', () => {
  it('bert-base-cased on CoLA in-domain dev and the hard cases', async () => {
    const path = assetPath('bert-base-cased/vocab.txt');
    const cased = loadBertTokenizer(path);
    expect(cased.lowercase).toBe(false);
    const oracle = await makeOracle(path, cased.vocab, { lowercase: false });
    const rows = loadCola(assetPath('cola/in_domain_dev.tsv')).rows;
    const r1 = await compare(cased, oracle, rows.map((x) => [x.sentence, null] as const));
    const r2 = await compare(cased, oracle, HARD_CASES.map((s) => [s, null] as const));
    report('CoLA in_domain_dev (bert-base-cased)', r1);
    report('hard cases (bert-base-cased)', r2);
    expect(r1.agree).toBe(r1.total);
    expect(r2.agree).toBe(r2.total);
  });

  it('BETO (cased, Spanish, different special ids) on the hard cases', async () => {
    const path = assetPath('beto-cased/vocab.txt');
    const beto = loadBertTokenizer(path);
    const oracle = await makeOracle(path, beto.vocab, { lowercase: false });
    const r = await compare(beto, oracle, HARD_CASES.map((s, i) => [s, i % 2 ? HARD_CASES[0]! : null] as const));
    const r2 = await compare(beto, oracle, HARD_CASES.map((s) => [s, null] as const));
    report('hard cases (beto-cased)', r2);
    report('hard cases, some as pairs (beto-cased)', r);
    expect(r.agree).toBe(r.total);
    expect(r2.agree).toBe(r2.total);
  });
});
