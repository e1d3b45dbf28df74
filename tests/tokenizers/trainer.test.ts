// Role: WordPiece vocabulary training: a vocabulary trained on the SST-2 train sentences covers
// the SST-2 dev set with under 1% [UNK], is identical across runs (and corpus orders), is
// written as a loadable vocab.txt, and honours vocabSize / minFrequency / special tokens.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assetPath, loadSst2 } from '../../data/readers/node.js';
import { BertTokenizer } from '../../tokenizers/bert-tokenizer.js';
import { loadBertTokenizer, writeVocabFile } from '../../tokenizers/load-node.js';
import { trainWordPiece, trainWordPieceVocabText } from '../../tokenizers/trainer.js';
import { Vocab } from '../../tokenizers/vocab.js';

describe('WordPiece vocabulary training on SST-2', () => {
  let train: string[];
  let dev: string[];
  let vocab1: string[];
  let trainMs = 0;

  beforeAll(() => {
    train = loadSst2(assetPath('sst2/train.tsv')).rows.map((r) => r.sentence);
    dev = loadSst2(assetPath('sst2/dev.tsv')).rows.map((r) => r.sentence);
    const t0 = performance.now();
    vocab1 = trainWordPiece(train, { vocabSize: 8000, minFrequency: 2 });
    trainMs = performance.now() - t0;
  });

  it('trains quickly and reaches the requested size, special tokens first', () => {
    console.log(`[trainer] 8,000-token vocabulary from ${train.length} SST-2 train sentences in ${trainMs.toFixed(0)} ms`);
    expect(vocab1).toHaveLength(8000);
    expect(vocab1.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(new Set(vocab1).size).toBe(vocab1.length);
    expect(vocab1).toContain('movie');
    expect(vocab1.some((t) => t.startsWith('##'))).toBe(true);
    expect(trainMs).toBeLessThan(15_000);
  });

  it('tokenizes SST-2 dev with under 1% [UNK]', () => {
    const tok = new BertTokenizer(Vocab.fromTokens(vocab1), { lowercase: true });
    let unk = 0;
    let total = 0;
    for (const s of dev) {
      const ids = tok.encode(s, null, { addSpecialTokens: false }).inputIds;
      total += ids.length;
      unk += ids.filter((i) => i === tok.unkId).length;
    }
    console.log(`[trainer] SST-2 dev: ${unk} [UNK] of ${total} tokens (${((100 * unk) / total).toFixed(3)}%)`);
    expect(unk / total).toBeLessThan(0.01);
  });

  it('is identical across two runs and does not depend on corpus order', () => {
    const vocab2 = trainWordPiece(train, { vocabSize: 8000, minFrequency: 2 });
    expect(vocab2).toEqual(vocab1);
    const reversed = trainWordPiece([...train].reverse(), { vocabSize: 8000, minFrequency: 2 });
    expect(reversed).toEqual(vocab1);
  });

  it('writes vocab.txt that loads back as a working tokenizer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wp-train-'));
    const path = join(dir, 'sub', 'vocab.txt');
    writeVocabFile(path, vocab1);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(vocab1.join('\n') + '\n');
    expect(text).toBe(trainWordPieceVocabText(train, { vocabSize: 8000 }));
    const tok = loadBertTokenizer(path);
    expect(tok.lowercase).toBe(true);
    expect(tok.encode('a gorgeous movie').tokens).toEqual(['[CLS]', 'a', 'gorgeous', 'movie', '[SEP]']);
  });
});

describe('WordPiece trainer options', () => {
  const corpus = ['low lower lowest', 'newer newest wider', 'low low low newest', 'Ñandú ÉLITE'];

  it('minFrequency stops the merges: a huge one leaves only specials and the alphabet', () => {
    const v = trainWordPiece(corpus, { vocabSize: 1000, minFrequency: 1000 });
    const specials = 5;
    expect(v.slice(specials).every((t) => [...t.replace(/^##/, '')].length === 1)).toBe(true);
    expect(v).toContain('n'); // "Ñandú" lowercased and stripped
    expect(v).not.toContain('ñ');
  });

  it('learns frequent words, keeps custom special tokens, is cased on request', () => {
    const v = trainWordPiece(corpus, { vocabSize: 60, minFrequency: 2, specialTokens: ['<pad>', '<unk>'] });
    expect(v.slice(0, 2)).toEqual(['<pad>', '<unk>']);
    expect(v).toContain('low');
    expect(v.length).toBeLessThanOrEqual(60);
    const cased = trainWordPiece(['Ñandú ÉLITE'], { vocabSize: 50, lowercase: false });
    expect(cased).toContain('Ñ');
    expect(cased).toContain('##ú');
  });

  it('rejects a bad vocabSize and duplicated special tokens', () => {
    expect(() => trainWordPiece(corpus, { vocabSize: 0 })).toThrow(/vocabSize/);
    expect(() => trainWordPiece(corpus, { vocabSize: 10, specialTokens: ['[A]', '[A]'] })).toThrow(/listed twice/);
  });

  it('limitAlphabet keeps the most frequent characters only', () => {
    const v = trainWordPiece(['aaaa bbb cc d'], { vocabSize: 100, minFrequency: 1, limitAlphabet: 2 });
    expect(v).toContain('a');
    expect(v).toContain('b');
    expect(v).not.toContain('d');
  });
});
