// Batched matmul: the strategies the WebGPU backend chooses from (per adapter, by the autotuner in
// engine/backend/webgpu/autotune.ts), and the fused epilogue they all share.
//
// Strategies (MATMUL_STRATEGIES):
//   storage-reg8   storage buffers, register tiled, no shared memory (below). The default of
//                  planKernel and the fallback of every other strategy.
//   storage-tiled  storage buffers staged through workgroup memory in 64x64x16 tiles, 4x4 outputs
//                  per invocation: the textbook kernel that wins on discrete GPUs (matmul-tiled.ts).
//   texture-RxC    operands copied into rgba32float textures and read with textureLoad, R x C
//                  outputs per invocation (matmul-tex.ts): wins ~10x on Mesa llvmpipe, where a
//                  texel fetch costs ~1 ns against ~13 ns for a storage or workgroup load.
//   image-RxC      the same kernel reading read-only storage textures (WGSL language feature
//                  readonly_and_readwrite_storage_textures): ~3x cheaper fetches on llvmpipe.
//
// storage-reg8: a workgroup of 8x8 invocations computes a 64x64 output tile; each invocation an
// 8x8 block whose rows and columns are interleaved with stride 8. Per k step an invocation loads 8
// values of op(A) and 8 of op(B) and does 64 multiply-adds. Out-of-range rows/cols are clamped on
// load (valid memory, results discarded), so the inner loop has no branches.
//
// Every strategy accumulates each output in f32 in increasing k order, then applies the epilogue
// (spec.ts MatmulEpilogue) in the store: bias, activation, residual, optional pre-activation.

import type { KernelSpec, MatmulEpilogue } from '../engine/backend/spec.js';
import { UniformLayout, WGSL_SPECIALS, ceilDiv, entry, inp, out, source, storage, type Access, type BufRef, type KernelPlan } from './common.js';
import { WGSL_MATH } from './math.js';

export type MatmulSpec = Extract<KernelSpec, { kind: 'matmul' }>;

/** Names of the strategies; texture ones carry their per-invocation tile. */
export const MATMUL_STRATEGIES = [
  'storage-reg8', 'storage-tiled', 'texture-8x16', 'texture-16x16', 'image-8x16', 'image-16x16',
] as const;
export type MatmulStrategy = (typeof MATMUL_STRATEGIES)[number];

/** WGSL language feature the image-* strategies need. */
export const IMAGE_FEATURE = 'readonly_and_readwrite_storage_textures';

/** Whether a strategy can run given the GPU's WGSL language features. */
export function strategySupported(s: MatmulStrategy, wgslFeatures: readonly string[]): boolean {
  return !s.startsWith('image-') || wgslFeatures.includes(IMAGE_FEATURE);
}

/** Strategies that read their operands through textures (texture-* and image-*). */
export const readsTextures = (s: MatmulStrategy): boolean => s.startsWith('texture-') || s.startsWith('image-');

export function isMatmulStrategy(s: string): s is MatmulStrategy {
  return (MATMUL_STRATEGIES as readonly string[]).includes(s);
}

// ---- epilogue -------------------------------------------------------------------------------

/** Compile-time key of an epilogue ('' when none). */
export function epilogueKey(ep: MatmulEpilogue | undefined): string {
  if (!ep) return '';
  return `:${ep.bias ? 'b' : ''}${ep.activation ?? ''}${ep.residual ? 'r' : ''}${ep.savePre ? 'p' : ''}`;
}

/**
 * Bindings after the two operands: bias and residual (read), the output C, pre (write).
 * Returns the WGSL declarations from binding `first`, the access list, the buffer refs and the
 * next free binding (the uniform's).
 */
export function epilogueBindings(ep: MatmulEpilogue | undefined, first: number): { wgsl: string; access: Access[]; refs: BufRef[]; next: number } {
  let b = first;
  let wgsl = '';
  const access: Access[] = [];
  const refs: BufRef[] = [];
  let nextIn = 2;
  if (ep?.bias) { wgsl += storage(b++, 'BIAS', 'f32', 'read'); access.push('read'); refs.push(inp(nextIn++)); }
  if (ep?.residual) { wgsl += storage(b++, 'RES', 'f32', 'read'); access.push('read'); refs.push(inp(nextIn++)); }
  wgsl += storage(b++, 'C', 'f32', 'write'); access.push('write'); refs.push(out(0));
  if (ep?.savePre) { wgsl += storage(b++, 'PRE', 'f32', 'write'); access.push('write'); refs.push(out(1)); }
  return { wgsl, access, refs, next: b };
}

/**
 * `fn store_c(o: u32, col: u32, v: f32)`: epilogue then C[o] = value. With `biasAdded` the caller
 * has already added BIAS[col] (loaded once per column rather than once per element).
 */
