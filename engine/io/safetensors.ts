/**
 * safetensors reader / writer, platform-neutral (Uint8Array / ArrayBuffer, no
 * Node imports).
 *
 * Format: 8-byte little-endian u64 N, then an N-byte UTF-8 JSON header
 * `{ "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *    "__metadata__": { "<k>": "<v>" } }`, then the byte buffer. Offsets are
 * relative to the first byte after the header; tensors are little-endian,
 * row-major.
 *
 * Decoding (`parseSafetensors`):
 *   F32 -> Float32Array           F16, BF16 -> Float32Array (exact upcast)
 *   F64 -> Float64Array (default; lossless) or Float32Array with
 *          `{ float64: 'float32' }` (rounded to nearest float32)
 *   I32 -> Int32Array             I64 -> Int32Array (every value range-checked)
 *   I16 -> Int16Array   I8 -> Int8Array   U8 -> Uint8Array   U16 -> Uint16Array
 *   U32 -> Uint32Array  BOOL -> Uint8Array (0/1, checked)
 * Every returned array owns a fresh, aligned copy of its bytes. The reported
 * `dtype` is the one stored in the file.
 *
 * Validation follows the safetensors spec and names the tensor at fault:
 * header length beyond file size, invalid JSON, non-object entries, unknown
 * dtype, shapes that are not arrays of non-negative integers, data_offsets out
 * of range / reversed / not matching shape x dtype size / overlapping another
 * tensor, bytes of the buffer that no tensor covers, non-string metadata.
 *
 * Encoding (`serializeSafetensors`): tensors laid out in sorted-name order
 * (code-point order, as Python's sorted()), compact JSON header with
 * `__metadata__` first, non-ASCII escaped as \uXXXX (as Python's json with
 * ensure_ascii), padded with spaces so that 8 + N is a multiple of 8. For the
 * same tensors and metadata this reproduces tools/reference/safetensors_io.py
 * byte for byte.
 */

export type SafetensorsDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'U16'
  | 'U32'
  | 'BOOL';

export type SafetensorsData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface SafetensorsTensor {
  /** dtype as stored in the file. */
  dtype: SafetensorsDType;
  shape: number[];
  data: SafetensorsData;
}

export interface ParsedSafetensors {
  /** Tensors in file-header order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ParseOptions {
  /** How F64 tensors are returned: 'float64' (default) or 'float32'. */
  float64?: 'float64' | 'float32';
  /** Upper bound on the JSON header size in bytes (default 100 MB, as the reference implementation). */
  maxHeaderBytes?: number;
}

/** Error raised for malformed safetensors data; `tensor` names the tensor at fault when there is one. */
export class SafetensorsError extends Error {
  readonly tensor: string | undefined;
  constructor(message: string, tensor?: string) {
    super(tensor === undefined ? `safetensors: ${message}` : `safetensors: tensor '${tensor}': ${message}`);
    this.name = 'SafetensorsError';
    this.tensor = tensor;
  }
}

export const DTYPE_SIZE: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  U16: 2,
  U32: 4,
  BOOL: 1,
};

/** Byte size of one element of `dtype`. */
export function dtypeByteSize(dtype: SafetensorsDType): number {
  return DTYPE_SIZE[dtype];
}

export function isKnownDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const DEFAULT_MAX_HEADER = 100_000_000;

export function describe(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new SafetensorsError(`expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(input)}`);
}

