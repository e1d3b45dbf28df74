// Maps every KernelSpec kind to its kernel function. Each returns a KernelPlan (see common.ts).

import { isListKind, listArity, matmulArity, type KernelSpec, type ListKind } from '../engine/backend/spec.js';
import type { KernelPlan } from './common.js';
import { copyKernel, packKernel } from './copy.js';
import { planRowKernel, type RowStrategy } from './rows-strategy.js';
import { attentionBackwardKernel, attentionKernel, type AttentionVariant } from './attention.js';
import { dropoutKernel } from './dropout.js';
import { layernormResidualKernel } from './layernorm-residual.js';
import { adamStepKernel, lambApplyKernel, lambStatsKernel, lambStepKernel } from './optimizer.js';
import { affineKernel, binaryKernel, castKernel, fillKernel, unaryKernel, whereKernel } from './elementwise.js';
import { gatherKernel, scatterAddKernel } from './gather.js';
import { layernormBackwardKernel, layernormKernel } from './layernorm.js';
import { matmulKernel } from './matmul.js';
import { argmaxKernel, reduceKernel } from './reduce.js';
import { gatherLastKernel, scatterLastKernel, topkKernel } from './topk.js';
import { crossEntropyBackwardKernel, crossEntropyKernel, maskedSoftmaxKernel, softmaxBackwardKernel, softmaxKernel } from './softmax.js';

export * from './common.js';

/** Inputs and outputs of the kinds with a fixed count (matmul and the list kinds: `arity`). */
const FIXED_ARITY: Record<Exclude<KernelSpec['kind'], 'matmul' | ListKind>, readonly [number, number]> = {
  fill: [0, 1], unary: [1, 1], affine: [1, 1], binary: [2, 1], where: [3, 1], cast: [1, 1], copy: [1, 1],
  reduce: [1, 1], argmax: [1, 1], softmax: [1, 1], maskedSoftmax: [2, 1], softmaxBackward: [2, 1],
  layernorm: [3, 3], layernormBackward: [5, 3], crossEntropy: [2, 1], crossEntropyBackward: [3, 1],
  gather: [2, 1], scatterAdd: [2, 1], topk: [1, 1], gatherLast: [2, 1], scatterLast: [2, 1], dropout: [1, 1],
  attention: [4, 2], attentionBackward: [7, 3], layernormResidual: [4, 4], lambStats: [4, 3], lambApply: [4, 1],
};

/** Number of input / output storages `spec` takes (checked by the backend). */
export function arity(spec: KernelSpec): readonly [number, number] | undefined {
  if (spec.kind === 'matmul') return matmulArity(spec);
  if (isListKind(spec.kind)) return listArity(spec as Extract<KernelSpec, { kind: ListKind }>);
  return FIXED_ARITY[spec.kind];
}

/** Per-backend choices among a kind's kernel variants. */
export interface PlanOptions {
  attention?: AttentionVariant;
  maxTextureDimension2D?: number;
  rows?: RowStrategy;
  /** Memory-bound kernels that support it read their inputs as read-only storage textures (optimizer.ts). */
  imageInputs?: boolean;
}

export function planKernel(spec: KernelSpec, opts: PlanOptions = {}): KernelPlan {
  const image = opts.imageInputs ? { maxTexDim: opts.maxTextureDimension2D ?? 8192 } : undefined;
  const rowPlan = opts.rows ? planRowKernel(spec, opts.rows, opts.maxTextureDimension2D ?? 8192) : null;
  if (rowPlan) return rowPlan;
  switch (spec.kind) {
    case 'fill': return fillKernel(spec);
    case 'unary': return unaryKernel(spec, image);
    case 'affine': return affineKernel(spec, image);
    case 'binary': return binaryKernel(spec, image);
    case 'where': return whereKernel(spec, image);
    case 'cast': return castKernel(spec);
    case 'copy': return copyKernel(spec, image);
    case 'pack': case 'unpack': return packKernel(spec);
    case 'reduce': return reduceKernel(spec);
    case 'argmax': return argmaxKernel(spec, image);
    case 'matmul': return matmulKernel(spec);
    case 'softmax': return softmaxKernel(spec);
    case 'maskedSoftmax': return maskedSoftmaxKernel(spec);
    case 'softmaxBackward': return softmaxBackwardKernel(spec);
    case 'layernorm': return layernormKernel(spec);
    case 'layernormBackward': return layernormBackwardKernel(spec);
    case 'crossEntropy': return crossEntropyKernel(spec);
    case 'crossEntropyBackward': return crossEntropyBackwardKernel(spec);
    case 'gather': return gatherKernel(spec);
    case 'scatterAdd': return scatterAddKernel(spec, image);
    case 'topk': return topkKernel(spec, image);
    case 'gatherLast': return gatherLastKernel(spec);
    case 'scatterLast': return scatterLastKernel(spec);
    case 'dropout': return dropoutKernel(spec, image);
    case 'attention': return attentionKernel(spec, opts.attention, opts.maxTextureDimension2D, opts.imageInputs);
    case 'attentionBackward': return attentionBackwardKernel(spec, opts.attention, opts.maxTextureDimension2D, opts.imageInputs);
    case 'layernormResidual': return layernormResidualKernel(spec);
    case 'adamStep': return adamStepKernel(spec, image);
    case 'lambStep': return lambStepKernel(spec, image);
    case 'lambStats': return lambStatsKernel(spec, image);
    case 'lambApply': return lambApplyKernel(spec, image);
    default: {
      const never: never = spec;
      throw new Error(`webgpu: unknown kernel kind ${(never as { kind: string }).kind}`);
    }
  }
}
