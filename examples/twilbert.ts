// TWilBERT (González et al. 2021) in miniature: reads a JSON config in TWilBERT's schema
// (dataset / representation / model / training for pre-training, task / finetuning for the
// downstream task), validated key by key (train/config.ts: an unknown key or a wrong type is an
// error naming its path), then
//   1. pre-trains an ALBERT (factorised embeddings, cross-layer sharing) with product-key memory
//      layers on tweet/reply pairs: span MLM + reply-order prediction (ROP, on AlbertForPreTraining's
//      sentence-order head: label 0 = tweet then reply, 1 = swapped), Adam or LAMB, optional Noam
//      annealing and gradient accumulation; saves a Hugging Face checkpoint;
//   2. fine-tunes the pre-trained trunk on the task file (ID / TEXT / CLASS TSV) with the category
//      map, class weights ('auto' = balanced), collapse mode avg (masked mean of the last hidden
//      state) or cls (the pooler), and the eval metric (F1 macro/micro/weighted, accuracy,
//      precision, recall, one class's F1, or stance F1 = mean F1 of the classes but NONE).
// Mapping to Hugging Face's ALBERT: n_encoders -> num_hidden_layers, cross_sharing -> one layer
// group (else one group per layer), factorize_embeddings false -> embedding_size = hidden_size,
// intermediate size 4 * hidden, output_dropout -> hidden_dropout_prob, input_dropout ->
// attention_probs_dropout_prob; pkm_params.in_layers are the layers after which a memory is
// added (ALBERT shares its layers, so memories sit 'after' a layer application, not inside it).
// The representation.bucket_* keys are accepted for compatibility; batches are padded to their
// longest row instead of bucketed. dataset.vocab_file null trains a WordPiece vocabulary of
// dataset.vocab_size pieces on the pair corpus and the task's training texts (cached).
//
//   npx tsx examples/twilbert.ts [--config examples/configs/twilbert-small.json] [--stage all|pretrain|finetune]

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  Adam, Dropout, F, LAMB, LRScheduler, Linear, constantSchedule, linearWarmupDecay, noam, setSeed, tensor,
  type Backend, type Optimizer, type Schedule, type Tensor,
} from '../engine/index.js';
import { DynamicMasker, Rng, formatIssue, makeRopPairs, type FinetuneExample, type ParseIssue } from '../data/index.js';
import { loadTwilbertFinetune, loadTwilbertPairs } from '../data/readers/node.js';
import { AlbertForPreTraining, AlbertModel, meanPool, type AlbertConfig } from '../models/index.js';
import { Block } from '../models/block.js';
import { fromPretrained, savePretrained } from '../models/checkpoint-node.js';
import { BertTokenizer, trainWordPiece } from '../tokenizers/index.js';
import { loadBertTokenizer, writeVocabFile } from '../tokenizers/load-node.js';
import {
  balancedClassWeights, classificationMetrics, f1Score, fit, helpText, parseArgs, precisionScore, recallScore, s,
} from '../train/index.js';
import { nodeIO } from '../train/io-node.js';
import { createBackend, exitWithError } from './pretrain.js';
import {
  TwilbertSchema, albertFromTwilbert, checkTwilbertConfig, loadTwilbertConfig, type TwilbertConfig,
} from './lib/twilbert-config.js';
import { LossMeter, buildPretrainExamples, chunk, collatePretrain, pretrainForward, type PretrainBatch } from './lib/pretraining.js';

export { TwilbertSchema, albertFromTwilbert, checkTwilbertConfig, loadTwilbertConfig, type TwilbertConfig };

// ---- data ----------------------------------------------------------------------------------------

/** TWilBERT-style tweet normalisation: user mentions and links replaced by placeholders. */
export function preprocessTweet(text: string): string {
  return text.replace(/https?:\/\/\S+/g, 'url').replace(/@\w+/g, '@usuario');
}

function checkFile(path: string, key: string): string {
  const p = resolve(path);
  if (!existsSync(p)) throw new Error(`${key}: file not found: ${p}`);
  return p;
}

