// Matmul reading its operands through rgba32float textures (the texture-RxC strategies).
//
// Why: on Mesa llvmpipe (Dawn's GL backend on machines without a GPU) a storage-buffer or
// workgroup-memory load costs ~13 ns per invocation, a textureLoad of a whole texel ~1.2 ns, while
// vec4 FMA chains run at ~70 GFLOP/s. So the kernel is built around texel fetches: each invocation
// owns R rows x C columns of the output (R*C f32 accumulators) and, per 4 steps of k, fetches R + C
// texels and does 4*R*C multiply-adds.
//
// Packing (no transposed copy is ever materialised): every operand is viewed as a matrix of
// texels along its contiguous dimension, so a transposed operand only changes the read pattern:
//   A  [M, K]  (!transA) k-packed: texel (m, k4) = A[m, 4k4 .. 4k4+3]     "A_K"
//   A  [K, M]  (transA)  m-packed: texel (k, m4) = A[k, 4m4 .. 4m4+3]     "A_M"
//   B  [K, N]  (!transB) n-packed: texel (k, n4) = B[k, 4n4 .. 4n4+3]     "B_N"
//   B  [N, K]  (transB)  k-packed: texel (n, k4) = B[n, 4k4 .. 4k4+3]     "B_K"
// In all four, per k4 an invocation fetches R texels of A and C texels of B. When the contiguous
// dimension is a multiple of 4 (and so the batch stride) the operand buffer is copied as is into
// the texture (copyBufferToTexture); otherwise a pack kernel first writes it with rows padded to a
// multiple of 4 (pad values are never read: the last partial k4 block runs in a scalar tail loop).
// Textures are linear arrays of texels: width W = 2^sh texels (bytesPerRow = 16W, a multiple of
// 256), texel t at (t & (W-1), t >> sh); the plan falls back to storage-reg8 when an operand does
// not fit maxTextureDimension2D^2 texels.
//
// Invocation (tx, ty) of a WGX x WGY workgroup owns row groups rg_i = tile_m4 + ty + WGY*i (rows
// 4rg_i .. 4rg_i+3, i < R/4) and column groups cg_j = tile_n4 + tx + WGX*j (j < C/4). Row/column
// indices past the matrix are clamped on load (results discarded).

import type { MatmulEpilogue } from '../engine/backend/spec.js';
import {
  EW_WG, UniformLayout, ceilDiv, entry, inp, linearTextureShape, source, storage, tex, tmp, type BufRef, type DispatchStep, type KernelPlan,
  type KernelSource, type TextureStep,
} from './common.js';
import { epilogueBindings, epilogueKey, epilogueWgsl, type MatmulSpec } from './matmul.js';

export interface TexTile {
  /** Rows per invocation (multiple of 4). */
  r: number;
  /** Columns per invocation (multiple of 4). */
  c: number;
  wgx: number;
  wgy: number;
  /** Accumulate with fma() instead of a * b + c. */
  fma?: boolean;
  /** Read the operands as read-only storage textures ('image' bindings) instead of sampled ones. */
  image?: boolean;
  /** Texels of k (4 steps each) per main-loop iteration (default 1). */
  kTexels?: number;
}

const texLayout = new UniformLayout([
  ['batch', 'u32'], ['m', 'u32'], ['n', 'u32'], ['k', 'u32'],
  ['a_bs', 'u32'], ['b_bs', 'u32'], ['a_rs', 'u32'], ['b_rs', 'u32'], ['a_sh', 'u32'], ['b_sh', 'u32'],
  ['tiles_n', 'u32'], ['tiles', 'u32'], ['m4', 'u32'], ['n4', 'u32'], ['r_sh', 'u32'],
]);

/**
 * Whether a residual epilogue reads the residual as an image (texture TR, one texel per 4 outputs)
 * instead of one storage load per element (~3.5 ns each on llvmpipe, about as much as a separate add
 * kernel): image tiles, N % 4 == 0, and no activation (the residual is then added before store_c).
 */
const residualImage = (tile: TexTile, ep: MatmulEpilogue | undefined, n: number): boolean =>
  Boolean(tile.image && ep?.residual && !ep.activation && n % 4 === 0);

