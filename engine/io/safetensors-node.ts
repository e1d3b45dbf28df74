/**
 * Node-only helpers around engine/io/safetensors.ts: reading a safetensors
 * file and writing files atomically (temp file in the same directory, fsync,
 * rename over the target, then a best-effort fsync of the directory). If
 * anything fails before the rename, the previous file is left untouched and
 * the temp file is removed.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import {
  parseSafetensors,
  serializeSafetensors,
  type ParseOptions,
  type ParsedSafetensors,
  type SerializableTensor,
} from './safetensors.js';

/** Read and parse a safetensors file. */
export async function readSafetensorsFile(path: string, opts?: ParseOptions): Promise<ParsedSafetensors> {
  const buf = await fsp.readFile(path);
  try {
    return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), opts);
  } catch (e) {
    if (e instanceof Error) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

/** The subset of a node:fs/promises FileHandle that writeFileAtomic uses. */
export interface AtomicFileHandle {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** File-system operations used by writeFileAtomic (injectable for tests). */
export interface AtomicWriteFs {
  open(path: string, flags: string, mode?: number): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

const nodeFs: AtomicWriteFs = {
  open: (p, flags, mode) => fsp.open(p, flags, mode) as Promise<AtomicFileHandle>,
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
};

/** Name of the temporary file writeFileAtomic uses for `path` (same directory, hidden, unique). */
export function atomicTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Write `data` to `path` atomically: readers see either the old file or the
 * complete new one, never a partial write.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: { mode?: number; fs?: AtomicWriteFs } = {},
): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const tmp = atomicTempPath(path);
  let renamed = false;
  try {
    const fh = await fs.open(tmp, 'wx', options.mode ?? 0o644);
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, off);
        if (bytesWritten <= 0) throw new Error(`writeFileAtomic: short write to ${tmp}`);
        off += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
    renamed = true;
  } catch (e) {
    if (!renamed) {
      await fs.unlink(tmp).catch(() => undefined);
    }
    throw e;
  }
  // Persist the rename itself (best effort: not every platform can fsync a directory).
  if (!options.fs) {
    try {
      const dh = await fsp.open(dirname(path), 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* ignore */
    }
  }
}

/** Serialize tensors and write them atomically to `path`. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SerializableTensor> | Map<string, SerializableTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
