// Role: tokenization throughput benchmark on SST-2 (train, 67,349 sentences): our TypeScript
// WordPiece tokenizer side by side with the oracle, Hugging Face `tokenizers` (Rust, N-API build
// @anush008/tokenizers), one call per sentence and batched. Prints a markdown table.
// Run: npx tsx bench/tokenizer.ts [--file sst2/dev.tsv] [--repeat 3]

import os from 'node:os';
import { assetPath, loadSst2 } from '../data/readers/node.js';
import { loadBertTokenizer } from '../tokenizers/load-node.js';
import { makeOracle } from '../tests/tokenizers/oracle.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const file = arg('file', 'sst2/train.tsv');
const repeat = Number(arg('repeat', '3'));
const vocabPath = assetPath('bert-base-uncased/vocab.txt');
const sentences = loadSst2(assetPath(file)).rows.map((r) => r.sentence);

interface Row {
  name: string;
  seconds: number;
  tokens: number;
}

/** Best of `repeat` timed runs (after the warm-up the caller did). */
async function best(name: string, run: () => Promise<number> | number): Promise<Row> {
  let bestS = Infinity;
  let tokens = 0;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    tokens = await run();
    bestS = Math.min(bestS, (performance.now() - t0) / 1000);
  }
  return { name, seconds: bestS, tokens };
}

const rows: Row[] = [];

// Ours: a fresh tokenizer, first pass with an empty word cache, then warm passes.
{
  const cold = loadBertTokenizer(vocabPath);
  const t0 = performance.now();
  let tokens = 0;
  for (const s of sentences) tokens += cold.encode(s).inputIds.length;
  rows.push({ name: 'ours (TypeScript), first pass, cold word cache', seconds: (performance.now() - t0) / 1000, tokens });
  rows.push(
    await best('ours (TypeScript), warm', () => {
      let n = 0;
      for (const s of sentences) n += cold.encode(s).inputIds.length;
      return n;
    }),
  );
}

// The oracle, configured like bert-base-uncased's tokenizer.json.
{
  const ours = loadBertTokenizer(vocabPath);
  const hf = await makeOracle(vocabPath, ours.vocab, { lowercase: true });
  await hf.encodeBatch(sentences.slice(0, 1000)); // warm-up
  rows.push(
    await best('HF tokenizers (Rust, N-API), one await per sentence', async () => {
      let n = 0;
      for (const s of sentences) n += (await hf.encode(s)).getLength();
      return n;
    }),
  );
  rows.push(
    await best(`HF tokenizers (Rust, N-API), encodeBatch (parallel, ${os.cpus().length} cores)`, async () => {
      let n = 0;
      for (let i = 0; i < sentences.length; i += 1024) for (const e of await hf.encodeBatch(sentences.slice(i, i + 1024))) n += e.getLength();
      return n;
    }),
  );
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
console.log(`\nTokenization throughput, ${file} (${fmt(sentences.length)} sentences), bert-base-uncased, [CLS]/[SEP] added, best of ${repeat}`);
console.log(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} x ${os.cpus().length}\n`);
console.log('| implementation | sentences/s | tokens/s | total s |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${fmt(sentences.length / r.seconds)} | ${fmt(r.tokens / r.seconds)} | ${r.seconds.toFixed(3)} |`);
