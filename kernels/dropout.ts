// Inverted dropout with the counter-based RNG of engine/random.ts (WGSL_RANDOM included verbatim):
//   y[i] = uniform01(seed, i) >= p ? x[i] / (1 - p) : 0.   O(n), one invocation per element.
// uniform01 returns k / 2^24, so `u >= p` equals `u >= ceil(p * 2^24) / 2^24`; that threshold is exact
// in f32, which keeps the mask bit-identical to the float64 reference whatever rounding p suffers.

import type { KernelSpec } from '../engine/backend/spec.js';
import { WGSL_RANDOM } from '../engine/random.js';
import { EW_WG, UniformLayout, ceilDiv, entry, inp, out, source, storage, type KernelPlan } from './common.js';
import { imageElementwisePlan } from './elementwise-image.js';
import type { ImageOption } from './elementwise.js';

const layout = new UniformLayout([['size', 'u32'], ['seed', 'u32'], ['threshold', 'f32'], ['scale', 'f32']]);

type DropoutSpec = Extract<KernelSpec, { kind: 'dropout' }>;
export function dropoutKernel(spec: DropoutSpec, image?: ImageOption): KernelPlan {
  const p = spec.p;
  const threshold = Math.min(1, Math.max(0, Math.ceil(p * 16777216) / 16777216));
  const scale = p < 1 ? 1 / (1 - p) : 0;
  const seed = spec.seed >>> 0;
  if (image) {
    return imageElementwisePlan({
      key: 'dropout', inputs: ['x'], expr: 'select(0.0, x * u.scale, uniform01(u.seed, e) >= u.threshold)', prelude: WGSL_RANDOM,
      uniforms: { seed, threshold, scale },
    }, spec.size, image.maxTexDim, () => dropoutKernel(spec));
  }
  const src = source('dropout', () => ({
    wgsl: WGSL_RANDOM + storage(0, 'x', 'f32', 'read') + storage(1, 'y', 'f32', 'write') + layout.wgsl(2) +
      entry(EW_WG, `  if (gid >= u.size) { return; }
  let keep = uniform01(u.seed, gid) >= u.threshold;
  y[gid] = select(0.0, x[gid] * u.scale, keep);`),
    bindings: ['read', 'write'], uniform: layout,
  }));
  return {
    temps: [],
    steps: [{ source: src, bind: [inp(0), out(0)], uniforms: { size: spec.size, seed, threshold, scale }, workgroups: ceilDiv(spec.size, EW_WG) }],
  };
}
