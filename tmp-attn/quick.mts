import { F, randn, tensor, tidy, ReferenceBackend, type Backend, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
const gpu = await createNodeBackend();
const ref = new ReferenceBackend();
async function run(backend: Backend, fused: boolean, B: number, nh: number, T: number, hs: number, p: number, masked: boolean) {
  const mk = (s: number) => { const t = randn([B, nh, T, hs], { backend, seed: s }); t.requiresGrad = true; return t; };
  const q = mk(1), k = mk(2), v = mk(3);
  const go = randn([B, nh, T, hs], { backend, seed: 4 });
  const keep = new Float32Array(B * T).map((_, i) => (i % T) < T - (Math.floor(i / T) * 3) % T ? 1 : 0);
  if (B > 1) for (let t = 0; t < T; t++) keep[T + t] = 0; // batch 1 fully masked
  const mask = tensor(keep, [B, T], { backend });
  const scale = 1 / Math.sqrt(hs);
  let y!: Tensor;
  tidy(() => {
    if (fused) y = F.attention(q, k, v, { mask: masked ? mask : null, scale, dropout: p, seed: 9 });
    else {
      let att = F.mul(F.matmul(q, k, { transB: true }), scale);
      if (masked) att = F.add(att, F.reshape(F.mul(F.sub(1, mask), -3.4028234663852886e38), [B, 1, 1, T]));
      const pr = F.softmax(att);
      y = F.matmul(p ? F.dropout(pr, p, { seed: 9 }) : pr, v);
    }
    y.backward(go);
    return y;
  });
  return [await y.data(), await q.grad!.data(), await k.grad!.data(), await v.grad!.data()];
}
const md = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
for (const [B, nh, T, hs, p, masked] of [[2, 2, 5, 8, 0, true], [2, 1, 70, 12, 0, true], [1, 2, 67, 36, 0.3, true], [2, 2, 130, 64, 0.1, false], [2,1,9,5,0.2,true]] as const) {
  const r = await run(ref, false, B, nh, T, hs, p, masked);
  for (const [name, be, fused] of [['ref-fused', ref, true], ['gpu-fused', gpu, true], ['gpu-comp', gpu, false]] as const) {
    const x = await run(be, fused, B, nh, T, hs, p, masked);
    console.log(`${B} ${nh} ${T} ${hs} p=${p} m=${masked} ${name}: ` + x.map((a, i) => md(a, r[i]).toExponential(2)).join(' '));
  }
}
gpu.destroy();
