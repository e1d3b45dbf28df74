// WebGPU backend infrastructure: adapter acquisition and its errors, grid folding, pipeline cache,
// buffer pool (reuse, the pending-encoder hazard, liveCount), batching, aliasing, error reporting.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelSpec, Storage } from '../../engine/backend/spec.js';
import { ReferenceBackend } from '../../engine/backend/reference/reference.js';
import { SeededRandom } from '../../engine/random.js';
import { acquireNodeDevice, createNodeBackend } from '../../engine/backend/webgpu/node.js';
import { NoAdapterError, acquireDevice, describeAdapter } from '../../engine/backend/webgpu/device.js';
import { WgslCompileError } from '../../engine/backend/webgpu/pipelines.js';
import { BufferPool, bucketSize } from '../../engine/backend/webgpu/pool.js';
import { foldGrid } from '../../engine/backend/webgpu/queue.js';
import type { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await createNodeBackend();
  console.log(`[webgpu] adapter: ${describeAdapter(gpu.adapter)}`);
});
afterAll(() => gpu.destroy());

function upload(data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32', be: WebGPUBackend = gpu): Storage {
  const s = be.alloc(data.length, dtype);
  be.write(s, data);
  return s;
}

describe('adapter acquisition', () => {
  it('reports the adapter', () => {
    const r = gpu.adapter;
    expect(typeof r.backend).toBe('string');
    expect(r.description.length + r.device.length).toBeGreaterThan(0);
    expect(r.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(r.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(6);
    expect(['core', 'compatibility']).toContain(r.featureLevel);
  });

  it('a forced bogus backend gives one clear error naming what to install', async () => {
    const err = await acquireNodeDevice({ backend: 'bogus' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoAdapterError);
    const msg = (err as Error).message;
    expect(msg).toContain('bogus');
    expect(msg).toContain('apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri');
    expect(msg).toContain('scripts/setup-gpu.sh');
  });

  it('no GPU object, a null adapter and a hanging requestAdapter all give NoAdapterError', async () => {
    await expect(acquireDevice(undefined)).rejects.toBeInstanceOf(NoAdapterError);
    const nullGpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireDevice(nullGpu)).rejects.toThrow(/apt-get install/);
    const hangingGpu = { requestAdapter: () => new Promise<never>(() => {}) } as unknown as GPU;
    await expect(acquireDevice(hangingGpu, { timeoutMs: 50 })).rejects.toThrow(/did not answer within 50 ms/);
  });
});

describe('grid folding', () => {
  it('foldGrid covers the count within the per-dimension limit', () => {
    for (const [total, max] of [[1, 65535], [65535, 65535], [65536, 65535], [1e6, 65535], [1000, 11], [12345, 24]] as const) {
      const [x, y, z] = foldGrid(total, max);
      expect(x * y * z).toBeGreaterThanOrEqual(total);
      expect(Math.max(x, y, z)).toBeLessThanOrEqual(max);
      expect(x * y * z - total).toBeLessThan(x * y);
    }
  });

  it('a unary over more than 65535 * 256 elements (real 2-D fold)', async () => {
    const n = 65535 * 256 + 4099;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (i % 1000) - 500;
    const xs = upload(x);
    const ys = gpu.alloc(n, 'f32');
    gpu.run({ kind: 'unary', op: 'neg', size: n }, [xs], [ys]);
    const y = await gpu.read(ys);
    let bad = -1;
    for (let i = 0; i < n; i++) if (y[i] !== -x[i]!) { bad = i; break; }
    expect(bad).toBe(-1);
    gpu.free(xs);
    gpu.free(ys);
  });

  it('kernels stay correct with a tiny per-dimension limit (2-D and 3-D folds)', async () => {
    const small = await createNodeBackend({ maxWorkgroupsPerDim: 7 });
    const ref = new ReferenceBackend();
    const rng = new SeededRandom(7);
    const specs: [KernelSpec, number[][], number][] = [];
    const rows = 60, len = 37;
    const xv = Array.from({ length: rows * len }, () => rng.normal());
    specs.push([{ kind: 'unary', op: 'gelu', size: rows * len }, [xv], rows * len]);
    specs.push([{ kind: 'softmax', log: false, rows, len }, [xv], rows * len]);
    specs.push([{ kind: 'reduce', op: 'sum', outer: rows, len, inner: 1, scale: 1 }, [xv], rows]);
    specs.push([{ kind: 'matmul', transA: false, transB: true, batch: 2, m: 40, n: 70, k: 5, aBatchStride: 200, bBatchStride: 0 },
      [Array.from({ length: 400 }, () => rng.normal()), Array.from({ length: 350 }, () => rng.normal())], 2 * 40 * 70]);
    for (const [spec, ins, outSize] of specs) {
      const outs = [];
      for (const be of [small, ref]) {
        const xs = ins.map((d) => { const s = be.alloc(d.length, 'f32'); be.write(s, Float32Array.from(d)); return s; });
        const y = be.alloc(outSize, 'f32');
        be.run(spec, xs, [y]);
        outs.push(await be.read(y));
      }
      const [g, r] = outs;
      for (let i = 0; i < outSize; i++) expect(Math.abs(g![i]! - r![i]!)).toBeLessThan(1e-4);
    }
    small.destroy();
  });
});

describe('pipelines', () => {
  it('pipeline count stays constant when sizes change', async () => {
    const rng = new SeededRandom(3);
    const runAll = async (s: number) => {
      const n = s * 7 + 3;
      const x = upload(Array.from({ length: n * n }, () => rng.normal()));
      const y = gpu.alloc(n * n, 'f32');
      const r = gpu.alloc(n, 'f32');
      gpu.run({ kind: 'unary', op: 'exp', size: n * n }, [x], [y]);
      gpu.run({ kind: 'binary', op: 'add', outShape: [n, n], aStrides: [n, 1], bStrides: [0, 1] }, [x, y], [y]);
      gpu.run({ kind: 'matmul', transA: false, transB: false, batch: 1, m: n, n, k: n, aBatchStride: 0, bBatchStride: 0 }, [x, x], [y]);
      gpu.run({ kind: 'softmax', log: true, rows: n, len: n }, [x], [y]);
      gpu.run({ kind: 'reduce', op: 'sum', outer: n, len: n, inner: 1, scale: 1 }, [x], [r]);
      gpu.run({ kind: 'copy', dtype: 'f32', shape: [n, n], inStrides: [1, n], inOffset: 0, outStrides: [n, 1], outOffset: 0 }, [x], [y]);
      await gpu.read(y);
      for (const t of [x, y, r]) gpu.free(t);
    };
    await runAll(5);
    const count = gpu.pipelineCount();
    for (const s of [6, 7, 9, 11]) await runAll(s);
    expect(gpu.pipelineCount()).toBe(count);
  });

  it('a WGSL compile error reports the messages and numbered source lines', async () => {
    const wgsl = 'fn helper() -> f32 {\n  return 1.0;\n}\n@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = helper() + undefinedThing;\n}\n';
    const src = { key: 'broken-test-kernel', wgsl, bindings: [] as const, uniform: null };
    gpu.pipelineCache.get(src);
    const err = await gpu.pipelineCache.validate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WgslCompileError);
    const msg = (err as Error).message;
    expect(msg).toContain('broken-test-kernel');
    expect(msg).toMatch(/line 6:\d+/);
    expect(msg).toContain('undefinedThing');
    expect(msg).toContain('> 6 |   let x: f32 = helper() + undefinedThing;');
    expect(msg).toContain('  5 | fn main() {');
    // Known-bad pipelines throw at once on reuse.
    expect(() => gpu.pipelineCache.get(src)).toThrow(WgslCompileError);
  });

  it('device errors are thrown at the next read, and the backend keeps working', async () => {
    gpu.device.createBuffer({ size: 16, usage: 0 }); // invalid usage: a validation error
    const x = upload([1, 2, 3]);
    await expect(gpu.read(x)).rejects.toThrow(/WebGPU.*error/i);
    expect(Array.from(await gpu.read(x))).toEqual([1, 2, 3]);
    gpu.free(x);
  });
});

describe('buffer pool and storage lifetime', () => {
  it('bucket sizes are powers of two or 1.5x powers of two', () => {
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(257)).toBe(384);
    expect(bucketSize(385)).toBe(512);
    expect(bucketSize(4096)).toBe(4096);
    expect(bucketSize(4097)).toBe(6144);
  });

  it('reuses buffers and liveCount returns to baseline', async () => {
    const base = gpu.liveCount();
    for (let round = 0; round < 3; round++) {
      const xs = [10, 100, 1000, 5000].map((n) => upload(new Float32Array(n).fill(round)));
      const ys = xs.map((x) => gpu.alloc(x.size, 'f32'));
      xs.forEach((x, i) => gpu.run({ kind: 'affine', size: x.size, scale: 2, shift: 1 }, [x], [ys[i]!]));
      expect(Array.from((await gpu.read(ys[3]!)).slice(0, 3))).toEqual([2 * round + 1, 2 * round + 1, 2 * round + 1]);
      expect(gpu.liveCount()).toBe(base + 8);
      for (const s of [...xs, ...ys]) gpu.free(s);
      if (round === 0) gpu.flush();
    }
    expect(gpu.liveCount()).toBe(base);
    const before = gpu.stats().pool.allocations;
    for (let i = 0; i < 5; i++) {
      const a = gpu.alloc(1000, 'f32');
      const b = gpu.alloc(5000, 'i32');
      gpu.free(a);
      gpu.free(b);
    }
    expect(gpu.stats().pool.allocations).toBe(before);
    expect(gpu.liveCount()).toBe(base);
    expect(gpu.stats().pool.live).toBe(gpu.liveCount());
  });

  it('pool: a buffer released while the pending encoder uses it joins the pool only at submit', () => {
    const pool = new BufferPool(gpu.device, 0x80 | 0x8, 1 << 20, 'test');
    const a = pool.acquire(1000);
    pool.release(a, true);
    const b = pool.acquire(1000);
    expect(b).not.toBe(a);
    expect(pool.stats().pendingRelease).toBe(1);
    pool.onSubmit();
    expect(pool.acquire(1000)).toBe(a);
    pool.release(b, false);
    expect(pool.acquire(900)).toBe(b); // same bucket, released outside an encoder: reusable at once
    expect(pool.stats()).toMatchObject({ live: 2, allocations: 2, reuses: 2 });
    pool.destroy();
  });

  it('a buffer freed while the pending encoder reads it is not reused before submit', async () => {
    const n = 64;
    const x = upload(new Float32Array(n).fill(3));
    const y = gpu.alloc(n, 'f32');
    gpu.run({ kind: 'affine', size: n, scale: 1, shift: 1 }, [x], [y]); // recorded, not submitted
    gpu.free(x);
    const z = upload(new Float32Array(n).fill(100)); // same bucket: must not get x's buffer yet
    expect(Array.from(await gpu.read(y))).toEqual(new Array(n).fill(4));
    expect(Array.from(await gpu.read(z))).toEqual(new Array(n).fill(100));
    gpu.free(y);
    gpu.free(z);
  });

  it('write() after a recorded read of the same storage does not change what the kernel saw', async () => {
    const x = upload([1, 2, 3, 4]);
    const y = gpu.alloc(4, 'f32');
    gpu.run({ kind: 'unary', op: 'neg', size: 4 }, [x], [y]);
    gpu.write(x, [10, 20, 30, 40]);
    expect(Array.from(await gpu.read(y))).toEqual([-1, -2, -3, -4]);
    expect(Array.from(await gpu.read(x))).toEqual([10, 20, 30, 40]);
    gpu.free(x);
    gpu.free(y);
  });

  it('read returns Float32Array for f32 and Int32Array for i32; misuse throws', async () => {
    const f = upload([1.5, -2]);
    const i = upload([7, -8], 'i32');
    const rf = await gpu.read(f);
    const ri = await gpu.read(i);
    expect(rf).toBeInstanceOf(Float32Array);
    expect(ri).toBeInstanceOf(Int32Array);
    expect(Array.from(ri)).toEqual([7, -8]);
    expect(() => gpu.write(f, [1, 2, 3])).toThrow(/3 values/);
    gpu.free(f);
    gpu.free(i);
    expect(() => gpu.free(f)).toThrow(/after free/);
    await expect(gpu.read(i)).rejects.toThrow(/after free/);
    const e = gpu.alloc(0, 'f32');
    expect((await gpu.read(e)).length).toBe(0);
    gpu.free(e);
  });
});

