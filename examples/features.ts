// Feature extraction with a BERT (or ALBERT) checkpoint: sentence vectors by [CLS] and by mean
// pooling over the attention mask for a list of sentences, printed as cosine-similarity tables,
// and next-sentence scores P(B follows A) for sentence pairs (the seed's "I like pizza" / "The
// sky is blue" and "I am hungry" / "I will eat a BigMac").
// Which weights: --pretrained DIR (a Hugging Face directory: config.json, model.safetensors,
// vocab.txt); by default the checkpoint examples/pretrain.ts writes (out/pretrain/model) when it
// exists; otherwise a randomly initialised BERT-small, announced loudly (its numbers mean nothing).
// Hugging Face's NSP head: logit 0 = "B is the next sentence". For ALBERT the SOP head is used
// (logit 0 = "A, B in their original order").
//
//   npx tsx examples/features.ts [--pretrained DIR] [--sentences "a,b,c"] [--pairs "a|b,c|d"]

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { F, noGrad, setSeed, tensor, type Backend, type Tensor } from '../engine/index.js';
import { assetPath } from '../data/readers/node.js';
import {
  AlbertForPreTraining, BertForPreTraining, bertPreset, clsVectors, meanPool,
} from '../models/index.js';
import { fromPretrained, readConfig } from '../models/checkpoint-node.js';
import type { BertTokenizer } from '../tokenizers/index.js';
import { loadBertTokenizer } from '../tokenizers/load-node.js';
import { helpText, parseArgs, s, type Infer } from '../train/index.js';
import { createBackend, exitWithError } from './pretrain.js';

export const DEFAULT_SENTENCES = ['I like pizza', 'The sky is blue', 'I am hungry', 'I will eat a BigMac', 'Pizza is my favourite food', 'It is sunny today'];
export const DEFAULT_PAIRS = ['I like pizza|The sky is blue', 'I am hungry|I will eat a BigMac'];
const DEFAULT_CHECKPOINT = 'out/pretrain/model';

export const FeaturesSchema = s.object({
  pretrained: s.optional(s.string({ minLength: 1, description: `checkpoint directory (default: ${DEFAULT_CHECKPOINT} when present, else random weights)` })),
  sentences: s.array(s.string({ minLength: 1 }), { default: DEFAULT_SENTENCES, minLength: 1, description: 'comma-separated sentences' }),
  pairs: s.array(s.string({ pattern: /^[^|]+\|[^|]+$/ }), { default: DEFAULT_PAIRS, description: "comma-separated 'A|B' pairs" }),
  seed: s.int({ default: 1 }),
  out: s.string({ default: 'out/features' }),
  backend: s.enum(['webgpu', 'reference'] as const, { default: 'webgpu' }),
});
export type FeaturesConfig = Infer<typeof FeaturesSchema>;

export interface FeaturesResult {
  source: string;
  random: boolean;
  cls: number[][];
  mean: number[][];
  /** P(B follows A) per pair. */
  nsp: { a: string; b: string; pNext: number }[];
}

type PreTrainingModel = BertForPreTraining | AlbertForPreTraining;
type Log = (line: string) => void;

function cosineTable(v: ArrayLike<number>, n: number, d: number): number[][] {
  const norm = (i: number) => Math.sqrt(Array.from({ length: d }, (_, k) => v[i * d + k]! ** 2).reduce((a, b) => a + b, 0)) || 1e-12;
  const norms = Array.from({ length: n }, (_, i) => norm(i));
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += v[i * d + k]! * v[j * d + k]!;
      return dot / (norms[i]! * norms[j]!);
    }),
  );
}

function formatTable(names: string[], m: number[][]): string {
  const w = Math.min(24, Math.max(...names.map((n) => n.length)));
  const cut = (s: string) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  const head = ' '.repeat(w) + names.map((_, j) => `  [${j}]`.padStart(7)).join('');
  const rows = m.map((r, i) => `${cut(`[${i}] ${names[i]}`)}${r.map((x) => x.toFixed(3).padStart(7)).join('')}`);
  return [head, ...rows].join('\n');
}

