import { F, randn, tidy } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
const backend = await createNodeBackend();
const [B, nh, T, hs] = [32, 4, 128, 64];
const q = randn([B, nh, T, hs], { backend, seed: 1 }); q.requiresGrad = true;
const k = randn([B, nh, T, hs], { backend, seed: 2 }); k.requiresGrad = true;
const v = randn([B, nh, T, hs], { backend, seed: 3 }); v.requiresGrad = true;
const go = randn([B, nh, T, hs], { backend, seed: 4 });
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const y = tidy(() => F.attention(q, k, v, {}));
  await y.data();
  const t1 = performance.now();
  const s = tidy(() => F.matmul(q, k, { transB: true })); await s.data();
  const t2 = performance.now();
  console.log(`fused fwd ${(t1 - t0).toFixed(0)} ms, one QK^T matmul ${(t2 - t1).toFixed(0)} ms`);
}
backend.destroy();
