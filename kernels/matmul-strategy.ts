// Strategy dispatch for matmul: the plan of a spec under a named strategy (see kernels/matmul.ts
// for the list). Texture strategies fall back to storage-reg8 when an operand does not fit the
// adapter's maximum texture size.

import type { KernelPlan, KernelSource } from './common.js';
import { matmulKernel, type MatmulSpec, type MatmulStrategy } from './matmul.js';
import { packSource, texMatmulPlan, type TexTile } from './matmul-tex.js';
import { tiledMatmulPlan } from './matmul-tiled.js';

export const TEX_TILES: Record<Extract<MatmulStrategy, `texture-${string}`>, TexTile> = {
  // wgx = 8 so the 8 SIMD lanes llvmpipe runs together share their A rows (same texel addresses).
  'texture-8x16': { r: 8, c: 16, wgx: 8, wgy: 8 },
  'texture-16x16': { r: 16, c: 16, wgx: 8, wgy: 4 },
};

export function planMatmul(spec: MatmulSpec, strategy: MatmulStrategy, maxTexDim: number): KernelPlan {
  switch (strategy) {
    case 'storage-reg8': return matmulKernel(spec);
    case 'storage-tiled': return tiledMatmulPlan(spec);
    default: return texMatmulPlan(spec, TEX_TILES[strategy], maxTexDim) ?? matmulKernel(spec);
  }
}

/**
 * Pipelines a strategy may need besides its matmul kernel (texture: the pack kernel, used only for
 * operands whose contiguous dimension is not a multiple of 4). The backend creates them with the
 * first matmul so the pipeline count does not depend on the sizes that arrive later.
 */
export function matmulAuxSources(strategy: MatmulStrategy): KernelSource[] {
  return strategy.startsWith('texture-') ? [packSource] : [];
}
