// Grammatical acceptability on CoLA, following the CoLA fine-tuning seed tutorial (McCormick &
// Ryan): BertForSequenceClassification, the in-domain train set split 90/10 into train and
// validation, AdamW (eps 1e-8) with a linear schedule, gradient clipping at 1.0, a per-epoch table
// of training/validation loss (and the curve: out/cola/curves.svg), the Matthews correlation on
// the out-of-domain dev set, then save_pretrained / from_pretrained and the same predictions again.
//
// The seed fine-tunes pretrained bert-base-uncased at lr 2e-5 for 4 epochs. Without --pretrained
// there are no pretrained weights here: the default is a small random-init BERT with a WordPiece
// vocabulary trained on the CoLA train sentences, at lr 1e-3 (2e-5 barely moves random weights),
// which keeps the run under 10 minutes on 2 CPU cores; expect an MCC near 0 without pretraining.
//
//   npx tsx examples/cola.ts
//   npx tsx examples/cola.ts --pretrained path/to/bert-base-uncased --lr 2e-5 --warmup 0
//   npx tsx examples/cola.ts --help

import { join } from 'node:path';

import { AdamW, LRScheduler, decayGroups, linearWarmupDecay, noGrad, setSeed, tidy, type Backend } from '../engine/index.js';
import type { ColaExample } from '../data/index.js';
import { assetPath, loadCola } from '../data/readers/node.js';
import { BertForSequenceClassification, bertPreset, type BertConfig, type BertPreset } from '../models/index.js';
import { fromPretrained, readConfig, savePretrained } from '../models/checkpoint-node.js';
import { loadBertTokenizer } from '../tokenizers/load-node.js';
import type { BertTokenizer } from '../tokenizers/index.js';
import { fit, helpText, matthewsCorrcoef, parseArgs, s, type Infer } from '../train/index.js';
import { nodeIO, stdoutSink } from '../train/io-node.js';
import {
  adapterLine, batchTensors, encodeSingles, epochBatches, evalBatches, evaluate, fmtSec, lengthStats, makeBackend, outDirFor, requireFile, since,
  subset, taskTokenizer, writeJson, type BatchTensors, type Example,
} from './lib/classify.js';

const Schema = s.object({
  train: s.string({ default: assetPath('cola/in_domain_train.tsv'), description: 'CoLA raw in-domain train (split 90/10 into train/validation)' }),
  test: s.string({ default: assetPath('cola/out_of_domain_dev.tsv'), description: 'CoLA out-of-domain dev (the MCC is reported on it)' }),
  backend: s.enum(['webgpu', 'reference'] as const, { default: 'webgpu' }),
  pretrained: s.optional(s.string({ description: 'Hugging Face BERT checkpoint dir (config.json, model.safetensors, vocab.txt)' })),
  vocabSize: s.int({ min: 100, default: 4000, description: 'WordPiece vocabulary trained on the CoLA train sentences (no --pretrained)' }),
  preset: s.enum(['tiny', 'small', 'mini', 'base', 'large'] as const, { default: 'tiny' }),
  layers: s.int({ min: 0, default: 1, description: 'encoder layers (0 keeps the preset)' }),
  hidden: s.int({ min: 0, default: 64, description: 'hidden size (0 keeps the preset)' }),
  heads: s.int({ min: 0, default: 2, description: 'attention heads (0 keeps the preset)' }),
  intermediate: s.int({ min: 0, default: 256, description: 'FFN size (0 keeps the preset)' }),
  maxLength: s.int({ min: 8, max: 512, default: 64, description: "the seed's MAX_LEN 64" }),
  batch: s.int({ min: 1, default: 32, description: "the seed's batch size" }),
  evalBatch: s.int({ min: 1, default: 256 }),
  epochs: s.int({ min: 1, default: 4, description: "the seed's 4 epochs" }),
  lr: s.number({ gt: 0, default: 1e-3, description: 'AdamW lr; the seed uses 2e-5 on PRETRAINED weights, random init needs more' }),
  eps: s.number({ gt: 0, default: 1e-8 }),
  warmup: s.number({ min: 0, max: 1, default: 0.1, description: 'warmup fraction of the steps (the seed: 0)' }),
  weightDecay: s.number({ min: 0, default: 0.01 }),
  clip: s.number({ min: 0, default: 1 }),
  dropout: s.number({ min: 0, max: 0.9, default: 0.1 }),
  valFraction: s.number({ gt: 0, max: 0.5, default: 0.1 }),
  subset: s.int({ min: 0, default: 0, description: 'use this many in-domain train sentences (0: all 8,551)' }),
  testSubset: s.int({ min: 0, default: 0, description: 'evaluate on this many out-of-domain sentences (0: all 516)' }),
  seed: s.int({ default: 42 }),
  cache: s.optional(s.string({ description: 'cache dir for the trained vocabulary (default .cache/)' })),
  out: s.optional(s.string({ description: 'output dir (default out/cola)' })),
  logEvery: s.int({ min: 1, default: 40 }),
});
type Config = Infer<typeof Schema>;