/** Resolves and loads the model (or builds a random one) and its tokenizer. */
export async function loadFeatureModel(cfg: FeaturesConfig, backend: Backend, log: Log): Promise<{ model: PreTrainingModel; tokenizer: BertTokenizer; source: string; random: boolean }> {
  let dir: string | null = null;
  if (cfg.pretrained !== undefined) {
    dir = resolve(cfg.pretrained);
    if (!existsSync(dir)) throw new Error(`--pretrained: directory not found: ${dir}`);
    if (!existsSync(join(dir, 'config.json'))) throw new Error(`--pretrained: ${dir} has no config.json (not a checkpoint directory) — not found`);
  } else if (existsSync(join(DEFAULT_CHECKPOINT, 'config.json'))) {
    dir = resolve(DEFAULT_CHECKPOINT);
    log(`using the checkpoint written by examples/pretrain.ts: ${dir}`);
  }
  if (dir) {
    const vocabPath = join(dir, 'vocab.txt');
    let tokenizer: BertTokenizer;
    if (existsSync(vocabPath)) tokenizer = loadBertTokenizer(vocabPath);
    else {
      log(`warning: ${dir} has no vocab.txt; using bert-base-uncased's vocabulary`);
      tokenizer = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
    }
    const config = await readConfig(dir);
    const architecture = config.model_type === 'albert' ? 'AlbertForPreTraining' : 'BertForPreTraining';
    if (config.vocab_size < tokenizer.vocabSize) throw new Error(`${dir}: vocab.txt has ${tokenizer.vocabSize} tokens but the model only ${config.vocab_size} embeddings`);
    const { model, report } = await fromPretrained<PreTrainingModel>(dir, { backend, architecture, logger: null });
    const head = config.model_type === 'albert' ? 'sop_classifier' : 'cls.seq_relationship';
    if (report.missingKeys.some((k) => k.startsWith(head))) log(`WARNING: ${dir} has no ${head} weights: the next-sentence scores below come from a random head`);
    if (report.missingKeys.length) log(`note: ${report.missingKeys.length} tensors not in the checkpoint were initialised randomly (${report.missingKeys.slice(0, 4).join(', ')}${report.missingKeys.length > 4 ? ', ...' : ''})`);
    log(`model: ${architecture} from ${dir} (L${config.num_hidden_layers} H${config.hidden_size}, vocab ${config.vocab_size})`);
    return { model, tokenizer, source: dir, random: false };
  }
  const banner = '!'.repeat(96);
  log(banner);
  log(`!!! NO CHECKPOINT: no --pretrained DIR given and ${DEFAULT_CHECKPOINT} does not exist.`);
  log('!!! Using a RANDOMLY INITIALISED BERT-small with the bert-base-uncased vocabulary: the similarities');
  log('!!! and next-sentence scores below are meaningless. Run `npx tsx examples/pretrain.ts` first, or');
  log('!!! pass --pretrained DIR (a Hugging Face BERT directory with config.json, model.safetensors, vocab.txt).');
  log(banner);
  const tokenizer = loadBertTokenizer(assetPath('bert-base-uncased/vocab.txt'));
  setSeed(cfg.seed);
  const model = new BertForPreTraining(bertPreset('small', { vocab_size: tokenizer.vocabSize }), { backend });
  return { model, tokenizer, source: 'random init (BERT-small)', random: true };
}

function encodeTensors(tokenizer: BertTokenizer, inputs: (string | [string, string])[], backend: Backend) {
  const enc = tokenizer.encodeBatch(inputs, { padding: true, truncation: true, maxLength: 128 });
  const B = enc.inputIds.length;
  const T = enc.inputIds[0]!.length;
  const i32 = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), [B, T], { backend, dtype: 'i32' });
  return { inputIds: i32(enc.inputIds), tokenTypeIds: i32(enc.tokenTypeIds), attentionMask: i32(enc.attentionMask), tokens: enc.encodings.map((e) => e.tokens) };
}

