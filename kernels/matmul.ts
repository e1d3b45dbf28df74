// Batched matmul, register tiled, no shared memory. A workgroup of 8x8 invocations computes a
// 64x64 output tile; each invocation an 8x8 block whose rows and columns are interleaved with
// stride 8 (neighbouring invocations touch neighbouring addresses). Per k step an invocation loads
// 8 values of op(A) and 8 of op(B) and does 64 multiply-adds: 8 flops per load. That ratio is what
// matters on llvmpipe, where every storage (or workgroup) load costs ~40 cycles per invocation
// whatever the access pattern, while arithmetic is cheap; on GPUs 64 accumulators fit in registers.
// Out-of-range rows/cols are clamped on load (valid memory, results discarded), so the inner loop
// has no branches. O(batch * m * n * k) work; each output accumulates in f32 in increasing k order.

import type { KernelSpec } from '../engine/backend/spec.js';
import { UniformLayout, ceilDiv, entry, inp, out, source, storage, type KernelPlan } from './common.js';

const R = 8; // rows (and columns) per invocation
const T = 8; // invocations per tile side
const TILE = R * T;
const layout = new UniformLayout([
  ['batch', 'u32'], ['m', 'u32'], ['n', 'u32'], ['k', 'u32'], ['a_bs', 'u32'], ['b_bs', 'u32'], ['tiles_n', 'u32'], ['tiles', 'u32'],
]);

const range = (n: number) => [...Array(n).keys()];

function matmulWgsl(transA: boolean, transB: boolean): string {
  // Offsets of op(A)(row, kk) = A[ao + ar_i + kk * a_step], op(B)(kk, col) = B[bo + bc_j + kk * b_step].
  const aRow = (i: number) => `  let ar${i} = aoff + min(row0 + ${T * i}u, M - 1u)${transA ? '' : ' * K'};`;
  const bCol = (j: number) => `  let bc${j} = boff + min(col0 + ${T * j}u, N - 1u)${transB ? ' * K' : ''};`;
  const aStep = transA ? 'M' : '1u';
  const bStep = transB ? '1u' : 'N';
  const accs = range(R).map((i) => range(R).map((j) => `c${i}_${j}`));
  return storage(0, 'A', 'f32', 'read') + storage(1, 'B', 'f32', 'read') + storage(2, 'C', 'f32', 'write') + layout.wgsl(3) +
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
${range(R).map((j) => `    if (col0 + ${T * j}u < N) { C[o + col0 + ${T * j}u] = ${accs[i]![j]}; }`).join('\n')}
  }`).join('\n')}`);
}

type MatmulSpec = Extract<KernelSpec, { kind: 'matmul' }>;
export function matmulKernel(spec: MatmulSpec): KernelPlan {
  const { transA, transB, batch, m, n, k } = spec;
  const src = source(`matmul:${transA ? 't' : 'n'}${transB ? 't' : 'n'}`, () => ({
    wgsl: matmulWgsl(transA, transB),
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
