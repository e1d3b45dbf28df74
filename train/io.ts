// The file operations the trainer needs, injected so train/trainer.ts and train/checkpoint.ts stay
// platform neutral. train/io-node.ts implements them with node:fs (atomic writes via
// engine/io/safetensors-node.ts's writeFileAtomic); tests can wrap them to inject failures.

export interface TrainIO {
  /** Writes a whole file atomically: readers see the old file or the complete new one. */
  writeAtomic(path: string, data: Uint8Array | string): Promise<void>;
  /** The file's bytes, or null when it does not exist. */
  read(path: string): Promise<Uint8Array | null>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Creates a directory (and its parents) if needed. */
  mkdir(path: string): Promise<void>;
  /** File names (not paths) in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Joins path segments with the platform's separator. */
  join(...parts: string[]): string;
}

/** A TrainIO held in memory (tests, browsers without storage): paths are plain '/'-joined keys. */
export function memoryIO(): TrainIO & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const enc = new TextEncoder();
  return {
    files,
    async writeAtomic(path, data) {
      files.set(path, typeof data === 'string' ? enc.encode(data) : data.slice());
    },
    async read(path) {
      return files.get(path)?.slice() ?? null;
    },
    async remove(path) {
      files.delete(path);
    },
    async mkdir() {},
    async list(dir) {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      return [...files.keys()].filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map((k) => k.slice(prefix.length));
    },
    join: (...parts) => parts.filter((p) => p !== '').join('/').replace(/\/+/g, '/'),
  };
}
