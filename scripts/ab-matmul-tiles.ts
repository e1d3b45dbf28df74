// In-process A/B of matmul texture tiles (kernels/matmul-tex.ts TexTile): the tiles run in alternating
// rounds (ABC CBA ...) on the same operands, so the machine's drift (a shared VM's speed moves by up to
// 2x within minutes) hits them alike; separate processes cannot tell 10% apart here. Prints the
// minimum and median ms and GFLOP/s (of the minimum) per tile and shape; the first tile is the baseline.
//   npx tsx scripts/ab-matmul-tiles.ts [TILES_JSON] [SHAPES_JSON] [--rounds 8]
//   TILES_JSON:  {"name": TexTile, ...}, default: the image-16x16 tile with 1 and with 2 texels of K per iteration
//   SHAPES_JSON: [[m, n, k, "nt"], ...] ("nt": B transposed, "tn": A transposed, "nn"), default 1024^3 and BERT shapes

import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';
import { texMatmulPlan, type TexTile } from '../kernels/matmul-tex.js';
import { TEX_TILES } from '../kernels/matmul-strategy.js';

const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--rounds');
const roundsAt = process.argv.indexOf('--rounds');
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 8;
const base = TEX_TILES['image-16x16'];
const tiles: Record<string, TexTile> = args[0] ? JSON.parse(args[0]) : { 'k4': { ...base, kTexels: 1 }, 'k8': { ...base, kTexels: 2 } };
const shapes: [number, number, number, string][] = args[1] ? JSON.parse(args[1]) : [[1024, 1024, 1024, 'nt'], [4096, 1024, 256, 'nt'], [4096, 256, 1024, 'nt'], [4096, 256, 256, 'nn']];

const be = await createNodeBackend({ autotune: false, textureCacheBytes: 0 }); // operands copied each call, as for fresh tensors
console.log(`adapter: ${describeAdapter(be.adapter)}; ${rounds} alternating rounds`);
const maxTex = be.device.limits.maxTextureDimension2D;
const names = Object.keys(tiles);
for (const [m, n, k, mode] of shapes) {
  const spec = { kind: 'matmul' as const, transA: mode[0] === 't', transB: mode[1] === 't', batch: 1, m, n, k, aBatchStride: 0, bBatchStride: 0 };
  const a = be.alloc(m * k, 'f32');
  const b = be.alloc(n * k, 'f32');
  const c = be.alloc(m * n, 'f32');
  be.write(a, Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
  be.write(b, Float32Array.from({ length: n * k }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
  const plans = names.map((name) => {
    const plan = texMatmulPlan(spec, tiles[name]!, maxTex);
    if (!plan) throw new Error(`tile ${name}: the operands of ${m}x${n}x${k} do not fit a texture`);
    return plan;
  });
  const once = async (i: number) => {
    const t0 = performance.now();
    be.runPlan(plans[i]!, [a, b], [c]);
    await be.sync();
    return performance.now() - t0;
  };
  for (let i = 0; i < plans.length; i++) await once(i); // compile
  const times: number[][] = plans.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < plans.length; j++) {
      const i = r % 2 ? plans.length - 1 - j : j;
      times[i]!.push(await once(i));
    }
  }
  const flops = 2 * m * n * k;
  const cells = names.map((name, i) => {
    const sorted = [...times[i]!].sort((x, y) => x - y);
    const min = sorted[0]!;
    const ratio = i ? ` (x${(Math.min(...times[0]!) / min).toFixed(2)})` : '';
    return `${name} min ${min.toFixed(1)} med ${sorted[sorted.length >> 1]!.toFixed(1)} ms ${(flops / min / 1e6).toFixed(1)} GFLOP/s${ratio}`;
  });
  console.log(`${m}x${n}x${k} ${mode}: ${cells.join(' | ')}`);
  for (const s of [a, b, c]) be.free(s);
}
be.destroy();