export function epilogueWgsl(ep: MatmulEpilogue | undefined, biasAdded = false): string {
  const lines: string[] = ['  var x = v;'];
  if (ep?.bias && !biasAdded) lines.push('  x = x + BIAS[col];');
  if (ep?.savePre) lines.push('  PRE[o] = x;');
  if (ep?.activation === 'gelu') lines.push('  x = gelu_f(x);');
  if (ep?.activation === 'geluTanh') lines.push('  x = gelu_tanh_f(x);');
  if (ep?.residual) lines.push('  x = x + RES[o];');
  lines.push('  C[o] = x;');
  return (ep?.activation ? WGSL_SPECIALS + WGSL_MATH : '') + `fn store_c(o: u32, col: u32, v: f32) {\n${lines.join('\n')}\n}\n`;
}

// ---- storage-reg8 ---------------------------------------------------------------------------

const R = 8; // rows (and columns) per invocation
const T = 8; // invocations per tile side
const TILE = R * T;
/** Uniforms shared by the storage matmul kernels (sizes, batch strides, tile counts). */
export const storageMatmulLayout = new UniformLayout([
  ['batch', 'u32'], ['m', 'u32'], ['n', 'u32'], ['k', 'u32'], ['a_bs', 'u32'], ['b_bs', 'u32'], ['tiles_n', 'u32'], ['tiles', 'u32'],
]);
const layout = storageMatmulLayout;

const range = (n: number) => [...Array(n).keys()];

function matmulWgsl(transA: boolean, transB: boolean, ep: MatmulEpilogue | undefined): string {
  // Offsets of op(A)(row, kk) = A[ao + ar_i + kk * a_step], op(B)(kk, col) = B[bo + bc_j + kk * b_step].
  const aRow = (i: number) => `  let ar${i} = aoff + min(row0 + ${T * i}u, M - 1u)${transA ? '' : ' * K'};`;
  const bCol = (j: number) => `  let bc${j} = boff + min(col0 + ${T * j}u, N - 1u)${transB ? ' * K' : ''};`;
  const aStep = transA ? 'M' : '1u';
  const bStep = transB ? '1u' : 'N';
  const accs = range(R).map((i) => range(R).map((j) => `c${i}_${j}`));
  const eb = epilogueBindings(ep, 2);
  return storage(0, 'A', 'f32', 'read') + storage(1, 'B', 'f32', 'read') + eb.wgsl + layout.wgsl(eb.next) + epilogueWgsl(ep) +
    entry(T * T, `  if (wgid >= u.tiles * u.batch) { return; }
  let M = u.m;
  let N = u.n;
  let K = u.k;
  let b = wgid / u.tiles;
  let t = wgid % u.tiles;
  let row0 = (t / u.tiles_n) * ${TILE}u + (lid >> 3u);
  let col0 = (t % u.tiles_n) * ${TILE}u + (lid & 7u);
  let aoff = b * u.a_bs;
  let boff = b * u.b_bs;
${range(R).map(aRow).join('\n')}
${range(R).map(bCol).join('\n')}
${accs.flat().map((c) => `  var ${c} = 0.0;`).join('\n')}
  var pa = 0u;
  var pb = 0u;
  for (var kk = 0u; kk < K; kk = kk + 1u) {
${range(R).map((i) => `    let a${i} = A[ar${i} + pa];`).join('\n')}
${range(R).map((j) => `    let b${j} = B[bc${j} + pb];`).join('\n')}
${range(R).map((i) => '    ' + range(R).map((j) => `${accs[i]![j]} = ${accs[i]![j]} + a${i} * b${j};`).join(' ')).join('\n')}
    pa = pa + ${aStep};
    pb = pb + ${bStep};
  }
  let cb = b * M * N;
${range(R).map((i) => `  if (row0 + ${T * i}u < M) {
    let o = cb + (row0 + ${T * i}u) * N;
${range(R).map((j) => `    if (col0 + ${T * j}u < N) { store_c(o + col0 + ${T * j}u, col0 + ${T * j}u, ${accs[i]![j]}); }`).join('\n')}
  }`).join('\n')}`);
}

/**
 * One-dispatch plan for a storage-buffer matmul whose workgroups each own a `tile` x `tile` output
 * block; `name` keys the pipeline and `wgsl` generates the shader for the transposes and epilogue.
 */
export function storageMatmulPlan(
  spec: MatmulSpec, name: string, wgsl: (transA: boolean, transB: boolean, epilogue: MatmulEpilogue | undefined) => string, tile: number,
): KernelPlan {
  const { transA, transB, batch, m, n, k, epilogue } = spec;
  const eb = epilogueBindings(epilogue, 2);
  const src = source(`${name}:${transA ? 't' : 'n'}${transB ? 't' : 'n'}${epilogueKey(epilogue)}`, () => ({
    wgsl: wgsl(transA, transB, epilogue),
    bindings: ['read', 'read', ...eb.access], uniform: layout,
  }));
  const tilesN = ceilDiv(n, tile);
  const tiles = tilesN * ceilDiv(m, tile);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), ...eb.refs],
      uniforms: { batch, m, n, k, a_bs: spec.aBatchStride, b_bs: spec.bBatchStride, tiles_n: tilesN, tiles },
      workgroups: tiles * batch,
    }],
  };
}

/** The storage-reg8 plan (planKernel's default; the fallback of the other strategies). */
export function matmulKernel(spec: MatmulSpec): KernelPlan {
  return storageMatmulPlan(spec, 'matmul', matmulWgsl, TILE);
}
