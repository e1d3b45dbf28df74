// Smoke tests of the classification examples: the shared code in examples/lib/classify.ts
// (tokenization and d2l pair truncation, bucketed batches, padding, BERTClassifier, the linear
// probe and its folded standardization, evaluation order, the device-side accuracy counter, the
// vocabulary cache, missing-file errors) and a few steps of sst2 / snli / cola end to end on the
// float64 reference backend with tiny models (outputs in a temp dir).

import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { F, Linear, ReferenceBackend, noGrad, setSeed, tensor, tidy } from '../../engine/index.js';
import { assetPath, loadSst2 } from '../../data/readers/node.js';
import { bertPreset } from '../../models/index.js';
import { parseArgs } from '../../train/index.js';
import {
  BERTClassifier, CorrectCounter, batchTensors, encodePairs, encodeSingles, epochBatches, evalBatches, evaluate, requireFile, subset,
  taskTokenizer, trainProbe,
} from '../../examples/lib/classify.js';
import { runSst2, Sst2Schema } from '../../examples/sst2.js';
import { runSnli, SnliSchema } from '../../examples/snli.js';
import { runCola, ColaSchema } from '../../examples/cola.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'classify-test-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const backend = new ReferenceBackend();
const sst2Rows = loadSst2(assetPath('sst2/dev.tsv')).rows;
const texts = sst2Rows.map((r) => r.sentence);
const quiet = () => undefined;

