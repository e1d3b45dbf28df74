// MLM + NSP pre-training of d2l's BERT-small (15.9-15.10: 2 layers, H 256, 4 heads, FF 512) on
// WikiText-2, d2l style: each paragraph with at least two sentences is a document, consecutive
// sentences make next-sentence pairs (the wrong B comes from another paragraph), 15% of the
// tokens are masked (80/10/10), and the vocabulary projection runs only at the masked positions.
// The vocabulary is a WordPiece vocabulary trained on the corpus (cached under out/pretrain/cache/)
// or bert-base-uncased's (--vocab bert-base-uncased). Saves a Hugging Face checkpoint
// (BertForPreTraining, config.json + model.safetensors + vocab.txt) in out/pretrain/model that
// features.ts, sst2.ts and snli.ts can start from (--pretrained out/pretrain/model).
//
// The defaults are cut down so a run finishes in under 10 minutes on a CPU-only machine (Mesa
// llvmpipe): sequence length 32 (d2l: 64), a 5000-piece vocabulary, 640 training pairs per epoch
// of the ~5.6k in wiki.valid.tokens, 2 epochs. For the d2l setting use
//   npx tsx examples/pretrain.ts --max_len 64 --max_pairs 0 --batch_size 512 --epochs 1 --steps ...
//
//   npx tsx examples/pretrain.ts [--data PATH] [--vocab train|bert-base-uncased] [--epochs 2] ...
//   npx tsx examples/pretrain.ts --help

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { AdamW, LRScheduler, ReferenceBackend, decayGroups, linearWarmupDecay, noGrad, setSeed, type Backend } from '../engine/index.js';
import { DynamicMasker, Rng, makeNspPairs, parseWikiText, type MaskStrategy } from '../data/index.js';
import { assetPath, readTextFile } from '../data/readers/node.js';
import { BertForPreTraining, bertPreset, type BertPreset } from '../models/index.js';
import { savePretrained } from '../models/checkpoint-node.js';
import { BertTokenizer, trainWordPiece } from '../tokenizers/index.js';
import { loadBertTokenizer, writeVocabFile } from '../tokenizers/load-node.js';
import { ConfigError, fit, helpText, parseArgs, s, type Infer } from '../train/index.js';
import { nodeIO } from '../train/io-node.js';
import {
  LossMeter, buildPretrainExamples, chunk, collatePretrain, pretrainAccuracy, pretrainForward, wikiDocuments,
  type PretrainBatch,
} from './lib/pretraining.js';

export const PretrainSchema = s.object({
  data: s.string({ default: 'assets/data/wikitext-2/wiki.valid.tokens', description: 'WikiText file (wiki.*.tokens)' }),
  vocab: s.enum(['train', 'bert-base-uncased'] as const, { default: 'train', description: 'train a WordPiece vocabulary on the corpus (cached) or use bert-base-uncased' }),
  vocab_size: s.int({ min: 100, default: 5000, description: 'size of the trained vocabulary' }),
  preset: s.enum(['small', 'tiny', 'mini', 'base'] as const, { default: 'small', description: 'BERT shape (small = d2l: L2 H256 A4 FF512)' }),
  max_len: s.int({ min: 8, max: 512, default: 32, description: 'tokens per pair incl. [CLS]/[SEP] (d2l: 64)' }),
  max_pairs: s.int({ min: 0, default: 640, description: 'training pairs per epoch (0 = all)' }),
  eval_pairs: s.int({ min: 0, default: 128, description: 'held-out pairs evaluated after each epoch' }),
  masking: s.enum(['token', 'whole_word', 'span'] as const, { default: 'token' }),
  batch_size: s.int({ min: 1, default: 16 }),
  epochs: s.int({ min: 1, default: 2 }),
  lr: s.number({ gt: 0, default: 1e-3 }),
  warmup: s.number({ min: 0, max: 1, default: 0.1, description: 'fraction of the steps with linear warmup' }),
  weight_decay: s.number({ min: 0, default: 0.01 }),
  clip_norm: s.number({ min: 0, default: 1 }),
  log_every: s.int({ min: 1, default: 8 }),
  seed: s.int({ default: 1 }),
  out: s.string({ default: 'out/pretrain' }),
  backend: s.enum(['webgpu', 'reference'] as const, { default: 'webgpu' }),
});
export type PretrainConfig = Infer<typeof PretrainSchema>;

export interface PretrainResult {
  /** Mean MLM / NSP loss of the first and last logged windows. */
  first: { mlm: number; nsp: number };
  last: { mlm: number; nsp: number };
  eval: Record<string, number>[];
  steps: number;
  examplesPerSec: number;
  wallSec: number;
  modelDir: string;
}

type Log = (line: string) => void;

