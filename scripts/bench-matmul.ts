// Quick matmul throughput measurement on the WebGPU backend: npx tsx scripts/bench-matmul.ts [sizes...]
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';

const be = await createNodeBackend({ textureCacheBytes: 0 }); // each call copies its operands, as for fresh tensors
console.log(`adapter: ${describeAdapter(be.adapter)}`);
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const n of sizes.length ? sizes : [256, 512, 1024]) {
  for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
    const a = be.alloc(n * n, 'f32');
    const b = be.alloc(n * n, 'f32');
    const c = be.alloc(n * n, 'f32');
    be.write(a, Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
    be.write(b, Float32Array.from({ length: n * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
    const spec = { kind: 'matmul', transA, transB, batch: 1, m: n, n, k: n, aBatchStride: 0, bBatchStride: 0 } as const;
    be.run(spec, [a, b], [c]);
    await be.read(c); // warm-up (pipeline compile)
    const reps = Math.max(2, Math.round(2e9 / (2 * n ** 3)));
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) be.run(spec, [a, b], [c]);
    await be.read(c);
    const ms = (performance.now() - t0) / reps;
    console.log(`matmul ${n}^3 ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}: ${ms.toFixed(2)} ms, ${((2 * n ** 3) / ms / 1e6).toFixed(2)} GFLOP/s (${reps} reps)`);
    for (const s of [a, b, c]) be.free(s);
  }
}
be.destroy();
