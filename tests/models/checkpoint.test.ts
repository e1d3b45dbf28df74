// Checkpoint I/O: the Python-written checkpoints load with zero missing/unexpected keys;
// savePretrained -> fromPretrained is bit-identical; Hugging Face's prefix rules, legacy names,
// ignored buffers, half-precision upcasts, sharded checkpoints; clear errors and no leaks for
// corrupt files and shape mismatches; atomic writes.

import { mkdtemp, readdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReferenceBackend, type Backend } from '../../engine/index.js';
import { readSafetensorsFile } from '../../engine/io/safetensors-node.js';
import { serializeSafetensors, type SafetensorsTensor, type SerializableTensor } from '../../engine/io/safetensors.js';
import { createModel, type AnyModel } from '../../models/auto.js';
import { fromPretrained, savePretrained } from '../../models/checkpoint-node.js';
import { loadSafetensorsBytes } from '../../models/checkpoint.js';
import { bertConfig } from '../../models/configs.js';
import type { BertForSequenceClassification } from '../../models/heads.js';
import { getWebGPU } from '../helpers/webgpu.js';
import { FIXTURES } from './fixture-helpers.js';

const ref = new ReferenceBackend();
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'models-ckpt-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const fx = (d: string) => join(FIXTURES, d);
const quiet = { logger: null } as const;

/** Every saved tensor of a model (params with tied duplicates once, then buffers) read back as plain arrays. */
async function snapshot(m: AnyModel): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [n, t] of [...m.stateDict(), ...m.namedBuffers()]) out.set(n, Array.from(await t.data()));
  return out;
}

function toSerializable(ts: Map<string, SafetensorsTensor>): Map<string, SerializableTensor> {
  const out = new Map<string, SerializableTensor>();
  for (const [k, t] of ts) out.set(k, { dtype: t.dtype === 'I64' ? 'I64' : t.dtype === 'I32' ? 'I32' : 'F32', shape: t.shape, data: t.data as ArrayLike<number> });
  return out;
}

async function writeCheckpoint(dir: string, configFrom: string, tensors: Map<string, SerializableTensor>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await savePretrainedDirOnly(dir);
  await copyFile(join(configFrom, 'config.json'), join(dir, 'config.json'));
  await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
}
async function savePretrainedDirOnly(dir: string): Promise<void> {
  await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
}

async function expectNoLeak(backend: Backend, fn: () => Promise<unknown>): Promise<void> {
  const before = backend.liveCount();
  await fn();
  expect(backend.liveCount()).toBe(before);
}

describe('round trip', () => {
  for (const [dir, label] of [['bert-pkm-tiny/pretraining', 'BERT+PKM (with BatchNorm buffers)'], ['albert-tiny/pretraining', 'ALBERT'], ['bert-tiny/qa', 'BERT QA']] as const) {
    it(`savePretrained -> fromPretrained is bit-identical: ${label}`, async () => {
      const src = await fromPretrained(fx(dir), { backend: ref, ...quiet });
      expect(src.report.missingKeys).toEqual([]);
      expect(src.report.unexpectedKeys).toEqual([]);
      const out = join(tmp, `rt-${dir.replace('/', '-')}`);
      await writeFile(join(tmp, 'vocab-src.txt'), '[PAD]\n[UNK]\n[CLS]\n');
      await savePretrained(src.model, out, { vocabFile: join(tmp, 'vocab-src.txt') });
      expect((await readdir(out)).sort()).toEqual(['config.json', 'model.safetensors', 'vocab.txt']); // no temp files left
      expect(await readFile(join(out, 'vocab.txt'), 'utf8')).toBe('[PAD]\n[UNK]\n[CLS]\n');
      const back = await fromPretrained(out, { backend: ref, ...quiet });
      expect(back.report.missingKeys).toEqual([]);
      expect(back.report.unexpectedKeys).toEqual([]);
      expect(back.config).toEqual(src.config);
      const a = await snapshot(src.model);
      const b = await snapshot(back.model);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
      // The file we wrote holds exactly the tensors of the Python checkpoint, with the same values and dtypes.
      const py = (await readSafetensorsFile(join(fx(dir), 'model.safetensors'))).tensors;
      const ours = (await readSafetensorsFile(join(out, 'model.safetensors'))).tensors;
      expect([...ours.keys()].sort()).toEqual([...py.keys()].sort());
      for (const [k, t] of py) {
        expect(ours.get(k)!.dtype, k).toBe(t.dtype);
        expect(ours.get(k)!.shape, k).toEqual(t.shape);
        expect(Array.from(ours.get(k)!.data), k).toEqual(Array.from(t.data));
      }
      src.model.dispose();
      back.model.dispose();
      expect(ref.liveCount()).toBe(0);
    });
  }

  it('is bit-identical on WebGPU too', async () => {
    const gpu = await getWebGPU();
    await expectNoLeak(gpu, async () => {
      const src = await fromPretrained(fx('bert-pkm-after-tiny/pretraining'), { backend: gpu, ...quiet });
      const out = join(tmp, 'rt-gpu');
      await savePretrained(src.model, out, { vocab: ['[PAD]', 'a'] });
      const back = await fromPretrained(out, { backend: gpu, ...quiet });
      const a = await snapshot(src.model);
      const b = await snapshot(back.model);
      for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
      const py = (await readSafetensorsFile(join(fx('bert-pkm-after-tiny/pretraining'), 'model.safetensors'))).tensors;
      for (const [k, t] of py) {
        if (t.dtype !== 'F32') continue;
        const mine = a.get(k)!;
        expect(Float32Array.from(mine), k).toEqual(t.data);
      }
      src.model.dispose();
      back.model.dispose();
    });
  });
});

