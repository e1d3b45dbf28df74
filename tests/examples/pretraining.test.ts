// Smoke tests of the pre-training examples' shared code (examples/lib/pretraining.ts) and of a
// couple of steps of pretrain / features / twilbert on tiny settings on the float64 reference
// backend: pair assembly and truncation, masking never touching [CLS]/[SEP], padded predictions
// ignored (-100), the NSP/SOP label flip to Hugging Face's convention, TWilBERT config errors with
// key paths, fine-tuning labels outside the category map reported with their line.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ReferenceBackend } from '../../engine/index.js';
import { DynamicMasker, Rng, makeNspPairs, parseWikiText } from '../../data/index.js';
import { assetPath } from '../../data/readers/node.js';
import { loadBertTokenizer } from '../../tokenizers/load-node.js';
import { ConfigError, configDefaults, validateConfig } from '../../train/index.js';
import {
  assemblePair, batchTensors, buildPretrainExamples, chunk, collatePretrain, hfPairLabel, truncatePair, wikiDocuments,
} from '../../examples/lib/pretraining.js';
import { PretrainSchema, runPretrain } from '../../examples/pretrain.js';
import { FeaturesSchema, runFeatures } from '../../examples/features.js';
import { TwilbertSchema, checkTwilbertConfig, loadTwilbertConfig, runTwilbert, type TwilbertConfig } from '../../examples/twilbert.js';

const tmp = mkdtempSync(join(tmpdir(), 'pretraining-test-'));
const quiet = () => {};

