// Shared by the kernel-vs-reference tests: typed inputs/outputs, running a spec on the GPU and the
// reference backends, float32 tolerances (|gpu - ref| <= atol + rtol * |ref|, ref rounded to f32,
// subnormals compared as zero) and random data.

import { expect } from 'vitest';
import type { Backend, DType, HostArray, KernelSpec, Storage } from '../../engine/backend/spec.js';
import type { SeededRandom } from '../../engine/random.js';

export interface In { dtype: DType; data: ArrayLike<number> }
export interface Out { dtype: DType; size: number; init?: ArrayLike<number> }

export const f32 = (data: ArrayLike<number>): In => ({ dtype: 'f32', data: Float32Array.from(data) });
export const i32 = (data: ArrayLike<number>): In => ({ dtype: 'i32', data: Int32Array.from(data) });
export const fout = (size: number, init?: ArrayLike<number>): Out => ({ dtype: 'f32', size, init });
export const iout = (size: number, init?: ArrayLike<number>): Out => ({ dtype: 'i32', size, init });

/**
 * `both(spec, ins, outs)`: runs `spec` on the GPU backend and on `ref` with identical (f32-rounded)
 * inputs; returns [gpu, ref] outputs.
 */
export function makeBoth(gpu: () => Backend, ref: Backend) {
  return async function both(spec: KernelSpec, ins: In[], outs: Out[]): Promise<{ g: HostArray[]; r: HostArray[] }> {
    const res: HostArray[][] = [];
    for (const be of [gpu(), ref] as const) {
      const xs: Storage[] = ins.map((i) => { const s = be.alloc(i.data.length, i.dtype); be.write(s, i.data); return s; });
      const ys: Storage[] = outs.map((o) => { const s = be.alloc(o.size, o.dtype); if (o.init) be.write(s, o.init); return s; });
      be.run(spec, xs, ys);
      res.push(await Promise.all(ys.map((y) => be.read(y))));
      for (const s of [...xs, ...ys]) be.free(s);
    }
    return { g: res[0]!, r: res[1]! };
  };
}

export interface Tol { rtol?: number; atol?: number }
export function expectClose(got: HostArray, want: HostArray, tol: Tol, what: unknown): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    // GPUs may flush float32 subnormals to zero: compare them as zero.
    const ftz = (v: number) => (Math.abs(v) < 1.1754943508222875e-38 ? 0 : v);
    const w = ftz(Math.fround(want[i]!));
    const g = ftz(got[i]!);
    let ok: boolean;
    if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!Number.isFinite(w)) ok = g === w;
    else ok = Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok && bad.length < 5) bad.push(`[${i}] gpu ${g} ref ${want[i]}`);
  }
  if (bad.length) throw new Error(`mismatch for ${JSON.stringify(what)}:\n${bad.join('\n')}`);
}
export function expectEqualInts(got: HostArray, want: HostArray, what: unknown): void {
  expect(got).toBeInstanceOf(Int32Array);
  if (Array.from(got).join() !== Array.from(want).join()) {
    throw new Error(`mismatch for ${JSON.stringify(what)}:\n gpu ${Array.from(got).slice(0, 40).join()}\n ref ${Array.from(want).slice(0, 40).join()}`);
  }
}

/** Random values: mostly normal * scale, with a sprinkle of edge values. */
export function values(rng: SeededRandom, n: number, scale = 1, edges: readonly number[] = []): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    out[i] = edges.length && u < 0.1 ? edges[Math.floor(rng.next() * edges.length)]! : rng.normal() * scale;
  }
  return out;
}
export const ints = (rng: SeededRandom, n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(rng.next() * (hi - lo + 1)));

export const contiguous = (shape: readonly number[]) => {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) { st[d] = s; s *= shape[d]!; }
  return st;
};
export const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

