// Role: behaviour of the BERT tokenizer that does not need the oracle: vocabulary errors, special
// ids looked up by name (BETO), the 512-position limit, truncation and padding properties
// (fast-check), offsets, decoding, batch encoding.

import fc from 'fast-check';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assetPath, loadSst2 } from '../../data/readers/node.js';
import { BertTokenizer, type EncodeOptions } from '../../tokenizers/bert-tokenizer.js';
import { loadBertTokenizer, readVocabFile } from '../../tokenizers/load-node.js';
import { TRUNCATION_STRATEGIES, TruncationError, truncateLengths, type TruncationStrategy } from '../../tokenizers/truncation.js';
import { Vocab, VocabError } from '../../tokenizers/vocab.js';

let tok: BertTokenizer;
beforeAll(() => {
  tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
});

describe('vocabulary loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vocab-test-'));

  it('a missing vocab file is a clear error naming the path', () => {
    const p = join(dir, 'nope', 'vocab.txt');
    expect(() => readVocabFile(p)).toThrow(VocabError);
    expect(() => readVocabFile(p)).toThrow(`vocab file not found: ${p}`);
  });

  it('an empty or blank vocab file is a clear error', () => {
    for (const [name, text] of [['empty.txt', ''], ['blank.txt', '\n\n  \n']] as const) {
      const p = join(dir, name);
      writeFileSync(p, text);
      expect(() => readVocabFile(p)).toThrow(/is empty/);
      expect(() => readVocabFile(p)).toThrow(p);
    }
  });

  it('a directory instead of a file is a clear error', () => {
    const p = join(dir, 'adir');
    mkdirSync(p);
    expect(() => readVocabFile(p)).toThrow(/directory/);
  });

  it('a vocabulary without [UNK]/[CLS]/... cannot build a tokenizer, and says which token is missing', () => {
    const v = Vocab.parse('[PAD]\n[UNK]\n[SEP]\n[MASK]\nhello\n', 'tiny.txt');
    expect(() => new BertTokenizer(v)).toThrow(/tiny\.txt has no classification \(\[CLS\]\) token "\[CLS\]"/);
  });

  it('parses CRLF, BOM and trailing spaces; ids are line numbers', () => {
    const v = Vocab.parse('\ufeff[PAD]\r\n[UNK] \r\nfoo\r\n', 'crlf');
    expect(v.tokens).toEqual(['[PAD]', '[UNK]', 'foo']);
    expect(v.id('foo')).toBe(2);
    expect(Vocab.parse(v.toText()).tokens).toEqual(v.tokens);
  });

  it('bert-base-uncased: 30,522 tokens, special ids from the file', () => {
    expect(tok.vocabSize).toBe(30522);
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.lowercase).toBe(true);
  });

  it('BETO special ids differ and are looked up by name, never hard-coded', () => {
    const beto = loadBertTokenizer(assetPath('beto-cased/vocab.txt'));
    expect({ mask: beto.maskId, pad: beto.padId, unk: beto.unkId, cls: beto.clsId, sep: beto.sepId }).toEqual({ mask: 0, pad: 1, unk: 3, cls: 4, sep: 5 });
    expect(beto.lowercase).toBe(false);
    const e = beto.encode('El niño comió', 'Sí, canción', { maxLength: 16, padding: 'max_length' });
    expect(e.inputIds[0]).toBe(4);
    expect(e.inputIds.filter((i) => i === 5)).toHaveLength(2);
    expect(e.inputIds.at(-1)).toBe(1);
    expect(beto.decode(e.inputIds)).toBe('El niño comió Sí, canción');
    expect(beto.tokenize('Ñandú')).toEqual(['Ñ', '##and', '##ú']);
    expect(beto.encode('ꙮꙮ').inputIds).toContain(3);
  });
});

