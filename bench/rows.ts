// npx tsx bench/rows.ts [--strategy workgroup,serial-tex,serial-image] [--reps N] [--budget-ms MS] [--only REGEX]
// Row-kernel benchmark: minimum ms and effective GB/s (bytes read + written / time) per strategy on
// the bench shapes, plus the minimum process CPU time per run (all threads: on a shared machine it
// moves much less than wall time, so it is the better A/B signal). Strategies alternate within each
// round (ABC CBA ...), so load drift hits them alike; xN is the speed-up over the first strategy.
// Default strategies: those the GPU supports. Prints the load average.

import { loadavg } from 'node:os';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';
import type { KernelSpec, Storage } from '../engine/backend/spec.js';
import { ROW_STRATEGIES, rowStrategySupported, type RowStrategy } from '../kernels/rows-strategy.js';

const argv = process.argv.slice(2);
const arg = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
const reps = Number(arg('--reps') ?? 7);
const budgetMs = Number(arg('--budget-ms') ?? 6000);
const only = arg('--only') ? new RegExp(arg('--only')!) : null;

const be = await createNodeBackend({ autotune: false, textureCacheBytes: 0 }); // each run copies its inputs, as for fresh tensors
const strategies = (arg('--strategy')?.split(',') ?? ROW_STRATEGIES.filter((s) => rowStrategySupported(s, be.adapter.wgslFeatures))) as RowStrategy[];
console.log(`adapter: ${describeAdapter(be.adapter)}; loadavg before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

interface Case { name: string; spec: KernelSpec; ins: [number, 'f32' | 'i32'][]; outs: number[]; bytes: number }
const cases: Case[] = [];
for (const [rows, len] of [[4096, 256], [128, 30522], [32 * 4 * 128, 128]] as const) {
  const n = rows * len;
  const shape = `${rows}x${len}`;
  cases.push({ name: `softmax ${shape}`, spec: { kind: 'softmax', log: false, rows, len }, ins: [[n, 'f32']], outs: [n], bytes: 8 * n });
  cases.push({ name: `softmaxBackward ${shape}`, spec: { kind: 'softmaxBackward', log: false, rows, len }, ins: [[n, 'f32'], [n, 'f32']], outs: [n], bytes: 12 * n });
  // Attention probabilities of B32 h4 T128 with scale and HF's [B, 1, 1, T] mask (rows = 32 * 4 * 128).
  if (len === 128) cases.push({ name: `maskedSoftmax ${shape} (mask [32,1,1,128])`, spec: { kind: 'maskedSoftmax', rows, len, scale: 0.125, masked: true, mdims: [1, 32, rows / 32], mstrides: [0, 1, 0] }, ins: [[n, 'f32'], [32 * len, 'f32']], outs: [n], bytes: 8 * n });
  if (len === 128) continue;
  cases.push({ name: `layernorm ${shape}`, spec: { kind: 'layernorm', rows, len, eps: 1e-12 }, ins: [[n, 'f32'], [len, 'f32'], [len, 'f32']], outs: [n, rows, rows], bytes: 8 * n });
  cases.push({ name: `layernormBackward ${shape}`, spec: { kind: 'layernormBackward', rows, len }, ins: [[n, 'f32'], [len, 'f32'], [rows, 'f32'], [rows, 'f32'], [n, 'f32']], outs: [n, len, len], bytes: 12 * n });
  cases.push({ name: `layernormResidual ${shape}`, spec: { kind: 'layernormResidual', rows, len, eps: 1e-12 }, ins: [[n, 'f32'], [n, 'f32'], [len, 'f32'], [len, 'f32']], outs: [n, rows, rows, n], bytes: 16 * n });
  cases.push({ name: `crossEntropy ${shape}`, spec: { kind: 'crossEntropy', rows, classes: len, ignoreIndex: -100 }, ins: [[n, 'f32'], [rows, 'i32']], outs: [rows], bytes: 4 * n });
  cases.push({ name: `crossEntropyBackward ${shape}`, spec: { kind: 'crossEntropyBackward', rows, classes: len, ignoreIndex: -100 }, ins: [[n, 'f32'], [rows, 'i32'], [rows, 'f32']], outs: [n], bytes: 8 * n });
  cases.push({ name: `reduce sum rows ${shape}`, spec: { kind: 'reduce', op: 'sum', outer: rows, len, inner: 1, scale: 1 }, ins: [[n, 'f32']], outs: [rows], bytes: 4 * n });
  cases.push({ name: `reduce sum cols ${shape} (bias grad)`, spec: { kind: 'reduce', op: 'sum', outer: 1, len: rows, inner: len, scale: 1 }, ins: [[n, 'f32']], outs: [len], bytes: 4 * n });
}

const results: Record<string, Record<string, number>> = {};
for (const c of cases) {
  if (only && !only.test(c.name)) continue;
  const ins: Storage[] = c.ins.map(([size, dt], k) => {
    const s = be.alloc(size, dt);
    be.write(s, dt === 'i32' ? Int32Array.from({ length: size }, (_, i) => (i * 7) % 100) : Float32Array.from({ length: size }, (_, i) => Math.sin(i + k) + (k === 3 ? 1.5 : 0)));
    return s;
  });
  const outs = c.outs.map((size) => be.alloc(size, 'f32'));
  const once = async (s: RowStrategy) => {
    be.setRowStrategy(s);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    be.run(c.spec, ins, outs);
    await be.sync();
    const dc = process.cpuUsage(c0);
    return [performance.now() - t0, (dc.user + dc.system) / 1000] as const;
  };
  for (const s of strategies) await once(s); // compile + warm
  // Strategies alternate within each round (load drifts hit them alike); minimum wall and CPU times.
  const ts: Record<string, number[]> = Object.fromEntries(strategies.map((s) => [s, []]));
  const cs: Record<string, number[]> = Object.fromEntries(strategies.map((s) => [s, []]));
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const s of r % 2 ? [...strategies].reverse() : strategies) {
      const [t, u] = await once(s);
      ts[s]!.push(t);
      cs[s]!.push(u);
    }
    if (performance.now() - start > budgetMs && r >= 2) break;
  }
  results[c.name] = Object.fromEntries(strategies.map((s) => [s, Math.min(...ts[s]!)]));
  for (const s of [...ins, ...outs]) be.free(s);
  const first = results[c.name]![strategies[0]!]!;
  const parts = strategies.map((s, k) => {
    const ms = results[c.name]![s]!;
    return `${s} ${ms.toFixed(2)} ms ${(c.bytes / ms / 1e6).toFixed(2)} GB/s (cpu ${Math.min(...cs[s]!).toFixed(1)})${k ? ` x${(first / ms).toFixed(2)}` : ''}`;
  });
  console.log(`${c.name.padEnd(44)} ${parts.join(' | ')}`);
}
console.log(`loadavg after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
be.destroy();
