// Role: batching and the PRNG: seeded shuffles cover every item exactly once, are reproducible
// and differ by epoch; length bucketing cuts padding on SST-2; collation pads to the longest in
// the batch and pads d2l-style prediction positions with zero weights.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Batcher, batchIndices, collate, padRows } from '../../data/batcher.js';
import { DynamicMasker } from '../../data/masking.js';
import { assetPath, loadSst2 } from '../../data/readers/node.js';
import { Rng, hashSeed } from '../../data/rng.js';
import { loadBertTokenizer } from '../../tokenizers/load-node.js';

describe('Rng', () => {
  it('is reproducible and roughly uniform', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(Array.from({ length: 10_000 }, () => b.next())).toEqual(xs);
    const buckets = new Array(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)]++;
    for (const c of buckets) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(hashSeed(1, 2)).not.toBe(hashSeed(2, 1));
    expect(Rng.derive(1, 0).nextUint32()).not.toBe(Rng.derive(1, 1).nextUint32());
    expect(() => a.int(0)).toThrow(/positive integer/);
  });
});

describe('batchIndices', () => {
  it('covers every item exactly once, reproducibly, differently per epoch', () => {
    fc.assert(
      fc.property(fc.nat(300), fc.integer({ min: 1, max: 40 }), fc.integer(), fc.boolean(), (n, batchSize, seed, bucket) => {
        const lengthOf = bucket ? (i: number) => (i * 7919) % 50 : undefined;
        const batches = batchIndices(n, { batchSize, seed, lengthOf, bucketWindow: 3 }, 0);
        expect(batches.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(batches.every((b) => b.length <= batchSize)).toBe(true);
        expect(batchIndices(n, { batchSize, seed, lengthOf, bucketWindow: 3 }, 0)).toEqual(batches);
      }),
    );
    const e0 = batchIndices(100, { batchSize: 10, seed: 1 }, 0);
    const e1 = batchIndices(100, { batchSize: 10, seed: 1 }, 1);
    expect(e0).not.toEqual(e1);
    expect(batchIndices(10, { batchSize: 4, shuffle: false })).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(batchIndices(10, { batchSize: 4, shuffle: false, dropLast: true })).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(() => batchIndices(10, { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('length bucketing reduces padding on SST-2 train', () => {
    const tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
    const rows = loadSst2(assetPath('sst2/train.tsv')).rows.slice(0, 8000);
    const lengths = rows.map((r) => tok.encode(r.sentence).inputIds.length);
    const padding = (batches: number[][]): number =>
      batches.reduce((s, b) => s + b.length * Math.max(...b.map((i) => lengths[i]!)) - b.reduce((t, i) => t + lengths[i]!, 0), 0);
    const plain = padding(batchIndices(rows.length, { batchSize: 32, seed: 3 }));
    const bucketed = padding(batchIndices(rows.length, { batchSize: 32, seed: 3, lengthOf: (i) => lengths[i]! }));
    console.log(`[batcher] SST-2 (8,000 sentences, batch 32): ${plain} pad tokens shuffled, ${bucketed} with length bucketing`);
    expect(bucketed).toBeLessThan(plain / 4);
  });
});

describe('collate', () => {
  it('pads to the longest in the batch, with attention mask, labels and prediction weights', () => {
    const b = collate(
      [
        { inputIds: [4, 10, 11, 5], tokenTypeIds: [0, 0, 0, 0], labels: [-100, 10, -100, -100], predPositions: [1], predLabels: [10] },
        { inputIds: [4, 12, 5], labels: [-100, -100, -100], predPositions: [], predLabels: [] },
      ],
      { padId: 1 },
    );
    expect([b.batchSize, b.seqLen, b.maxPreds]).toEqual([2, 4, 1]);
    expect([...b.inputIds]).toEqual([4, 10, 11, 5, 4, 12, 5, 1]);
    expect([...b.attentionMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    expect([...b.tokenTypeIds]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...b.labels!]).toEqual([-100, 10, -100, -100, -100, -100, -100, -100]);
    expect([...b.predPositions!]).toEqual([1, 0]);
    expect([...b.predWeights!]).toEqual([1, 0]);
    expect(() => collate([], { padId: 0 })).toThrow(/empty batch/);
    expect(padRows([[1], [2, 3, 4]], 0, { multipleOf: 8 }).cols).toBe(8);
  });

  it('end to end: SST-2 sentences -> tokenizer -> dynamic masking -> batches', () => {
    const tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
    const rows = loadSst2(assetPath('sst2/dev.tsv')).rows;
    const encs = rows.map((r) => tok.encode(r.sentence, null, { maxLength: 64, truncation: true }));
    const masker = new DynamicMasker(tok.maskingVocab(), 99, { strategy: 'whole_word' });
    const batcher = new Batcher(
      encs.map((e, i) => ({ e, i })),
      { batchSize: 16, seed: 1, lengthOf: (x) => x.e.inputIds.length },
    );
    let seen = 0;
    for (const items of batcher.epoch(0)) {
      const batch = collate(
        items.map(({ e, i }) => ({ ...e, ...masker.mask(e, 0, i) })),
        { padId: tok.padId },
      );
      expect(batch.seqLen).toBe(Math.max(...items.map((x) => x.e.inputIds.length)));
      seen += batch.batchSize;
    }
    expect(seen).toBe(872);
    expect(batcher.batchesPerEpoch).toBe(55);
  });
});
