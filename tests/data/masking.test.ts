// Role: MLM masking properties (fast-check): the budget is met within one token, special and
// padding tokens are never chosen, labels are set only at chosen positions, whole words stay
// whole, spans never cross [SEP], the same seed gives the same masks; and over 10,000 draws the
// 80/10/10 replacement split passes a chi-square test at p > 0.01.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamicMasker, maskBudget, maskTokens, type MaskingOptions, type MaskingVocab, type MaskStrategy } from '../../data/masking.js';
import { assetPath, loadSst2 } from '../../data/readers/node.js';
import { Rng } from '../../data/rng.js';
import type { BertTokenizer } from '../../tokenizers/bert-tokenizer.js';
import { loadBertTokenizer } from '../../tokenizers/load-node.js';

// A toy vocabulary with BETO-like ids (specials not at 101..103): 0 [MASK], 1 [PAD], 3 [UNK], 4 [CLS], 5 [SEP].
const MASK = 0;
const PAD = 1;
const CLS = 4;
const SEP = 5;
const V = 200;
const isContinuation = new Uint8Array(V);
for (let i = 150; i < V; i++) isContinuation[i] = 1; // ids 150..199 are "##" pieces
const vocab: MaskingVocab = { maskId: MASK, vocabSize: V, specialIds: [0, 1, 2, 3, 4, 5], isContinuation };

/** [CLS] A [SEP] B [SEP] [PAD]*, with token type ids, from arbitrary word lists. */
const wordArb = fc.tuple(fc.integer({ min: 6, max: 149 }), fc.array(fc.integer({ min: 150, max: 199 }), { maxLength: 3 })).map(([h, t]) => [h, ...t]);
const exampleArb = fc
  .tuple(fc.array(wordArb, { minLength: 0, maxLength: 30 }), fc.array(wordArb, { maxLength: 30 }), fc.nat(10))
  .map(([a, b, pad]) => {
    const fa = a.flat();
    const fb = b.flat();
    const inputIds = [CLS, ...fa, SEP, ...(fb.length ? [...fb, SEP] : []), ...new Array<number>(pad).fill(PAD)];
    const tokenTypeIds = [0, ...fa.map(() => 0), 0, ...(fb.length ? [...fb.map(() => 1), 1] : []), ...new Array<number>(pad).fill(0)];
    const attentionMask = inputIds.map((id, i) => (i < inputIds.length - pad ? 1 : 0));
    return { inputIds, tokenTypeIds, attentionMask };
  });
const strategyArb = fc.constantFrom<MaskStrategy>('token', 'whole_word', 'span');

function maskable(ids: number[]): number {
  return ids.filter((id) => !vocab.specialIds.includes(id)).length;
}