type Log = (line: string) => void;

function tokenizerFor(c: TwilbertConfig, corpus: string[], log: Log): BertTokenizer {
  if (c.dataset.vocab_file !== null) {
    const p = checkFile(c.dataset.vocab_file, 'dataset.vocab_file');
    log(`vocab: ${p}`);
    return loadBertTokenizer(p);
  }
  const key = createHash('sha1').update(corpus.join('\n')).update(`\0${c.dataset.vocab_size}`).digest('hex').slice(0, 12);
  const cached = join(dirname(c.training.path_save_weights), 'cache', `wordpiece-${c.dataset.vocab_size}-${key}.txt`);
  if (!existsSync(cached)) {
    const tokens = trainWordPiece(corpus, { vocabSize: c.dataset.vocab_size, minFrequency: 2, lowercase: true, stripAccents: true });
    writeVocabFile(cached, tokens);
    log(`vocab: trained a WordPiece vocabulary of ${tokens.length} pieces on the pairs and the training texts -> ${cached}`);
  } else log(`vocab: cached WordPiece vocabulary ${cached}`);
  return loadBertTokenizer(cached, { lowercase: true, stripAccents: true });
}

// ---- fine-tuning model ---------------------------------------------------------------------------

/** ALBERT trunk + dropout + linear classifier over the masked mean (avg) or the pooler (cls). */
export class TwilbertClassifier extends Block {
  readonly albert: AlbertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  constructor(albert: AlbertModel, numLabels: number, readonly collapse: 'avg' | 'cls', dropout: number) {
    super();
    this.albert = this.module('albert', albert);
    this.dropout = this.module('dropout', new Dropout(dropout));
    const H = albert.config.hidden_size;
    this.classifier = this.module('classifier', new Linear(H, numLabels, { backend: albert.backend, initStd: albert.config.initializer_range }));
  }
  /** -> logits [B, C] */
  forward(inputIds: Tensor, attentionMask: Tensor): Tensor {
    const out = this.albert.forward({ inputIds, attentionMask });
    const v = this.collapse === 'avg' ? meanPool(out.lastHiddenState, attentionMask) : out.poolerOutput!; // (B, H)
    return this.classifier.forward(this.dropout.forward(v));
  }
}

interface ClsBatch {
  ids: Int32Array;
  mask: Int32Array;
  labels: Int32Array;
  B: number;
  T: number;
}

function clsBatches(rows: { ids: number[]; label: number }[], size: number, padId: number): ClsBatch[] {
  return chunk(rows, size).map((r) => {
    const B = r.length;
    const T = Math.max(...r.map((x) => x.ids.length));
    const ids = new Int32Array(B * T).fill(padId);
    const mask = new Int32Array(B * T);
    r.forEach((x, b) => x.ids.forEach((id, t) => ((ids[b * T + t] = id), (mask[b * T + t] = 1))));
    return { ids, mask, labels: Int32Array.from(r.map((x) => x.label)), B, T };
  });
}

function makeOptimizer(kind: 'adam' | 'adam_accumulated' | 'lamb', params: Tensor[], lr: number): Optimizer {
  return kind === 'lamb' ? new LAMB(params, { lr }) : new Adam(params, { lr });
}

function schedule(noamOn: boolean, hidden: number, warmup: number, total: number): { lr: number; fn: Schedule; text: string } {
  if (noamOn) return { lr: 1, fn: noam(hidden, warmup), text: `noam annealing (d_model ${hidden}, warmup ${warmup})` };
  if (warmup > 0) return { lr: NaN, fn: linearWarmupDecay(warmup, total), text: `linear warmup ${warmup} steps and decay` };
  return { lr: NaN, fn: constantSchedule, text: 'constant lr' };
}

export interface TwilbertResult {
  pretrain?: { steps: number; first: { mlm: number; rop: number }; last: { mlm: number; rop: number }; examplesPerSec: number; wallSec: number; dir: string };
  finetune?: { history: Record<string, unknown>[]; best?: { metric: string; value: number; epoch: number }; examplesPerSec: number; wallSec: number; skipped: ParseIssue[] };
}

