// Fused attention (F.attention) vs the composite softmax(QK^T * scale + mask) V, forward + backward,
// on the WebGPU backend. Usage: npx tsx bench/attention.ts [B nh T hs] [--iters N] [--dropout]
// [--variant texture|storage] (default: the backend's per-adapter choice, or env WEBGPU_ATTENTION)
// [--layout bhtd|bthd]: 'bhtd' (default) times both paths on (B, nh, T, hs) tensors; 'bthd' is what
// BERT does: q, k, v are the linear layers' (B, T, nh, hs), the fused op reads them in place
// (layout 'bthd') and the composite permutes them to (B, nh, T, hs) and its output back.
// Prints median ms of forward only and of forward+backward for each path, and the speedups.

import { F, randn, tensor, tidy, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import type { WebGPUBackend } from '../engine/backend/webgpu/webgpu.js';

export interface AttentionBenchOptions {
  B: number; nh: number; T: number; hs: number;
  /** Timed runs per round (3 rounds, interleaved). */
  iters: number;
  dropout: number;
  variant?: 'texture' | 'storage';
  layout: 'bhtd' | 'bthd';
  /** Backend to use (its texture cache as set); default: a new one without texture cache. */
  backend?: WebGPUBackend;
}
export interface AttentionBenchResult { composite: { fwd: number; both: number }; fused: { fwd: number; both: number } }

export async function benchAttention(opts: Partial<AttentionBenchOptions> = {}): Promise<AttentionBenchResult> {
  const { B, nh, T, hs, iters, dropout, variant, layout } = { B: 32, nh: 4, T: 128, hs: 64, iters: 3, dropout: 0, layout: 'bhtd' as const, ...opts };
  const backend = opts.backend ?? await createNodeBackend({ textureCacheBytes: 0 }); // q, k, v copied each call, as for fresh tensors
  const variantBefore = backend.attentionVariant;
  if (variant) backend.setAttentionVariant(variant);
  const shape = layout === 'bthd' ? [B, T, nh, hs] : [B, nh, T, hs];
  const mk = () => randn(shape, { backend, seed: 1 });
  const q = mk(); const k = mk(); const v = mk();
  for (const t of [q, k, v]) t.requiresGrad = true;
  const keep = new Float32Array(B * T).map((_, i) => (i % T < T - (Math.floor(i / T) % 17) ? 1 : 0));
  const mask = tensor(keep, [B, T], { backend });
  const go = randn(shape, { backend, seed: 2 });
  const scale = 1 / Math.sqrt(hs);
  const heads = (t: Tensor) => (layout === 'bthd' ? F.permute(t, [0, 2, 1, 3]) : t); // (B, T, nh, hs) <-> (B, nh, T, hs)
  const composite = (): Tensor => {
    const bias = F.reshape(F.mul(F.sub(1, mask), -3.4028234663852886e38), [B, 1, 1, T]);
    const att = F.add(F.mul(F.matmul(heads(q), heads(k), { transB: true }), scale), bias);
    const p = F.softmax(att);
    return heads(F.matmul(dropout ? F.dropout(p, dropout, { seed: 7 }) : p, heads(v)));
  };
  const fused = (): Tensor => F.attention(q, k, v, { mask, scale, dropout, seed: 7, training: true, layout });
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  /** Median ms of forward only and of forward+backward (the first run of each compiles pipelines). */
  const time = async (f: () => Tensor): Promise<{ fwd: number; both: number }> => {
    const fwd: number[] = [];
    const both: number[] = [];
    for (let i = 0; i < iters + 1; i++) {
      let t0 = performance.now();
      const y = tidy(() => f());
      await backend.sync();
      if (i > 0) fwd.push(performance.now() - t0);
      y.dispose();
      t0 = performance.now();
      tidy(() => {
        f().backward(go);
      });
      await backend.sync();
      if (i > 0) both.push(performance.now() - t0);
      for (const t of [q, k, v]) { t.grad!.dispose(); t.grad = null; }
    }
    return { fwd: median(fwd), both: median(both) };
  };
  // Interleaved rounds, so load on a shared machine hits both paths alike.
  const c: number[][] = [[], []];
  const z: number[][] = [[], []];
  for (let r = 0; r < 3; r++) {
    const a = await time(composite);
    const b = await time(fused);
    c[0]!.push(a.fwd); c[1]!.push(a.both); z[0]!.push(b.fwd); z[1]!.push(b.both);
  }
  const [cf, cb, zf, zb] = [median(c[0]!), median(c[1]!), median(z[0]!), median(z[1]!)];
  console.log(`attention B=${B} nh=${nh} T=${T} hs=${hs} dropout=${dropout} layout=${layout} (webgpu ${backend.adapter.backend} ${backend.adapter.device}, fused variant ${backend.attentionVariant}), median ms over 3 rounds x ${iters}:`);
  console.log(`  forward:          composite ${cf.toFixed(1)}   fused ${zf.toFixed(1)}   speedup ${(cf / zf).toFixed(2)}x`);
  console.log(`  forward+backward: composite ${cb.toFixed(1)}   fused ${zb.toFixed(1)}   speedup ${(cb / zb).toFixed(2)}x`);
  if (opts.backend) backend.setAttentionVariant(variantBefore);
  else backend.destroy();
  return { composite: { fwd: cf, both: cb }, fused: { fwd: zf, both: zb } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const args = argv.filter((a, i) => !a.startsWith('--') && !['--iters', '--variant', '--layout'].includes(argv[i - 1]!));
  const flag = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const layout = flag('--layout') ?? 'bhtd';
  if (layout !== 'bhtd' && layout !== 'bthd') throw new Error(`--layout ${layout}: bhtd or bthd`);
  const variant = flag('--variant');
  if (variant !== undefined && variant !== 'texture' && variant !== 'storage') throw new Error(`--variant ${variant}: texture or storage`);
  const [B, nh, T, hs] = args.length >= 4 ? args.slice(0, 4).map(Number) : [32, 4, 128, 64];
  await benchAttention({ B, nh, T, hs, iters: Number(flag('--iters') ?? 3), dropout: argv.includes('--dropout') ? 0.1 : 0, variant, layout });
}
