// safetensors parsing and serialization in memory: round trips, F16/BF16 decoding, and the
// specific errors for every kind of corrupt header (files and Node helpers: safetensors-files.test.ts).

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  bf16ToNumber,
  f16ToNumber,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type SerializableTensor,
} from '../../engine/io/safetensors.js';

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