describe('pre-training batch building', () => {
  it('truncates longest-first and assembles [CLS] A [SEP] B [SEP] with segment ids', () => {
    const [a, b] = truncatePair([1, 2, 3, 4, 5, 6], [7, 8], 8);
    expect([a, b]).toEqual([[1, 2, 3], [7, 8]]);
    expect(truncatePair([1, 2], [3, 4, 5, 6, 7], 7)).toEqual([[1, 2], [3, 4]]);
    const p = assemblePair([10, 11], [12], { clsId: 2, sepId: 3 });
    expect(p.inputIds).toEqual([2, 10, 11, 3, 12, 3]);
    expect(p.tokenTypeIds).toEqual([0, 0, 0, 0, 1, 1]);
    expect(() => truncatePair([1], [2], 4)).toThrow(/at least 5/);
  });

  it('flips data/pairs labels (1 = is next) to Hugging Face heads (0 = is next)', () => {
    expect(hfPairLabel(1)).toBe(0);
    expect(hfPairLabel(0)).toBe(1);
  });

  it('masks only sentence tokens, pads predictions with -100 and builds i32 tensors', async () => {
    const tok = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
    const text = [' = Pizza = ', '', ' I like pizza . It is tasty . The sky is blue . ', '', ' I am hungry . I will eat a big meal . Then I sleep . ', ''].join('\n');
    const docs = wikiDocuments(parseWikiText(text).articles).map((d) => d.map((s) => tok.convertTokensToIds(tok.tokenize(s))));
    expect(docs).toHaveLength(2);
    const pairs = makeNspPairs(docs, Rng.derive(1, 0));
    expect(pairs).toHaveLength(4);
    const masker = new DynamicMasker(tok.maskingVocab(), 7, { strategy: 'token' });
    const ex = buildPretrainExamples(pairs, { clsId: tok.clsId, sepId: tok.sepId }, masker, 0, { maxLen: 12 });
    for (const [i, e] of ex.entries()) {
      expect(e.inputIds.length).toBeLessThanOrEqual(12);
      expect(e.inputIds[0]).toBe(tok.clsId);
      expect(e.inputIds[e.inputIds.length - 1]).toBe(tok.sepId);
      expect(e.predPositions.length).toBeGreaterThanOrEqual(1);
      for (const p of e.predPositions) {
        expect(p).toBeGreaterThan(0);
        expect(e.tokenTypeIds[p] === 0 ? e.inputIds.indexOf(tok.sepId) !== p : p !== e.inputIds.length - 1).toBe(true);
      }
      expect(e.pairLabel).toBe(1 - pairs[i]!.label);
    }
    // Same (seed, epoch, index) -> same masks; another epoch -> a fresh draw somewhere.
    const again = buildPretrainExamples(pairs, { clsId: tok.clsId, sepId: tok.sepId }, masker, 0, { maxLen: 12 });
    expect(again).toEqual(ex);
    const next = buildPretrainExamples(pairs, { clsId: tok.clsId, sepId: tok.sepId }, masker, 1, { maxLen: 12 });
    expect(next.map((e) => e.predPositions)).not.toEqual(ex.map((e) => e.predPositions));

    const b = collatePretrain(ex, tok.padId);
    const T = Math.max(...ex.map((e) => e.inputIds.length));
    const P = Math.max(...ex.map((e) => e.predPositions.length));
    expect([b.size, b.seqLen, b.numPreds]).toEqual([4, T, P]);
    ex.forEach((e, r) => {
      expect(Array.from(b.attentionMask.slice(r * T, (r + 1) * T)).reduce((x, y) => x + y, 0)).toBe(e.inputIds.length);
      for (let j = e.predPositions.length; j < P; j++) expect(b.mlmLabels[r * P + j]).toBe(-100);
    });
    const t = batchTensors(b, new ReferenceBackend());
    expect(t.inputIds.shape).toEqual([4, T]);
    expect(t.maskedPositions.shape).toEqual([4, P]);
    expect(t.pairLabels.dtype).toBe('i32');
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('TWilBERT config', () => {
  const shipped = () => JSON.parse(readFileSync('examples/configs/twilbert-small.json', 'utf8')) as Record<string, Record<string, unknown>>;
  const issues = (v: unknown): Record<string, string> => {
    try {
      checkTwilbertConfig(validateConfig(TwilbertSchema, v));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return Object.fromEntries((e as ConfigError).issues.map((i) => [i.path, i.message]));
    }
    throw new Error('expected a ConfigError');
  };

  it('accepts the shipped config', () => {
    const c = loadTwilbertConfig('examples/configs/twilbert-small.json');
    expect(c.model.pkm_params?.in_layers).toEqual([2]);
    expect(c.task.class_weights).toBe('auto');
  });

  it('rejects unknown keys, wrong types and unsupported values with their key paths', () => {
    const c = shipped();
    const model = c.model as Record<string, Record<string, unknown>>;
    const bad = {
      ...c,
      model: { ...model, pkm_params: { ...model.pkm_params, memroy_size: 64 }, masked_lm: { ...model.masked_lm, type: 'spam' } },
      training: { ...c.training, batch_size: '16', optimizer: 'sgd' },
      task: { ...c.task, class_weights: 'balanced' },
    };
    const got = issues(bad);
    expect(got['model.pkm_params.memroy_size']).toMatch(/unknown key .*did you mean 'memory_size'/);
    expect(got['model.masked_lm.type']).toMatch(/expected one of "token" \| "whole_word" \| "span"/);
    expect(got['training.batch_size']).toMatch(/expected an integer, got string "16"/);
    expect(got['training.optimizer']).toMatch(/expected one of "adam" \| "lamb"/);
    expect(got['task.class_weights']).toMatch(/expected "auto", null or an array/);
    const cross = issues({ ...c, model: { ...model, attention_size: 16, rop: { n_hidden: 1, hidden_size: 8 } } });
    expect(cross['model.attention_size']).toMatch(/must equal hidden_size/);
    expect(cross['model.rop.n_hidden']).toMatch(/only 0 is supported/);
    expect(() => loadTwilbertConfig(join(tmp, 'missing.json'))).toThrow(/--config: file not found/);
  });

  it('rejects unknown pretrain flags with their path', () => {
    expect(() => validateConfig(PretrainSchema, { max_lenn: 3 })).toThrow(/max_lenn: unknown key.*did you mean 'max_len'/);
    expect(configDefaults(FeaturesSchema).pairs).toHaveLength(2);
  });
});

describe('examples on tiny settings (reference backend)', () => {
  const backend = new ReferenceBackend();
  const modelDir = join(tmp, 'pretrain', 'model');

  it('pretrain: two MLM + NSP steps, then a Hugging Face checkpoint with vocab.txt', async () => {
    const wiki = join(tmp, 'wiki.tokens');
    writeFileSync(wiki, readFileSync(assetPath('wikitext-2/wiki.valid.tokens'), 'utf8').split('\n').slice(0, 120).join('\n'));
    const cfg = validateConfig(PretrainSchema, {
      data: wiki, vocab_size: 300, preset: 'tiny', max_len: 16, max_pairs: 8, eval_pairs: 4, batch_size: 4, epochs: 1, log_every: 1, out: join(tmp, 'pretrain'), backend: 'reference',
    });
    const lines: string[] = [];
    const r = await runPretrain(cfg, { backend, log: (l) => lines.push(l), quiet: true });
    expect(r.steps).toBe(2);
    expect(Number.isFinite(r.last.mlm) && Number.isFinite(r.last.nsp)).toBe(true);
    expect(r.first.mlm).toBeGreaterThan(Math.log(300) - 1.5);
    expect(r.eval[0]!.nsp_acc).toBeGreaterThanOrEqual(0);
    expect(r.eval[0]!.nsp_acc).toBeLessThanOrEqual(1);
    expect(lines.some((l) => /mlm loss .* nsp loss/.test(l))).toBe(true);
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['BertForPreTraining']);
    expect(readFileSync(join(modelDir, 'vocab.txt'), 'utf8').split('\n').length).toBeGreaterThan(100);
    await expect(runPretrain({ ...cfg, data: join(tmp, 'nope.tokens') }, { backend, log: quiet, quiet: true })).rejects.toThrow(/--data: file not found/);
  });

  it('features: [CLS] and mean-pooled similarities and NSP scores from that checkpoint', async () => {
    const cfg = validateConfig(FeaturesSchema, { pretrained: modelDir, out: join(tmp, 'features'), backend: 'reference' });
    const r = await runFeatures(cfg, { backend, log: quiet });
    expect(r.random).toBe(false);
    expect(r.cls).toHaveLength(6);
    for (let i = 0; i < 6; i++) {
      expect(r.cls[i]![i]).toBeCloseTo(1, 6);
      expect(r.mean[i]![i]).toBeCloseTo(1, 6);
    }
    expect(r.nsp.map((p) => p.a)).toEqual(['I like pizza', 'I am hungry']);
    for (const p of r.nsp) expect(p.pNext).toBeGreaterThan(0), expect(p.pNext).toBeLessThan(1);
    await expect(runFeatures({ ...cfg, pretrained: join(tmp, 'nope') }, { backend, log: quiet })).rejects.toThrow(/--pretrained: directory not found/);
  });

  it('twilbert: ALBERT + PKM span-MLM/ROP steps, then fine-tuning; a label outside the map is reported with its line', async () => {
    const pairs = readFileSync('assets/data/twilbert/pairs.tsv', 'utf8').split('\n').slice(0, 17).join('\n');
    const train = readFileSync('assets/data/twilbert/stance_train.tsv', 'utf8').split('\n').slice(0, 17);
    train.splice(5, 0, '999\tNo sé qué pensar del carril bici\tMAYBE');
    const dev = readFileSync('assets/data/twilbert/stance_dev.tsv', 'utf8').split('\n').slice(0, 9).join('\n');
    writeFileSync(join(tmp, 'pairs.tsv'), pairs + '\n');
    writeFileSync(join(tmp, 'train.tsv'), train.join('\n') + '\n');
    writeFileSync(join(tmp, 'dev.tsv'), dev + '\n');
    const c = loadTwilbertConfig('examples/configs/twilbert-small.json');
    const tiny: TwilbertConfig = {
      ...c,
      dataset: { ...c.dataset, file: join(tmp, 'pairs.tsv'), train_file: join(tmp, 'train.tsv'), dev_file: join(tmp, 'dev.tsv'), vocab_size: 200 },
      representation: { ...c.representation, max_len: 24 },
      model: {
        ...c.model, embedding_size: 16, hidden_size: 32, n_encoders: 2, n_heads: 2, attention_size: 16,
        pkm_params: { ...c.model.pkm_params!, k_dim: 8, memory_size: 8, n_heads: 1, knn: 4, in_layers: [1] },
      },
      training: { ...c.training, batch_size: 8, epochs: 1, warmup_steps: 2, path_save_weights: join(tmp, 'tw', 'pretrained') },
      finetuning: { ...c.finetuning, batch_size: 8, epochs: 1, path_save_weights: join(tmp, 'tw', 'finetuned') },
    };
    checkTwilbertConfig(tiny);
    const lines: string[] = [];
    const r = await runTwilbert(tiny, { backend, log: (l) => lines.push(l), quiet: true });
    expect(r.pretrain!.steps).toBe(2);
    expect(Number.isFinite(r.pretrain!.last.mlm) && Number.isFinite(r.pretrain!.last.rop)).toBe(true);
    const saved = JSON.parse(readFileSync(join(tmp, 'tw', 'pretrained', 'config.json'), 'utf8'));
    expect(saved.architectures).toEqual(['AlbertForPreTraining']);
    expect(saved.pkm.layers).toEqual([1]);
    expect(r.finetune!.skipped).toHaveLength(1);
    expect(r.finetune!.skipped[0]!.line).toBe(6);
    expect(lines.some((l) => /train\.tsv:6: class "MAYBE" is not in the category map/.test(l))).toBe(true);
    const rec = r.finetune!.history[0]!;
    expect(typeof rec.eval_f1_stance).toBe('number');
    expect(r.finetune!.best?.metric).toBe('eval_f1_stance');
  });
});
