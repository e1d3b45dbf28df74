// Host-side initialisers drawn from the engine's global seed stream (setSeed makes them reproducible).

import { tensor, type Backend, type Tensor } from '../engine/index.js';
import { globalRandom } from '../engine/seed.js';

/** Normal(0, std) of `shape`; row `zeroRow` of a 2-D shape set to 0 (an Embedding's padding row). */
export function normalInit(shape: number[], std: number, backend: Backend, zeroRow = -1): Tensor {
  const rng = globalRandom();
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = std * rng.normal();
  if (zeroRow >= 0) data.fill(0, zeroRow * shape[1], (zeroRow + 1) * shape[1]);
  return tensor(data, shape, { backend });
}

/** Uniform(-bound, bound) of `shape`. */
export function uniformInit(shape: number[], bound: number, backend: Backend): Tensor {
  const rng = globalRandom();
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (2 * rng.next() - 1) * bound;
  return tensor(data, shape, { backend });
}
