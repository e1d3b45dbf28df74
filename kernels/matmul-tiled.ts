// The storage-tiled matmul strategy: the textbook shared-memory kernel, for GPUs where workgroup
// memory is much faster than global memory (it loses ~2x to storage-reg8 on llvmpipe, where both
// cost the same per load). A 16x16 workgroup computes a 64x64 output tile in steps of 16 along k:
// it stages op(A)[64 x 16] and op(B)[16 x 64] in workgroup memory (each invocation loads 4 + 4
// elements, coalesced along the operand's contiguous dimension, zero outside the matrix), then each
// invocation accumulates a 4x4 block (rows ty + 16i, columns tx + 16j) from workgroup memory.
// Barriers are wg_sync() (common.ts): a bare workgroupBarrier is unreliable on llvmpipe.

import type { MatmulEpilogue } from '../engine/backend/spec.js';
import { entry, storage, wgReduce, type KernelPlan } from './common.js';
import { epilogueBindings, epilogueWgsl, storageMatmulLayout, storageMatmulPlan, type MatmulSpec } from './matmul.js';

const TM = 64;
const BK = 16;
const WG = 256;
const layout = storageMatmulLayout;
const range = (n: number) => [...Array(n).keys()];

function tiledWgsl(transA: boolean, transB: boolean, ep: MatmulEpilogue | undefined): string {
  const eb = epilogueBindings(ep, 2);
  // Element l of this invocation's share: e = lid + 256 l.
  const loadA = range(4).map((l) => {
    const [rr, kk] = transA ? [`e${l} % 64u`, `e${l} / 64u`] : [`e${l} / 16u`, `e${l} % 16u`];
    return `    {
      let e${l} = lid + ${WG * l}u;
      let rr = ${rr};
      let kk = ${kk};
      let row = row0 + rr;
      let kx = k0 + kk;
      var v = 0.0;
      if (row < M && kx < K) { v = A[aoff + ${transA ? 'kx * M + row' : 'row * K + kx'}]; }
      As[kk * 64u + rr] = v;
    }`;
  }).join('\n');
  const loadB = range(4).map((l) => {
    const [cc, kk] = transB ? [`e${l} / 16u`, `e${l} % 16u`] : [`e${l} % 64u`, `e${l} / 64u`];
    return `    {
      let e${l} = lid + ${WG * l}u;
      let cc = ${cc};
      let kk = ${kk};
      let col = col0 + cc;
      let kx = k0 + kk;
      var v = 0.0;
      if (col < N && kx < K) { v = B[boff + ${transB ? 'col * K + kx' : 'kx * N + col'}]; }
      Bs[kk * 64u + cc] = v;
    }`;
  }).join('\n');
  return storage(0, 'A', 'f32', 'read') + storage(1, 'B', 'f32', 'read') + eb.wgsl + layout.wgsl(eb.next) + epilogueWgsl(ep) + wgReduce(WG) +
    `var<workgroup> As: array<f32, ${TM * BK}>;\nvar<workgroup> Bs: array<f32, ${TM * BK}>;\n` +
    entry(WG, `  let M = u.m;
  let N = u.n;
  let K = u.k;
  let live = wgid < u.tiles * u.batch;
  let b = min(wgid / u.tiles, u.batch - 1u);
  let t = wgid % u.tiles;
  let row0 = (t / u.tiles_n) * 64u;
  let col0 = (t % u.tiles_n) * 64u;
  let aoff = b * u.a_bs;
  let boff = b * u.b_bs;
  let tx = lid % 16u;
  let ty = lid / 16u;
${range(4).map((i) => range(4).map((j) => `  var c${i}_${j} = 0.0;`).join('\n')).join('\n')}
  for (var k0 = 0u; k0 < K; k0 = k0 + ${BK}u) {
${loadA}
${loadB}
    wg_sync();
    for (var kk = 0u; kk < ${BK}u; kk = kk + 1u) {
${range(4).map((i) => `      let a${i} = As[kk * 64u + ty + ${16 * i}u];`).join('\n')}
${range(4).map((j) => `      let b${j} = Bs[kk * 64u + tx + ${16 * j}u];`).join('\n')}
${range(4).map((i) => '      ' + range(4).map((j) => `c${i}_${j} = c${i}_${j} + a${i} * b${j};`).join(' ')).join('\n')}
    }
    wg_sync();
  }
  if (!live) { return; }
  let cb = b * M * N;
${range(4).map((i) => `  if (row0 + ty + ${16 * i}u < M) {
    let o = cb + (row0 + ty + ${16 * i}u) * N;
${range(4).map((j) => `    if (col0 + tx + ${16 * j}u < N) { store_c(o + col0 + tx + ${16 * j}u, col0 + tx + ${16 * j}u, c${i}_${j}); }`).join('\n')}
  }`).join('\n')}`);
}

export function tiledMatmulPlan(spec: MatmulSpec): KernelPlan {
  return storageMatmulPlan(spec, 'matmul-tiled', tiledWgsl, TM);
}
