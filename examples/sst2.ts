// Sentiment classification on GLUE SST-2 (the README's main job), as the seed tutorial does it:
// the same BERT classifier trained twice, once with the encoder frozen (only the output layer
// learns, on features computed once) and once fully fine-tuned; both dev accuracies are printed.
//
// Without --pretrained there are no pretrained weights: a WordPiece vocabulary is trained on the
// SST-2 train sentences (cached in .cache/), the encoder is a small random-init BERT and the
// fine-tuned run learns everything from the SST-2 labels (optionally after --mlmSteps of in-domain
// masked-LM pretraining). With --pretrained DIR a Hugging Face checkpoint directory (config.json,
// model.safetensors, vocab.txt) supplies the encoder and the vocabulary.
//
//   npx tsx examples/sst2.ts                      # defaults: L1 H64 random-init BERT, all 67k phrases, 1 epoch: ~6 min on 2 CPU cores
//   npx tsx examples/sst2.ts --subset 30000 --mode finetune    # ~3 min
//   npx tsx examples/sst2.ts --pretrained path/to/bert-base-uncased --lr 2e-5 --batch 32
//   npx tsx examples/sst2.ts --help

import { join } from 'node:path';

import { AdamW, F, LRScheduler, decayGroups, linearWarmupDecay, noGrad, setSeed, tensor, tidy, type Backend } from '../engine/index.js';
import { DynamicMasker, type Sst2Example } from '../data/index.js';
import { assetPath, loadSst2 } from '../data/readers/node.js';
import { BertForPreTraining, BertModel, bertPreset, type BertConfig, type BertPreset } from '../models/index.js';
import { fromPretrained } from '../models/checkpoint-node.js';
import { loadBertTokenizer } from '../tokenizers/load-node.js';
import type { BertTokenizer } from '../tokenizers/index.js';
import { fit, helpText, parseArgs, s, type Infer } from '../train/index.js';
import { nodeIO, stdoutSink } from '../train/io-node.js';
import {
  BERTClassifier, adapterLine, batchTensors, encodeSingles, epochBatches, evaluate, extractAll, fmtSec, lengthStats,
  makeBackend, outDirFor, requireFile, since, subset, taskTokenizer, trainProbe, writeJson, type Example,
} from './lib/classify.js';

const Schema = s.object({
  train: s.string({ default: assetPath('sst2/train.tsv'), description: 'SST-2 train.tsv' }),
  dev: s.string({ default: assetPath('sst2/dev.tsv'), description: 'SST-2 dev.tsv' }),
  backend: s.enum(['webgpu', 'reference'] as const, { default: 'webgpu' }),
  pretrained: s.optional(s.string({ description: 'Hugging Face checkpoint dir (config.json, model.safetensors, vocab.txt)' })),
  mode: s.enum(['both', 'frozen', 'finetune'] as const, { default: 'both' }),
  preset: s.enum(['tiny', 'small', 'mini', 'base', 'large'] as const, { default: 'tiny', description: 'BERT preset when no --pretrained' }),
  layers: s.int({ min: 0, default: 1, description: 'encoder layers (0 keeps the preset)' }),
  hidden: s.int({ min: 0, default: 64, description: 'hidden size (0 keeps the preset)' }),
  heads: s.int({ min: 0, default: 2, description: 'attention heads (0 keeps the preset)' }),
  intermediate: s.int({ min: 0, default: 256, description: 'FFN size (0 keeps the preset)' }),
  vocabSize: s.int({ min: 100, default: 8000, description: 'WordPiece vocabulary trained on SST-2 train (no --pretrained)' }),
  pooling: s.enum(['cls', 'mean'] as const, { default: 'cls', description: "'cls': pooler on [CLS] (HF/d2l); 'mean': masked mean of the last layer" }),
  maxLength: s.int({ min: 8, max: 512, default: 64 }),
  batch: s.int({ min: 1, default: 128 }),
  evalBatch: s.int({ min: 1, default: 256 }),
  epochs: s.int({ min: 1, default: 1 }),
  lr: s.number({ gt: 0, default: 1e-3, description: 'fine-tuning peak lr (use 2e-5..5e-5 with --pretrained)' }),
  warmup: s.number({ min: 0, max: 1, default: 0.06, description: 'warmup fraction of the steps' }),
  weightDecay: s.number({ min: 0, default: 0.01 }),
  dropout: s.number({ min: 0, max: 0.9, default: 0.1 }),
  clip: s.number({ min: 0, default: 1 }),
  subset: s.int({ min: 0, default: 0, description: 'train on a seeded random subset of this many SST-2 train examples (0: all 67,349)' }),
  devSubset: s.int({ min: 0, default: 0, description: 'evaluate on this many dev examples (0: all 872)' }),
  frozenTrain: s.int({ min: 0, default: 10000, description: 'train examples whose frozen features train the probe (0: the fine-tuning set)' }),
  probeEpochs: s.int({ min: 1, default: 20 }),
  probeLr: s.number({ gt: 0, default: 1e-2 }),
  mlmSteps: s.int({ min: 0, default: 0, description: 'in-domain masked-LM pretraining steps before both runs (no --pretrained)' }),
  mlmLr: s.number({ gt: 0, default: 1e-3 }),
  seed: s.int({ default: 42 }),
  cache: s.optional(s.string({ description: 'cache dir for the trained vocabulary (default .cache/)' })),
  out: s.optional(s.string({ description: 'output dir (default out/sst2)' })),
  logEvery: s.int({ min: 1, default: 25 }),
});
type Config = Infer<typeof Schema>;