describe('shared classification code', () => {
  let cache: string;
  it('trains a WordPiece vocabulary once and reuses the cached file', async () => {
    cache = await tempDir();
    const a = taskTokenizer(texts, { vocabSize: 400, name: 't', cacheDir: cache });
    expect(a.cached).toBe(false);
    expect(a.tokenizer.vocabSize).toBeLessThanOrEqual(400);
    const b = taskTokenizer(texts, { vocabSize: 400, name: 't', cacheDir: cache });
    expect(b.cached).toBe(true);
    expect(b.path).toBe(a.path);
    expect(b.tokenizer.vocab.tokens).toEqual(a.tokenizer.vocab.tokens);
    expect(await readdir(cache)).toHaveLength(1);
  });

  it('encodes single sentences and pairs within maxLength, pairs truncated longest side first (d2l)', () => {
    const { tokenizer: tok } = taskTokenizer(texts, { vocabSize: 400, name: 't', cacheDir: cache });
    const singles = encodeSingles(tok, sst2Rows.slice(0, 50).map((r) => ({ text: r.sentence, label: r.label! })), 12);
    for (const e of singles) {
      expect(e.ids.length).toBeLessThanOrEqual(12);
      expect(e.ids[0]).toBe(tok.clsId);
      expect(e.ids[e.ids.length - 1]).toBe(tok.sepId);
      expect(e.types.every((t) => t === 0)).toBe(true);
    }
    const long = 'the movie is a long and winding road of very many words indeed';
    const [p] = encodePairs(tok, [{ a: long, b: 'short one', label: 2 }], 12);
    expect(p!.ids).toHaveLength(12);
    expect(p!.label).toBe(2);
    const b = tok.tokenize('short one').length;
    // [CLS] a.. [SEP] b [SEP]: the short hypothesis is kept whole, the premise is cut.
    expect(p!.types.filter((t) => t === 1)).toHaveLength(b + 1);
    expect(p!.ids.filter((id) => id === tok.sepId)).toHaveLength(2);
  });

  it('bucketed epoch batches cover every example once, differ between epochs, and pad to the longest row', () => {
    const { tokenizer: tok } = taskTokenizer(texts, { vocabSize: 400, name: 't', cacheDir: cache });
    const ex = encodeSingles(tok, sst2Rows.slice(0, 100).map((r) => ({ text: r.sentence, label: r.label! })), 64);
    const e0 = epochBatches(ex, { batchSize: 16, seed: 1 }, 0);
    const e1 = epochBatches(ex, { batchSize: 16, seed: 1 }, 1);
    expect(e0.flat().sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(e1.flat()).not.toEqual(e0.flat());
    expect(epochBatches(ex, { batchSize: 16, seed: 1 }, 0)).toEqual(e0);
    expect(evalBatches(ex, 16).flat().sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    const b = batchTensors(ex, e0[0]!, tok.padId, backend);
    const T = Math.max(...e0[0]!.map((i) => ex[i]!.ids.length));
    expect(b.inputIds.shape).toEqual([e0[0]!.length, T]);
    expect(b.labels.shape).toEqual([e0[0]!.length]);
    expect(b.inputIds.dtype).toBe('i32');
  });

  it('BERTClassifier gives [B, classes] logits with cls and mean pooling; names follow BertForSequenceClassification', () => {
    const { tokenizer: tok } = taskTokenizer(texts, { vocabSize: 400, name: 't', cacheDir: cache });
    const ex = encodeSingles(tok, sst2Rows.slice(0, 6).map((r) => ({ text: r.sentence, label: r.label! })), 20);
    const config = bertPreset('tiny', { vocab_size: tok.vocabSize, hidden_size: 16, num_attention_heads: 2, intermediate_size: 32, num_hidden_layers: 1, num_labels: 3 });
    for (const pooling of ['cls', 'mean'] as const) {
      setSeed(3);
      const m = new BERTClassifier(config, { backend, pooling });
      const z = tidy(() => m.forward(batchTensors(ex, [0, 1, 2, 3, 4, 5], tok.padId, backend)));
      expect(z.shape).toEqual([6, 3]);
      z.dispose();
      const names = m.namedParameters().map(([n]) => n);
      expect(names).toContain('classifier.weight');
      expect(names.some((n) => n.startsWith('bert.pooler'))).toBe(pooling === 'cls');
      m.dispose();
    }
  });

  it('evaluate returns predictions in example order; CorrectCounter counts on the device', async () => {
    const ex = [0, 1, 2, 3, 4].map((k) => ({ ids: Array(2 + k).fill(5), types: Array(2 + k).fill(0), label: k % 2 }));
    // A "model" that predicts class = (length is even).
    const logits = (b: ReturnType<typeof batchTensors>) => {
      const T = b.seqLen;
      return tensor(Array.from({ length: b.batchSize }, () => (T % 2 === 0 ? [0, 1] : [1, 0])).flat(), [b.batchSize, 2], { backend });
    };
    const r = await evaluate(logits, ex, { batchSize: 1, padId: 0, backend });
    expect(r.predictions).toEqual([1, 0, 1, 0, 1]);
    expect(r.accuracy).toBeCloseTo(0, 10);
    const c = new CorrectCounter();
    c.add(tensor([0, 1, 1, 0, 2, 0], [3, 2], { backend }), tensor(new Int32Array([1, 1, 0]), [3], { backend, dtype: 'i32' }));
    c.add(tensor([3, 1], [1, 2], { backend }), tensor(new Int32Array([0]), [1], { backend, dtype: 'i32' }));
    expect(await c.read()).toBeCloseTo(3 / 4, 10);
    expect(Number.isNaN(await c.read())).toBe(true);
  });

  it('trainProbe learns separable features and folds the standardization into the layer', async () => {
    const n = 64;
    const feats = new Float32Array(n * 2);
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = i % 2;
      feats[2 * i] = 100 + (y ? 0.5 : -0.5) + 0.1 * Math.sin(i); // offset and tiny scale: needs standardizing
      feats[2 * i + 1] = 3 * Math.cos(i);
      labels.push(y);
    }
    setSeed(1);
    const lin = new Linear(2, 2, { backend });
    const loss = await trainProbe(lin, feats, labels, { epochs: 30, batchSize: 16, lr: 0.1, seed: 1, backend });
    expect(loss).toBeLessThan(0.2);
    const pred = noGrad(() => tidy(() => F.argmax(lin.forward(tensor(feats, [n, 2], { backend })))));
    const p = Array.from(await pred.data());
    expect(p.filter((v, i) => v === labels[i]).length).toBe(n);
    lin.dispose();
  });

  it('subset is deterministic, keeps order, and 0 means all; requireFile names the flag', () => {
    const items = [...Array(20).keys()];
    expect(subset(items, 0, 1)).toEqual(items);
    const a = subset(items, 5, 1);
    expect(a).toEqual(subset(items, 5, 1));
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(a).toHaveLength(5);
    expect(() => requireFile('/no/such/file.tsv', '--train')).toThrow(/--train: data file not found: \/no\/such\/file\.tsv/);
  });
});

const tiny = ['--backend', 'reference', '--layers', '1', '--hidden', '16', '--heads', '2', '--intermediate', '32', '--maxLength', '24', '--batch', '16', '--logEvery', '1'];

describe('examples end to end (reference backend, tiny settings)', () => {
  let sstCache: string;
  it('sst2: frozen and fine-tuned runs, summary written', async () => {
    const out = await tempDir();
    sstCache = out;
    const lines: string[] = [];
    const { config } = parseArgs([...tiny, '--subset', '64', '--devSubset', '32', '--frozenTrain', '48', '--probeEpochs', '2', '--vocabSize', '500', '--out', out, '--cache', out], Sst2Schema);
    const r = await runSst2(config, (l) => lines.push(l), backend);
    expect(lines[0]).toMatch(/^adapter: /);
    expect(r.frozen!.devAccuracy).toBeGreaterThanOrEqual(0);
    expect(r.frozen!.devAccuracy).toBeLessThanOrEqual(1);
    expect(r.finetune!.trainExamples).toBe(64);
    expect(Number.isFinite(r.finetune!.devLoss)).toBe(true);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.finetune.devAccuracy).toBe(r.finetune!.devAccuracy);
    expect(await readdir(join(out, 'finetune'))).toEqual(expect.arrayContaining(['stats.jsonl', 'curves.svg']));
    expect(lines.join('\n')).toMatch(/\| fine-tuned \|/);
  });

  it('sst2: in-domain MLM pretraining steps run before both runs', async () => {
    const out = await tempDir();
    const lines: string[] = [];
    const { config } = parseArgs([...tiny, '--subset', '32', '--devSubset', '16', '--mode', 'finetune', '--mlmSteps', '2', '--vocabSize', '500', '--out', out, '--cache', sstCache], Sst2Schema);
    const r = await runSst2(config, (l) => lines.push(l), backend);
    expect(lines.some((l) => l.startsWith('[mlm] done'))).toBe(true);
    expect(r.frozen).toBeUndefined();
    expect(r.finetune).toBeDefined();
  });

  it('sst2: a missing dataset path is a clear error', async () => {
    const { config } = parseArgs([...tiny, '--train', '/no/such/train.tsv'], Sst2Schema);
    await expect(runSst2(config, quiet, backend)).rejects.toThrow(/--train: data file not found: \/no\/such\/train\.tsv/);
  });

  it('snli: d2l-style epoch lines (loss, train acc, test acc) and examples/s', async () => {
    const out = await tempDir();
    const lines: string[] = [];
    const { config } = parseArgs([...tiny, '--subset', '48', '--testSubset', '24', '--epochs', '2', '--vocabSize', '500', '--out', out, '--cache', out], SnliSchema);
    const r = await runSnli(config, (l) => lines.push(l), backend);
    expect(r.epochs).toHaveLength(2);
    for (const e of r.epochs) {
      expect(e.trainAcc).toBeGreaterThanOrEqual(0);
      expect(e.trainAcc).toBeLessThanOrEqual(1);
      expect(e.testAcc).toBeGreaterThanOrEqual(0);
      expect(e.testAcc).toBeLessThanOrEqual(1);
      expect(Number.isFinite(e.loss)).toBe(true);
    }
    const text = lines.join('\n');
    expect(text).toMatch(/training on the SNLI DEV set, evaluating on the TEST set/);
    expect(text).toMatch(/loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}/);
    expect(text).toMatch(/examples\/sec on /);
    await expect(runSnli(parseArgs([...tiny, '--test', '/no/such/test.jsonl'], SnliSchema).config, quiet, backend)).rejects.toThrow(/--test: data file not found/);
  });

  it('cola: loss table, curves, MCC and a savePretrained/fromPretrained round trip with the same predictions', async () => {
    const out = await tempDir();
    const lines: string[] = [];
    const { config } = parseArgs([...tiny, '--subset', '80', '--testSubset', '24', '--epochs', '2', '--vocabSize', '500', '--out', out, '--cache', out], ColaSchema);
    const r = await runCola(config, (l) => lines.push(l), backend);
    expect(r.epochs).toHaveLength(2);
    expect(r.samePredictions).toBe(true);
    expect(r.maxLogitDiff).toBeLessThan(1e-4);
    expect(r.reloadedMcc).toBe(r.testMcc);
    expect(r.testMcc).toBeGreaterThanOrEqual(-1);
    expect(r.testMcc).toBeLessThanOrEqual(1);
    const text = lines.join('\n');
    expect(text).toMatch(/\| epoch \| Training Loss \| Valid\. Loss \| Valid\. Accur\. \|/);
    expect(text).toMatch(/same predictions: true/);
    const files = await readdir(out);
    expect(files).toEqual(expect.arrayContaining(['curves.svg', 'stats.csv', 'model', 'summary.json']));
    expect((await readdir(join(out, 'model'))).sort()).toEqual(['config.json', 'model.safetensors', 'vocab.txt']);
    await expect(runCola(parseArgs([...tiny, '--train', '/no/such/cola.tsv'], ColaSchema).config, quiet, backend)).rejects.toThrow(/--train: data file not found/);
  });
});
