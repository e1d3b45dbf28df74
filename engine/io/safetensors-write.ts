// safetensors writer (see safetensors.ts for the format and the reader). Platform-neutral.

import { DTYPE_SIZE, LITTLE_ENDIAN_HOST, SafetensorsError, describe, isKnownDType, numelOf, parseShape } from './safetensors.js';

export type SerializableDType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';

export interface SerializableTensor {
  dtype: SerializableDType;
  shape: readonly number[];
  /**
   * F32: Float32Array (or number[]); F64: Float64Array (or number[]); I32: Int32Array (or number[]);
   * I64: Int32Array / number[] of integers (sign-extended) or BigInt64Array; U8: Uint8Array;
   * F16 / BF16: Uint16Array of raw bit patterns.
   */
  data: ArrayLike<number> | BigInt64Array;
}

function cmpCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function encodeTensor(name: string, t: SerializableTensor, numel: number): Uint8Array {
  const data = t.data;
  if (data.length !== numel) {
    throw new SafetensorsError(`data has ${data.length} elements but shape ${describe(t.shape)} needs ${numel}`, name);
  }
  const size = DTYPE_SIZE[t.dtype];
  const out = new Uint8Array(numel * size);
  const dv = new DataView(out.buffer);
  switch (t.dtype) {
    case 'F32':
      // Float32Array on a little-endian host: raw byte copy (bit-identical, NaN payloads kept).
      if (LITTLE_ENDIAN_HOST && data instanceof Float32Array) out.set(new Uint8Array(data.buffer, data.byteOffset, numel * 4));
      else for (let i = 0; i < numel; i++) dv.setFloat32(i * 4, (data as ArrayLike<number>)[i]!, true);
      break;
    case 'F64':
      if (LITTLE_ENDIAN_HOST && data instanceof Float64Array) out.set(new Uint8Array(data.buffer, data.byteOffset, numel * 8));
      else for (let i = 0; i < numel; i++) dv.setFloat64(i * 8, (data as ArrayLike<number>)[i]!, true);
      break;
    case 'I32':
      if (LITTLE_ENDIAN_HOST && data instanceof Int32Array) {
        out.set(new Uint8Array(data.buffer, data.byteOffset, numel * 4));
        break;
      }
      for (let i = 0; i < numel; i++) {
        const v = (data as ArrayLike<number>)[i]!;
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new SafetensorsError(`I32 value ${v} at flat index ${i} is not a 32-bit integer`, name);
        }
        dv.setInt32(i * 4, v, true);
      }
      break;
    case 'I64':
      if (data instanceof BigInt64Array) {
        for (let i = 0; i < numel; i++) dv.setBigInt64(i * 8, data[i]!, true);
      } else {
        for (let i = 0; i < numel; i++) {
          const v = (data as ArrayLike<number>)[i]!;
          if (!Number.isSafeInteger(v)) throw new SafetensorsError(`I64 value ${v} at flat index ${i} is not a safe integer`, name);
          dv.setBigInt64(i * 8, BigInt(v), true);
        }
      }
      break;
    case 'U8':
      for (let i = 0; i < numel; i++) {
        const v = (data as ArrayLike<number>)[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new SafetensorsError(`U8 value ${v} at flat index ${i} is out of range`, name);
        out[i] = v;
      }
      break;
    case 'F16':
    case 'BF16':
      for (let i = 0; i < numel; i++) {
        const v = (data as ArrayLike<number>)[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
          throw new SafetensorsError(`${t.dtype} data must be raw 16-bit patterns; got ${v} at flat index ${i}`, name);
        }
        dv.setUint16(i * 2, v, true);
      }
      break;
    default:
      throw new SafetensorsError(`cannot serialize dtype '${String((t as { dtype: unknown }).dtype)}'`, name);
  }
  return out;
}

/** Serialize tensors (sorted by name) and optional string metadata to safetensors bytes. */
export function serializeSafetensors(
  tensors: Record<string, SerializableTensor> | Map<string, SerializableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort(cmpCodePoints);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`__metadata__ value for key '${k}' must be a string, got ${describe(v)}`);
    }
    header['__metadata__'] = { ...metadata };
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError(`'__metadata__' is reserved and cannot name a tensor`);
    if (name.length === 0) throw new SafetensorsError('tensor names must be non-empty');
    const t = map.get(name)!;
    if (!isKnownDType(t.dtype) || !['F32', 'F64', 'I32', 'I64', 'U8', 'F16', 'BF16'].includes(t.dtype)) {
      throw new SafetensorsError(`cannot serialize dtype '${String(t.dtype)}'`, name);
    }
    const shape = parseShape(name, t.shape as unknown);
    const numel = numelOf(name, shape);
    const blob = encodeTensor(name, t, numel);
    header[name] = { dtype: t.dtype, shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = asciiJson(header);
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  json += ' '.repeat(pad);
  const hbytes = new TextEncoder().encode(json); // pure ASCII: bytes === chars
  const out = new Uint8Array(8 + hbytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hbytes.length >>> 0, true);
  dv.setUint32(4, Math.floor(hbytes.length / 2 ** 32), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}