/**
 * The storage-buffer bindings after the textures: with the residual read as image TR (binding 2)
 * the epilogue's buffers start at binding 3 and have no residual.
 */
const storageEpilogue = (ep: MatmulEpilogue | undefined, resImage: boolean) =>
  epilogueBindings(resImage && ep ? { ...ep, residual: false } : ep, resImage ? 3 : 2);

const range = (n: number) => [...Array(n).keys()];
const COMP = ['x', 'y', 'z', 'w'];

function texWgsl(transA: boolean, transB: boolean, t: TexTile, epIn: MatmulEpilogue | undefined, resImage: boolean): string {
  // With resImage the residual is a texture bound after TB and added here; store_c does the rest.
  const ep = resImage && epIn ? { ...epIn, residual: false } : epIn;
  const { r: R, c: C, wgx: WGX, wgy: WGY } = t;
  const RI = R / 4;
  const CJ = C / 4;
  const eb = storageEpilogue(epIn, resImage);
  const lod = t.image ? '' : ', 0';
  const ldA = (e: string) => `textureLoad(TA, vec2<u32>((${e}) & AM, (${e}) >> AS)${lod})`;
  const ldB = (e: string) => `textureLoad(TB, vec2<u32>((${e}) & BM, (${e}) >> BS)${lod})`;
  // Row r = 4*i + q of the invocation (i < RI, q < 4), column 4*j + q.
  const setup: string[] = [];
  if (!transA) {
    // A_K: one base per row.
    for (const i of range(RI)) for (const q of range(4)) {
      setup.push(`  let ar${4 * i + q} = abase + min(4u * (rg0 + ${WGY * i}u) + ${q}u, M - 1u) * u.a_rs;`);
    }
  } else {
    for (const i of range(RI)) setup.push(`  let ag${i} = abase + min(rg0 + ${WGY * i}u, u.m4 - 1u);`);
  }
  if (transB) {
    for (const j of range(CJ)) for (const q of range(4)) {
      setup.push(`  let bc${4 * j + q} = bbase + min(4u * (cg0 + ${WGX * j}u) + ${q}u, N - 1u) * u.b_rs;`);
    }
  } else {
    for (const j of range(CJ)) setup.push(`  let bg${j} = bbase + min(cg0 + ${WGX * j}u, u.n4 - 1u);`);
  }
  // One iteration of the main loop over S texels of k (4S steps): loads, then the multiply-adds.
  const body = (S: number): string => {
    const loads: string[] = [];
    const KS = range(4 * S);
    if (!transA) for (const r of range(R)) for (const h of range(S)) loads.push(`    let a${r}_${h} = ${ldA(`ar${r} + k4 + ${h}u`)};`);
    else for (const kk of KS) for (const i of range(RI)) loads.push(`    let a${kk}_${i} = ${ldA(`pa + ${kk}u * u.a_rs + ag${i}`)};`);
    if (transB) for (const c of range(C)) for (const h of range(S)) loads.push(`    let b${c}_${h} = ${ldB(`bc${c} + k4 + ${h}u`)};`);
    else for (const kk of KS) for (const j of range(CJ)) loads.push(`    let b${kk}_${j} = ${ldB(`pb + ${kk}u * u.b_rs + bg${j}`)};`);
    const aMain = (r: number, kk: number) => (!transA ? `a${r}_${kk >> 2}.${COMP[kk & 3]}` : `a${kk}_${r >> 2}.${COMP[r & 3]}`);
    const bMain = (kk: number, j: number) => (transB
      ? `vec4<f32>(${range(4).map((q) => `b${4 * j + q}_${kk >> 2}.${COMP[kk & 3]}`).join(', ')})`
      : `b${kk}_${j}`);
    // Accumulator-major order (column group, row, then the k steps): each accumulator takes its
    // multiply-adds back to back. With R*C/4 vec4 accumulators far beyond the 16 AVX registers
    // llvmpipe spills them; this order loads and stores each once per iteration instead of once per k
    // (measured 1.3-1.7x over k-major at 1024^3).
    const fmas: string[] = [];
    for (const j of range(CJ)) for (const r of range(R)) for (const kk of KS) {
      fmas.push(t.fma ? `    c${r}_${j} = fma(vec4<f32>(${aMain(r, kk)}), ${bMain(kk, j)}, c${r}_${j});` : `    c${r}_${j} = c${r}_${j} + ${aMain(r, kk)} * ${bMain(kk, j)};`);
    }
    return `${loads.join('\n')}\n${fmas.join('\n')}\n    pa = pa + ${4 * S}u * u.a_rs;\n    pb = pb + ${4 * S}u * u.b_rs;`;
  };
  const S = t.kTexels ?? 1;
  const loadsTail: string[] = [];
  if (!transA) for (const r of range(R)) loadsTail.push(`    let a${r} = ${ldA(`ar${r} + k4`)}[q];`);
  else for (const i of range(RI)) loadsTail.push(`    let a_${i} = ${ldA(`kt * u.a_rs + ag${i}`)};`);
  if (transB) for (const c of range(C)) loadsTail.push(`    let b${c} = ${ldB(`bc${c} + k4`)}[q];`);
  else for (const j of range(CJ)) loadsTail.push(`    let b_${j} = ${ldB(`kt * u.b_rs + bg${j}`)};`);
  const aTail = (r: number) => (!transA ? `a${r}` : `a_${r >> 2}.${COMP[r & 3]}`);
  const bTail = (j: number) => (transB ? `vec4<f32>(${range(4).map((q) => `b${4 * j + q}`).join(', ')})` : `b_${j}`);
  const fmaTail: string[] = [];
  for (const r of range(R)) for (const j of range(CJ)) fmaTail.push(`    c${r}_${j} = c${r}_${j} + ${aTail(r)} * ${bTail(j)};`);
  // Store phase as a loop over the R rows, a switch picking the row's accumulators: the epilogue
  // (GELU is long) is then inlined C times rather than R*C times. Unrolled, a 16x16 tile with
  // bias+GELU took 13.5 s to compile on llvmpipe (a private array indexed in the loop was worse:
  // ~13 s for any epilogue). The bias of the invocation's columns is loaded once per column (a
  // storage load costs ~13 ns on llvmpipe; per output element it cost as much as the stores).
  const biasLoad = ep?.bias
    ? range(CJ).map((j) => `  let bias${j} = vec4<f32>(${range(4).map((q) => `BIAS[min(col${j} + ${q}u, N - 1u)]`).join(', ')});`).join('\n')
    : '';
  const stores = `  for (var r = 0u; r < ${R}u; r = r + 1u) {
${range(CJ).map((j) => `    var v${j} = vec4<f32>(0.0);`).join('\n')}
    switch r {
${range(R).map((r) => `      case ${r}u: { ${range(CJ).map((j) => `v${j} = c${r}_${j};`).join(' ')} }`).join('\n')}
      default: {}
    }
    let row = 4u * (rg0 + ${WGY}u * (r >> 2u)) + (r & 3u);
    if (row < M) {
      let o = cb + row * N;
${range(CJ).map((j) => `${ep?.bias ? `      v${j} = v${j} + bias${j};\n` : ''}${resImage ? `      let rt${j} = (o + col${j}) >> 2u;\n      v${j} = v${j} + textureLoad(TR, vec2<u32>(rt${j} & ((1u << u.r_sh) - 1u), rt${j} >> u.r_sh));\n` : ''}${range(4).map((qq) => `      if (col${j} + ${qq}u < N) { store_c(o + col${j} + ${qq}u, col${j} + ${qq}u, v${j}.${COMP[qq]}); }`).join('\n')}`).join('\n')}
    }
  }`;
  const texType = t.image ? 'texture_storage_2d<rgba32float, read>' : 'texture_2d<f32>';
  return (t.image ? 'requires readonly_and_readwrite_storage_textures;\n' : '') +
    `@group(0) @binding(0) var TA: ${texType};\n@group(0) @binding(1) var TB: ${texType};\n` +
    (resImage ? `@group(0) @binding(2) var TR: ${texType};\n` : '') + eb.wgsl + texLayout.wgsl(eb.next) + epilogueWgsl(ep, true) +
    entry(WGX * WGY, `  if (wgid >= u.tiles * u.batch) { return; }
  let M = u.m;
  let N = u.n;
  let K = u.k;
  let AS = u.a_sh;
  let BS = u.b_sh;
  let AM = (1u << AS) - 1u;
  let BM = (1u << BS) - 1u;
  let b = wgid / u.tiles;
  let t = wgid % u.tiles;
  let tx = lid % ${WGX}u;
  let ty = lid / ${WGX}u;
  let rg0 = (t / u.tiles_n) * ${WGY * RI}u + ty;
  let cg0 = (t % u.tiles_n) * ${WGX * CJ}u + tx;
  let abase = b * u.a_bs;
  let bbase = b * u.b_bs;
${setup.join('\n')}
${range(R).map((r) => range(CJ).map((j) => `  var c${r}_${j} = vec4<f32>(0.0);`).join('\n')).join('\n')}
  let KF = K >> 2u;
  var pa = 0u;
  var pb = 0u;
  var k4 = 0u;
  for (; k4 + ${S - 1}u < KF; k4 = k4 + ${S}u) {
${body(S)}
  }${S > 1 ? `
  for (; k4 < KF; k4 = k4 + 1u) {
${body(1)}
  }` : ''}
  for (var kt = KF * 4u; kt < K; kt = kt + 1u) {
    let k4 = kt >> 2u;
    let q = kt & 3u;
${loadsTail.join('\n')}
${fmaTail.join('\n')}
  }
  let cb = b * M * N;
${range(CJ).map((j) => `  let col${j} = 4u * (cg0 + ${WGX * j}u);`).join('\n')}
${biasLoad}
${stores}`);
}