export async function runTwilbert(c: TwilbertConfig, opts: { backend: Backend; stage?: 'all' | 'pretrain' | 'finetune'; seed?: number; log?: Log; quiet?: boolean }): Promise<TwilbertResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const backend = opts.backend;
  const stage = opts.stage ?? 'all';
  const seed = opts.seed ?? 1;
  const pre = c.representation.preprocessing ? preprocessTweet : (t: string) => t;
  const result: TwilbertResult = {};

  const pairsPath = checkFile(c.dataset.file, 'dataset.file');
  const trainPath = checkFile(c.dataset.train_file, 'dataset.train_file');
  const devPath = checkFile(c.dataset.dev_file, 'dataset.dev_file');
  const pairRows = loadTwilbertPairs(pairsPath, { onError: 'skip', onIssue: (i) => log(`warning: ${formatIssue(i)}`) }).rows;
  // The vocabulary is trained on the pair corpus and the task's training texts (not the dev file).
  const corpus = [...pairRows.flatMap((p) => [pre(p.origText), pre(p.replyText)]), ...readFileSync(trainPath, 'utf8').split('\n').slice(1).map((l) => pre(l.split('\t')[1] ?? ''))];
  const tokenizer = tokenizerFor(c, corpus, log);
  const enc = (t: string) => tokenizer.convertTokensToIds(tokenizer.tokenize(pre(t)));
  const config = albertFromTwilbert(c, tokenizer.vocabSize, tokenizer.padId);

  // ---- stage 1: span MLM + reply-order prediction ----
  let trunk: AlbertModel | null = null;
  let pretrainModel: AlbertForPreTraining | null = null;
  let clf: TwilbertClassifier | null = null;
  const loadDir = c.finetuning.path_load_weights ?? (stage === 'finetune' ? c.training.path_save_weights : null);
  try {
    if (stage !== 'finetune' && c.finetuning.path_load_weights === null) {
      const t0 = performance.now();
      const tweets = pairRows.map((p) => ({ orig: enc(p.origText), reply: enc(p.replyText) }));
      log(`pre-training data: ${pairsPath}: ${tweets.length} tweet/reply pairs`);
      const ml = c.model.masked_lm;
      const masker = new DynamicMasker(tokenizer.maskingVocab(), seed, { strategy: ml.type, maxSpan: ml.max_span, budget: ml.budget, maskProb: ml.probs.mask, randomProb: ml.probs.random, keepProb: ml.probs.keep });
      const special = { clsId: tokenizer.clsId, sepId: tokenizer.sepId };
      const batchesOf = (epoch: number, s: number): PretrainBatch[] => {
        const pairs = makeRopPairs(tweets, Rng.derive(s, 0), { mode: 'random' });
        Rng.derive(s, 1).shuffle(pairs);
        const ex = buildPretrainExamples(pairs, special, masker, epoch, { maxLen: c.representation.max_len });
        return chunk(ex, c.training.batch_size).map((b) => collatePretrain(b, tokenizer.padId));
      };
      setSeed(seed);
      pretrainModel = new AlbertForPreTraining(config, { backend });
      const steps = Math.ceil(Math.ceil(tweets.length / c.training.batch_size) / c.training.accum_iters) * c.training.epochs;
      const sch = schedule(c.training.noam_annealing, c.model.hidden_size, c.training.warmup_steps, steps);
      const optimizer = makeOptimizer(c.training.optimizer, pretrainModel.parameters(), Number.isNaN(sch.lr) ? c.training.lr : sch.lr);
      const scheduler = new LRScheduler(optimizer, sch.fn);
      log(
        `model: AlbertForPreTraining E${config.embedding_size} H${config.hidden_size} L${config.num_hidden_layers} (${config.num_hidden_groups} group${config.num_hidden_groups > 1 ? 's' : ''}) A${config.num_attention_heads}` +
          `${config.pkm ? `, PKM after layers [${config.pkm.layers.join(', ')}] (${config.pkm.n_keys}^2 = ${config.pkm.n_keys ** 2} slots, ${config.pkm.heads} heads, knn ${config.pkm.knn})` : ''}, vocab ${config.vocab_size}, ${(pretrainModel.numParameters() / 1e6).toFixed(2)}M parameters`,
      );
      log(`pre-training: ${c.training.epochs} epochs, batch ${c.training.batch_size} x accum ${c.training.accum_iters}, ${steps} steps, ${c.training.optimizer}, ${sch.text}, ${ml.type} MLM (max_span ${ml.max_span}, budget ${ml.budget}) + ROP`);
      const meter = new LossMeter();
      let first: { mlm: number; rop: number } | null = null;
      let last = { mlm: NaN, rop: NaN };
      let n = 0;
      const model = pretrainModel;
      const tTrain = performance.now();
      const r = await fit<PretrainBatch>({
        model, optimizer, scheduler, epochs: c.training.epochs, seed, accumIters: c.training.accum_iters, clipNorm: 1,
        logEvery: Math.max(1, Math.min(10, Math.floor(steps / 12))),
        trainBatches: ({ epoch, seed: s }) => batchesOf(epoch, s),
        batchSize: (b) => b.size,
        step: (b) => {
          n += b.size;
          const out = pretrainForward(model, b);
          meter.add(out.mlm, out.pair);
          return out.loss;
        },
        onStep: async (info) => {
          if (info.loss === undefined) return;
          const m = await meter.read();
          last = { mlm: m.mlm, rop: m.pair };
          first ??= last;
          if (c.training.verbose) log(`  step ${info.step}: span-MLM loss ${m.mlm.toFixed(4)}  ROP loss ${m.pair.toFixed(4)}  lr ${info.lr.toExponential(2)}`);
        },
        outDir: join(dirname(c.training.path_save_weights), 'pretrain-run'),
        io: nodeIO(),
        progress: opts.quiet ? null : undefined,
        meta: { name: 'TWilBERT pre-training (span MLM + ROP)' },
      });
      meter.dispose();
      const trainSec = (performance.now() - tTrain) / 1000;
      await savePretrained(pretrainModel, c.training.path_save_weights, { vocab: tokenizer.vocab.tokens });
      result.pretrain = { steps: r.step, first: first ?? last, last, examplesPerSec: n / trainSec, wallSec: (performance.now() - t0) / 1000, dir: c.training.path_save_weights };
      log(`pre-trained: ${r.step} steps, span-MLM ${result.pretrain.first.mlm.toFixed(3)} -> ${last.mlm.toFixed(3)}, ROP ${result.pretrain.first.rop.toFixed(3)} -> ${last.rop.toFixed(3)}, ${result.pretrain.examplesPerSec.toFixed(1)} ex/s; saved ${c.training.path_save_weights}`);
      trunk = pretrainModel.albert;
    } else if (stage !== 'pretrain') {
      const dir = resolve(loadDir!);
      if (!existsSync(join(dir, 'config.json'))) throw new Error(`finetuning.path_load_weights: checkpoint not found: ${dir} (run the pretrain stage first)`);
      trunk = (await fromPretrained<AlbertModel>(dir, { backend, architecture: 'AlbertModel', logger: null })).model;
      log(`loaded the pre-trained trunk from ${dir}`);
    }
    if (stage === 'pretrain' || !trunk) return result;

    // ---- stage 2: fine-tuning ----
    const t1 = performance.now();
    const cats = c.task.categories;
    const names = Object.keys(cats).sort((a, b) => cats[a]! - cats[b]!);
    const skipped: ParseIssue[] = [];
    const readOpts = {
      categories: cats, idHeader: c.dataset.id_header, textHeaders: [c.dataset.text_header], classHeader: c.dataset.class_header,
      onError: 'skip' as const, onIssue: (i: ParseIssue) => (skipped.push(i), log(`warning: skipped ${formatIssue(i)}`)),
    };
    const train = loadTwilbertFinetune(trainPath, readOpts).rows;
    const dev = loadTwilbertFinetune(devPath, readOpts).rows;
    const maxLen = c.representation.max_len;
    const toRow = (e: FinetuneExample) => {
      let ids = enc(e.texts[0]!).slice(0, c.finetuning.use_special_tokens ? maxLen - 2 : maxLen);
      if (c.finetuning.use_special_tokens) ids = [tokenizer.clsId, ...ids, tokenizer.sepId];
      return { ids, label: e.label as number };
    };
    const trainRows = train.map(toRow);
    const devRows = dev.map(toRow);
    const counts = names.map((_, k) => trainRows.filter((r) => r.label === k).length);
    const weights = c.task.class_weights === 'auto' ? balancedClassWeights(trainRows.map((r) => r.label), names.length) : c.task.class_weights;
    log(`fine-tuning data: ${train.length} train (${names.map((n, k) => `${n} ${counts[k]}`).join(', ')}), ${dev.length} dev${skipped.length ? `, ${skipped.length} lines skipped` : ''}`);
    log(`class weights: ${weights ? names.map((n, k) => `${n} ${weights[k]!.toFixed(3)}`).join(', ') : 'none'}`);
    const classifier = new TwilbertClassifier(trunk, names.length, c.finetuning.collapse_mode, c.finetuning.dropout);
    clf = classifier;
    const ft = c.finetuning;
    const steps = Math.ceil(Math.ceil(trainRows.length / ft.batch_size) / ft.accum_iters) * ft.epochs;
    const sch = schedule(ft.noam_annealing, c.model.hidden_size, ft.warmup_steps, steps);
    const optimizer = makeOptimizer(ft.optimizer, classifier.parameters(), Number.isNaN(sch.lr) ? ft.lr : sch.lr);
    const scheduler = new LRScheduler(optimizer, sch.fn);
    const stanceIgnore = c.task.stance_f1 ? cats[c.task.stance_ignore] : undefined;
    const metricName = c.task.stance_f1 ? 'f1_stance' : c.task.class_metric !== null ? `f1_class${c.task.class_metric}` : c.task.eval_metric === 'accuracy' ? 'accuracy' : `${c.task.eval_metric}_${c.task.average_metric}`;
    log(`fine-tuning: ${ft.epochs} epochs x ${Math.ceil(trainRows.length / ft.batch_size)} batches of ${ft.batch_size}, collapse ${ft.collapse_mode}, ${ft.optimizer} lr ${ft.lr}, ${sch.text}; eval metric ${metricName}`);
    const padId = tokenizer.padId;
    let n = 0;
    const tTrain = performance.now();
    const ftRes = await fit<ClsBatch>({
      model: classifier, optimizer, scheduler, epochs: ft.epochs, seed, accumIters: ft.accum_iters, clipNorm: 1, logEvery: 5,
      trainBatches: ({ seed: s }) => {
        const order = trainRows.slice();
        Rng.derive(s, 0).shuffle(order);
        return clsBatches(order, ft.batch_size, padId);
      },
      batchSize: (b) => b.B,
      step: (b) => {
        n += b.B;
        const logits = classifier.forward(tensor(b.ids, [b.B, b.T], { backend, dtype: 'i32' }), tensor(b.mask, [b.B, b.T], { backend, dtype: 'i32' }));
        const labels = tensor(b.labels, [b.B], { backend, dtype: 'i32' });
        if (!weights) return F.crossEntropy(logits, labels);
        // PyTorch's weighted mean: sum_i w[y_i] ce_i / sum_i w[y_i].
        const w = Array.from(b.labels, (l) => weights[l]!);
        const rows = F.crossEntropy(logits, labels, { reduction: 'none' }); // (B,)
        return F.div(F.sum(F.mul(rows, tensor(Float32Array.from(w), [b.B], { backend }))), Math.max(1e-12, w.reduce((a, x) => a + x, 0)));
      },
      evalBatches: () => clsBatches(devRows, ft.pred_batch_size, padId),
      evalStep: (b) => {
        const logits = classifier.forward(tensor(b.ids, [b.B, b.T], { backend, dtype: 'i32' }), tensor(b.mask, [b.B, b.T], { backend, dtype: 'i32' }));
        return { predictions: logits, labels: b.labels, loss: F.crossEntropy(logits, tensor(b.labels, [b.B], { backend, dtype: 'i32' })) };
      },
      metrics: ({ predictions, labels }) => {
        const opts2 = { labels: names.map((_, k) => k) };
        const m = classificationMetrics(labels, predictions, { ...opts2, stanceIgnore });
        if (c.task.eval_metric === 'precision') m[metricName] = precisionScore(labels, predictions, c.task.average_metric, opts2);
        if (c.task.eval_metric === 'recall') m[metricName] = recallScore(labels, predictions, c.task.average_metric, opts2);
        if (c.task.eval_metric === 'f1' && !c.task.stance_f1 && c.task.class_metric === null) m[metricName] = f1Score(labels, predictions, c.task.average_metric, opts2);
        return m;
      },
      monitor: { metric: `eval_${metricName}`, mode: 'max' },
      outDir: ft.path_save_weights,
      io: nodeIO(),
      progress: opts.quiet ? null : undefined,
      meta: { name: `TWilBERT fine-tuning (${ft.model_name})` },
    });
    const trainSec = (performance.now() - tTrain) / 1000;
    result.finetune = { history: ftRes.history, best: ftRes.best, examplesPerSec: n / trainSec, wallSec: (performance.now() - t1) / 1000, skipped };
    const lastRec = ftRes.history[ftRes.history.length - 1]!;
    log(`fine-tuned: ${ftRes.step} steps, dev ${metricName} ${Number(lastRec[`eval_${metricName}`]).toFixed(4)} (best ${ftRes.best ? `${ftRes.best.value.toFixed(4)} at epoch ${ftRes.best.epoch}` : '-'}), dev accuracy ${Number(lastRec.eval_accuracy).toFixed(4)}, ${result.finetune.examplesPerSec.toFixed(1)} ex/s; best model in ${join(ft.path_save_weights, 'best-model.safetensors')}`);
    mkdirSync(ft.path_save_weights, { recursive: true });
    writeFileSync(join(ft.path_save_weights, 'summary.json'), JSON.stringify({ categories: cats, metric: metricName, ...result }, null, 2) + '\n');
    return result;
  } finally {
    // Shared tensors are disposed once (dispose is idempotent).
    clf?.dispose();
    pretrainModel?.dispose();
    trunk?.dispose();
  }
}

