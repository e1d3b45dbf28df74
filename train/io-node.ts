// Node implementations of the trainer's injected services: file operations (TrainIO) with atomic
// writes (temp file in the same directory, fsync, rename; see engine/io/safetensors-node.ts) and a
// progress sink on process.stdout that redraws in place on a TTY.

import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic, type AtomicWriteFs } from '../engine/io/safetensors-node.js';
import type { TrainIO } from './io.js';
import type { ProgressSink } from './progress.js';

export interface NodeIOOptions {
  /** File-system operations for the atomic writes (tests inject failures here). */
  fs?: AtomicWriteFs;
}

export function nodeIO(opts: NodeIOOptions = {}): TrainIO {
  const enc = new TextEncoder();
  return {
    writeAtomic: (path, data) => writeFileAtomic(path, typeof data === 'string' ? enc.encode(data) : data, { fs: opts.fs }),
    async read(path) {
      try {
        const b = await fsp.readFile(path);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async remove(path) {
      await fsp.rm(path, { force: true });
    },
    async mkdir(path) {
      await fsp.mkdir(path, { recursive: true });
    },
    async list(dir) {
      try {
        return await fsp.readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    },
    join: (...parts) => join(...parts),
  };
}

/** Progress on process.stdout: in place on a TTY, plain lines otherwise (CI, pipes). */
export function stdoutSink(stream: NodeJS.WriteStream = process.stdout): ProgressSink {
  return { isTTY: Boolean(stream.isTTY), write: (t) => void stream.write(t) };
}
