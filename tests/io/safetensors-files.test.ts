// safetensors against files written by the Python reference writer, and the Node file helpers
// (readSafetensorsFile, atomic writes that leave the previous file intact when a write fails).

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bf16ToNumber, f16ToNumber, parseSafetensors, serializeSafetensors, type SerializableTensor } from '../../engine/io/safetensors.js';
import {
  readSafetensorsFile,
  writeFileAtomic,
  writeSafetensorsFile,
  type AtomicFileHandle,
  type AtomicWriteFs,
} from '../../engine/io/safetensors-node.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

function jsonValue(v: number | string): number {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === '-0') return -0;
  return v as number;
}

describe('fixtures written by tools/reference/safetensors_io.py', () => {
  it('decodes dtypes.safetensors to the values torch reports', async () => {
    const p = await readSafetensorsFile(join(FIX, 'safetensors', 'dtypes.safetensors'));
    const want = JSON.parse(await readFile(join(FIX, 'safetensors', 'dtypes.json'), 'utf8'));
    expect(p.metadata).toEqual(want.metadata);
    for (const key of ['f16', 'bf16'] as const) {
      const t = p.tensors.get(key)!;
      expect(t.dtype).toBe(key.toUpperCase());
      expect(t.data).toBeInstanceOf(Float32Array);
      const w: number[] = want[key].float32.map(jsonValue);
      expect(t.data.length).toBe(w.length);
      w.forEach((v, i) => expect(Object.is(t.data[i], v), `${key}[${i}] = ${t.data[i]}, want ${v}`).toBe(true));
      // and our own bit decoder agrees with torch
      (want[key].bits as number[]).forEach((b, i) => {
        const mine = key === 'f16' ? f16ToNumber(b) : bf16ToNumber(b);
        expect(Object.is(mine, w[i]) || (Number.isNaN(mine) && Number.isNaN(w[i]!))).toBe(true);
      });
    }
    const f64 = p.tensors.get('f64')!;
    expect(f64.data).toBeInstanceOf(Float64Array);
    (want.f64 as (number | string)[]).map(jsonValue).forEach((v, i) => expect(Object.is(f64.data[i], v)).toBe(true));
    const f32 = p.tensors.get('f32')!;
    expect(f32.shape).toEqual([2, 3]);
    (want.f32 as (number | string)[]).map(jsonValue).forEach((v, i) => expect(Object.is(f32.data[i], v)).toBe(true));
    expect([...p.tensors.get('i32')!.data]).toEqual(want.i32);
    const i64 = p.tensors.get('i64')!;
    expect(i64.dtype).toBe('I64');
    expect(i64.data).toBeInstanceOf(Int32Array);
    expect([...i64.data]).toEqual(want.i64);
    expect(p.tensors.get('scalar_f32')!.shape).toEqual([]);
    expect([...p.tensors.get('scalar_f32')!.data]).toEqual([2.5]);
    expect(p.tensors.get('empty_f32')!.shape).toEqual([0, 3]);
  });

  it('reads a tiny BERT checkpoint and the manifest agrees with it', async () => {
    const manifest = JSON.parse(await readFile(join(FIX, 'manifest.json'), 'utf8'));
    const entry = manifest.models.find((m: { name: string }) => m.name === 'bert-tiny/pretraining');
    const ckpt = await readSafetensorsFile(join(FIX, entry.dir, entry.checkpoint));
    expect(ckpt.metadata.format).toBe('pt');
    expect(ckpt.tensors.size).toBe(entry.checkpoint_tensor_count);
    const we = ckpt.tensors.get('bert.embeddings.word_embeddings.weight')!;
    expect(we.dtype).toBe('F32');
    expect(we.shape).toEqual([99, 32]);
    expect([...we.data.subarray(0, 32)].every((v) => v === 0)).toBe(true); // [PAD] row
    expect(ckpt.tensors.has('cls.predictions.decoder.weight')).toBe(false); // tied, not stored
    const cfg = JSON.parse(await readFile(join(FIX, entry.dir, entry.config), 'utf8'));
    expect(cfg.hidden_size).toBe(32);
    expect(ckpt.tensors.get('bert.encoder.layer.1.intermediate.dense.weight')!.shape).toEqual([cfg.intermediate_size, 32]);
    const exp = await readSafetensorsFile(join(FIX, entry.dir, entry.expected));
    expect([...exp.tensors.keys()].sort()).toEqual([...entry.expected_tensors].sort());
    expect(exp.tensors.get('loss')!.shape).toEqual([]);
    expect(exp.tensors.get('loss')!.data[0]).toBeCloseTo(entry.loss, 6);
    const inputs = await readSafetensorsFile(join(FIX, manifest.inputs.file));
    expect(inputs.tensors.get('input_ids')!.dtype).toBe('I64');
    expect(inputs.tensors.get('input_ids')!.shape).toEqual([3, 11]);
  });

  it('TS serializer reproduces the Python writer byte for byte', async () => {
    for (const rel of ['inputs.safetensors', 'bert-tiny/pretraining/model.safetensors', 'optim/optim.safetensors']) {
      const original = new Uint8Array(await readFile(join(FIX, rel)));
      const p = parseSafetensors(original);
      const again = serializeSafetensors(
        Object.fromEntries([...p.tensors].map(([k, v]) => [k, v as SerializableTensor])),
        p.metadata,
      );
      expect(Buffer.from(again).equals(Buffer.from(original)), rel).toBe(true);
    }
  });
});

