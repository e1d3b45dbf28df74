import { F, randn, tensor, tidy } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
const backend = await createNodeBackend();
const [B, nh, T, hs] = [32, 4, 128, 64];
const q = randn([B, nh, T, hs], { backend, seed: 1 }); q.requiresGrad = true;
const k = randn([B, nh, T, hs], { backend, seed: 2 }); k.requiresGrad = true;
const v = randn([B, nh, T, hs], { backend, seed: 3 }); v.requiresGrad = true;
const go = randn([B, nh, T, hs], { backend, seed: 4 });
for (let i = 0; i < 3; i++) {
  let t0 = performance.now();
  let y: any;
  tidy(() => { y = F.matmul(q, k, { transB: true }); }); 
  const t = tidy(() => F.matmul(q, k, { transB: true }));
  await t.data();
  let t1 = performance.now();
  const p = tidy(() => F.softmax(t)); await p.data();
  let t2 = performance.now();
  const o = tidy(() => F.matmul(p, v)); await o.data();
  let t3 = performance.now();
  tidy(() => { const pp = F.softmax(F.mul(F.matmul(q, k, { transB: true }), 0.125)); F.matmul(pp, v).backward(go); });
  await q.grad!.data(); await k.grad!.data(); await v.grad!.data();
  let t4 = performance.now();
  q.grad = k.grad = v.grad = null;
  console.log(`matmul qk ${(t1-t0).toFixed(0)}ms (incl 2) softmax ${(t2-t1).toFixed(0)} pv ${(t3-t2).toFixed(0)} full fwd+bwd ${(t4-t3).toFixed(0)}`);
}
backend.destroy();
