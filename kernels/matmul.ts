// Batched matmul, register tiled: a workgroup of 8x8 invocations computes a 32x32 output tile,
// each invocation a 4x4 block whose rows/cols are interleaved with stride 8 (so neighbouring
// invocations read neighbouring addresses). Per k step an invocation loads 4 values of op(A) and
// 4 of op(B) and does 16 FMAs; no shared memory (on llvmpipe it costs as much as storage).
// Out-of-range rows/cols are clamped on load (valid memory, results discarded) so the inner loop
// has no branches. O(batch * m * n * k) work; accumulation in f32 in increasing k order.

import type { KernelSpec } from '../engine/backend/spec.js';
import { UniformLayout, ceilDiv, entry, inp, out, source, storage, type KernelPlan } from './common.js';

const TILE = 32;
const layout = new UniformLayout([
  ['batch', 'u32'], ['m', 'u32'], ['n', 'u32'], ['k', 'u32'], ['a_bs', 'u32'], ['b_bs', 'u32'], ['tiles_n', 'u32'], ['tiles', 'u32'],
]);

type MatmulSpec = Extract<KernelSpec, { kind: 'matmul' }>;
export function matmulKernel(spec: MatmulSpec): KernelPlan {
  const { transA, transB, batch, m, n, k } = spec;
  // A(i, kk): [M, K] row-major, or [K, M] when transA. B(kk, j): [K, N], or [N, K] when transB.
  const aIdx = (row: string) => (transA ? `aoff + kk * u.m + ${row}` : `aoff + ${row} * u.k + kk`);
  const bIdx = (col: string) => (transB ? `boff + ${col} * u.k + kk` : `boff + kk * u.n + ${col}`);
  const src = source(`matmul:${transA ? 't' : 'n'}${transB ? 't' : 'n'}`, () => ({
    wgsl: storage(0, 'A', 'f32', 'read') + storage(1, 'B', 'f32', 'read') + storage(2, 'C', 'f32', 'write') + layout.wgsl(3) +
      entry(64, `  if (wgid >= u.tiles * u.batch) { return; }
  let b = wgid / u.tiles;
  let t = wgid % u.tiles;
  let tm = t / u.tiles_n;
  let tn = t % u.tiles_n;
  let tx = lid & 7u;
  let ty = lid >> 3u;
  let row0 = tm * ${TILE}u + ty;
  let col0 = tn * ${TILE}u + tx;
  let r0 = min(row0, u.m - 1u);
  let r1 = min(row0 + 8u, u.m - 1u);
  let r2 = min(row0 + 16u, u.m - 1u);
  let r3 = min(row0 + 24u, u.m - 1u);
  let c0 = min(col0, u.n - 1u);
  let c1 = min(col0 + 8u, u.n - 1u);
  let c2 = min(col0 + 16u, u.n - 1u);
  let c3 = min(col0 + 24u, u.n - 1u);
  let aoff = b * u.a_bs;
  let boff = b * u.b_bs;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var kk = 0u; kk < u.k; kk = kk + 1u) {
    let bv = vec4<f32>(B[${bIdx('c0')}], B[${bIdx('c1')}], B[${bIdx('c2')}], B[${bIdx('c3')}]);
    acc0 = acc0 + vec4<f32>(A[${aIdx('r0')}]) * bv;
    acc1 = acc1 + vec4<f32>(A[${aIdx('r1')}]) * bv;
    acc2 = acc2 + vec4<f32>(A[${aIdx('r2')}]) * bv;
    acc3 = acc3 + vec4<f32>(A[${aIdx('r3')}]) * bv;
  }
  let cb = b * u.m * u.n;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    let r = row0 + 8u * i;
    if (r < u.m) {
      let acc = accs[i];
      for (var j = 0u; j < 4u; j = j + 1u) {
        let c = col0 + 8u * j;
        if (c < u.n) { C[cb + r * u.n + c] = acc[j]; }
      }
    }
  }`),
    bindings: ['read', 'read', 'write'], uniform: layout,
  }));
  const tilesN = ceilDiv(n, TILE);
  const tiles = tilesN * ceilDiv(m, TILE);
  return {
    temps: [],
    steps: [{
      source: src, bind: [inp(0), inp(1), out(0)],
      uniforms: { batch, m, n, k, a_bs: spec.aBatchStride, b_bs: spec.bBatchStride, tiles_n: tilesN, tiles },
      workgroups: tiles * batch,
    }],
  };
}