export interface ColaEpoch {
  epoch: number;
  trainLoss: number;
  validLoss: number;
  validAccuracy: number;
  trainSec: number;
  validSec: number;
}

export interface ColaResult {
  epochs: ColaEpoch[];
  testMcc: number;
  testAccuracy: number;
  reloadedMcc: number;
  maxLogitDiff: number;
  samePredictions: boolean;
  totalSeconds: number;
}

function toExamples(tok: BertTokenizer, rows: readonly ColaExample[], maxLength: number): Example[] {
  return encodeSingles(tok, rows.map((r) => ({ text: r.sentence, label: r.label })), maxLength);
}

async function logitsOf(model: BertForSequenceClassification, examples: readonly Example[], padId: number, backend: Backend, batch: number): Promise<Float32Array> {
  const out = new Float32Array(examples.length * 2);
  model.eval();
  for (const idx of evalBatches(examples, batch)) {
    const z = noGrad(() => tidy(() => {
      const b = batchTensors(examples, idx, padId, backend);
      return model.forward({ inputIds: b.inputIds, tokenTypeIds: b.tokenTypeIds, attentionMask: b.attentionMask }).logits;
    }));
    const v = await z.data();
    z.dispose();
    idx.forEach((i, k) => out.set(v.subarray(k * 2, k * 2 + 2), i * 2));
  }
  return out;
}

const argmax2 = (z: Float32Array): number[] => Array.from({ length: z.length / 2 }, (_, i) => (z[2 * i + 1]! > z[2 * i]! ? 1 : 0));