describe("Hugging Face's loading rules", () => {
  it('a BertModel checkpoint (no "bert." prefix) loads into BertForSequenceClassification; the head is newly initialised', async () => {
    const cfg = bertConfig({ vocab_size: 40, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 20, max_position_embeddings: 16, num_labels: 3 });
    const base = createModel(cfg, 'BertModel', { backend: ref });
    const dir = join(tmp, 'base-model');
    await savePretrained(base, dir);
    const messages: string[] = [];
    const { model, report } = await fromPretrained(dir, { backend: ref, architecture: 'BertForSequenceClassification', logger: (m) => messages.push(m) });
    expect(report.unexpectedKeys).toEqual([]);
    expect(report.missingKeys).toEqual(['classifier.weight', 'classifier.bias']);
    expect(messages.join('\n')).toContain(`Some weights of BertForSequenceClassification were not initialized from the model checkpoint at ${dir} and are newly initialized: ['classifier.weight', 'classifier.bias']`);
    const a = await snapshot(base);
    const b = await snapshot(model);
    for (const [k, v] of a) expect(b.get(`bert.${k}`), k).toEqual(v);
    // and back: a BertFor* checkpoint into a BertModel strips the prefix, reporting the head as unused.
    const dir2 = join(tmp, 'seqcls-model');
    await savePretrained(model, dir2);
    const r2 = await fromPretrained(dir2, { backend: ref, architecture: 'BertModel', ...quiet });
    expect(r2.report.missingKeys).toEqual([]);
    expect(r2.report.unexpectedKeys).toEqual(['classifier.bias', 'classifier.weight']);
    for (const m of [base, model, r2.model]) m.dispose();
    expect(ref.liveCount()).toBe(0);
  });

  it('a pretraining checkpoint into a classifier: unused cls.* and new classifier.* reported; strict throws and frees everything', async () => {
    const messages: string[] = [];
    const dir = fx('bert-tiny/pretraining');
    const { model, report } = await fromPretrained<BertForSequenceClassification>(dir, { backend: ref, architecture: 'BertForSequenceClassification', logger: (m) => messages.push(m) });
    expect(report.unexpectedKeys.sort()).toEqual([
      'cls.predictions.bias', 'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.transform.LayerNorm.weight',
      'cls.predictions.transform.dense.bias', 'cls.predictions.transform.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight',
    ]);
    expect(report.missingKeys).toEqual(['classifier.weight', 'classifier.bias']);
    expect(messages[0]).toMatch(new RegExp(`^Some weights of the model checkpoint at ${dir} were not used when initializing BertForSequenceClassification: \\['`));
    model.dispose();
    // a new head size from the caller's config overrides (HF: from_pretrained(..., num_labels=5))
    const five = await fromPretrained<BertForSequenceClassification>(dir, { backend: ref, architecture: 'BertForSequenceClassification', config: { num_labels: 5 }, ...quiet });
    expect([...five.model.classifier.weight.shape]).toEqual([5, 32]);
    expect(five.config.num_labels).toBe(5);
    five.model.dispose();
    await expectNoLeak(ref, async () => {
      await expect(fromPretrained(dir, { backend: ref, architecture: 'BertForSequenceClassification', strict: true, ...quiet })).rejects.toThrow(/strict loading of BertForSequenceClassification .*\n.*were not used/);
    });
  });

  it('legacy gamma/beta names, position_ids buffers and a tied decoder weight in the file are handled', async () => {
    const src = (await readSafetensorsFile(join(fx('bert-tiny/pretraining'), 'model.safetensors'))).tensors;
    const legacy = new Map<string, SerializableTensor>();
    for (const [k, t] of toSerializable(src)) legacy.set(k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'), t);
    legacy.set('bert.embeddings.position_ids', { dtype: 'I64', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => i) });
    // Older HF files also carry the tied decoder tensors under their own names.
    legacy.set('cls.predictions.decoder.weight', toSerializable(src).get('bert.embeddings.word_embeddings.weight')!);
    legacy.set('cls.predictions.decoder.bias', toSerializable(src).get('cls.predictions.bias')!);
    expect([...legacy.keys()].some((k) => k.endsWith('gamma'))).toBe(true);
    const dir = join(tmp, 'legacy');
    await writeCheckpoint(dir, fx('bert-tiny/pretraining'), legacy);
    const { model, report } = await fromPretrained(dir, { backend: ref, ...quiet });
    expect(report.missingKeys).toEqual([]);
    expect(report.unexpectedKeys).toEqual([]);
    expect(report.ignoredKeys).toEqual(['bert.embeddings.position_ids']);
    const ln = model.stateDict().find(([n]) => n === 'bert.embeddings.LayerNorm.weight')![1];
    expect(Float32Array.from(await ln.data())).toEqual(src.get('bert.embeddings.LayerNorm.weight')!.data);
    model.dispose();
  });

  it('F16 and BF16 checkpoints are read and upcast', async () => {
    const src = (await readSafetensorsFile(join(fx('bert-tiny/seq_cls'), 'model.safetensors'))).tensors;
    for (const dtype of ['F16', 'BF16'] as const) {
      const half = new Map<string, SerializableTensor>();
      const expected = new Map<string, Float32Array>();
      for (const [k, t] of src) {
        const f = t.data as Float32Array;
        const bits = Uint16Array.from(f, (v) => (dtype === 'BF16' ? bf16Bits(v) : f16Bits(v)));
        half.set(k, { dtype, shape: t.shape, data: bits });
        const parsed = (await import('../../engine/io/safetensors.js')).parseSafetensors(serializeSafetensors({ x: { dtype, shape: t.shape, data: bits } })).tensors.get('x')!;
        expected.set(k, parsed.data as Float32Array);
      }
      const dir = join(tmp, `half-${dtype}`);
      await writeCheckpoint(dir, fx('bert-tiny/seq_cls'), half);
      const { model, report } = await fromPretrained(dir, { backend: ref, ...quiet });
      expect(report.missingKeys).toEqual([]);
      const w = new Map(model.stateDict());
      for (const [k, e] of expected) expect(Float32Array.from(await w.get(k)!.data()), `${dtype} ${k}`).toEqual(e);
      model.dispose();
    }
  });

  it('loads a sharded checkpoint (model.safetensors.index.json)', async () => {
    const src = toSerializable((await readSafetensorsFile(join(fx('bert-tiny/token_cls'), 'model.safetensors'))).tensors);
    const keys = [...src.keys()];
    const dir = join(tmp, 'sharded');
    await rm(dir, { recursive: true, force: true });
    await savePretrainedDirOnly(dir);
    await copyFile(join(fx('bert-tiny/token_cls'), 'config.json'), join(dir, 'config.json'));
    const parts = [keys.slice(0, 20), keys.slice(20)];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of parts.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeFile(join(dir, file), serializeSafetensors(new Map(part.map((k) => [k, src.get(k)!]))));
      for (const k of part) weightMap[k] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const { model, report } = await fromPretrained(dir, { backend: ref, ...quiet });
    expect(report.missingKeys).toEqual([]);
    expect(report.unexpectedKeys).toEqual([]);
    model.dispose();
  });
});

