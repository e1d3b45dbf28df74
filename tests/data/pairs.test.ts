// Role: sentence-pair objectives: NSP (true next sentence half the time, otherwise a sentence of
// another document), SOP (ALBERT swaps) and RPO (TWilBERT tweet/reply order), on WikiText-2
// documents and small synthetic inputs; ratios checked with binomial bounds, draws reproducible.

import { describe, expect, it } from 'vitest';
import { makeNspPairs, makeRopPairs, makeSopPairs } from '../../data/pairs.js';
import { assetPath, loadWikiText } from '../../data/readers/node.js';
import { Rng } from '../../data/rng.js';

/** |k - n p| within 4 standard deviations (false alarm rate ~ 6e-5). */
function expectBinomial(k: number, n: number, p: number): void {
  expect(Math.abs(k - n * p)).toBeLessThan(4 * Math.sqrt(n * p * (1 - p)));
}

// WikiText articles as documents of sentences.
const docs = loadWikiText(assetPath('wikitext-2/wiki.valid.tokens')).articles.map((a) => a.paragraphs.flat());
const docOf = new Map<string, Set<number>>();
docs.forEach((d, i) => d.forEach((s) => (docOf.get(s) ?? docOf.set(s, new Set()).get(s)!).add(i)));

describe('next-sentence prediction', () => {
  it('half true next sentences from the same document, half random ones from another document', () => {
    const pairs = makeNspPairs(docs, new Rng(1));
    const expectedPairs = docs.reduce((s, d) => s + Math.max(0, d.length - 1), 0);
    expect(pairs).toHaveLength(expectedPairs);
    const positives = pairs.filter((p) => p.label === 1);
    expectBinomial(positives.length, pairs.length, 0.5);
    let k = 0;
    docs.forEach((d, di) => {
      for (let i = 0; i + 1 < d.length; i++, k++) {
        const p = pairs[k]!;
        expect(p.a).toBe(d[i]);
        if (p.label === 1) expect(p.b).toBe(d[i + 1]);
        // A random B comes from another document (unless that sentence also occurs here).
        else expect([...docOf.get(p.b)!].some((j) => j !== di)).toBe(true);
      }
    });
    console.log(`[pairs] NSP on WikiText-2 valid: ${positives.length} IsNext / ${pairs.length - positives.length} NotNext`);
  });

  it('is reproducible from the seed and honours probNext', () => {
    expect(makeNspPairs(docs, new Rng(5))).toEqual(makeNspPairs(docs, new Rng(5)));
    expect(makeNspPairs(docs, new Rng(5), { probNext: 1 }).every((p) => p.label === 1)).toBe(true);
    const single = makeNspPairs([['s0', 's1', 's2', 's3']], new Rng(3), { probNext: 0 });
    single.forEach((p, i) => expect(p.b).not.toBe(`s${i + 1}`));
    expect(() => makeNspPairs(docs, new Rng(1), { probNext: 2 })).toThrow(/probNext/);
  });
});

describe('sentence-order prediction', () => {
  it('consecutive sentences, swapped about half the time', () => {
    const pairs = makeSopPairs(docs, new Rng(9));
    const swapped = pairs.filter((p) => p.label === 0);
    expectBinomial(swapped.length, pairs.length, 0.5);
    let k = 0;
    for (const d of docs) {
      for (let i = 0; i + 1 < d.length; i++, k++) {
        const p = pairs[k]!;
        expect(p.label === 1 ? [p.a, p.b] : [p.b, p.a]).toEqual([d[i], d[i + 1]]);
      }
    }
  });
});

describe('reply-order prediction', () => {
  const tweets = Array.from({ length: 2000 }, (_, i) => ({ orig: `tweet ${i}`, reply: `reply ${i}` }));

  it("'random': each pair once, in order or swapped", () => {
    const pairs = makeRopPairs(tweets, new Rng(11));
    expect(pairs).toHaveLength(2000);
    expectBinomial(pairs.filter((p) => p.label === 0).length, 2000, 0.5);
    pairs.forEach((p, i) => expect(p.label === 1 ? [p.a, p.b] : [p.b, p.a]).toEqual([`tweet ${i}`, `reply ${i}`]));
  });

  it("'both': each pair in order then swapped, as TWilBERT's generator", () => {
    const pairs = makeRopPairs(tweets.slice(0, 2), new Rng(0), { mode: 'both' });
    expect(pairs).toEqual([
      { a: 'tweet 0', b: 'reply 0', label: 1 },
      { a: 'reply 0', b: 'tweet 0', label: 0 },
      { a: 'tweet 1', b: 'reply 1', label: 1 },
      { a: 'reply 1', b: 'tweet 1', label: 0 },
    ]);
  });

  it('works on token arrays too (generic in the sentence type)', () => {
    const pairs = makeRopPairs([{ orig: [1, 2], reply: [3] }], new Rng(0), { probSwap: 1 });
    expect(pairs).toEqual([{ a: [3], b: [1, 2], label: 0 }]);
  });
});