const ArgsSchema = s.object({
  config: s.string({ default: 'examples/configs/twilbert-small.json', description: 'TWilBERT JSON config' }),
  stage: s.enum(['all', 'pretrain', 'finetune'] as const, { default: 'all' }),
  seed: s.int({ default: 1 }),
  backend: s.enum(['webgpu', 'reference'] as const, { default: 'webgpu' }),
});

async function main(argv: string[]): Promise<void> {
  const { config: args, help } = parseArgs(argv, ArgsSchema);
  if (help) {
    console.log(helpText(ArgsSchema, 'usage: npx tsx examples/twilbert.ts [flags]'));
    return;
  }
  const cfg = loadTwilbertConfig(resolve(args.config));
  for (const [k, p] of [['dataset.file', cfg.dataset.file], ['dataset.train_file', cfg.dataset.train_file], ['dataset.dev_file', cfg.dataset.dev_file]] as const) checkFile(p, k);
  const backend = await createBackend(args.backend);
  console.log(`adapter: ${'adapter' in backend ? JSON.stringify((backend as { adapter: unknown }).adapter) : 'reference (float64, CPU)'}`);
  console.log(`config: ${resolve(args.config)}`);
  const t0 = performance.now();
  await runTwilbert(cfg, { backend, stage: args.stage, seed: args.seed });
  console.log(`wall ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => exitWithError(e),
  );
}