describe('masking properties (fast-check)', () => {
  it('never picks special or padding tokens; labels only at chosen positions; budget within one token', () => {
    fc.assert(
      fc.property(exampleArb, strategyArb, fc.integer(), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.integer({ min: 1, max: 6 }), (ex, strategy, seed, budget, maxSpan) => {
        const m = maskTokens(ex, vocab, new Rng(seed), { strategy, budget, maxSpan });
        const n = maskable(ex.inputIds);
        const target = maskBudget(n, budget);
        for (const p of m.predPositions) {
          expect(vocab.specialIds).not.toContain(ex.inputIds[p]);
          expect(ex.attentionMask[p]).toBe(1);
        }
        m.labels.forEach((l, i) => expect(l).toBe(m.predPositions.includes(i) ? ex.inputIds[i] : -100));
        expect(m.predLabels).toEqual(m.predPositions.map((p) => ex.inputIds[p]));
        expect([...m.predPositions].sort((x, y) => x - y)).toEqual(m.predPositions);
        // Unchosen positions are untouched.
        m.inputIds.forEach((id, i) => {
          if (!m.predPositions.includes(i)) expect(id).toBe(ex.inputIds[i]);
        });
        if (strategy === 'whole_word') {
          // Never over budget; under it only by less than the longest word (pieces stay together).
          expect(m.predPositions.length).toBeLessThanOrEqual(target);
          expect(target - m.predPositions.length).toBeLessThan(4);
        } else {
          expect(Math.abs(m.predPositions.length - target)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('whole-word masking takes all pieces of a word or none, and meets the budget when words are single pieces', () => {
    fc.assert(
      fc.property(exampleArb, fc.integer(), (ex, seed) => {
        const m = maskTokens(ex, vocab, new Rng(seed), { strategy: 'whole_word' });
        const chosen = new Set(m.predPositions);
        for (let i = 1; i < ex.inputIds.length; i++) {
          if (isContinuation[ex.inputIds[i]!] && !vocab.specialIds.includes(ex.inputIds[i - 1]!)) expect(chosen.has(i)).toBe(chosen.has(i - 1));
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 6, max: 149 }), { minLength: 1, maxLength: 60 }), fc.integer(), (words, seed) => {
        const m = maskTokens([CLS, ...words, SEP], vocab, new Rng(seed), { strategy: 'whole_word' });
        expect(m.predPositions).toHaveLength(maskBudget(words.length));
      }),
    );
  });

  it('spans never cross [SEP] or a segment boundary', () => {
    fc.assert(
      fc.property(exampleArb, fc.integer(), fc.integer({ min: 1, max: 8 }), (ex, seed, maxSpan) => {
        const m = maskTokens(ex, vocab, new Rng(seed), { strategy: 'span', maxSpan, budget: 0.4 });
        for (const p of m.predPositions) expect(ex.inputIds[p]).not.toBe(SEP);
        // Any run of consecutive chosen positions lies within one segment.
        for (let k = 1; k < m.predPositions.length; k++) {
          const [p, q] = [m.predPositions[k - 1]!, m.predPositions[k]!];
          if (q === p + 1) expect(ex.tokenTypeIds[q]).toBe(ex.tokenTypeIds[p]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the same seed gives the same masks; another epoch gives another draw', () => {
    fc.assert(
      fc.property(exampleArb, strategyArb, fc.integer(), fc.nat(100), fc.nat(10_000), (ex, strategy, seed, epoch, index) => {
        const masker = new DynamicMasker(vocab, seed, { strategy });
        expect(masker.mask(ex, epoch, index)).toEqual(new DynamicMasker(vocab, seed, { strategy }).mask(ex, epoch, index));
      }),
      { numRuns: 200 },
    );
    const long = { inputIds: [CLS, ...Array.from({ length: 100 }, (_, i) => 6 + i), SEP] };
    const masker = new DynamicMasker(vocab, 42);
    expect(masker.mask(long, 0, 7).predPositions).not.toEqual(masker.mask(long, 1, 7).predPositions);
    expect(masker.mask(long, 0, 7).predPositions).not.toEqual(masker.mask(long, 0, 8).predPositions);
  });

  it('rejects probabilities that do not sum to 1 and unknown strategies', () => {
    expect(() => maskTokens([CLS, 10, SEP], vocab, new Rng(1), { maskProb: 0.8, randomProb: 0.2, keepProb: 0.2 })).toThrow(/must be 1/);
    expect(() => maskTokens([CLS, 10, SEP], vocab, new Rng(1), { strategy: 'bogus' as MaskStrategy })).toThrow(/unknown masking strategy/);
    expect(() => maskTokens([CLS, 999, SEP], vocab, new Rng(1))).toThrow(/outside the vocabulary/);
  });
});

/** Chi-square statistic of observed counts against expected probabilities. */
function chiSquare(observed: number[], probs: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((s, o, i) => s + (o - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}
const CHI2_DF2_P01 = 9.2103; // critical value: df = 2, p = 0.01

describe('replacement split', () => {
  for (const [probs, label] of [
    [[0.8, 0.1, 0.1], 'default 80/10/10'],
    [[0.6, 0.3, 0.1], 'configured 60/30/10'],
  ] as const) {
    it(`${label}: 10,000 draws pass a chi-square test at p > 0.01`, () => {
      const opts: MaskingOptions = { maskProb: probs[0], randomProb: probs[1], keepProb: probs[2], budget: 0.15 };
      const masker = new DynamicMasker(vocab, 2024, opts);
      const ids = [CLS, ...Array.from({ length: 100 }, (_, i) => 6 + (i % 140)), SEP]; // 15 picks per draw
      const counts = [0, 0, 0];
      let draws = 0;
      for (let index = 0; draws < 10_000; index++) {
        const m = masker.mask(ids, 0, index);
        m.predPositions.forEach((p, k) => {
          if (draws >= 10_000) return;
          // Classify by what the model sees (a random token equal to the original counts as kept).
          const seen = m.inputIds[p]!;
          const kind = seen === MASK ? 0 : seen === ids[p] ? 2 : 1;
          expect(['mask', 'random', 'keep'][kind] === m.replacements[k] || (kind === 2 && m.replacements[k] === 'random')).toBe(true);
          if (m.replacements[k] === 'random') expect(vocab.specialIds).not.toContain(seen);
          counts[kind]!++;
          draws++;
        });
      }
      const chi2 = chiSquare(counts, [...probs]);
      console.log(`[masking] ${label}: mask/random/keep = ${counts.join('/')} of ${draws}, chi2 = ${chi2.toFixed(3)} (critical ${CHI2_DF2_P01} at p = 0.01)`);
      expect(chi2).toBeLessThan(CHI2_DF2_P01);
    });
  }
});

describe('masking real encodings (bert-base-uncased, SST-2 dev)', () => {
  let tok: BertTokenizer;
  beforeAll(() => {
    tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
  });

  it('whole-word masking with the tokenizer word ids and the ## convention agree', () => {
    const mv = tok.maskingVocab();
    expect(mv.maskId).toBe(103);
    let picked = 0;
    let maskableTotal = 0;
    loadSst2(assetPath('sst2/dev.tsv')).rows.forEach(({ sentence }, i) => {
      const enc = tok.encode(sentence, null, { maxLength: 64, truncation: true, padding: 'max_length' });
      const withWordIds = maskTokens(enc, mv, Rng.derive(7, i), { strategy: 'whole_word' });
      const withHashes = maskTokens({ inputIds: enc.inputIds, attentionMask: enc.attentionMask }, mv, Rng.derive(7, i), { strategy: 'whole_word' });
      expect(withWordIds.predPositions).toEqual(withHashes.predPositions);
      for (const p of withWordIds.predPositions) {
        expect(enc.specialTokensMask[p]).toBe(0);
        // A chosen word is chosen whole: the next piece, if a continuation, is chosen too.
        if (enc.wordIds[p + 1] === enc.wordIds[p]) expect(withWordIds.predPositions).toContain(p + 1);
      }
      picked += withWordIds.predPositions.length;
      maskableTotal += enc.specialTokensMask.filter((s) => s === 0).length;
    });
    console.log(`[masking] SST-2 dev whole-word: ${picked} of ${maskableTotal} maskable tokens chosen (${((100 * picked) / maskableTotal).toFixed(2)}%)`);
    expect(picked / maskableTotal).toBeGreaterThan(0.14);
    expect(picked / maskableTotal).toBeLessThan(0.16);
  });
});
