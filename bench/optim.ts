// ms per optimizer step over BERT-small's parameters (models/configs.ts preset 'small'), fused
// kernels (engine/optim/fused.ts) vs the composite, on the WebGPU backend.
// Usage: npx tsx bench/optim.ts [--iters N] [--opt adamw|adam|lamb]

import { AdamW, Adam, LAMB, randn, tidy, type Optimizer, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { BertModel } from '../models/bert.js';
import { bertPreset } from '../models/configs.js';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1]! : dflt; };

export async function benchOptim(iters = Number(arg('--iters', '5')), which = arg('--opt', 'adamw')): Promise<{ composite: number; fused: number }> {
  const backend = await createNodeBackend({ textureCacheBytes: 0 }); // every step copies its inputs, as in training
  const model = new BertModel(bertPreset('small'), { backend });
  const params = model.parameters();
  const count = params.reduce((a, p) => a + p.size, 0);
  const grads = params.map((p, i) => randn([...p.shape], { backend, seed: i, std: 0.01 }));
  const time = async (fused: boolean): Promise<number> => {
    const make = (): Optimizer => which === 'lamb' ? new LAMB(params, { lr: 1e-4, fused }) : which === 'adam' ? new Adam(params, { lr: 1e-4, fused }) : new AdamW(params, { lr: 1e-4, fused });
    const opt = make();
    let best = Infinity;
    for (let i = 0; i < iters + 1; i++) {
      params.forEach((p, k) => { p.grad = grads[k] as Tensor; });
      const t0 = performance.now();
      tidy(() => opt.step());
      await params[params.length - 1]!.data();
      await params[0]!.data();
      if (i > 0) best = Math.min(best, performance.now() - t0);
      opt.zeroGrad();
    }
    opt.dispose();
    return best;
  };
  const composite = await time(false);
  const fused = await time(true);
  console.log(`${which} step over BERT-small (${params.length} tensors, ${(count / 1e6).toFixed(2)}M params), webgpu ${backend.adapter.device}, best of ${iters}:`);
  console.log(`  composite ${composite.toFixed(1)} ms   fused ${fused.toFixed(1)} ms   speedup ${(composite / fused).toFixed(2)}x`);
  model.dispose();
  backend.destroy();
  return { composite, fused };
}

if (import.meta.url === `file://${process.argv[1]}`) await benchOptim();
