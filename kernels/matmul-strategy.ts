// Strategy dispatch for matmul: the plan of a spec under a named strategy (see kernels/matmul.ts
// for the list). Texture strategies fall back to storage-reg8 when an operand does not fit the
// adapter's maximum texture size.

import { tmp, type BufRef, type KernelPlan, type KernelSource } from './common.js';
import { matmulKernel, readsTextures, type MatmulSpec, type MatmulStrategy } from './matmul.js';
import { packSource, texMatmulPlan, texSources, type TexTile } from './matmul-tex.js';
import { tiledMatmulPlan } from './matmul-tiled.js';
import { reduceKernel } from './reduce.js';

// wgx = 4: llvmpipe runs a workgroup's SIMD groups (8 lanes) one after another, each reading all
// of the workgroup's B columns; 16 x 4 = 64 columns x K = 1024 (256 KB) stay in the 512 KB L2 where
// the earlier wgx = 8 (128 columns) did not. In-process A/B on llvmpipe, every strategy faster or
// even: image-16x16 1024^3 94-108 -> 67-80 ms, FF2 4096x256x1024 98-118 -> 67-98 ms; image-8x16
// 1024^3 144 -> 114 ms; texture-16x16 1024^3 99 -> 88 ms, texture-8x16 129 -> 104 ms.
// kTexels = 2 (8 k steps per iteration, so each spilled accumulator is loaded and stored half as
// often), in-process: image-16x16 1024^3 56-60 -> 52-55 ms, 4096x256x1024 55-99 -> 51-92 ms, K = 256
// even; image-8x16 1024^3 63 -> 60 ms, 4096x256x1024 65 -> 61 ms, K = 256 17.2 -> 17.8 ms; a
// BERT-small step even (its K is 256/512 or K-split chunks); first step +0.3 s of compiling. 3 or 4
// texels measured slower.
export const TEX_TILES: Record<Extract<MatmulStrategy, `texture-${string}` | `image-${string}`>, TexTile> = {
  'texture-8x16': { r: 8, c: 16, wgx: 4, wgy: 8 },
  'texture-16x16': { r: 16, c: 16, wgx: 4, wgy: 4 },
  'image-8x16': { r: 8, c: 16, wgx: 4, wgy: 8, image: true, kTexels: 2 },
  'image-16x16': { r: 16, c: 16, wgx: 4, wgy: 4, image: true, kTexels: 2 },
};

export function planMatmul(spec: MatmulSpec, strategy: MatmulStrategy, maxTexDim: number): KernelPlan {
  switch (strategy) {
    case 'storage-reg8': return matmulKernel(spec);
    case 'storage-tiled': return tiledMatmulPlan(spec);
    default: {
      const wide = TEX_TILES[strategy];
      const skinny = skinnyTile(wide);
      const [tile, other] = spec.m <= SKINNY_M ? [skinny, wide] : [wide, skinny];
      const plan = texPlan(spec, tile, maxTexDim);
      if (!plan) return matmulKernel(spec);
      // The other tile's kernels are compiled too, so the pipelines do not depend on M.
      return { ...plan, alternates: [...(plan.alternates ?? []), ...texSources(spec, other)] };
    }
  }
}

/**
 * Texture strategies switch to a skinny tile for M <= SKINNY_M rows (a pooler or classifier over a
 * batch, a short sentence at inference, a small output layer's weight gradient): the wide tiles give
 * every invocation 16 rows and a workgroup 64, so at M = 1 they compute 64 rows to keep one. The
 * skinny tile has 8 rows per invocation and its workgroup of 8 invocations (one llvmpipe SIMD group)
 * side by side along N. Measured in-process on llvmpipe (image tiles, bias epilogue, min of 8 alternating
 * runs, wide -> skinny): 1x3072x768 14.1 -> 2.8 ms, 8x3072x768 12.4 -> 2.4, 20x3072x768 12.8 -> 6.2,
 * 32x768x768 3.7 -> 2.2, 48x768x768 3.9 -> 3.5; at 64x768x768 the wide tile wins (4.0 vs 4.4).
 */
export const SKINNY_M = 32;
const skinnyTile = (t: TexTile): TexTile => ({ ...t, r: 8, c: 16, wgx: 8, wgy: 1 });

/** The texture plan of `spec` with `tile` (split along K where that pays), or null when an operand does not fit. */
function texPlan(spec: MatmulSpec, tile: TexTile, maxTexDim: number): KernelPlan | null {
  const split = kSplit(spec, tile);
  if (split > 1) {
    const plan = kSplitPlan(spec, tile, split, maxTexDim);
    if (plan) return plan;
  }
  return texMatmulPlan(spec, tile, maxTexDim);
}