describe('node helpers', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writeSafetensorsFile + readSafetensorsFile round trip', async () => {
    const path = join(dir, 'rt.safetensors');
    await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) } }, { a: 'b' });
    const p = await readSafetensorsFile(path);
    expect([...p.tensors.get('w')!.data]).toEqual([1.5, -2]);
    expect(p.metadata).toEqual({ a: 'b' });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('readSafetensorsFile reports the path in errors', async () => {
    const path = join(dir, 'bad.safetensors');
    await writeFile(path, new Uint8Array(3));
    await expect(readSafetensorsFile(path)).rejects.toThrow(/bad\.safetensors.*too short/);
  });

  it('writeFileAtomic replaces the file and leaves no temp file', async () => {
    const path = join(dir, 'atomic.bin');
    await writeFile(path, 'old contents');
    await writeFileAtomic(path, new TextEncoder().encode('new contents'));
    expect(await readFile(path, 'utf8')).toBe('new contents');
    expect((await readdir(dir)).filter((f) => f.includes('atomic.bin') && f !== 'atomic.bin')).toEqual([]);
  });

  it('a write failing midway leaves the previous file intact and removes the temp file', async () => {
    const path = join(dir, 'model.safetensors');
    const previous = serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) } });
    await writeFile(path, previous);
    const opened: string[] = [];
    let renamed = false;
    // Real file system, except that the temp file's write stores a few bytes then throws.
    const failing: AtomicWriteFs = {
      async open(p, flags, mode) {
        opened.push(p);
        const fh = await fsp.open(p, flags, mode);
        let calls = 0;
        const handle: AtomicFileHandle = {
          async write(buf, offset, length, position) {
            if (calls++ === 0) {
              await fh.write(buf, offset, Math.min(5, length), position);
              return { bytesWritten: Math.min(5, length) };
            }
            throw new Error('simulated disk failure');
          },
          sync: () => fh.sync(),
          close: () => fh.close(),
        };
        return handle;
      },
      async rename(a, b) {
        renamed = true;
        await fsp.rename(a, b);
      },
      unlink: (p) => fsp.unlink(p),
    };
    const next = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array([9, 9, 9, 9]) } });
    await expect(writeFileAtomic(path, next, { fs: failing })).rejects.toThrow('simulated disk failure');
    expect(renamed).toBe(false);
    expect(opened).toHaveLength(1);
    expect(dirname(opened[0]!)).toBe(dir); // temp file in the same directory as the target
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(previous))).toBe(true);
    expect([...(await readSafetensorsFile(path)).tensors.get('w')!.data]).toEqual([1, 2, 3]);
    expect(await readdir(dir)).not.toContain(opened[0]!.slice(dir.length + 1));
  });

  it('a failing fsync or rename also leaves the previous file intact', async () => {
    const path = join(dir, 'keep.bin');
    await writeFile(path, 'keep me');
    const base: AtomicWriteFs = {
      open: (p, f, m) => fsp.open(p, f, m) as Promise<AtomicFileHandle>,
      rename: (a, b) => fsp.rename(a, b),
      unlink: (p) => fsp.unlink(p),
    };
    const noSync: AtomicWriteFs = {
      ...base,
      async open(p, f, m) {
        const fh = await fsp.open(p, f, m);
        return {
          write: (b, o, l, pos) => fh.write(b, o, l, pos),
          sync: async () => {
            throw new Error('fsync failed');
          },
          close: () => fh.close(),
        };
      },
    };
    await expect(writeFileAtomic(path, new Uint8Array([1, 2, 3]), { fs: noSync })).rejects.toThrow('fsync failed');
    const noRename: AtomicWriteFs = {
      ...base,
      rename: async () => {
        throw new Error('rename failed');
      },
    };
    await expect(writeFileAtomic(path, new Uint8Array([1, 2, 3]), { fs: noRename })).rejects.toThrow('rename failed');
    expect(await readFile(path, 'utf8')).toBe('keep me');
    expect((await readdir(dir)).filter((f) => f.startsWith('.keep.bin'))).toEqual([]);
  });
});
