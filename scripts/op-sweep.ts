// Milliseconds (min of interleaved repeats after warm-up) of the memory-bound and selection ops that are
// not in `npm run bench`: strided copies, broadcast elementwise ops, where, reductions, argmax, top-k and
// its backward, at the shapes quoted in the kernels' comments. Texture cache off (inputs as fresh tensors).
//   npx tsx scripts/op-sweep.ts [--reps 8]

import { F, randn, tensor, tidy, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';
import type { KernelSpec, Storage } from '../engine/backend/spec.js';

const at = process.argv.indexOf('--reps');
const reps = at > 0 ? Number(process.argv[at + 1]) : 8;
const backend = await createNodeBackend({ textureCacheBytes: 0 });
console.log(`adapter: ${describeAdapter(backend.adapter)}; min of ${reps} calls after 2 warm-ups`);

async function minMs(f: () => void): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    f();
    await backend.sync();
    if (i >= 2) ts.push(performance.now() - t0);
  }
  return Math.min(...ts);
}
const op = (f: () => Tensor) => () => { tidy(f).dispose(); };
/** A kernel spec run directly on freshly written storages (for specs the F API composes). */
function spec(s: KernelSpec, ins: [number, 'f32' | 'i32', (i: number) => number][], outs: [number, 'f32' | 'i32'][]): () => void {
  const xs: Storage[] = ins.map(([n, dtype, fn]) => {
    const st = backend.alloc(n, dtype);
    backend.write(st, dtype === 'f32' ? Float32Array.from({ length: n }, (_, i) => fn(i)) : Int32Array.from({ length: n }, (_, i) => fn(i)));
    return st;
  });
  const ys = outs.map(([n, dtype]) => backend.alloc(n, dtype));
  return () => backend.run(s, xs, ys);
}

const x = randn([1024, 1024], { backend, seed: 1 });
const qkv = randn([32, 128, 4, 64], { backend, seed: 2 });
const scores = randn([32, 4, 128, 128], { backend, seed: 3 });
const mask = randn([32, 1, 1, 128], { backend, seed: 4 });
const h = randn([4096, 256], { backend, seed: 5 });
const col = randn([4096, 1], { backend, seed: 6 });
const cond = tensor(Float32Array.from({ length: 1 << 20 }, (_, i) => i % 3), [1024, 1024], { backend });
const rows: [string, () => void][] = [
  ['permute [32,128,4,64] -> [32,4,128,64] (copy by groups of 4)', op(() => F.permute(qkv, [0, 2, 1, 3]))],
  ['transpose [1024,1024] (copy by element)', op(() => F.transpose(x))],
  ['scores [32,4,128,128] + mask [32,1,1,128] (strided image, groups of 4)', op(() => F.add(scores, mask))],
  ['[4096,256] * [4096,1] (strided image, a repeated column)', op(() => F.mul(h, col))],
  ['where [1024,1024]', op(() => F.where(cond, x, 0))],
  ['max over the last axis of [1024,1024]', op(() => F.max(x, -1))],
  ['argmax over the last axis of [1024,1024]', op(() => F.argmax(x))],
  ['topk k=8 over 32, 2048 rows (a PKM sub-key search)', spec({ kind: 'topk', rows: 2048, len: 32, k: 8 }, [[2048 * 32, 'f32', Math.sin]], [[2048 * 8, 'i32']])],
  ['topk k=8 over 1024, 1024 rows', spec({ kind: 'topk', rows: 1024, len: 1024, k: 8 }, [[1 << 20, 'f32', Math.sin]], [[1024 * 8, 'i32']])],
  ['topk k=32 over 512, 4096 rows', spec({ kind: 'topk', rows: 4096, len: 512, k: 32 }, [[4096 * 512, 'f32', Math.sin]], [[4096 * 32, 'i32']])],
  ['scatterLast k=8 into 32, 2048 rows', spec({ kind: 'scatterLast', rows: 2048, len: 32, k: 8 }, [[2048 * 8, 'f32', Math.cos], [2048 * 8, 'i32', (i) => (i * 7) % 32]], [[2048 * 32, 'f32']])],
  ['scatterLast k=32 into 512, 8192 rows', spec({ kind: 'scatterLast', rows: 8192, len: 512, k: 32 }, [[8192 * 32, 'f32', Math.cos], [8192 * 32, 'i32', (i) => (i * 7) % 512]], [[8192 * 512, 'f32']])],
];
for (const [name, f] of rows) console.log(`${name.padEnd(72)} ${(await minMs(f)).toFixed(2).padStart(8)} ms`);
process.exit(0);
