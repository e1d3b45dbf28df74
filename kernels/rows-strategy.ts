// Per-adapter strategy of the row kernels (softmax, softmaxBackward, layernorm, layernormBackward,
// layernormResidual, crossEntropy, crossEntropyBackward, reduce):
//   'workgroup'    : one workgroup per row, strided loops + workgroup tree reductions (kernels/softmax.ts,
//                    layernorm.ts, layernorm-residual.ts, reduce.ts). Good on real GPUs.
//   'serial-tex'   : barrier-free, one invocation per row, inputs through sampled rgba32float textures,
//                    vec4 math (kernels/rows-tex.ts, rows-tex-ln.ts). Good on software rasterisers (Mesa
//                    llvmpipe), where barriers and storage loads are slow; it falls back to 'workgroup'
//                    for an input too large for a texture.
//   'serial-image' : the same kernels reading read-only rgba32float storage textures (WGSL language
//                    feature readonly_and_readwrite_storage_textures): ~3x cheaper fetches on llvmpipe.
// Order of precedence (WebGPUBackend): option rowStrategy, env WEBGPU_ROWS, then the adapter
// heuristic below (software / OpenGL adapters: serial-image when the feature is there, else
// serial-tex). Like matmul's, the choice depends on the adapter only, never on shapes.

import type { KernelSpec } from '../engine/backend/spec.js';
import type { KernelPlan } from './common.js';
import { IMAGE_FEATURE } from './matmul.js';
import {
  crossEntropyBackwardTexPlan, crossEntropyTexPlan, maskedSoftmaxTexPlan, reduceTexPlan, softmaxBackwardTexPlan, softmaxTexPlan, type TexOptions,
} from './rows-tex.js';
import { layernormBackwardTexPlan, layernormResidualTexPlan, layernormTexPlan } from './rows-tex-ln.js';

export const ROW_STRATEGIES = ['workgroup', 'serial-tex', 'serial-image'] as const;
export type RowStrategy = (typeof ROW_STRATEGIES)[number];

export function isRowStrategy(s: unknown): s is RowStrategy {
  return typeof s === 'string' && (ROW_STRATEGIES as readonly string[]).includes(s);
}

/** Whether a row strategy can run given the GPU's WGSL language features. */
export function rowStrategySupported(s: RowStrategy, wgslFeatures: readonly string[]): boolean {
  return s !== 'serial-image' || wgslFeatures.includes(IMAGE_FEATURE);
}

/** The strategy forced by env WEBGPU_ROWS, if any (an unknown name throws). */
export function envRowStrategy(): RowStrategy | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.['WEBGPU_ROWS']?.trim();
  if (!v) return undefined;
  if (!isRowStrategy(v)) throw new Error(`WEBGPU_ROWS=${v}: unknown row-kernel strategy (one of ${ROW_STRATEGIES.join(', ')})`);
  return v;
}

/** Adapter fields the heuristic looks at (AdapterReport has them). */
export interface RowAdapterInfo { backend: string; description: string; device: string; architecture: string; wgslFeatures: readonly string[] }

/**
 * Texture kernels where storage loads and barriers are slow (software / GL: serial-image when
 * read-only storage textures are supported, else serial-tex), workgroup elsewhere.
 */
export function heuristicRowStrategy(r: RowAdapterInfo): RowStrategy {
  const soft = /llvmpipe|swiftshader|softpipe|lavapipe/i.test(`${r.description} ${r.device} ${r.architecture}`);
  if (!(soft || r.backend === 'opengles' || r.backend === 'opengl')) return 'workgroup';
  return rowStrategySupported('serial-image', r.wgslFeatures) ? 'serial-image' : 'serial-tex';
}

/** Kinds the row strategies cover. */
export type RowSpec = Extract<KernelSpec, {
  kind: 'softmax' | 'maskedSoftmax' | 'softmaxBackward' | 'layernorm' | 'layernormBackward' | 'layernormResidual' | 'crossEntropy' | 'crossEntropyBackward' | 'reduce';
}>;

/**
 * The plan of a row kernel under a non-default strategy, or null to use the default ('workgroup')
 * kernel (strategy 'workgroup', another kind, or an input too large for a texture).
 */
export function planRowKernel(spec: KernelSpec, strategy: RowStrategy, maxTexDim: number): KernelPlan | null {
  if (strategy === 'workgroup') return null;
  const o: TexOptions = { maxTexDim, tex: strategy === 'serial-image' ? 'image' : 'texture' };
  switch (spec.kind) {
    case 'softmax': return softmaxTexPlan(spec, o);
    case 'maskedSoftmax': return maskedSoftmaxTexPlan(spec, o);
    case 'softmaxBackward': return softmaxBackwardTexPlan(spec, o);
    case 'layernorm': return layernormTexPlan(spec, o);
    case 'layernormBackward': return layernormBackwardTexPlan(spec, o);
    case 'layernormResidual': return layernormResidualTexPlan(spec, o);
    case 'crossEntropy': return crossEntropyTexPlan(spec, o);
    case 'crossEntropyBackward': return crossEntropyBackwardTexPlan(spec, o);
    case 'reduce': return reduceTexPlan(spec, o);
    default: return null;
  }
}
