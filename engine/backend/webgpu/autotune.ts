// Per-adapter choice of the matmul strategy (kernels/matmul.ts lists them).
//
// Order of precedence, resolved by WebGPUBackend:
//   1. env WEBGPU_MATMUL=<strategy> (or the backend option matmulStrategy) forces one;
//   2. a choice cached for this adapter: in memory (per process), or in the JSON object the caller
//      passes (node.ts reads/writes a file; the engine core never touches the file system);
//   3. a heuristic until autotuneMatmul() ran: textures on OpenGL(ES)/llvmpipe, shared-memory tiles
//      elsewhere.
// autotuneMatmul() measures every candidate on one representative bucket (a linear-layer shaped
// 512 x 512 x 256 matmul, B transposed) in interleaved rounds and keeps the fastest; candidates 3x
// slower than the best are cut after a round.
// The choice depends on the adapter only, never on shapes, so the set of pipelines a model uses does
// not change with batch size or sequence length.

import { isMatmulStrategy, MATMUL_STRATEGIES, strategySupported, type MatmulStrategy } from '../../../kernels/matmul.js';
import type { AdapterReport } from './device.js';
import type { WebGPUBackend } from './webgpu.js';

export interface AutotuneEntry {
  strategy: MatmulStrategy;
  /** Fastest milliseconds per candidate on the tuning bucket (Infinity: cut after one slow run). */
  ms: Record<string, number>;
  bucket: string;
  date: string;
}

/** adapter key -> choice; the shape of the optional JSON file. */
export type AutotuneCache = Record<string, AutotuneEntry>;

const memory: AutotuneCache = {};

/** Identifies an adapter: its backend, vendor, device and description. */
export function adapterKey(r: AdapterReport): string {
  return [r.backend, r.vendor, r.architecture, r.device, r.description, r.featureLevel].join('|');
}

/** Forgets every in-memory choice (the next autotuneMatmul() measures again). */
export function clearAutotuneCache(): void {
  for (const k of Object.keys(memory)) delete memory[k];
}

export function cachedChoice(r: AdapterReport): AutotuneEntry | undefined {
  return memory[adapterKey(r)];
}

/** The strategy forced by env WEBGPU_MATMUL, if any (an unknown name throws). */
export function envStrategy(): MatmulStrategy | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.['WEBGPU_MATMUL']?.trim();
  if (!v) return undefined;
  if (!isMatmulStrategy(v)) throw new Error(`WEBGPU_MATMUL=${v}: unknown matmul strategy (one of ${MATMUL_STRATEGIES.join(', ')})`);
  return v;
}

/**
 * Before tuning: textures where a storage load is slow (software GL; read-only storage textures
 * when the WGSL feature is there), shared memory tiles elsewhere.
 */
export function heuristicStrategy(r: AdapterReport): MatmulStrategy {
  const soft = /llvmpipe|swiftshader|softpipe|lavapipe/i.test(`${r.description} ${r.device} ${r.architecture}`);
  if (!(soft || r.backend === 'opengles' || r.backend === 'opengl')) return 'storage-tiled';
  return strategySupported('image-16x16', r.wgslFeatures) ? 'image-16x16' : 'texture-16x16';
}

export interface AutotuneOptions {
  /** Candidates to measure (default: all). */
  candidates?: readonly MatmulStrategy[];
  /** A previously saved cache (e.g. read from a JSON file); consulted before measuring. */
  cache?: AutotuneCache;
  /** Called with the updated cache after a measurement, e.g. to write the JSON file. */
  save?: (cache: AutotuneCache) => void;
  /** Re-measure even when a choice is cached. */
  force?: boolean;
  /** Tuning bucket (default 512 x 512 x 256, transB). */
  m?: number;
  n?: number;
  k?: number;
  /** Timed runs per candidate (default 5; the fastest counts). */
  runs?: number;
}

/** Picks the backend's matmul strategy for its adapter (see the file comment). Returns the entry used. */
export async function autotuneMatmul(backend: WebGPUBackend, opts: AutotuneOptions = {}): Promise<AutotuneEntry> {
  const key = adapterKey(backend.adapter);
  if (!opts.force) {
    const hit = memory[key] ?? opts.cache?.[key];
    if (hit && isMatmulStrategy(hit.strategy)) {
      memory[key] = hit;
      if (!backend.matmulStrategyForced) backend.setMatmulStrategy(hit.strategy);
      return hit;
    }
  }
  const m = opts.m ?? 512;
  const n = opts.n ?? 512;
  const k = opts.k ?? 256;
  const runs = opts.runs ?? 5;
  const candidates = (opts.candidates ?? MATMUL_STRATEGIES).filter((c) => strategySupported(c, backend.adapter.wgslFeatures));
  const a = backend.alloc(m * k, 'f32');
  const b = backend.alloc(n * k, 'f32');
  const c = backend.alloc(m * n, 'f32');
  const fill = (len: number) => new Float32Array(len).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  backend.write(a, fill(m * k));
  backend.write(b, fill(n * k));
  const spec = { kind: 'matmul' as const, transA: false, transB: true, batch: 1, m, n, k, aBatchStride: 0, bBatchStride: 0 };
  const ms: Record<string, number> = {};
  const once = async (s: MatmulStrategy) => {
    const t0 = performance.now();
    backend.runMatmulWith(s, spec, [a, b], [c]);
    await backend.sync();
    return performance.now() - t0;
  };
  try {
    for (const s of candidates) await once(s); // compile + first touch
    // Rounds over the candidates still in the race, in alternating order, so that the machine's drift
    // (a shared VM's speed moves by up to 2x within minutes) hits them alike: timed one after the
    // other, candidates 10-20% apart could swap places from run to run. A candidate 3x slower than
    // the best time so far is cut. The minimum, not the median: other processes only ever add time.
    const times = new Map<MatmulStrategy, number[]>(candidates.map((s) => [s, []]));
    const alive = new Set(candidates);
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const order = [...alive];
      if (i % 2) order.reverse();
      for (const s of order) {
        const t = await once(s);
        times.get(s)!.push(t);
        best = Math.min(best, t);
      }
      for (const s of alive) if (Math.min(...times.get(s)!) > 3 * best) alive.delete(s);
    }
    for (const s of candidates) ms[s] = alive.has(s) ? Math.min(...times.get(s)!) : Infinity;
  } finally {
    backend.free(a);
    backend.free(b);
    backend.free(c);
  }
  const choice = candidates.reduce((x, y) => (ms[y]! < ms[x]! ? y : x));
  const entry: AutotuneEntry = { strategy: choice, ms, bucket: `${m}x${n}x${k}:nt`, date: new Date().toISOString() };
  memory[key] = entry;
  if (!backend.matmulStrategyForced) backend.setMatmulStrategy(entry.strategy);
  if (opts.save) opts.save({ ...(opts.cache ?? {}), [key]: entry });
  return entry;
}