export async function runCola(cfg: Config, log: (line: string) => void = console.log, backendIn?: Backend): Promise<ColaResult> {
  const tStart = performance.now();
  const backend = backendIn ?? (await makeBackend(cfg.backend));
  log(adapterLine(backend));
  requireFile(cfg.train, '--train');
  requireFile(cfg.test, '--test');
  if (cfg.pretrained) requireFile(join(cfg.pretrained, 'config.json'), '--pretrained');
  const out = outDirFor('cola', cfg.out);

  const all = subset(loadCola(cfg.train).rows, cfg.subset, cfg.seed);
  const testRows = subset(loadCola(cfg.test).rows, cfg.testSubset, cfg.seed);
  let tok: BertTokenizer;
  if (cfg.pretrained) tok = loadBertTokenizer(requireFile(join(cfg.pretrained, 'vocab.txt'), '--pretrained (vocab.txt)'));
  else {
    const t0 = performance.now();
    const v = taskTokenizer(all.map((r) => r.sentence), { vocabSize: cfg.vocabSize, name: 'cola', cacheDir: cfg.cache });
    tok = v.tokenizer;
    log(`vocab: ${tok.vocabSize} WordPiece tokens trained on the CoLA train sentences (${v.cached ? 'cached' : `trained in ${fmtSec(since(t0))}`}: ${v.path})`);
  }
  const vocabTokens = tok.vocab.tokens;
  // The seed's random_split 90/10 of the in-domain training set.
  const examples = toExamples(tok, all, cfg.maxLength);
  const nVal = Math.max(1, Math.round(cfg.valFraction * examples.length));
  const shuffled = epochBatches(examples, { batchSize: examples.length, seed: cfg.seed + 1, bucketWindow: 0 }, 0)[0]!;
  const val = shuffled.slice(0, nVal).map((i) => examples[i]!);
  const train = shuffled.slice(nVal).map((i) => examples[i]!);
  const test = toExamples(tok, testRows, cfg.maxLength);
  const pos = train.filter((e) => e.label === 1).length;
  log(`data: ${train.length} training / ${val.length} validation sentences (90/10 split of in-domain train; ${(100 * pos / train.length).toFixed(1)}% acceptable, mean ${lengthStats(train).mean.toFixed(1)} tokens), ${test.length} out-of-domain test sentences`);

  setSeed(cfg.seed);
  let model: BertForSequenceClassification;
  const drop = { hidden_dropout_prob: cfg.dropout, attention_probs_dropout_prob: cfg.dropout };
  if (cfg.pretrained) {
    const c = await readConfig(cfg.pretrained);
    if (c.model_type !== 'bert') throw new Error(`--pretrained: ${cfg.pretrained} holds a ${c.model_type} model; this example takes BERT`);
    model = (await fromPretrained<BertForSequenceClassification>(cfg.pretrained, { backend, architecture: 'BertForSequenceClassification', config: { ...drop, num_labels: 2 } })).model;
  } else {
    const o: Partial<BertConfig> = { ...drop, vocab_size: tok.vocabSize, max_position_embeddings: Math.max(cfg.maxLength, 64), num_labels: 2 };
    if (cfg.layers) o.num_hidden_layers = cfg.layers;
    if (cfg.hidden) o.hidden_size = cfg.hidden;
    if (cfg.heads) o.num_attention_heads = cfg.heads;
    if (cfg.intermediate) o.intermediate_size = cfg.intermediate;
    model = new BertForSequenceClassification(bertPreset(cfg.preset as BertPreset, o), { backend });
  }
  const c = model.config;
  log(`model: BertForSequenceClassification L${c.num_hidden_layers} H${c.hidden_size} A${c.num_attention_heads} FF${c.intermediate_size}, vocab ${c.vocab_size}, ${model.numParameters().toLocaleString('en-US')} parameters, ${cfg.pretrained ? `weights from ${cfg.pretrained}` : 'random init'}`);

  const perEpoch = Math.ceil(train.length / cfg.batch);
  const total = perEpoch * cfg.epochs;
  const warm = Math.round(cfg.warmup * total);
  const opt = new AdamW(decayGroups(model.namedParameters(), cfg.weightDecay), { lr: cfg.lr, eps: cfg.eps });
  const sched = new LRScheduler(opt, linearWarmupDecay(warm, total));
  log(`training: AdamW lr ${cfg.lr}${cfg.pretrained ? '' : ' (random init: the seed\'s 2e-5 is for pretrained weights)'} eps ${cfg.eps}, linear schedule (warmup ${warm} of ${total} steps), clip ${cfg.clip}, batch ${cfg.batch}, ${cfg.epochs} epochs`);

  const fwd = (b: BatchTensors) => model.forward({ inputIds: b.inputIds, tokenTypeIds: b.tokenTypeIds, attentionMask: b.attentionMask }).logits;
  const validSec: number[] = [];
  const res = await fit<number[]>({
    model, optimizer: opt, scheduler: sched, seed: cfg.seed, epochs: cfg.epochs, clipNorm: cfg.clip || null, logEvery: cfg.logEvery,
    trainBatches: (ctx) => epochBatches(train, { batchSize: cfg.batch, seed: cfg.seed }, ctx.epoch),
    batchesPerEpoch: perEpoch,
    batchSize: (b) => b.length,
    step: (idx) => {
      const b = batchTensors(train, idx, tok.padId, backend);
      return model.forward({ inputIds: b.inputIds, tokenTypeIds: b.tokenTypeIds, attentionMask: b.attentionMask, labels: b.labels }).loss!;
    },
    evaluate: async () => {
      const t0 = performance.now();
      const r = await evaluate(fwd, val, { batchSize: cfg.evalBatch, padId: tok.padId, backend, model });
      validSec.push(since(t0));
      return { loss: r.loss, accuracy: r.accuracy, mcc: matthewsCorrcoef(r.labels, r.predictions) };
    },
    outDir: out, io: nodeIO(), progress: stdoutSink(), meta: { name: 'CoLA fine-tuning', config: cfg },
  });

  const epochs: ColaEpoch[] = res.history.map((r, i) => ({
    epoch: Number(r.epoch), trainLoss: Number(r.train_loss), validLoss: Number(r.eval_loss), validAccuracy: Number(r.eval_accuracy),
    trainSec: Number(r.time_s), validSec: validSec[i] ?? NaN,
  }));
  log('\n| epoch | Training Loss | Valid. Loss | Valid. Accur. | Training Time | Validation Time |');
  log('|---|---|---|---|---|---|');
  for (const e of epochs) log(`| ${e.epoch} | ${e.trainLoss.toFixed(4)} | ${e.validLoss.toFixed(4)} | ${e.validAccuracy.toFixed(4)} | ${fmtSec(e.trainSec)} | ${fmtSec(e.validSec)} |`);
  log(`training and validation loss curves: ${join(out, 'curves.svg')}`);

  // Matthews correlation on the out-of-domain set.
  const z1 = await logitsOf(model, test, tok.padId, backend, cfg.evalBatch);
  const p1 = argmax2(z1);
  const labels = test.map((e) => e.label);
  const mcc = matthewsCorrcoef(labels, p1);
  const acc = p1.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0) / labels.length;
  log(`out-of-domain test: MCC ${mcc.toFixed(4)}, accuracy ${acc.toFixed(4)} (${test.length} sentences; ${p1.filter((p) => p === 1).length} predicted acceptable)`);

  // save_pretrained / from_pretrained round trip: the reloaded model must predict the same.
  const modelDir = join(out, 'model');
  await savePretrained(model, modelDir, { vocab: vocabTokens });
  const re = await fromPretrained<BertForSequenceClassification>(modelDir, { backend, strict: true });
  const z2 = await logitsOf(re.model, test, tok.padId, backend, cfg.evalBatch);
  const p2 = argmax2(z2);
  let maxDiff = 0;
  for (let i = 0; i < z1.length; i++) maxDiff = Math.max(maxDiff, Math.abs(z1[i]! - z2[i]!));
  const same = p1.every((p, i) => p === p2[i]);
  const mcc2 = matthewsCorrcoef(labels, p2);
  log(`savePretrained -> ${modelDir} (config.json, model.safetensors, vocab.txt); fromPretrained: MCC ${mcc2.toFixed(4)}, same predictions: ${same}, max |logit difference| ${maxDiff.toExponential(2)}`);
  if (!same || maxDiff > 1e-4) throw new Error(`round trip failed: the reloaded model predicts differently (max logit difference ${maxDiff})`);
  re.model.dispose();

  const result: ColaResult = { epochs, testMcc: mcc, testAccuracy: acc, reloadedMcc: mcc2, maxLogitDiff: maxDiff, samePredictions: same, totalSeconds: since(tStart) };
  log(`total ${fmtSec(result.totalSeconds)}; outputs in ${out}`);
  writeJson(join(out, 'summary.json'), { config: cfg, adapter: (backend as { adapter?: unknown }).adapter ?? backend.name, ...result });
  model.dispose();
  return result;
}

if (process.argv[1]?.endsWith('examples/cola.ts')) {
  try {
    const { config, help } = parseArgs(process.argv.slice(2), Schema);
    if (help) console.log(helpText(Schema as never, 'npx tsx examples/cola.ts [flags]'));
    else await runCola(config);
    process.exit(0);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

export { Schema as ColaSchema };