// ---- pack kernel: rows padded to a multiple of 4 -------------------------------------------

const packLayout = new UniformLayout([
  ['rows', 'u32'], ['cols', 'u32'], ['cols_p', 'u32'], ['bs', 'u32'], ['total', 'u32'],
]);

/** The pack kernel: P[b, r, c] = X[b*bs + r*cols + c] for c < cols, 0 for cols <= c < cols_p. */
export const packSource: KernelSource = source('matmul-pack', () => ({
  wgsl: storage(0, 'X', 'f32', 'read') + storage(1, 'P', 'f32', 'write') + packLayout.wgsl(2) +
    entry(EW_WG, `  if (gid >= u.total) { return; }
  let per = u.rows * u.cols_p;
  let b = gid / per;
  let rem = gid - b * per;
  let r = rem / u.cols_p;
  let c = rem - r * u.cols_p;
  var v = 0.0;
  if (c < u.cols) { v = X[b * u.bs + r * u.cols + c]; }
  P[gid] = v;`),
  bindings: ['read', 'write'], uniform: packLayout,
}));

export function texSource(transA: boolean, transB: boolean, tile: TexTile, ep: MatmulEpilogue | undefined, resImage = false): KernelSource {
  const key = `matmul-tex${tile.r}x${tile.c}w${tile.wgx}x${tile.wgy}${tile.fma ? 'f' : ''}${tile.image ? 'i' : ''}${tile.kTexels && tile.kTexels > 1 ? `k${4 * tile.kTexels}` : ''}:${transA ? 't' : 'n'}${transB ? 't' : 'n'}${epilogueKey(ep)}${resImage ? ':res-image' : ''}`;
  const kind = tile.image ? 'image' as const : 'texture' as const;
  const eb = storageEpilogue(ep, resImage);
  return source(key, () => ({
    wgsl: texWgsl(transA, transB, tile, ep, resImage), bindings: [kind, kind, ...(resImage ? [kind] : []), ...eb.access], uniform: texLayout,
  }));
}

