// The golden-fixture comparison suite, run once per backend (fixtures-*.test.ts):
//  * the Python-written checkpoint loads with zero missing / unexpected keys and the parameter
//    count of the reference;
//  * every output (hidden states, attentions, pooled output, logits, losses, PKM weights)
//    within |ours - ref| <= 1e-4 |ref| + 1e-5 max|ref| (per tensor);
//  * every gradient within 1e-3 of that tensor's largest magnitude;
//  * mathematically zero gradients below 1e-6 x the largest gradient of the model;
//  * PKM slot indices identical; the [PAD] row of untied word embeddings gets no gradient;
//  * nothing stays allocated afterwards.
// References: expected_f64 (same f32 weights evaluated in float64) where it has the tensor,
// else the float32 expected file (gradients of the non-first heads of a family).

import { describe, expect, it } from 'vitest';
import { tidyAsync, type Backend } from '../../engine/index.js';
import { manifest, runFixture, worst, type FixtureEntry, type TensorResult } from './fixture-helpers.js';

/** Worst ratios per fixture, printed once per backend for the report. */
const summary: string[] = [];

export function fixtureSuite(label: string, getBackend: () => Promise<Backend>): void {
  describe(`golden fixtures on ${label}`, () => {
    for (const entry of manifest.models) {
      it(`${entry.name} (${entry.architecture})`, async () => {
        const backend = await getBackend();
        const baseline = backend.liveCount();
        await tidyAsync(async () => {
          const run = await runFixture(entry, backend);
          try {
            check(entry, run.results, run);
          } finally {
            run.model.dispose();
          }
        });
        backend.flush();
        expect(backend.liveCount()).toBe(baseline);
      });
    }
    it('summary', () => {
      console.log(`[models] fixture worst ratios on ${label} (bound 1 each):\n${summary.join('\n')}`);
    });
  });

  function check(entry: FixtureEntry, results: TensorResult[], run: Awaited<ReturnType<typeof runFixture>>): void {
    expect(run.report.missingKeys).toEqual([]);
    expect(run.report.unexpectedKeys).toEqual([]);
    expect(run.numParameters).toBe(entry.num_parameters);
    expect(results.length).toBe(entry.expected_tensors.length);
    const bad = results.filter((r) => !(r.ratio <= 1));
    expect(bad.map((r) => `${r.name}: ratio ${r.ratio.toExponential(3)} (max err ${r.maxAbsErr.toExponential(3)}, max ref ${r.maxRef.toExponential(3)})`)).toEqual([]);
    const tied = Object.keys(entry.tied_not_in_checkpoint).some((k) => k.endsWith('decoder.weight'));
    if (!tied) {
      // nn.Embedding(padding_idx): the [PAD] row (id 0) receives exactly zero gradient.
      expect(run.padGradRow).not.toBeNull();
      expect(Array.from(run.padGradRow!).every((v) => v === 0)).toBe(true);
    }
    const w = worst(results, 'output');
    const g = worst(results, 'grad');
    const z = worst(results, 'zero-grad');
    summary.push(
      `  ${entry.name.padEnd(32)} outputs ${w.ratio.toExponential(2)} (${w.name})  grads ${g.ratio.toExponential(2)} (${g.name})  zero-grads ${z.ratio.toExponential(2)}`,
    );
  }
}