export async function runFeatures(cfg: FeaturesConfig, opts: { backend: Backend; log?: Log }): Promise<FeaturesResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const backend = opts.backend;
  const { model, tokenizer, source, random } = await loadFeatureModel(cfg, backend, log);
  model.eval();
  try {
    const trunk = model instanceof BertForPreTraining ? model.bert : model.albert;
    // Sentence vectors: one forward, [CLS] row and masked mean of the last hidden state.
    const sent = encodeTensors(tokenizer, cfg.sentences, backend);
    const [clsData, meanData, H] = await noGrad(async () => {
      const out = trunk.forward({ inputIds: sent.inputIds, tokenTypeIds: sent.tokenTypeIds, attentionMask: sent.attentionMask });
      const h = out.lastHiddenState;
      const c = clsVectors(h);
      const m = meanPool(h, sent.attentionMask);
      return [await c.data(), await m.data(), h.shape[2]!] as const;
    });
    const n = cfg.sentences.length;
    const cls = cosineTable(clsData, n, H);
    const mean = cosineTable(meanData, n, H);
    log('');
    log('sentences:');
    cfg.sentences.forEach((s, i) => log(`  [${i}] ${s}   -> ${sent.tokens[i]!.filter((t) => t !== tokenizer.specialTokenNames.pad).join(' ')}`));
    log('');
    log(`cosine similarity of [CLS] vectors (${H} dims):`);
    log(formatTable(cfg.sentences, cls));
    log('');
    log('cosine similarity of mean-pooled vectors (attention-masked mean over tokens):');
    log(formatTable(cfg.sentences, mean));

    // Next-sentence (or sentence-order) scores.
    const nsp: FeaturesResult['nsp'] = [];
    if (cfg.pairs.length) {
      const pairs = cfg.pairs.map((p) => p.split('|').map((x) => x.trim()) as [string, string]);
      const enc = encodeTensors(tokenizer, pairs, backend);
      const probs = await noGrad(async () => {
        const inputs = { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, attentionMask: enc.attentionMask };
        const logits: Tensor = model instanceof BertForPreTraining ? model.forward(inputs).seqRelationshipLogits : model.forward(inputs).sopLogits;
        return F.softmax(logits).data();
      });
      log('');
      log(model instanceof BertForPreTraining ? 'next-sentence prediction, P(B follows A) from the NSP head (HF label 0 = is next):' : 'sentence-order head (ALBERT SOP), P(A, B in order):');
      pairs.forEach(([a, b], i) => {
        const pNext = probs[2 * i]!;
        nsp.push({ a, b, pNext });
        log(`  ${pNext.toFixed(4)}  "${a}" -> "${b}"`);
      });
    }
    if (random) log('\n(reminder: RANDOM weights — these numbers are noise)');
    const result: FeaturesResult = { source, random, cls, mean, nsp };
    mkdirSync(cfg.out, { recursive: true });
    writeFileSync(join(cfg.out, 'features.json'), JSON.stringify({ sentences: cfg.sentences, ...result }, null, 2) + '\n');
    log(`\nwrote ${join(cfg.out, 'features.json')}`);
    return result;
  } finally {
    model.dispose();
  }
}

async function main(argv: string[]): Promise<void> {
  const { config, help } = parseArgs(argv, FeaturesSchema);
  if (help) {
    console.log(helpText(FeaturesSchema, 'usage: npx tsx examples/features.ts [--pretrained DIR] [flags]'));
    return;
  }
  if (config.pretrained !== undefined && !existsSync(resolve(config.pretrained))) throw new Error(`--pretrained: directory not found: ${resolve(config.pretrained)}`);
  const backend = await createBackend(config.backend);
  console.log(`adapter: ${'adapter' in backend ? JSON.stringify((backend as { adapter: unknown }).adapter) : 'reference (float64, CPU)'}`);
  const t0 = performance.now();
  await runFeatures(config, { backend });
  console.log(`wall ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => exitWithError(e),
  );
}