/** A tokenizer per the config: bert-base-uncased, or a WordPiece vocabulary trained on `corpus` (cached in out/cache). */
export function pretrainTokenizer(cfg: PretrainConfig, corpus: string, log: Log): BertTokenizer {
  if (cfg.vocab === 'bert-base-uncased') {
    const path = assetPath('bert-base-uncased/vocab.txt');
    log(`vocab: bert-base-uncased (${path})`);
    return loadBertTokenizer(path);
  }
  const key = createHash('sha1').update(corpus).update(`\0${cfg.vocab_size}`).digest('hex').slice(0, 12);
  const cached = join(cfg.out, 'cache', `wordpiece-${cfg.vocab_size}-${key}.txt`);
  if (existsSync(cached)) {
    log(`vocab: cached WordPiece vocabulary ${cached}`);
    return loadBertTokenizer(cached, { lowercase: true });
  }
  const t0 = performance.now();
  // `<unk>` is WikiText's own unknown-word marker: left out of the vocabulary's training text.
  const lines = corpus.split('\n').map((l) => l.replace(/<unk>/g, ' ')).filter((l) => l.trim() !== '' && !l.trim().startsWith('='));
  const tokens = trainWordPiece(lines, { vocabSize: cfg.vocab_size, minFrequency: 2 });
  writeVocabFile(cached, tokens);
  log(`vocab: trained a WordPiece vocabulary of ${tokens.length} pieces in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${cached}`);
  return loadBertTokenizer(cached, { lowercase: true });
}