describe('bad input: clear errors, nothing left allocated', () => {
  it('truncated, garbage and empty model.safetensors', async () => {
    const good = await readFile(join(fx('bert-tiny/seq_cls'), 'model.safetensors'));
    const variants: [string, Uint8Array, RegExp][] = [
      ['truncated', good.subarray(0, good.length - 100), /safetensors: .*(out of range|data buffer)/],
      ['header cut', good.subarray(0, 50), /header length .* beyond the file size/],
      ['garbage', new TextEncoder().encode('this is not a safetensors file at all'), /safetensors/],
      ['empty', new Uint8Array(0), /too short/],
    ];
    for (const [label, bytes, re] of variants) {
      const dir = join(tmp, `bad-${label.replace(' ', '-')}`);
      await rm(dir, { recursive: true, force: true });
      await savePretrainedDirOnly(dir);
      await copyFile(join(fx('bert-tiny/seq_cls'), 'config.json'), join(dir, 'config.json'));
      await writeFile(join(dir, 'model.safetensors'), bytes);
      await expectNoLeak(ref, async () => {
        const err = await fromPretrained(dir, { backend: ref, ...quiet }).then(() => null, (e: Error) => e);
        expect(err, label).toBeInstanceOf(Error);
        expect(err!.message, label).toMatch(re);
        expect(err!.message, label).toContain(join(dir, 'model.safetensors'));
      });
    }
    // the same through the byte-level API: nothing allocated for the corrupt bytes
    const m = createModel(bertConfig({ vocab_size: 99, hidden_size: 32, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 37, max_position_embeddings: 64, num_labels: 3 }), 'BertForSequenceClassification', { backend: ref });
    await expectNoLeak(ref, async () => {
      expect(() => loadSafetensorsBytes(m, good.subarray(0, good.length - 1))).toThrow(/safetensors/);
    });
    m.dispose();
  });

  it('missing files and broken config.json', async () => {
    const dir = join(tmp, 'no-weights');
    await rm(dir, { recursive: true, force: true });
    await savePretrainedDirOnly(dir);
    await expect(fromPretrained(dir, { backend: ref })).rejects.toThrow(/config\.json/);
    await writeFile(join(dir, 'config.json'), '{ not json');
    await expect(fromPretrained(dir, { backend: ref })).rejects.toThrow(/not valid JSON/);
    await copyFile(join(fx('bert-tiny/seq_cls'), 'config.json'), join(dir, 'config.json'));
    await expect(fromPretrained(dir, { backend: ref })).rejects.toThrow(/no model\.safetensors/);
    expect(ref.liveCount()).toBe(0);
  });

  it('a shape mismatch names the tensor and both shapes; ignoreMismatchedSizes re-initialises it', async () => {
    const src = toSerializable((await readSafetensorsFile(join(fx('bert-tiny/seq_cls'), 'model.safetensors'))).tensors);
    src.set('classifier.weight', { dtype: 'F32', shape: [5, 32], data: new Float32Array(160) });
    src.set('classifier.bias', { dtype: 'F32', shape: [5], data: new Float32Array(5) });
    const dir = join(tmp, 'mismatch');
    await writeCheckpoint(dir, fx('bert-tiny/seq_cls'), src);
    await expectNoLeak(ref, async () => {
      await expect(fromPretrained(dir, { backend: ref, ...quiet })).rejects.toThrow(
        /size mismatch for classifier\.weight: copying a param with shape \[5, 32\] from checkpoint, the shape in current model is \[3, 32\]/,
      );
    });
    const { model, report } = await fromPretrained(dir, { backend: ref, ignoreMismatchedSizes: true, ...quiet });
    expect(report.mismatchedKeys).toEqual([['classifier.weight', [5, 32], [3, 32]], ['classifier.bias', [5], [3]]]);
    expect(report.missingKeys).toEqual([]);
    model.dispose();
    expect(ref.liveCount()).toBe(0);
    // the same on WebGPU, where the model built before the check must be freed
    const gpu = await getWebGPU();
    await expectNoLeak(gpu, async () => {
      await expect(fromPretrained(dir, { backend: gpu, ...quiet })).rejects.toThrow(/size mismatch for classifier\.weight/);
      const truncated = join(tmp, 'bad-truncated');
      await expect(fromPretrained(truncated, { backend: gpu, ...quiet })).rejects.toThrow(/safetensors/);
    });
  });
});

// ---- half-precision encoders for the test (round to nearest even) ----------------------------
function f16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  if (exp >= 31) return sign | 0x7c00;
  let h = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
function bf16Bits(v: number): number {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0];
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