/** Copy `len` bytes at `off` into a fresh, 8-byte-aligned buffer. */
function copyBytes(bytes: Uint8Array, off: number, len: number): ArrayBuffer {
  const buf = new ArrayBuffer(len);
  new Uint8Array(buf).set(bytes.subarray(off, off + len));
  return buf;
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // subnormal: mant * 2^-24; normalise into a float32 normal
    let e = -1;
    let m = mant;
    do {
      e++;
      m <<= 1;
    } while ((m & 0x400) === 0);
    // value = 1.(m & 0x3ff) * 2^(-15 - e); float32 biased exponent = 127 - 15 - e = 112 - e
    return (sign | ((112 - e) << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / nan (payload kept)
  return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
}

/** Decode IEEE half-precision bits to a number (exact). */
export function f16ToNumber(bits: number): number {
  const u = new Uint32Array([f16BitsToF32Bits(bits & 0xffff)]);
  return new Float32Array(u.buffer)[0]!;
}

/** Decode bfloat16 bits to a number (exact). */
export function bf16ToNumber(bits: number): number {
  const u = new Uint32Array([((bits & 0xffff) << 16) >>> 0]);
  return new Float32Array(u.buffer)[0]!;
}

function readU16s(bytes: Uint8Array, off: number, n: number): Uint16Array {
  if (LITTLE_ENDIAN_HOST) return new Uint16Array(copyBytes(bytes, off, n * 2));
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, n * 2);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

function decode(
  name: string,
  dtype: SafetensorsDType,
  bytes: Uint8Array,
  off: number,
  n: number,
  opts: ParseOptions,
): SafetensorsData {
  const len = n * DTYPE_SIZE[dtype];
  const dv = () => new DataView(bytes.buffer, bytes.byteOffset + off, len);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copyBytes(bytes, off, len));
      const out = new Float32Array(n);
      const d = dv();
      for (let i = 0; i < n; i++) out[i] = d.getFloat32(i * 4, true);
      return out;
    }
    case 'F64': {
      let f64: Float64Array;
      if (LITTLE_ENDIAN_HOST) f64 = new Float64Array(copyBytes(bytes, off, len));
      else {
        f64 = new Float64Array(n);
        const d = dv();
        for (let i = 0; i < n; i++) f64[i] = d.getFloat64(i * 8, true);
      }
      return opts.float64 === 'float32' ? Float32Array.from(f64) : f64;
    }
    case 'F16': {
      const h = readU16s(bytes, off, n);
      const out = new Float32Array(n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = f16BitsToF32Bits(h[i]!);
      return out;
    }
    case 'BF16': {
      const h = readU16s(bytes, off, n);
      const out = new Float32Array(n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = (h[i]! << 16) >>> 0;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(n);
      const d = dv();
      for (let i = 0; i < n; i++) {
        const lo = d.getUint32(i * 8, true);
        const hi = d.getInt32(i * 8 + 4, true);
        // representable in int32 iff hi is the sign extension of lo
        if (hi !== (lo | 0) >> 31) {
          const v = d.getBigInt64(i * 8, true);
          throw new SafetensorsError(
            `I64 value ${v} at flat index ${i} does not fit in int32 (I64 tensors are decoded to Int32Array)`,
            name,
          );
        }
        out[i] = lo | 0;
      }
      return out;
    }
    case 'I32': {
      if (LITTLE_ENDIAN_HOST) return new Int32Array(copyBytes(bytes, off, len));
      const out = new Int32Array(n);
      const d = dv();
      for (let i = 0; i < n; i++) out[i] = d.getInt32(i * 4, true);
      return out;
    }
    case 'U32': {
      if (LITTLE_ENDIAN_HOST) return new Uint32Array(copyBytes(bytes, off, len));
      const out = new Uint32Array(n);
      const d = dv();
      for (let i = 0; i < n; i++) out[i] = d.getUint32(i * 4, true);
      return out;
    }
    case 'I16': {
      if (LITTLE_ENDIAN_HOST) return new Int16Array(copyBytes(bytes, off, len));
      const out = new Int16Array(n);
      const d = dv();
      for (let i = 0; i < n; i++) out[i] = d.getInt16(i * 2, true);
      return out;
    }
    case 'U16':
      return readU16s(bytes, off, n);
    case 'I8':
      return new Int8Array(copyBytes(bytes, off, len));
    case 'U8':
      return new Uint8Array(copyBytes(bytes, off, len));
    case 'BOOL': {
      const out = new Uint8Array(copyBytes(bytes, off, len));
      for (let i = 0; i < n; i++) {
        if (out[i]! > 1) throw new SafetensorsError(`BOOL value ${out[i]} at flat index ${i} is not 0 or 1`, name);
      }
      return out;
    }
  }
}

export function parseShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new SafetensorsError(`shape must be an array, got ${describe(shape)}`, name);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw new SafetensorsError(`shape ${describe(shape)} has a non-integer dimension ${describe(d)}`, name);
    }
    if (d < 0) throw new SafetensorsError(`shape ${describe(shape)} has a negative dimension ${d}`, name);
    if (!Number.isSafeInteger(d)) throw new SafetensorsError(`shape ${describe(shape)} dimension ${d} is too large`, name);
  }
  return shape.slice() as number[];
}

