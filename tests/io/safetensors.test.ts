import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  bf16ToNumber,
  f16ToNumber,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SerializableTensor,
} from '../../engine/io/safetensors.js';
import {
  readSafetensorsFile,
  writeFileAtomic,
  writeSafetensorsFile,
  type AtomicFileHandle,
  type AtomicWriteFs,
} from '../../engine/io/safetensors-node.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** Build a safetensors file from an arbitrary header object (or raw header text) and body bytes. */
function raw(header: unknown, body: Uint8Array | number = 0, opts: { headerLen?: number } = {}): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const b = typeof body === 'number' ? new Uint8Array(body) : body;
  const out = new Uint8Array(8 + h.length + b.length);
  const dv = new DataView(out.buffer);
  const n = opts.headerLen ?? h.length;
  dv.setUint32(0, n % 2 ** 32, true);
  dv.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(h, 8);
  out.set(b, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function expectError(fn: () => unknown, ...parts: (string | RegExp)[]): SafetensorsError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(SafetensorsError);
  const msg = (err as Error).message;
  for (const p of parts) {
    if (typeof p === 'string') expect(msg).toContain(p);
    else expect(msg).toMatch(p);
  }
  return err as SafetensorsError;
}

function jsonValue(v: number | string): number {
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === '-0') return -0;
  return v as number;
}

describe('serializeSafetensors / parseSafetensors round trip', () => {
  it('is bit-identical for F32 (any bit pattern, NaN payloads included) and I32', () => {
    const tensorArb = fc.oneof(
      fc
        .array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 })
        .chain((shape) =>
          fc
            .array(fc.integer({ min: 0, max: 0xffffffff }), {
              minLength: shape.reduce((a, b) => a * b, 1),
              maxLength: shape.reduce((a, b) => a * b, 1),
            })
            .map((bits) => ({ dtype: 'F32' as const, shape, data: new Float32Array(new Uint32Array(bits).buffer) })),
        ),
      fc
        .array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 })
        .chain((shape) =>
          fc
            .array(fc.integer({ min: -2147483648, max: 2147483647 }), {
              minLength: shape.reduce((a, b) => a * b, 1),
              maxLength: shape.reduce((a, b) => a * b, 1),
            })
            .map((vals) => ({ dtype: 'I32' as const, shape, data: Int32Array.from(vals) })),
        ),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensorArb, {
          maxKeys: 6,
        }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 16 }), { maxKeys: 3 }),
        (tensors, metadata) => {
          const bytes = serializeSafetensors(tensors, metadata);
          const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          expect((8 + headerLen) % 8).toBe(0);
          const parsed = parseSafetensors(bytes);
          expect(parsed.metadata).toEqual(Object.keys(metadata).length ? metadata : {});
          expect([...parsed.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            const p = parsed.tensors.get(name)!;
            expect(p.dtype).toBe(t.dtype);
            expect(p.shape).toEqual(t.shape);
            expect(p.data.constructor).toBe(t.data.constructor);
            expect(Buffer.from(bytesOf(p.data)).equals(Buffer.from(bytesOf(t.data)))).toBe(true);
          }
          // serialize(parse(x)) reproduces x byte for byte
          const again = serializeSafetensors(
            Object.fromEntries([...parsed.tensors].map(([k, v]) => [k, v as SerializableTensor])),
            parsed.metadata,
          );
          expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sorts tensors by name, puts __metadata__ first and pads the header with spaces to 8 bytes', () => {
    const bytes = serializeSafetensors(
      {
        zeta: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
        alpha: { dtype: 'I32', shape: [2], data: new Int32Array([7, -7]) },
        'mid.é': { dtype: 'F32', shape: [], data: new Float32Array([2]) },
      },
      { format: 'pt' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"alpha":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},' +
        '"mid.\\u00e9":{"dtype":"F32","shape":[],"data_offsets":[8,12]},' +
        '"zeta":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}',
    );
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const p = parseSafetensors(bytes.buffer as ArrayBuffer);
    expect([...p.tensors.get('alpha')!.data]).toEqual([7, -7]);
    expect(p.tensors.get('mid.é')!.shape).toEqual([]);
    expect([...p.tensors.get('mid.é')!.data]).toEqual([2]);
  });

  it('writes I64 / F64 / U8 / F16 / BF16 and reads them back', () => {
    const bytes = serializeSafetensors({
      i64: { dtype: 'I64', shape: [3], data: [-1, 0, 2147483647] },
      i64big: { dtype: 'I64', shape: [1], data: new BigInt64Array([5n]) },
      f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      u8: { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
      h: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
      b: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x4049]) },
    });
    const p = parseSafetensors(bytes);
    expect([...p.tensors.get('i64')!.data]).toEqual([-1, 0, 2147483647]);
    expect(p.tensors.get('i64')!.data).toBeInstanceOf(Int32Array);
    expect([...p.tensors.get('i64big')!.data]).toEqual([5]);
    expect([...p.tensors.get('f64')!.data]).toEqual([Math.PI, -1e300]);
    expect(p.tensors.get('f64')!.data).toBeInstanceOf(Float64Array);
    expect([...parseSafetensors(bytes, { float64: 'float32' }).tensors.get('f64')!.data]).toEqual([
      Math.fround(Math.PI),
      -Infinity,
    ]);
    expect([...p.tensors.get('u8')!.data]).toEqual([0, 255]);
    expect([...p.tensors.get('h')!.data]).toEqual([1, -2]);
    expect([...p.tensors.get('b')!.data]).toEqual([3.140625]);
  });
});

