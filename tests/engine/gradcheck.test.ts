// Every op's VJP against central finite differences in float64 on the reference backend.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { F, ReferenceBackend, noGrad, tensor, tidyAsync, type Tensor } from '../../engine/index.js';
import { SeededRandom } from '../../engine/random.js';
import { opCases, type OpCase } from '../helpers/cases.js';
import { makeData, makeInputs } from '../helpers/data.js';

const ref = new ReferenceBackend();

async function lossValue(c: OpCase, xs: Tensor[], d: number[], weights: number[]): Promise<number> {
  const out = noGrad(() => c.run(xs, d));
  const v = await out.data();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * weights[i];
  return s;
}

/** Max relative disagreement between analytic and numeric gradients over all inputs. */
async function gradcheck(c: OpCase, d: number[], seed: number): Promise<{ worst: number; checked: number }> {
  return tidyAsync(async () => {
    const rng = new SeededRandom(seed);
    const specs = c.inputs(d);
    const data = specs.map((s) => makeData(s, rng));
    const xs = makeInputs(specs, data, ref);
    const out = c.run(xs, d);
    const weights = Array.from({ length: out.size }, () => rng.next() * 2 - 1);
    // loss = sum(out * W): its gradient wrt out is W.
    F.sum(F.mul(out, tensor(weights, [...out.shape], { backend: ref }))).backward();
    let worst = 0;
    let checked = 0;
    const h = 1e-6;
    for (let k = 0; k < specs.length; k++) {
      if (specs[k].constant) continue;
      const analytic = await xs[k].grad!.data();
      for (let i = 0; i < data[k].length; i++) {
        const plus = data.map((a) => [...a]);
        const minus = data.map((a) => [...a]);
        plus[k][i] += h;
        minus[k][i] -= h;
        const lp = await lossValue(c, makeInputs(specs, plus, ref, false), d, weights);
        const lm = await lossValue(c, makeInputs(specs, minus, ref, false), d, weights);
        const numeric = (lp - lm) / (2 * h);
        const err = Math.abs(analytic[i] - numeric) / (1e-6 + Math.abs(numeric));
        worst = Math.max(worst, Math.min(err, Math.abs(analytic[i] - numeric) / 1e-6));
        checked++;
      }
    }
    return { worst, checked };
  });
}

describe('gradients: VJP == central finite differences (float64, reference backend)', () => {
  for (const c of opCases) {
    it(c.name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }), fc.integer(), async (d, seed) => {
          const baseline = ref.liveCount();
          const { worst } = await gradcheck(c, d, seed);
          // Everything the check created (inputs, grads, intermediates) was freed by its scope.
          expect(ref.liveCount()).toBe(baseline);
          // Combined measure: relative error, or absolute error in units of 1e-6 for tiny gradients.
          expect(worst).toBeLessThan(1e-4);
        }),
        { numRuns: 4 },
      );
    });
  }
});