/**
 * Workgroups below which a long-K matmul is split along K: one per llvmpipe thread (this machine's
 * 2). More split only costs now: in-process A/B (image-16x16, min of 5-7 alternating runs), with 1
 * workgroup 64x64x4096 takes 1.8 ms unsplit, 1.4 split in 2; with 2 or more, unsplit wins: 128x64x4096
 * 1.8 vs 2.0, 64x256x4096 3.3 vs 3.5-4.1, 256x256x4096 13.0 vs 13.8-15.9 (split 2-8).
 */
const SPLIT_BELOW_WORKGROUPS = 2;
const MAX_SPLIT = 8;
/**
 * Longest K chunk: a workgroup's SIMD groups run one after another on llvmpipe, each re-reading the
 * workgroup's B columns (64 x K floats), which fall out of the caches at long K. Measured (same A/B,
 * split into chunks of 8192 / 4096 / 2048 / 1024): 256x256x16384 67 / 60 / 60 / 64 ms (75 unsplit),
 * 768x768x8192 260 / 267 / 268 ms (278 unsplit), 256x256x8192 28.1 / 28.9 / 30.3 (28.1 unsplit).
 * (Chunks of 1024 paid before the 2-texel K loop and the 4x4 workgroups; now they cost 10-20%.)
 */
const MAX_CHUNK = 4096;
/** Cap on the partial products (split * m * n floats, 64 MB): well inside any storage binding limit. */
const MAX_PARTIAL_ELEMENTS = 1 << 24;

/**
 * How many K chunks to compute in parallel (1: none). Only for A^T B without epilogue and batch 1:
 * the weight gradient dW = dY^T X of a linear layer, whose output tiles (64 x 64 per workgroup) each
 * loop over every token (k = 4096 for 32 x 128). Both operands are K-major there, so a K chunk
 * is a contiguous block of rows of each and the chunks are just a batch with strides; the partial
 * products are then summed by the `reduce` kernel. Chunks are also kept to MAX_CHUNK.
 */
function kSplit(spec: MatmulSpec, tile: TexTile): number {
  if (!spec.transA || spec.transB || spec.batch !== 1 || spec.epilogue || spec.k < 1024) return 1;
  const tiles = Math.ceil(spec.m / (tile.r * tile.wgy)) * Math.ceil(spec.n / (tile.c * tile.wgx));
  let split = 1;
  const fits = (s: number) => s * spec.m * spec.n <= MAX_PARTIAL_ELEMENTS;
  while (split < MAX_SPLIT && (tiles * split < SPLIT_BELOW_WORKGROUPS || spec.k / split > MAX_CHUNK) && spec.k % (8 * split) === 0 && fits(2 * split)) split *= 2;
  return split;
}

function kSplitPlan(spec: MatmulSpec, tile: TexTile, split: number, maxTexDim: number): KernelPlan | null {
  const { m, n } = spec;
  const chunk = spec.k / split;
  // [split, m, n] partial products: A chunk s = rows s*chunk.. of A [k, m]; likewise B [k, n].
  const parts = texMatmulPlan({ ...spec, batch: split, k: chunk, aBatchStride: chunk * m, bBatchStride: chunk * n }, tile, maxTexDim);
  if (!parts) return null;
  const partial = tmp(parts.temps.length);
  const toPartial = (r: BufRef): BufRef => (r.io === 'out' ? partial : r);
  const sum = reduceKernel({ kind: 'reduce', op: 'sum', outer: 1, len: split, inner: m * n, scale: 1 });
  return {
    temps: [...parts.temps, split * m * n],
    steps: [
      ...parts.steps.map((s) => ({ ...s, bind: s.bind.map(toPartial) })),
      ...sum.steps.map((s) => ({ ...s, bind: s.bind.map((r) => (r.io === 'in' ? partial : r)) })),
    ],
    textures: parts.textures,
  };
}

/**
 * Pipelines a strategy may need besides its matmul kernel (texture: the pack kernel, used only for
 * operands whose contiguous dimension is not a multiple of 4, and the K-split sum). The backend
 * creates them with the first matmul so the pipeline count does not depend on the sizes that
 * arrive later.
 */
export function matmulAuxSources(strategy: MatmulStrategy): KernelSource[] {
  if (!readsTextures(strategy)) return [];
  const sum = reduceKernel({ kind: 'reduce', op: 'sum', outer: 1, len: 2, inner: 2, scale: 1 }).steps[0]!.source;
  return [packSource, sum];
}