interface OperandLayout {
  /** Texels of the texture. */
  texels: number;
  /** Batch stride and row stride in texels. */
  bs: number;
  rs: number;
  /** Present when a pack step is needed. */
  pack?: { rows: number; cols: number; bs: number; nb: number };
}

function operandLayout(rows: number, cols: number, batch: number, batchStride: number): OperandLayout {
  const rs = ceilDiv(cols, 4);
  if (cols % 4 === 0 && batchStride % 4 === 0) {
    const bs = batchStride / 4;
    return { texels: (batchStride === 0 ? 0 : (batch - 1) * bs) + rows * rs, bs, rs };
  }
  const nb = batchStride === 0 ? 1 : batch;
  return { texels: nb * rows * rs, bs: batchStride === 0 ? 0 : rows * rs, rs, pack: { rows, cols, bs: batchStride, nb } };
}


/** The texture plan, or null when the operands do not fit (caller falls back to storage). */
export function texMatmulPlan(spec: MatmulSpec, tile: TexTile, maxTexDim: number): KernelPlan | null {
  const { transA, transB, batch, m, n, k, epilogue } = spec;
  if (m === 0 || n === 0 || k === 0 || batch === 0) return null;
  const la = transA ? operandLayout(k, m, batch, spec.aBatchStride) : operandLayout(m, k, batch, spec.aBatchStride);
  const lb = transB ? operandLayout(n, k, batch, spec.bBatchStride) : operandLayout(k, n, batch, spec.bBatchStride);
  const sa = linearTextureShape(la.texels, maxTexDim);
  const sb = linearTextureShape(lb.texels, maxTexDim);
  if (!sa || !sb) return null;
  const temps: number[] = [];
  const steps: DispatchStep[] = [];
  const textures: TextureStep[] = [];
  const prepare = (l: OperandLayout, s: { width: number; height: number }, input: number) => {
    let from: BufRef = inp(input);
    if (l.pack) {
      const p = l.pack;
      const t = temps.push(l.texels * 4) - 1;
      from = tmp(t);
      const total = l.texels * 4;
      steps.push({ source: packSource, bind: [inp(input), from], uniforms: { rows: p.rows, cols: p.cols, cols_p: l.rs * 4, bs: p.bs, total }, workgroups: ceilDiv(total, EW_WG) });
    }
    textures.push({ from, texels: l.texels, width: s.width, height: s.height, beforeStep: -1 });
  };
  prepare(la, sa, 0);
  prepare(lb, sb, 1);
  const resImage = residualImage(tile, epilogue, n);
  let rSh = 0;
  if (resImage) {
    // The residual [batch, m, n] (input 2 + bias) as a linear texture.
    const texels = (batch * m * n) / 4;
    const sr = linearTextureShape(texels, maxTexDim);
    if (!sr) return null;
    textures.push({ from: inp(epilogue!.bias ? 3 : 2), texels, width: sr.width, height: sr.height, beforeStep: -1 });
    rSh = Math.log2(sr.width);
  }
  const mm = steps.length;
  for (let i = 0; i < textures.length; i++) textures[i] = { ...textures[i]!, beforeStep: mm };
  const eb = storageEpilogue(epilogue, resImage);
  const tilesN = ceilDiv(n, tile.c * tile.wgx);
  const tiles = tilesN * ceilDiv(m, tile.r * tile.wgy);
  steps.push({
    source: texSource(transA, transB, tile, epilogue, resImage),
    bind: [tex(0), tex(1), ...(resImage ? [tex(2)] : []), ...eb.refs],
    uniforms: {
      batch, m, n, k, a_bs: la.bs, b_bs: lb.bs, a_rs: la.rs, b_rs: lb.rs,
      a_sh: Math.log2(sa.width), b_sh: Math.log2(sb.width), tiles_n: tilesN, tiles, m4: ceilDiv(m, 4), n4: ceilDiv(n, 4), r_sh: rSh,
    },
    workgroups: tiles * batch,
  });
  // Both residual variants exist for image tiles, so the pipelines do not depend on n.
  const alternates = texSources(spec, tile).filter((s) => s !== steps[mm]!.source);
  return { temps, steps, textures, ...(alternates.length ? { alternates } : {}) };
}

/** Every kernel `tile` may use for spec's transposes and epilogue (both residual variants of image tiles). */
export function texSources(spec: MatmulSpec, tile: TexTile): KernelSource[] {
  const { transA, transB, epilogue } = spec;
  const both = Boolean(tile.image && epilogue?.residual && !epilogue.activation);
  return [texSource(transA, transB, tile, epilogue, false), ...(both ? [texSource(transA, transB, tile, epilogue, true)] : [])];
}
