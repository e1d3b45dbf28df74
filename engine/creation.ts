// Tensor creation helpers beyond tensor(): constants and seeded random initialisers.

import { globalRandom } from './seed.js';
import { SeededRandom } from './random.js';
import { sizeOf, type Shape } from './shape.js';
import { empty, getDefaultBackend, tensor, type CreateOptions, type Tensor } from './tensor.js';

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const backend = opts.backend ?? getDefaultBackend();
  const dtype = opts.dtype ?? 'f32';
  const t = empty(shape, dtype, backend);
  backend.run({ kind: 'fill', dtype, size: sizeOf(shape), value }, [], [t.storage]);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}
export const zeros = (shape: Shape, opts: CreateOptions = {}) => full(shape, 0, opts);
export const ones = (shape: Shape, opts: CreateOptions = {}) => full(shape, 1, opts);

/** Normal(mean, std) samples from `seed` (or the global stream). */
export function randn(shape: Shape, opts: CreateOptions & { std?: number; mean?: number; seed?: number } = {}): Tensor {
  const rng = opts.seed === undefined ? globalRandom() : new SeededRandom(opts.seed);
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = (opts.mean ?? 0) + (opts.std ?? 1) * rng.normal();
  return tensor(data, shape, { ...opts, dtype: 'f32' });
}

/** Uniform[low, high) samples from `seed` (or the global stream). */
export function randUniform(shape: Shape, opts: CreateOptions & { low?: number; high?: number; seed?: number } = {}): Tensor {
  const rng = opts.seed === undefined ? globalRandom() : new SeededRandom(opts.seed);
  const lo = opts.low ?? 0;
  const hi = opts.high ?? 1;
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.next();
  return tensor(data, shape, { ...opts, dtype: 'f32' });
}