export async function runPretrain(cfg: PretrainConfig, opts: { backend: Backend; log?: Log; quiet?: boolean }): Promise<PretrainResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const backend = opts.backend;
  const dataPath = resolve(cfg.data);
  if (!existsSync(dataPath)) throw new Error(`--data: file not found: ${dataPath}`);
  const text = readTextFile(dataPath);
  const tokenizer = pretrainTokenizer(cfg, text, log);

  // d2l: paragraphs with >= 2 sentences are the documents; sentences are tokenized once.
  const { articles } = parseWikiText(text, { unkReplacement: '[UNK]', source: dataPath });
  const docs = wikiDocuments(articles).map((p) => p.map((sent) => tokenizer.convertTokensToIds(tokenizer.tokenize(sent))));
  // The last 5% of the documents are held out for evaluation.
  const nEval = cfg.eval_pairs > 0 ? Math.max(2, Math.round(docs.length * 0.05)) : 0;
  const trainDocs = docs.slice(0, docs.length - nEval);
  const evalDocs = docs.slice(docs.length - nEval);
  const allTrainPairs = makeNspPairs(trainDocs, Rng.derive(cfg.seed, 0)).length;
  log(`data: ${dataPath}: ${articles.length} articles, ${docs.length} paragraphs of >= 2 sentences (${trainDocs.length} train, ${evalDocs.length} held out), ${allTrainPairs} NSP pairs per epoch available`);

  const special = { clsId: tokenizer.clsId, sepId: tokenizer.sepId };
  const masker = new DynamicMasker(tokenizer.maskingVocab(), cfg.seed, { strategy: cfg.masking as MaskStrategy, budget: 0.15 });
  const epochBatches = (epoch: number, seed: number): PretrainBatch[] => {
    // Fresh NSP pairs and masks every epoch, drawn from the epoch's seed.
    let pairs = makeNspPairs(trainDocs, Rng.derive(seed, 0));
    const rng = Rng.derive(seed, 1);
    rng.shuffle(pairs);
    if (cfg.max_pairs > 0) pairs = pairs.slice(0, cfg.max_pairs);
    const ex = buildPretrainExamples(pairs, special, masker, epoch, { maxLen: cfg.max_len });
    return chunk(ex, cfg.batch_size).map((b) => collatePretrain(b, tokenizer.padId));
  };
  let evalBatches: PretrainBatch[] = [];
  if (nEval > 0) {
    const pairs = makeNspPairs(evalDocs, Rng.derive(cfg.seed, 99)).slice(0, cfg.eval_pairs);
    const ex = buildPretrainExamples(pairs, special, masker, 0, { maxLen: cfg.max_len, indexOffset: 1 << 24 });
    evalBatches = chunk(ex, 32).map((b) => collatePretrain(b, tokenizer.padId));
  }

  setSeed(cfg.seed);
  const config = bertPreset(cfg.preset as BertPreset, { vocab_size: tokenizer.vocabSize, pad_token_id: tokenizer.padId });
  const model = new BertForPreTraining(config, { backend });
  const stepsPerEpoch = Math.ceil(Math.min(cfg.max_pairs || Infinity, allTrainPairs) / cfg.batch_size);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  log(`model: BertForPreTraining ${cfg.preset} (L${config.num_hidden_layers} H${config.hidden_size} A${config.num_attention_heads} FF${config.intermediate_size}), vocab ${config.vocab_size}, ${(model.numParameters() / 1e6).toFixed(2)}M parameters`);
  log(`training: ${cfg.epochs} epochs x ${stepsPerEpoch} steps of ${cfg.batch_size} pairs, max_len ${cfg.max_len}, ${cfg.masking} masking, AdamW lr ${cfg.lr} (warmup ${Math.round(cfg.warmup * totalSteps)} steps, linear decay)`);

  const optimizer = new AdamW(decayGroups(model.namedParameters(), cfg.weight_decay), { lr: cfg.lr });
  const scheduler = new LRScheduler(optimizer, linearWarmupDecay(Math.round(cfg.warmup * totalSteps), totalSteps));
  const meter = new LossMeter();
  let first: { mlm: number; nsp: number } | null = null;
  let last = { mlm: NaN, nsp: NaN };
  const evals: Record<string, number>[] = [];
  let trainedExamples = 0;
  const tTrain = performance.now();
  try {
    const result = await fit<PretrainBatch>({
      model,
      optimizer,
      scheduler,
      epochs: cfg.epochs,
      seed: cfg.seed,
      clipNorm: cfg.clip_norm || null,
      logEvery: cfg.log_every,
      batchesPerEpoch: stepsPerEpoch,
      trainBatches: ({ epoch, seed }) => epochBatches(epoch, seed),
      batchSize: (b) => b.size,
      step: (batch) => {
        trainedExamples += batch.size;
        const out = pretrainForward(model, batch);
        meter.add(out.mlm, out.pair);
        return out.loss;
      },
      onStep: async (info) => {
        if (info.loss === undefined) return;
        const r = await meter.read();
        last = { mlm: r.mlm, nsp: r.pair };
        first ??= last;
        log(`  step ${info.step}: mlm loss ${r.mlm.toFixed(4)}  nsp loss ${r.pair.toFixed(4)}`);
      },
      evaluate: evalBatches.length
        ? async () => {
            let mlm = 0;
            let nsp = 0;
            const acc = { mlmCorrect: 0, mlmTotal: 0, pairCorrect: 0, pairTotal: 0 };
            for (const b of evalBatches) {
              const out = noGrad(() => pretrainForward(model, b));
              mlm += (await out.mlm.item()) * b.size;
              nsp += (await out.pair.item()) * b.size;
              const a = await pretrainAccuracy(out, b);
              acc.mlmCorrect += a.mlmCorrect;
              acc.mlmTotal += a.mlmTotal;
              acc.pairCorrect += a.pairCorrect;
              acc.pairTotal += a.pairTotal;
            }
            const n = evalBatches.reduce((x, b) => x + b.size, 0);
            const m = { mlm_loss: mlm / n, nsp_loss: nsp / n, mlm_acc: acc.mlmCorrect / acc.mlmTotal, nsp_acc: acc.pairCorrect / acc.pairTotal };
            evals.push(m);
            return m;
          }
        : undefined,
      outDir: cfg.out,
      io: nodeIO(),
      progress: opts.quiet ? null : undefined,
      meta: { name: 'pretrain (MLM + NSP)', config: cfg },
    });
    const trainSec = (performance.now() - tTrain) / 1000;
    const modelDir = join(cfg.out, 'model');
    await savePretrained(model, modelDir, { vocab: tokenizer.vocab.tokens });
    const wallSec = (performance.now() - t0) / 1000;
    const res: PretrainResult = {
      first: first ?? last, last, eval: evals, steps: result.step, examplesPerSec: trainedExamples / trainSec, wallSec, modelDir,
    };
    mkdirSync(cfg.out, { recursive: true });
    writeFileSync(join(cfg.out, 'summary.json'), JSON.stringify({ config: cfg, ...res }, null, 2) + '\n');
    log(`saved ${modelDir} (config.json, model.safetensors, vocab.txt); fine-tune with --pretrained ${modelDir}`);
    log(`done: ${result.step} steps, mlm loss ${res.first.mlm.toFixed(3)} -> ${res.last.mlm.toFixed(3)}, nsp loss ${res.first.nsp.toFixed(3)} -> ${res.last.nsp.toFixed(3)}, ${res.examplesPerSec.toFixed(1)} ex/s, wall ${wallSec.toFixed(1)} s`);
    return res;
  } finally {
    meter.dispose();
    model.dispose();
  }
}

export async function createBackend(kind: 'webgpu' | 'reference'): Promise<Backend> {
  if (kind === 'reference') return new ReferenceBackend();
  const { createNodeBackend } = await import('../engine/backend/webgpu/node.js');
  return createNodeBackend();
}

/** Prints the error without a stack for the expected kinds (bad flags, missing files) and exits 1. */
export function exitWithError(e: unknown): never {
  const msg = e instanceof ConfigError || (e instanceof Error && /not found|invalid|cannot read/.test(e.message)) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
  console.error(`error: ${msg}`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  const usage = 'usage: npx tsx examples/pretrain.ts [flags]';
  const { config, help } = parseArgs(argv, PretrainSchema);
  if (help) {
    console.log(helpText(PretrainSchema, usage));
    return;
  }
  if (!existsSync(resolve(config.data))) throw new Error(`--data: file not found: ${resolve(config.data)}`);
  const backend = await createBackend(config.backend);
  console.log(`adapter: ${'adapter' in backend ? JSON.stringify((backend as { adapter: unknown }).adapter) : 'reference (float64, CPU)'}`);
  await runPretrain(config, { backend });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => exitWithError(e),
  );
}

