// Where the time of a BERT-small training step goes, per kernel spec:
//   npx tsx scripts/profile-step.ts [--layers 2] [--hidden 256] [--heads 4] [--intermediate 512] [--vocab 30522]
//                                   [--batch 32] [--seq 128] [--reps 3] [--clip 0]
// (the demo's model and step: --layers 1 --hidden 64 --heads 2 --intermediate 256 --vocab 8000 --batch 128 --seq 24 --clip 1)
//
// compatibility-mode WebGPU has no timestamp queries, so this records every KernelSpec one
// training step sends to the backend (frees deferred so its inputs stay alive), then replays each
// one alone (run + sync, median of --reps) and prints the specs grouped by kind, sorted by total
// time. The sum is an upper bound of the step (each replay pays its own submit + wait, ~0.1 ms).

import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import type { KernelSpec, Storage } from '../engine/backend/spec.js';
import { Adam, clipGradNorm, tensor, type Tensor } from '../engine/index.js';
import { BertForSequenceClassification } from '../models/heads.js';
import { bertConfig } from '../models/configs.js';
import { parseArgs, s } from '../train/index.js';

const { config: args } = parseArgs(process.argv.slice(2), s.object({
  layers: s.int({ min: 1, default: 2 }), hidden: s.int({ min: 4, default: 256 }), heads: s.int({ min: 1, default: 4 }),
  intermediate: s.int({ min: 1, default: 512 }), vocab: s.int({ min: 2, default: 30522 }),
  batch: s.int({ min: 1, default: 32 }), seq: s.int({ min: 1, default: 128 }), reps: s.int({ min: 1, default: 3 }),
  clip: s.number({ min: 0, default: 0, description: 'clip gradients to this global norm before the step (0: no clipping)' }),
}));
const be = await createNodeBackend();
const cfg = bertConfig({
  hidden_size: args.hidden, intermediate_size: args.intermediate, num_attention_heads: args.heads, num_hidden_layers: args.layers,
  vocab_size: args.vocab, num_labels: 2,
});
const model = new BertForSequenceClassification(cfg, { backend: be });
const opt = new Adam(model.parameters(), { lr: 1e-4 });
const [B, T] = [args.batch, args.seq];
const inputIds = tensor(Array.from({ length: B * T }, (_, i) => (i * 7919) % cfg.vocab_size), [B, T], { backend: be, dtype: 'i32' });
const labels = tensor(Array.from({ length: B }, (_, i) => i % 2), [B], { backend: be, dtype: 'i32' });
const step = () => {
  const out = model.forward({ inputIds, labels }) as { loss: Tensor | null };
  out.loss!.backward();
  if (args.clip > 0) clipGradNorm(model.parameters(), args.clip).dispose();
  opt.step();
  opt.zeroGrad();
  out.loss!.dispose();
};
step(); // warm-up: compiles every pipeline
await be.sync();

const recorded: { spec: KernelSpec; ins: Storage[]; outs: Storage[] }[] = [];
const deferred: Storage[] = [];
const run = be.run.bind(be);
const free = be.free.bind(be);
be.run = (spec, ins, outs) => { recorded.push({ spec, ins, outs }); run(spec, ins, outs); };
be.free = (s) => { deferred.push(s); };
step();
await be.sync();
be.run = run;

const label = (s: KernelSpec): string => {
  const { kind, ...rest } = s as KernelSpec & Record<string, unknown>;
  const dims = Object.entries(rest).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || Array.isArray(v))
    .filter(([k]) => !['seed', 'lr', 'eps', 'scale', 'beta1', 'beta2', 'bc1', 'bc2', 'step', 'wd'].includes(k))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('x') : String(v)}`);
  return `${kind} ${dims.join(' ')}${(s as { epilogue?: unknown }).epilogue ? ' ep=' + JSON.stringify((s as { epilogue?: unknown }).epilogue) : ''}`;
};
const groups = new Map<string, { count: number; ms: number }>();
let total = 0;
let dispatches = 0;
const dispatchesByKind = new Map<string, number>();
for (const r of recorded) {
  const times: number[] = [];
  const d0 = be.stats().dispatches;
  for (let i = 0; i < args.reps; i++) {
    const t0 = performance.now();
    run(r.spec, r.ins, r.outs);
    await be.sync();
    times.push(performance.now() - t0);
  }
  const perRun = (be.stats().dispatches - d0) / args.reps;
  dispatches += perRun;
  dispatchesByKind.set(r.spec.kind, (dispatchesByKind.get(r.spec.kind) ?? 0) + perRun);
  const ms = times.sort((a, b) => a - b)[times.length >> 1]!;
  total += ms;
  const key = label(r.spec);
  const g = groups.get(key) ?? { count: 0, ms: 0 };
  g.count++;
  g.ms += ms;
  groups.set(key, g);
}
for (const s of deferred) free(s);
const byKind = new Map<string, number>();
for (const [k, g] of groups) byKind.set(k.split(' ')[0]!, (byKind.get(k.split(' ')[0]!) ?? 0) + g.ms);
console.log(`${recorded.length} specs, ${dispatches} dispatches, replayed total ${total.toFixed(0)} ms (strategy ${be.matmulStrategy}, rows ${be.rowStrategy})`);
console.log([...byKind].sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${ms.toFixed(0)} ms (${(100 * ms / total).toFixed(1)}%), ${dispatchesByKind.get(k)} dispatches`).join('\n'));
console.log('\ntop specs:');
for (const [k, g] of [...groups].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.PROFILE_TOP ?? 25))) console.log(`${g.ms.toFixed(1).padStart(8)} ms  x${g.count}  ${k}`);
be.destroy();