export function numelOf(name: string, shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new SafetensorsError(`shape ${describe(shape)} has too many elements`, name);
  }
  return n;
}

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

/** Parse a safetensors file held in memory. */
export function parseSafetensors(input: Uint8Array | ArrayBuffer, opts: ParseOptions = {}): ParsedSafetensors {
  const bytes = toBytes(input);
  if (bytes.length < 8) {
    throw new SafetensorsError(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  }
  const head = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = head.getUint32(0, true);
  const hi = head.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (8 + headerLen > bytes.length) {
    throw new SafetensorsError(
      `header length ${headerLen} (+8) is beyond the file size of ${bytes.length} bytes (truncated or not a safetensors file)`,
    );
  }
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (headerLen > maxHeader) throw new SafetensorsError(`header length ${headerLen} exceeds the limit of ${maxHeader} bytes`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    throw new SafetensorsError(`invalid JSON header: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError(`header must be a JSON object, got ${describe(header)}`);

  const bodyStart = 8 + headerLen;
  const bodyLen = bytes.length - bodyStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];

  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(info)) throw new SafetensorsError(`__metadata__ must be an object, got ${describe(info)}`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(`__metadata__ value for key '${k}' must be a string, got ${describe(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(info)) throw new SafetensorsError(`entry must be an object, got ${describe(info)}`, name);
    const dtype = info['dtype'];
    if (typeof dtype !== 'string') throw new SafetensorsError(`dtype must be a string, got ${describe(dtype)}`, name);
    if (!isKnownDType(dtype)) {
      throw new SafetensorsError(
        `unknown or unsupported dtype '${dtype}' (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`,
        name,
      );
    }
    const shape = parseShape(name, info['shape']);
    const numel = numelOf(name, shape);
    const offs = info['data_offsets'];
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
    ) {
      throw new SafetensorsError(`data_offsets must be two non-negative integers, got ${describe(offs)}`, name);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) throw new SafetensorsError(`data_offsets [${begin}, ${end}] are reversed`, name);
    if (end > bodyLen) {
      throw new SafetensorsError(
        `data_offsets [${begin}, ${end}] are out of range: the data buffer has ${bodyLen} bytes`,
        name,
      );
    }
    const want = numel * DTYPE_SIZE[dtype];
    if (end - begin !== want) {
      throw new SafetensorsError(
        `data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${describe(shape)} x ${dtype} ` +
          `(${DTYPE_SIZE[dtype]} bytes) needs ${want}`,
        name,
      );
    }
    entries.push({ name, dtype, shape, numel, begin, end });
  }

  // Overlaps and holes: sorted by begin, every non-empty tensor must start where the previous one ended.
  const byBegin = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of byBegin) {
    if (e.begin < cursor) {
      throw new SafetensorsError(
        `data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev!.name}' [${prev!.begin}, ${prev!.end}]`,
        e.name,
      );
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(
        `data_offsets [${e.begin}, ${e.end}] leave bytes [${cursor}, ${e.begin}) of the data buffer unused ` +
          `(holes are not allowed)`,
        e.name,
      );
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== bodyLen) {
    throw new SafetensorsError(
      `data buffer has ${bodyLen} bytes but tensors cover only [0, ${cursor})` +
        (prev ? ` (last tensor '${prev.name}')` : ''),
    );
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: decode(e.name, e.dtype, bytes, bodyStart + e.begin, e.numel, opts),
    });
  }
  return { tensors, metadata };
}

// Serialization lives in safetensors-write.ts; re-exported so callers import one module.
export { serializeSafetensors, type SerializableDType, type SerializableTensor } from './safetensors-write.js';

/** Numeric view of a parsed tensor as a Float32Array (copying / converting when needed). */
export function toFloat32(t: SafetensorsTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
}