describe('recording', () => {
  it('long chains span many submits and stay ordered', async () => {
    const x = upload([0, 1, 2]);
    const y = gpu.alloc(3, 'f32');
    const submits = gpu.stats().submits;
    for (let i = 0; i < 150; i++) {
      gpu.run({ kind: 'affine', size: 3, scale: 1, shift: 1 }, [i % 2 === 0 ? x : y], [i % 2 === 0 ? y : x]);
    }
    expect(gpu.stats().submits - submits).toBeGreaterThanOrEqual(2);
    expect(Array.from(await gpu.read(x))).toEqual([150, 151, 152]);
    gpu.free(x);
    gpu.free(y);
  });

  it('an output aliasing an input (in place) works', async () => {
    const x = upload([1, -2, 3]);
    gpu.run({ kind: 'unary', op: 'abs', size: 3 }, [x], [x]);
    gpu.run({ kind: 'binary', op: 'mul', outShape: [3], aStrides: [1], bStrides: [1] }, [x, x], [x]);
    expect(Array.from(await gpu.read(x))).toEqual([1, 4, 9]);
    const c = upload([1, 2, 3, 4, 5, 6]);
    // shift a part of a buffer within itself: c[3..6) = c[0..3)
    gpu.run({ kind: 'copy', dtype: 'f32', shape: [3], inStrides: [1], inOffset: 0, outStrides: [1], outOffset: 3 }, [c], [c]);
    expect(Array.from(await gpu.read(c))).toEqual([1, 2, 3, 1, 2, 3]);
    gpu.free(x);
    gpu.free(c);
  });

  it('rejects wrong arity and foreign storages', () => {
    const x = upload([1]);
    expect(() => gpu.run({ kind: 'unary', op: 'neg', size: 1 }, [x], [])).toThrow(/expected 1 inputs and 1 outputs/);
    const foreign = new ReferenceBackend().alloc(1, 'f32');
    expect(() => gpu.run({ kind: 'unary', op: 'neg', size: 1 }, [foreign], [x])).toThrow(/does not belong/);
    gpu.free(x);
  });
});