export interface Sst2Result {
  frozen?: { devAccuracy: number; trainExamples: number; seconds: number; featuresPerSec: number };
  finetune?: { devAccuracy: number; devLoss: number; trainExamples: number; seconds: number; examplesPerSec: number; epochs: number };
  majority: number;
  totalSeconds: number;
}

function toExamples(tok: BertTokenizer, rows: readonly Sst2Example[], maxLength: number): Example[] {
  return encodeSingles(tok, rows.filter((r) => r.label !== null).map((r) => ({ text: r.sentence, label: r.label! })), maxLength);
}

export async function runSst2(cfg: Config, log: (line: string) => void = console.log, backendIn?: Backend): Promise<Sst2Result> {
  const tStart = performance.now();
  const backend = backendIn ?? (await makeBackend(cfg.backend));
  log(adapterLine(backend));
  requireFile(cfg.train, '--train');
  requireFile(cfg.dev, '--dev');
  if (cfg.pretrained) requireFile(join(cfg.pretrained, 'config.json'), '--pretrained');
  const out = outDirFor('sst2', cfg.out);

  // ---- data and vocabulary
  const trainRows = loadSst2(cfg.train).rows;
  const devRows = loadSst2(cfg.dev).rows;
  let tok: BertTokenizer;
  if (cfg.pretrained) {
    tok = loadBertTokenizer(requireFile(join(cfg.pretrained, 'vocab.txt'), '--pretrained (vocab.txt)'));
    log(`vocab: ${tok.vocabSize} tokens from ${cfg.pretrained}`);
  } else {
    const t0 = performance.now();
    const v = taskTokenizer(trainRows.map((r) => r.sentence), { vocabSize: cfg.vocabSize, name: 'sst2', cacheDir: cfg.cache });
    tok = v.tokenizer;
    log(`vocab: ${tok.vocabSize} WordPiece tokens trained on the SST-2 train sentences (${v.cached ? 'cached' : `trained in ${fmtSec(since(t0))}`}: ${v.path})`);
  }
  const trainAll = toExamples(tok, trainRows, cfg.maxLength);
  const train = subset(trainAll, cfg.subset, cfg.seed);
  const dev = subset(toExamples(tok, devRows, cfg.maxLength), cfg.devSubset, cfg.seed);
  const ls = lengthStats(train);
  const pos = dev.filter((e) => e.label === 1).length;
  const majority = Math.max(pos, dev.length - pos) / dev.length;
  log(`data: train ${train.length.toLocaleString('en-US')} of ${trainAll.length.toLocaleString('en-US')} (mean ${ls.mean.toFixed(1)} tokens, max ${ls.max}), dev ${dev.length} (mean ${lengthStats(dev).mean.toFixed(1)} tokens); majority-class dev accuracy ${majority.toFixed(3)}`);

  // ---- model factory: the same initial weights for both runs
  let config: BertConfig;
  if (cfg.pretrained) {
    const { readConfig } = await import('../models/checkpoint-node.js');
    const c = await readConfig(cfg.pretrained);
    if (c.model_type !== 'bert') throw new Error(`--pretrained: ${cfg.pretrained} holds a ${c.model_type} model; this example takes BERT`);
    config = { ...c, num_labels: 2, hidden_dropout_prob: cfg.dropout, attention_probs_dropout_prob: cfg.dropout };
  } else {
    const o: Partial<BertConfig> = { vocab_size: tok.vocabSize, max_position_embeddings: Math.max(cfg.maxLength, 64), num_labels: 2, hidden_dropout_prob: cfg.dropout, attention_probs_dropout_prob: cfg.dropout };
    if (cfg.layers) o.num_hidden_layers = cfg.layers;
    if (cfg.hidden) o.hidden_size = cfg.hidden;
    if (cfg.heads) o.num_attention_heads = cfg.heads;
    if (cfg.intermediate) o.intermediate_size = cfg.intermediate;
    config = bertPreset(cfg.preset as BertPreset, o);
  }
  log(`model: BERT L${config.num_hidden_layers} H${config.hidden_size} A${config.num_attention_heads} FF${config.intermediate_size}, vocab ${config.vocab_size}, pooling ${cfg.pooling}${cfg.pretrained ? `, weights from ${cfg.pretrained}` : ', random init'}`);

  // Optional in-domain MLM pretraining: its encoder weights seed both runs.
  let pretrainedState: Map<string, Float32Array> | null = null;
  if (cfg.mlmSteps > 0 && !cfg.pretrained) pretrainedState = await mlmPretrain(cfg, config, tok, trainAll, backend, log);

  const buildModel = async (): Promise<BERTClassifier> => {
    setSeed(cfg.seed);
    let bert: BertModel | undefined;
    if (cfg.pretrained) {
      bert = (await fromPretrained<BertModel>(cfg.pretrained, { backend, architecture: 'BertModel', config: { hidden_dropout_prob: cfg.dropout, attention_probs_dropout_prob: cfg.dropout } })).model;
    }
    const m = new BERTClassifier(config, { backend, pooling: cfg.pooling, numClasses: 2, bert });
    if (pretrainedState) {
      for (const [n, t] of m.bert.namedParameters()) {
        const v = pretrainedState.get(n);
        if (v) t.assign(tensor(v, [...t.shape], { backend }));
      }
    }
    return m;
  };

  const result: Sst2Result = { majority, totalSeconds: 0 };
  const logits = (m: BERTClassifier) => (b: Parameters<BERTClassifier['forward']>[0]) => m.forward(b);

  // ---- 1. frozen encoder: features once, then the output layer alone
  if (cfg.mode !== 'finetune') {
    const t0 = performance.now();
    const model = await buildModel();
    const probeSet = cfg.frozenTrain > 0 ? subset(train, cfg.frozenTrain, cfg.seed + 1) : train;
    log(`\n[frozen] encoder frozen: features of ${probeSet.length.toLocaleString('en-US')} train + ${dev.length} dev examples computed once (no gradients), then only the output layer trains`);
    let lastLog = performance.now();
    const feats = await extractAll(model, probeSet, {
      batchSize: cfg.evalBatch, padId: tok.padId, backend,
      onProgress: (d) => {
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`  features ${d}/${probeSet.length}  ${(d / since(t0)).toFixed(0)} ex/s`);
        }
      },
    });
    const featSec = since(t0);
    const devFeats = await extractAll(model, dev, { batchSize: cfg.evalBatch, padId: tok.padId, backend });
    log(`  features: ${(probeSet.length / featSec).toFixed(0)} ex/s`);
    await trainProbe(model.classifier, feats, probeSet.map((e) => e.label), { epochs: cfg.probeEpochs, batchSize: 256, lr: cfg.probeLr, seed: cfg.seed, backend, log: (l) => log(l) });
    const H = config.hidden_size;
    const pred = noGrad(() => tidy(() => F.argmax(model.head(tensor(devFeats, [dev.length, H], { backend })))));
    const p = await pred.data();
    pred.dispose();
    const acc = dev.reduce((n, e, i) => n + (p[i] === e.label ? 1 : 0), 0) / dev.length;
    result.frozen = { devAccuracy: acc, trainExamples: probeSet.length, seconds: since(t0), featuresPerSec: probeSet.length / featSec };
    log(`[frozen] dev accuracy ${acc.toFixed(4)}  (${fmtSec(since(t0))})`);
    model.dispose();
  }

  // ---- 2. fine-tuning every weight
  if (cfg.mode !== 'frozen') {
    const t0 = performance.now();
    const model = await buildModel();
    const plan = { batchSize: cfg.batch, seed: cfg.seed };
    const perEpoch = Math.ceil(train.length / cfg.batch);
    const total = perEpoch * cfg.epochs;
    const opt = new AdamW(decayGroups(model.namedParameters(), cfg.weightDecay), { lr: cfg.lr, eps: 1e-6 });
    const sched = new LRScheduler(opt, linearWarmupDecay(Math.round(cfg.warmup * total), total));
    log(`\n[fine-tune] all ${model.numParameters().toLocaleString('en-US')} parameters train: AdamW lr ${cfg.lr} (warmup ${Math.round(cfg.warmup * total)} of ${total} steps, linear decay), batch ${cfg.batch}, ${cfg.epochs} epoch(s), clip ${cfg.clip}`);
    let devAcc = NaN;
    let devLoss = NaN;
    const res = await fit<number[]>({
      model, optimizer: opt, scheduler: sched, seed: cfg.seed, epochs: cfg.epochs, clipNorm: cfg.clip || null, logEvery: cfg.logEvery,
      trainBatches: (ctx) => epochBatches(train, plan, ctx.epoch),
      batchesPerEpoch: perEpoch,
      batchSize: (b) => b.length,
      step: (idx) => {
        const b = batchTensors(train, idx, tok.padId, backend);
        return F.crossEntropy(model.forward(b), b.labels);
      },
      evaluate: async () => {
        const r = await evaluate(logits(model), dev, { batchSize: cfg.evalBatch, padId: tok.padId, backend, model });
        devAcc = r.accuracy;
        devLoss = r.loss;
        return { loss: r.loss, accuracy: r.accuracy };
      },
      outDir: join(out, 'finetune'), io: nodeIO(), progress: stdoutSink(), meta: { name: 'SST-2 fine-tuning', config: cfg },
    });
    const trainSec = res.history.reduce((a, r) => a + Number(r.time_s ?? 0), 0);
    result.finetune = {
      devAccuracy: devAcc, devLoss, trainExamples: train.length, seconds: since(t0), epochs: cfg.epochs,
      examplesPerSec: (train.length * cfg.epochs) / Math.max(1e-9, trainSec),
    };
    log(`[fine-tune] dev accuracy ${devAcc.toFixed(4)}  dev loss ${devLoss.toFixed(4)}  ${result.finetune.examplesPerSec.toFixed(0)} train ex/s  (${fmtSec(since(t0))})`);
    model.dispose();
  }

  result.totalSeconds = since(tStart);
  log('\n| run | dev accuracy | train examples | time |');
  log('|---|---|---|---|');
  log(`| majority class | ${majority.toFixed(4)} | - | - |`);
  if (result.frozen) log(`| frozen encoder (output layer only) | ${result.frozen.devAccuracy.toFixed(4)} | ${result.frozen.trainExamples} | ${fmtSec(result.frozen.seconds)} |`);
  if (result.finetune) log(`| fine-tuned | ${result.finetune.devAccuracy.toFixed(4)} | ${result.finetune.trainExamples} x ${result.finetune.epochs} | ${fmtSec(result.finetune.seconds)} (${result.finetune.examplesPerSec.toFixed(0)} ex/s) |`);
  log(`total ${fmtSec(result.totalSeconds)}; outputs in ${out}`);
  writeJson(join(out, 'summary.json'), { config: cfg, adapter: (backend as { adapter?: unknown }).adapter ?? backend.name, ...result });
  return result;
}