describe('encoding', () => {
  it('[CLS] A [SEP] B [SEP] with segment ids, mask and offsets', () => {
    const a = 'Hello, World!';
    const b = 'Unaffable';
    const e = tok.encode(a, b);
    expect(e.tokens).toEqual(['[CLS]', 'hello', ',', 'world', '!', '[SEP]', 'una', '##ffa', '##ble', '[SEP]']);
    expect(e.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    expect(e.attentionMask).toEqual(new Array(10).fill(1));
    expect(e.specialTokensMask).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(e.offsets).toEqual([[0, 0], [0, 5], [5, 6], [7, 12], [12, 13], [0, 0], [0, 3], [3, 6], [6, 9], [0, 0]]);
    expect(e.wordIds).toEqual([null, 0, 1, 2, 3, null, 0, 0, 0, null]);
  });

  it('hard cases give the expected pieces', () => {
    expect(tok.tokenize('')).toEqual([]);
    expect(tok.encode('').tokens).toEqual(['[CLS]', '[SEP]']);
    expect(tok.tokenize('x'.repeat(101))).toEqual(['[UNK]']);
    expect(tok.tokenize('x'.repeat(100))).not.toContain('[UNK]');
    expect(tok.tokenize('Ñandú Cádiz')).toEqual(tok.tokenize('nandu cadiz'));
    expect(tok.tokenize('a\u0000b\u200bc\u0007')).toEqual(tok.tokenize('abc'));
    expect(tok.tokenize('日本')).toEqual(['日', '本']);
    expect(tok.tokenize('[MASK]')).toEqual(['[MASK]']);
    expect(tok.tokenize('[mask]')).toEqual(['[', 'mask', ']']);
  });

  it('offsets point into the original text (UTF-16), on every SST-2 dev sentence', () => {
    for (const { sentence } of loadSst2(assetPath('sst2/dev.tsv')).rows) {
      const e = tok.encode(sentence);
      e.tokens.forEach((t, i) => {
        const [s, end] = e.offsets[i]!;
        if (e.specialTokensMask[i] || t === '[UNK]') return;
        const piece = sentence.slice(s, end).toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
        expect(piece).toBe(t.replace(/^##/, ''));
      });
    }
  });

  it('offsets of astral characters span both UTF-16 units', () => {
    const e = tok.encode('a 😀 b');
    expect(e.offsets).toEqual([[0, 0], [0, 1], [2, 4], [5, 6], [0, 0]]);
  });

  it('decode glues ## pieces and skips special tokens', () => {
    const ids = tok.encode("Unaffable people don't run, do they?").inputIds;
    expect(tok.decode(ids)).toBe("unaffable people don ' t run, do they?");
    expect(tok.decode(ids, { skipSpecialTokens: false })).toMatch(/^\[CLS\] unaffable .* \[SEP\]$/);
    expect(() => tok.decode([1e9])).toThrow(/outside the vocabulary/);
  });

  it('the 512-position limit: an error without truncation, a cut with it, never silent', () => {
    const long = 'word '.repeat(600);
    expect(() => tok.encode(long)).toThrow(/602 tokens but the limit is 512/);
    const e = tok.encode(long, null, { truncation: true });
    expect(e.inputIds).toHaveLength(512);
    expect(e.numTruncated).toBe(90);
    expect(e.inputIds.at(-1)).toBe(tok.sepId);
    expect(() => tok.encode('hi', null, { maxLength: 513 })).toThrow(/exceeds the model's 512 positions/);
    expect(() => tok.encode(long, 'b', { maxLength: 2, truncation: true })).toThrow(TruncationError);
    expect(() => tok.encode('a b c', null, { maxLength: 4 })).toThrow(/limit is 4/);
    expect(() => tok.encode('a', null, { truncation: 'shortest' as never })).toThrow(/unknown truncation/);
  });

  it('padding to max length and to the longest in a batch', () => {
    const e = tok.encode('hello world', null, { maxLength: 8, padding: 'max_length' });
    expect(e.inputIds).toEqual([101, 7592, 2088, 102, 0, 0, 0, 0]);
    expect(e.attentionMask).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    const b = tok.encodeBatch(['hello', ['hello world', 'how are you'], 'a b c d e f']);
    expect(b.inputIds.map((r) => r.length)).toEqual([8, 8, 8]);
    expect(b.attentionMask[0]).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
    expect(b.tokenTypeIds[1]).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const m = tok.encodeBatch(['hello', 'a b c'], { padding: 'max_length', maxLength: 12 });
    expect(m.inputIds.every((r) => r.length === 12)).toBe(true);
    const ragged = tok.encodeBatch(['hello', 'a b c'], { padding: false });
    expect(ragged.inputIds.map((r) => r.length)).toEqual([3, 5]);
  });
});

/** The d2l / Google BERT pop loop, as the reference for longest_first. */
function popLoop(a: number, b: number, budget: number): [number, number] {
  while (a + b > budget) {
    if (a > b) a--;
    else b--;
  }
  return [a, b];
}

describe('truncation properties (fast-check)', () => {
  const word = fc.constantFrom('the', 'movie', 'was', 'unaffable', ',', '.', 'épique', '日本', '😀', 'antidisestablishmentarianism', 'ok');
  const text = fc.array(word, { maxLength: 40 }).map((w) => w.join(' '));
  const strategy = fc.constantFrom<TruncationStrategy>(...TRUNCATION_STRATEGIES);

  it('never exceeds maxLength, always keeps [CLS] first and [SEP] after each sequence, keeps prefixes', () => {
    fc.assert(
      fc.property(text, fc.option(text, { nil: null }), fc.integer({ min: 3, max: 48 }), strategy, (a, b, maxLength, strat) => {
        const opts: EncodeOptions = { maxLength, truncation: strat };
        const full = tok.encode(a, b, { maxLength: 512, truncation: true });
        let e;
        try {
          e = tok.encode(a, b, opts);
        } catch (err) {
          // Only the strategies that cannot always fit may refuse, and only with a clear error.
          expect(err).toBeInstanceOf(TruncationError);
          expect(strat === 'only_first' || strat === 'only_second').toBe(true);
          return;
        }
        expect(e.inputIds.length).toBeLessThanOrEqual(maxLength);
        expect(e.inputIds[0]).toBe(tok.clsId);
        expect(e.inputIds.at(-1)).toBe(tok.sepId);
        expect(e.inputIds.filter((x) => x === tok.sepId)).toHaveLength(b === null ? 1 : 2);
        const sep = e.inputIds.indexOf(tok.sepId);
        const fullSep = full.inputIds.indexOf(tok.sepId);
        // Sequence A kept is a prefix of A untruncated; same for B.
        expect(full.inputIds.slice(1, 1 + (sep - 1))).toEqual(e.inputIds.slice(1, sep));
        if (b !== null) {
          const bKept = e.inputIds.slice(sep + 1, -1);
          expect(full.inputIds.slice(fullSep + 1, fullSep + 1 + bKept.length)).toEqual(bKept);
          expect(e.tokenTypeIds.slice(sep + 1).every((t) => t === 1)).toBe(true);
        }
        if (full.inputIds.length <= maxLength) expect(e.inputIds).toEqual(full.inputIds);
        else expect(e.inputIds.length).toBe(maxLength);
      }),
      { numRuns: 400 },
    );
  });

  it('longest_first equals the pop-from-the-longer loop; proportional keeps shares', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.nat(300), fc.nat(400), (a, b, budget) => {
        expect(truncateLengths(a, b, budget, 'longest_first')).toEqual(popLoop(a, b, budget));
        const [pa, pb] = truncateLengths(a, b, budget, 'proportional');
        expect(pa).toBeLessThanOrEqual(a);
        expect(pb).toBeLessThanOrEqual(b);
        expect(pa + pb).toBe(Math.min(a + b, budget));
        if (a + b > budget && budget >= 2 && a > 0 && b > 0) {
          expect(pa).toBeGreaterThanOrEqual(1);
          expect(pb).toBeGreaterThanOrEqual(1);
          expect(Math.abs(pa - (budget * a) / (a + b))).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('only_first / only_second cut only their side, or fail clearly', () => {
    expect(truncateLengths(10, 5, 12, 'only_first')).toEqual([7, 5]);
    expect(truncateLengths(10, 5, 12, 'only_second')).toEqual([10, 2]);
    expect(() => truncateLengths(3, 20, 10, 'only_first')).toThrow(/second sequence alone has 20 tokens/);
    expect(() => truncateLengths(30, 2, 10, 'only_second')).toThrow(/first sequence alone has 30/);
    expect(() => truncateLengths(30, null, 10, 'only_second')).toThrow(/needs a sentence pair/);
    expect(truncateLengths(30, null, 10, 'proportional')).toEqual([10, 0]);
  });
});
