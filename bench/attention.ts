// Fused attention (F.attention) vs the composite softmax(QK^T * scale + mask) V, forward + backward,
// on the WebGPU backend. Usage: npx tsx bench/attention.ts [B nh T hs] [--iters N]
// Prints ms per forward+backward for each path and the speedup.

import { F, randn, tensor, tidy, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const itersArg = process.argv.indexOf('--iters');
const iters = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 3;
const [B, nh, T, hs] = args.length >= 4 ? args.slice(0, 4).map(Number) : [32, 4, 128, 64];
const dropout = process.argv.includes('--dropout') ? 0.1 : 0;

export async function benchAttention(): Promise<{ composite: number; fused: number }> {
  const backend = await createNodeBackend();
  const mk = () => randn([B, nh, T, hs], { backend, seed: 1 });
  const q = mk(); const k = mk(); const v = mk();
  for (const t of [q, k, v]) t.requiresGrad = true;
  const keep = new Float32Array(B * T).map((_, i) => (i % T < T - (Math.floor(i / T) % 17) ? 1 : 0));
  const mask = tensor(keep, [B, T], { backend });
  const go = randn([B, nh, T, hs], { backend, seed: 2 });
  const scale = 1 / Math.sqrt(hs);
  const composite = (): Tensor => {
    const bias = F.reshape(F.mul(F.sub(1, mask), -3.4028234663852886e38), [B, 1, 1, T]);
    const att = F.add(F.mul(F.matmul(q, k, { transB: true }), scale), bias);
    const p = F.softmax(att);
    return F.matmul(dropout ? F.dropout(p, dropout, { seed: 7 }) : p, v);
  };
  const fused = (): Tensor => F.attention(q, k, v, { mask, scale, dropout, seed: 7, training: true });
  const time = async (f: () => Tensor): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < iters + 1; i++) {
      const t0 = performance.now();
      tidy(() => {
        const y = f();
        y.backward(go);
      });
      await q.grad!.data(); await k.grad!.data(); await v.grad!.data();
      const dt = performance.now() - t0;
      for (const t of [q, k, v]) { t.grad!.dispose(); t.grad = null; }
      if (i > 0) best = Math.min(best, dt); // first run compiles pipelines
    }
    return best;
  };
  const c = await time(composite);
  const fz = await time(fused);
  console.log(`attention fwd+bwd B=${B} nh=${nh} T=${T} hs=${hs} dropout=${dropout} (webgpu ${backend.adapter.backend} ${backend.adapter.device}), best of ${iters}:`);
  console.log(`  composite ${c.toFixed(1)} ms   fused ${fz.toFixed(1)} ms   speedup ${(c / fz).toFixed(2)}x`);
  backend.destroy();
  return { composite: c, fused: fz };
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAttention();
