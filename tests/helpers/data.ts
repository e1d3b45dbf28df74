// Deterministic random inputs for tests: the same (spec, seed) gives the same data on every backend.

import { SeededRandom } from '../../engine/random.js';
import { tensor, type Backend, type Tensor } from '../../engine/index.js';
import type { InputSpec } from './cases.js';

export function makeData(spec: InputSpec, rng: SeededRandom): number[] {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (spec.maxInt !== undefined) {
      out.push(Math.floor(rng.next() * spec.maxInt));
      continue;
    }
    const [lo, hi] = spec.range ?? [-2, 2];
    let v = lo + (hi - lo) * rng.next();
    const away = spec.awayFromZero ?? 0;
    if (Math.abs(v) < away) v = v < 0 ? -away : away;
    out.push(v);
  }
  return out;
}

/** Builds the inputs of a case on `backend`; float inputs that are not constant require grad. */
export function makeInputs(specs: InputSpec[], data: number[][], backend: Backend, grad = true): Tensor[] {
  return specs.map((s, i) => {
    const isIds = s.ints === 'ids';
    const t = tensor(isIds ? Int32Array.from(data[i]) : data[i], s.shape, { backend, dtype: isIds ? 'i32' : 'f32' });
    t.requiresGrad = grad && !s.constant;
    return t;
  });
}