/**
 * In-domain masked-LM pretraining on the SST-2 train sentences (dynamic token masking, 15%),
 * BertForPreTraining's MLM head only. Returns the trained encoder weights by name.
 */
async function mlmPretrain(cfg: Config, config: BertConfig, tok: BertTokenizer, examples: readonly Example[], backend: Backend, log: (l: string) => void): Promise<Map<string, Float32Array>> {
  setSeed(cfg.seed + 7);
  const model = new BertForPreTraining(config, { backend });
  const opt = new AdamW(decayGroups(model.namedParameters(), cfg.weightDecay), { lr: cfg.mlmLr, eps: 1e-6 });
  const sched = new LRScheduler(opt, linearWarmupDecay(Math.round(0.06 * cfg.mlmSteps), cfg.mlmSteps));
  const masker = new DynamicMasker(tok.maskingVocab(), cfg.seed);
  const pool = examples.filter((e) => e.ids.length >= 5);
  log(`\n[mlm] in-domain masked-LM pretraining: ${cfg.mlmSteps} steps of ${cfg.batch} SST-2 train sentences, lr ${cfg.mlmLr}`);
  const t0 = performance.now();
  const perEpoch = Math.floor(pool.length / cfg.batch);
  await fit<number[]>({
    model, optimizer: opt, scheduler: sched, seed: cfg.seed + 7, epochs: Math.max(1, Math.ceil(cfg.mlmSteps / perEpoch)), clipNorm: cfg.clip || null,
    logEvery: cfg.logEvery,
    trainBatches: function* (ctx) {
      let n = ctx.epoch * perEpoch;
      for (const b of epochBatches(pool, { batchSize: cfg.batch, seed: cfg.seed + 7 }, ctx.epoch)) {
        // Length bucketing leaves short remainder batches: skip them rather than end the epoch.
        if (b.length < cfg.batch) continue;
        if (n++ >= cfg.mlmSteps) return;
        yield b;
      }
    },
    batchesPerEpoch: Math.min(perEpoch, cfg.mlmSteps),
    batchSize: (b) => b.length,
    step: (idx, ctx) => {
      const masked = idx.map((i, k) => masker.mask(pool[i]!.ids, ctx.epoch, ctx.microStep * cfg.batch + k));
      const B = idx.length;
      const T = Math.max(...masked.map((m) => m.inputIds.length));
      const P = Math.max(...masked.map((m) => m.predPositions.length));
      const ids = new Int32Array(B * T).fill(tok.padId);
      const att = new Int32Array(B * T);
      const pos = new Int32Array(B * P);
      const lab = new Int32Array(B * P).fill(-100);
      masked.forEach((m, b) => {
        m.inputIds.forEach((v, t) => ((ids[b * T + t] = v), (att[b * T + t] = 1)));
        m.predPositions.forEach((p, j) => ((pos[b * P + j] = p), (lab[b * P + j] = m.predLabels[j]!)));
      });
      const i32 = { backend, dtype: 'i32' as const };
      const o = model.forward({ inputIds: tensor(ids, [B, T], i32), attentionMask: tensor(att, [B, T], i32), maskedPositions: tensor(pos, [B, P], i32) });
      return F.crossEntropy(F.reshape(o.predictionLogits, [B * P, config.vocab_size]), tensor(lab, [B * P], i32));
    },
    progress: stdoutSink(),
  });
  const state = new Map<string, Float32Array>();
  for (const [n, t] of model.bert.namedParameters()) state.set(n, Float32Array.from(await t.data()));
  log(`[mlm] done in ${fmtSec(since(t0))}`);
  model.dispose();
  return state;
}

if (process.argv[1]?.endsWith('examples/sst2.ts')) {
  try {
    const { config, help } = parseArgs(process.argv.slice(2), Schema);
    if (help) console.log(helpText(Schema as never, 'npx tsx examples/sst2.ts [flags]'));
    else await runSst2(config);
    process.exit(0);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

export { Schema as Sst2Schema };