describe('F16 / BF16 decoding', () => {
  // [bits, value] pairs worked out by hand from the IEEE / bfloat16 layouts.
  const F16: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x7bff, 65504], // largest finite half
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x3555, 0.333251953125],
    [0x4248, 3.140625],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const BF16: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625],
    [0xc2f7, -123.5],
    [0x7f7f, 3.3895313892515355e38], // largest finite bfloat16
    [0x0080, 2 ** -126], // smallest normal
    [0x0001, 2 ** -133], // smallest subnormal
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];

  it('decodes F16 known values exactly (incl. subnormals, signed zero, infinities, NaN)', () => {
    const bits = [...F16.map(([b]) => b), 0x7e00, 0xfe01];
    const p = parseSafetensors(raw({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits)));
    const t = p.tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.data).toBeInstanceOf(Float32Array);
    F16.forEach(([b, v], i) => {
      expect(Object.is(t.data[i], v), `0x${b.toString(16)} -> ${t.data[i]} (want ${v})`).toBe(true);
      expect(Object.is(f16ToNumber(b), v)).toBe(true);
    });
    expect(Number.isNaN(t.data[F16.length])).toBe(true);
    expect(Number.isNaN(t.data[F16.length + 1])).toBe(true);
    // NaN payload / quiet bit carried over as torch does: 0x7e00 -> 0x7fc00000
    expect(new Uint32Array(t.data.buffer)[F16.length]).toBe(0x7fc00000);
  });

  it('decodes every finite F16 bit pattern to the value sign * 2^e * m', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const t = parseSafetensors(raw({ h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] } }, u16le(all))).tensors.get('h')!;
    for (let b = 0; b < 65536; b++) {
      const s = b & 0x8000 ? -1 : 1;
      const e = (b >> 10) & 0x1f;
      const m = b & 0x3ff;
      const want = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
      if (!Object.is(t.data[b], want)) throw new Error(`F16 0x${b.toString(16)}: got ${t.data[b]}, want ${want}`);
    }
  });

  it('decodes BF16 known values exactly', () => {
    const bits = [...BF16.map(([b]) => b), 0x7fc0];
    const p = parseSafetensors(raw({ b: { dtype: 'BF16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits)));
    const t = p.tensors.get('b')!;
    expect(t.dtype).toBe('BF16');
    expect(t.data).toBeInstanceOf(Float32Array);
    BF16.forEach(([b, v], i) => {
      expect(Object.is(t.data[i], v), `0x${b.toString(16)}`).toBe(true);
      expect(Object.is(bf16ToNumber(b), v)).toBe(true);
    });
    expect(Number.isNaN(t.data[BF16.length])).toBe(true);
  });
});

describe('parse errors are specific and name the tensor', () => {
  const f32 = (shape: number[], offsets: number[]) => ({ dtype: 'F32', shape, data_offsets: offsets });

  it('rejects files shorter than 8 bytes', () => {
    expectError(() => parseSafetensors(new Uint8Array(5)), 'too short');
  });

  it('rejects a header length beyond the file size', () => {
    expectError(() => parseSafetensors(raw({}, 0, { headerLen: 1000 })), 'header length 1000', 'beyond the file size');
    // a u64 length with the high word set
    expectError(() => parseSafetensors(raw({}, 0, { headerLen: 2 ** 40 })), 'beyond the file size');
  });

  it('rejects invalid JSON and non-object headers', () => {
    expectError(() => parseSafetensors(raw('{"a": {')), 'invalid JSON header');
    expectError(() => parseSafetensors(raw('[1,2]')), 'header must be a JSON object');
    const bad = raw('{}');
    bad[8] = 0xff; // not UTF-8
    expectError(() => parseSafetensors(bad), 'not valid UTF-8');
  });

  it('rejects malformed entries', () => {
    expectError(() => parseSafetensors(raw({ w: 3 })), "tensor 'w'", 'must be an object');
    expectError(() => parseSafetensors(raw({ w: { shape: [1], data_offsets: [0, 4] } }, 4)), "tensor 'w'", 'dtype must be a string');
  });

  it('rejects unknown dtypes', () => {
    const e = expectError(
      () => parseSafetensors(raw({ 'enc.w': { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2)),
      "tensor 'enc.w'",
      "unknown or unsupported dtype 'F8_E4M3'",
    );
    expect(e.tensor).toBe('enc.w');
  });

  it('rejects negative, non-integer and non-array shapes', () => {
    expectError(() => parseSafetensors(raw({ neg: f32([2, -1], [0, 0]) })), "tensor 'neg'", 'negative dimension -1');
    expectError(() => parseSafetensors(raw({ frac: f32([1.5], [0, 4]) }, 4)), "tensor 'frac'", 'non-integer dimension 1.5');
    expectError(() => parseSafetensors(raw({ str: f32(['2'] as unknown as number[], [0, 8]) }, 8)), "tensor 'str'", 'non-integer');
    expectError(
      () => parseSafetensors(raw({ obj: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, 16)),
      "tensor 'obj'",
      'shape must be an array',
    );
  });

  it('rejects offsets out of range, reversed, malformed, or not matching shape x dtype size', () => {
    expectError(() => parseSafetensors(raw({ big: f32([4], [0, 16]) }, 8)), "tensor 'big'", 'out of range', '8 bytes');
    expectError(() => parseSafetensors(raw({ rev: f32([0], [8, 4]) }, 8)), "tensor 'rev'", 'reversed');
    expectError(() => parseSafetensors(raw({ one: f32([1], [0]) }, 4)), "tensor 'one'", 'data_offsets must be two');
    expectError(() => parseSafetensors(raw({ neg: f32([1], [-4, 0]) }, 4)), "tensor 'neg'", 'non-negative integers');
    expectError(() => parseSafetensors(raw({ frac: f32([1], [0, 4.5]) }, 5)), "tensor 'frac'", 'data_offsets');
    expectError(
      () => parseSafetensors(raw({ size: f32([3], [0, 8]) }, 8)),
      "tensor 'size'",
      'span 8 bytes',
      'needs 12',
    );
    expectError(
      () => parseSafetensors(raw({ i64: { dtype: 'I64', shape: [2], data_offsets: [0, 8] } }, 8)),
      "tensor 'i64'",
      'needs 16',
    );
  });

  it('rejects overlapping tensors and holes / trailing bytes', () => {
    expectError(
      () => parseSafetensors(raw({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12)),
      "tensor 'b'",
      "overlap tensor 'a'",
    );
    expectError(
      () => parseSafetensors(raw({ a: f32([1], [0, 4]), b: f32([1], [0, 4]) }, 4)),
      /tensor '[ab]'.*overlap tensor '[ab]'/,
    );
    expectError(() => parseSafetensors(raw({ a: f32([1], [0, 4]), gap: f32([1], [8, 12]) }, 12)), "tensor 'gap'", 'holes');
    expectError(() => parseSafetensors(raw({ a: f32([1], [0, 4]) }, 8)), 'cover only [0, 4)', "'a'");
  });

  it('rejects non-string metadata', () => {
    expectError(() => parseSafetensors(raw({ __metadata__: { epoch: 3 } })), "key 'epoch'", 'must be a string');
    expectError(() => parseSafetensors(raw({ __metadata__: [1] })), '__metadata__ must be an object');
  });

  it('rejects I64 values that do not fit in int32, naming tensor and index', async () => {
    const bytes = await readFile(join(FIX, 'safetensors', 'i64_out_of_range.safetensors'));
    expectError(() => parseSafetensors(new Uint8Array(bytes)), "tensor 'too_big'", '2147483648', 'flat index 1');
    const neg = new Uint8Array(16);
    new DataView(neg.buffer).setBigInt64(8, -2147483649n, true);
    expectError(
      () => parseSafetensors(raw({ n: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, neg)),
      "tensor 'n'",
      '-2147483649',
    );
  });

  it('rejects BOOL bytes other than 0 / 1', () => {
    expectError(
      () => parseSafetensors(raw({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, new Uint8Array([1, 2]))),
      "tensor 'm'",
      'BOOL value 2',
    );
  });

  it('accepts empty and scalar tensors and an empty file body', () => {
    const p = parseSafetensors(raw({ e: f32([0, 3], [0, 0]), s: f32([], [0, 4]) }, new Uint8Array(new Float32Array([7]).buffer)));
    expect(p.tensors.get('e')!.data.length).toBe(0);
    expect([...p.tensors.get('s')!.data]).toEqual([7]);
    expect(parseSafetensors(raw({})).tensors.size).toBe(0);
  });
});

describe('serialize errors', () => {
  it('names the tensor whose data does not match its shape', () => {
    expectError(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      "tensor 'w'",
      '3 elements',
      'needs 4',
    );
  });
  it('rejects bad shapes, reserved names, bad dtypes and out-of-range integers', () => {
    expectError(() => serializeSafetensors({ w: { dtype: 'F32', shape: [-1], data: [] } }), "tensor 'w'", 'negative');
    expectError(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: [] } }), 'reserved');
    expectError(
      () => serializeSafetensors({ w: { dtype: 'Q4' as 'F32', shape: [0], data: [] } }),
      "tensor 'w'",
      "cannot serialize dtype 'Q4'",
    );
    expectError(() => serializeSafetensors({ i: { dtype: 'I32', shape: [1], data: [2 ** 31] } }), "tensor 'i'", 'not a 32-bit');
    expectError(
      () => serializeSafetensors({ m: { dtype: 'F32', shape: [0], data: [] } }, { k: 1 as unknown as string }),
      "key 'k'",
    );
  });
});

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
