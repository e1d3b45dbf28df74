// npm run bench [-- --quick] [-- --only matmul|norm|attention|train]
//
// Kernel benchmarks on this machine's WebGPU adapter, with this adapter's rooflines and the peers
// measured IN THE SAME RUN: an FMA-bound WGSL kernel (vec4 fma chains) gives the GFLOP/s roofline,
// a vec4 storage copy kernel the GB/s one; TensorFlow.js WebGPU (same Dawn adapter; its
// requestAdapter is wrapped to ask for featureLevel 'compatibility') and TensorFlow.js WASM run the
// same shapes. Times are medians of repeated runs (other processes share the cores); ours and
// TensorFlow.js WASM, the close peer, run in interleaved rounds so their ratio survives the drift of
// the machine's speed. Writes bench/RESULTS.md naming the adapter and the date.

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { F, randn, tidy, type Tensor } from '../engine/index.js';
import { createNodeBackend } from '../engine/backend/webgpu/node.js';
import { cachedChoice } from '../engine/backend/webgpu/autotune.js';
import { describeAdapter } from '../engine/backend/webgpu/device.js';
import type { WebGPUBackend } from '../engine/backend/webgpu/webgpu.js';
import { DEFAULT_TEXTURE_CACHE_BYTES } from '../engine/backend/webgpu/textures.js';
import { Adam } from '../engine/index.js';
import { BertForSequenceClassification } from '../models/heads.js';
import { bertConfig } from '../models/configs.js';
import { benchBatch, installTfjsWebGPU, tfjsBertStepMs } from './tfjs-bert.js';
import { benchAttention } from './attention.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyIdx = argv.indexOf('--only');
const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : undefined;
const want = (section: string) => !only || only === section;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** A timed row: rate and roofline share at the median; minMs (the least contended call) for context. */
interface Row { kernel: string; shape: string; ms: number; minMs?: number; rate: number; unit: 'GFLOP/s' | 'GB/s'; roof: number; peers: string }
/** Median and minimum ms of repeated calls. */
interface Timing { median: number; min: number }
const timing = (ts: number[]): Timing => ({ median: median(ts), min: Math.min(...ts) });
const rows: Row[] = [];
const notes: string[] = [];
// The machine's own speed can drift between runs (a shared VM: the FMA roofline measured anywhere
// from 40 to 78 GFLOP/s on one day), so the load is recorded and comparisons belong within a run.
const loadAtStart = loadavg()[0]!;

/**
 * Something timed: `calls` runs back to back, then one wait for all of them to finish (ours: one
 * submit, as in a model step; a peer: one read of the last result).
 */
type Timed = (calls: number) => Promise<void>;
/** Each sample lasts at least this long: enough calls that one wait and the wake-up of idle adapter threads amortise. */
const SAMPLE_MS = 10;
const MAX_CALLS = 16;

/** Timing of `f` (after a warm-up call that compiles): `reps` samples, fewer once past the budget (at least 3). */
async function timeIt(f: Timed, reps: number, budgetMs = 4000): Promise<Timing> {
  return (await timeInterleaved([f], reps, budgetMs))[0]!;
}

/**
 * Per-call timings of `fs` in interleaved rounds (one sample of each per round, the order reversed
 * every other round), so that the drift of a shared machine's speed (up to 3x within minutes here)
 * hits all of them alike and their ratios hold; timed one after another, a ratio moved by tens of
 * percent. A sample runs each function's calls back to back (as many as fill SAMPLE_MS, from its
 * warm-up) and counts the mean: a lone call after the peer's CPU-bound turn also pays for waking
 * llvmpipe's idle threads (0.2-1 ms measured: softmax 4096x256 1.9 ms warm, 2.3-4.1 ms right after
 * 10-60 ms of busy or idle JS).
 */
async function timeInterleaved(fs: Timed[], reps: number, budgetMs = 8000): Promise<Timing[]> {
  const calls: number[] = [];
  for (const f of fs) {
    await f(1); // compile
    const t0 = performance.now();
    await f(1);
    calls.push(Math.max(1, Math.min(MAX_CALLS, Math.ceil(SAMPLE_MS / (performance.now() - t0)))));
  }
  const ts: number[][] = fs.map(() => []);
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const order = fs.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const t0 = performance.now();
      await fs[i]!(calls[i]!);
      ts[i]!.push((performance.now() - t0) / calls[i]!);
    }
    if (performance.now() - start > budgetMs && r >= 2) break;
  }
  return ts.map(timing);
}

/** `f`'s result computed `calls` times in one submit (disposed after the wait). */
const oursTimed = (be: WebGPUBackend, f: () => Tensor): Timed => async (calls) => {
  const ys = Array.from({ length: calls }, () => tidy(f));
  await be.sync();
  for (const y of ys) y.dispose();
};

// ---- rooflines (raw WGSL on the same device) ---------------------------------------------------

async function rawKernel(be: WebGPUBackend, wgsl: string, buffers: GPUBuffer[], workgroups: number): Promise<Timed> {
  const device = be.device;
  const module = device.createShaderModule({ code: wgsl });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  return async (calls) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < calls; i++) pass.dispatchWorkgroups(workgroups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
}

/**
 * A roofline kernel as a probe: timed inside a row's interleaved rounds, it gives the adapter's rate
 * at the moment of that row (`work` flops or bytes per call).
 */
interface Probe { run: Timed; work: number }
const probeRate = (p: Probe, t: Timing) => p.work / t.median / 1e6;
/** Percent of `roofRate`. */
const pct = (rate: number, roofRate: number) => (rate / roofRate) * 100;
interface Rooflines { gflops: number; gbs: number; fma: Probe; copy: Probe; destroy: () => void }

async function rooflines(be: WebGPUBackend): Promise<Rooflines> {
  const device = be.device;
  const ITERS = 256;
  const WGS = 1024;
  const out = device.createBuffer({ size: WGS * 64 * 16, usage: 0x80 });
  const fmaWgsl = `@group(0) @binding(0) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let s = f32(g.x) * 1e-9;
  var a0 = vec4<f32>(s); var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
  var a4 = a0 + 4.0; var a5 = a0 + 5.0; var a6 = a0 + 6.0; var a7 = a0 + 7.0;
  let m = vec4<f32>(0.999999); let c = vec4<f32>(1e-7);
  for (var i = 0u; i < ${ITERS}u; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
  }
  o[g.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}`;
  const fma = await rawKernel(be, fmaWgsl, [out], WGS);
  const fmaMs = (await timeIt(fma, 7)).median;
  const fmaFlops = WGS * 64 * ITERS * 8 * 4 * 2;
  const gflops = fmaFlops / fmaMs / 1e6;
  const N4 = (quick ? 1 : 4) << 20; // vec4s
  const src = device.createBuffer({ size: N4 * 16, usage: 0x80 });
  const dst = device.createBuffer({ size: N4 * 16, usage: 0x80 });
  const copyWgsl = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let i = g.x + g.y * n.x * 256u;
  if (i < ${N4}u) { y[i] = x[i]; }
}`;
  const wg = N4 / 256;
  const copy = await rawKernel(be, copyWgsl.replace('g.y * n.x * 256u', '0u'), [src, dst], Math.min(wg, 65535));
  const copyMs = (await timeIt(copy, 5)).median;
  const copyBytes = Math.min(wg, 65535) * 256 * 32;
  const gbs = copyBytes / copyMs / 1e6;
  rows.push({ kernel: 'roofline: vec4 FMA chains', shape: `${WGS * 64} inv x ${ITERS * 8} fma4`, ms: fmaMs, rate: gflops, unit: 'GFLOP/s', roof: 100, peers: '' });
  rows.push({ kernel: 'roofline: vec4 storage copy', shape: `${N4 * 16 / 2 ** 20} MiB`, ms: copyMs, rate: gbs, unit: 'GB/s', roof: 100, peers: '' });
  return {
    gflops, gbs, fma: { run: fma, work: fmaFlops }, copy: { run: copy, work: copyBytes },
    destroy: () => { out.destroy(); src.destroy(); dst.destroy(); },
  };
}

// ---- peers: TensorFlow.js ------------------------------------------------------------------------

type Tf = typeof import('@tensorflow/tfjs-core');
interface Peer { name: string; tf: Tf; sync: (t: import('@tensorflow/tfjs-core').Tensor) => Promise<void> }

async function loadPeers(): Promise<Peer[]> {
  const peers: Peer[] = [];
  let tf: Tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
  } catch (e) {
    notes.push(`TensorFlow.js peers skipped: @tensorflow/tfjs-core not installed (${String(e).split('\n')[0]})`);
    return peers;
  }
  try {
    const { version_wasm } = await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) {
      peers.push({ name: 'tfjs-wasm', tf, sync: async (t) => { t.dataSync(); } });
      // The binary is picked as tfjs' getPathToWasmBinary does; tfjs reports no threads under Node.
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      const threads = (tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.();
      notes.push(`tfjs-wasm ${version_wasm}: binary tfjs-backend-wasm${simd && mt ? '-threaded-simd' : simd ? '-simd' : ''}.wasm ` +
        `(WASM_HAS_SIMD_SUPPORT=${simd}, WASM_HAS_MULTITHREAD_SUPPORT=${mt}: tfjs disables wasm threads under Node), ${threads ?? '?'} thread(s). ` +
        'Its matmul uses XNNPACK only for a single 2-D product with no transposed operand; transposed or batched products take a scalar loop ' +
        '(~1 GFLOP/s against ~20-24 at 1024^3), so its matmul rows get W as [k, n] (a tfjs Dense kernel\'s layout, made outside the timed region) ' +
        'and the BERT peer computes dense-layer gradients as untransposed products (bench/tfjs-bert.ts); batched attention products stay on the scalar loop ' +
        '(splitting them into 2-D XNNPACK products measured no faster)');
    }
  } catch (e) {
    notes.push(`tfjs-wasm skipped: ${String(e).split('\n')[0]}`);
  }
  try {
    await installTfjsWebGPU();
    if (await tf.setBackend('webgpu')) {
      peers.push({ name: 'tfjs-webgpu', tf, sync: async (t) => { await t.data(); } });
    } else notes.push('tfjs-webgpu skipped: setBackend(webgpu) returned false');
  } catch (e) {
    notes.push(`tfjs-webgpu skipped: ${String(e).split('\n')[0]}`);
  }
  return peers;
}

type TfTensor = import('@tensorflow/tfjs-core').Tensor;
type PeerMake = (tf: Tf) => TfTensor[];
type PeerOp = (tf: Tf, xs: TfTensor[]) => TfTensor;

/** One peer run as a closure on inputs made up front (its backend selected), and their disposal. */
async function peerRunner(p: Peer, make: PeerMake, op: PeerOp): Promise<{ run: Timed; dispose: () => void }> {
  await p.tf.setBackend(p.name === 'tfjs-wasm' ? 'wasm' : 'webgpu');
  const xs = make(p.tf);
  return {
    run: async (calls) => {
      const ys = Array.from({ length: calls }, () => op(p.tf, xs));
      await p.sync(ys[calls - 1]!); // its queue runs in order: the last done, all done
      for (const y of ys) y.dispose();
    },
    dispose: () => { for (const x of xs) x.dispose(); },
  };
}

/**
 * Our timing, each peer's median ms on the same work, and the roofline probe's rate in the same
 * rounds. TensorFlow.js WASM and the probe run interleaved with ours (timeInterleaved: the ratios
 * hold while the machine's speed drifts); TensorFlow.js WebGPU, 20-60x slower here, runs after,
 * `slowReps` times.
 */
async function versusPeers(peers: Peer[], ours: Timed, make: PeerMake, op: PeerOp, reps: number, probe: Probe, slowReps = 3): Promise<{ ours: Timing; theirs: Record<string, number>; roof: number }> {
  const theirs: Record<string, number> = {};
  const wasm = peers.find((p) => p.name === 'tfjs-wasm');
  let oursT: Timing;
  let probeT: Timing;
  if (wasm) {
    const r = await peerRunner(wasm, make, op);
    const [a, b, c] = await timeInterleaved([ours, r.run, probe.run], reps);
    [oursT, theirs[wasm.name], probeT] = [a!, b!.median, c!];
    r.dispose();
  } else [oursT, probeT] = (await timeInterleaved([ours, probe.run], reps)) as [Timing, Timing];
  for (const p of peers) {
    if (p === wasm || slowReps === 0) continue;
    const r = await peerRunner(p, make, op);
    theirs[p.name] = (await timeIt(r.run, slowReps, 6000)).median;
    r.dispose();
  }
  return { ours: oursT!, theirs, roof: probeRate(probe, probeT!) };
}

// ---- benches -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const be = await createNodeBackend();
  const adapter = describeAdapter(be.adapter);
  const tune = cachedChoice(be.adapter);
  console.log(`adapter: ${adapter}`);
  console.log(`matmul strategy: ${be.matmulStrategy}${tune ? ` (autotune ${tune.bucket}: ${Object.entries(tune.ms).map(([k, v]) => `${k} ${v === null || !Number.isFinite(v) ? 'cut' : v.toFixed(1) + ' ms'}`).join(', ')})` : ''}`);
  const roof = await rooflines(be);
  // Kernel rows time every call on its inputs as if freshly computed: with the texture cache on, a
  // repeated call on the same tensor would skip its texture copies, which no model step gets. The
  // training step runs with the default cache.
  be.setTextureCacheBytes(0);
  notes.push('kernel rows: texture cache off (each call copies its texture inputs, as for freshly computed tensors); the training step runs with the default 256 MiB cache');
  notes.push('% of roofline: against the roofline kernel (FMA chains for GFLOP/s, storage copy for GB/s) timed in the same interleaved rounds as the row ' +
    '(the attention fwd+bwd row: just before and after it), so the share holds while the machine\'s speed drifts; the roofline rows above are the run\'s start');
  notes.push(`samples: each runs a function's calls back to back (as many as fill ${SAMPLE_MS} ms, at most ${MAX_CALLS}; ours in one submit, a peer's followed by one read of the last result) and counts the time per call, ` +
    'so a row is the steady throughput of a model step rather than a lone call\'s latency, which on this VM adds 0.2-1 ms for waking llvmpipe\'s idle threads (the rooflines, the attention fwd+bwd row and the training step take one call per sample)');
  notes.push('min ms: the fastest sample of the row, per call (other tenants of a shared machine only add time, so it shows the uncontended cost); rates, roofline shares and peer ratios use the medians');
  const peers = await loadPeers();
  const fmtPeers = (ours: number, theirs: Record<string, number>) => Object.entries(theirs)
    .map(([n, ms]) => `${n} ${ms.toFixed(1)} ms (ours x${(ms / ours).toFixed(2)})`).join('; ');

  if (want('matmul')) {
    const shapes: [string, number, number, number][] = quick
      ? [['square', 256, 256, 256], ['square', 1024, 1024, 1024]]
      : [['square', 256, 256, 256], ['square', 512, 512, 512], ['square', 1024, 1024, 1024],
         ['BERT FF1 (x @ W1^T)', 4096, 1024, 256], ['BERT FF2 (h @ W2^T)', 4096, 256, 1024],
         ['skinny: 8 tokens, BERT-base FF1', 8, 3072, 768]];
    for (const [name, m, n, k] of shapes) {
      const a = randn([m, k], { backend: be, seed: 1 });
      const w = randn([n, k], { backend: be, seed: 2 });
      const reps = m * n * k > 2e8 ? 5 : 9;
      // W as [k, n] on tfjs-wasm: XNNPACK's path (see the tfjs-wasm note); [n, k] transposed on tfjs-webgpu.
      const nn = (tf: Tf) => tf.getBackend() === 'wasm';
      const { ours: t, theirs, roof: rf } = await versusPeers(peers, oursTimed(be, () => F.matmul(a, w, { transB: true })),
        (tf) => [tf.randomNormal([m, k]), tf.randomNormal(nn(tf) ? [k, n] : [n, k])], (tf, [x, y]) => tf.matMul(x!, y!, false, !nn(tf)),
        reps, roof.fma, quick && m * n * k > 2e8 ? 0 : 3);
      const flops = 2 * m * n * k;
      const ours = t.median;
      rows.push({ kernel: `matmul ${name} (${be.matmulStrategy})`, shape: `${m}x${k} @ ${n}x${k}^T`, ms: ours, minMs: t.min, rate: flops / ours / 1e6, unit: 'GFLOP/s', roof: pct(flops / ours / 1e6, rf), peers: fmtPeers(ours, theirs) });
      // The fused BERT linear (bias + GELU epilogue) on the FF1 shape.
      if (name.startsWith('BERT FF1')) {
        const b = randn([n], { backend: be, seed: 3 });
        const [fusedT, compT, probeT] = await timeInterleaved([
          oursTimed(be, () => F.linear(a, w, b, { activation: 'gelu' })),
          oursTimed(be, () => F.gelu(F.add(F.matmul(a, w, { transB: true }), b))),
          roof.fma.run,
        ], reps);
        const [fused, comp] = [fusedT!.median, compT!.median];
        rows.push({ kernel: 'fused linear+bias+GELU', shape: `${m}x${k} @ ${n}x${k}^T`, ms: fused, minMs: fusedT!.min, rate: flops / fused / 1e6, unit: 'GFLOP/s', roof: pct(flops / fused / 1e6, probeRate(roof.fma, probeT!)), peers: `composite matmul+add+gelu ${comp.toFixed(1)} ms (fused x${(comp / fused).toFixed(2)})` });
        b.dispose();
      }
      // Inference reuses the weight on every call: with the texture cache on, its texture copy (9 MB
      // here, ~1-2 ms) is made once, as TF.js WASM's [k, n] weight is made outside its timed region.
      if (name.startsWith('skinny')) {
        be.setTextureCacheBytes(DEFAULT_TEXTURE_CACHE_BYTES);
        const { ours: tc, theirs: thc, roof: rfc } = await versusPeers(peers, oursTimed(be, () => F.matmul(a, w, { transB: true })),
          (tf) => [tf.randomNormal([m, k]), tf.randomNormal(nn(tf) ? [k, n] : [n, k])], (tf, [x, y]) => tf.matMul(x!, y!, false, !nn(tf)), reps, roof.fma, 3);
        be.setTextureCacheBytes(0);
        rows.push({ kernel: `matmul skinny, weight texture resident (${be.matmulStrategy})`, shape: `${m}x${k} @ ${n}x${k}^T`, ms: tc.median, minMs: tc.min, rate: flops / tc.median / 1e6, unit: 'GFLOP/s', roof: pct(flops / tc.median / 1e6, rfc), peers: fmtPeers(tc.median, thc) });
      }
      if (m <= 512) {
        const before = be.matmulStrategy;
        be.setMatmulStrategy('storage-reg8');
        const [stT, probeT] = await timeInterleaved([oursTimed(be, () => F.matmul(a, w, { transB: true })), roof.fma.run], 3, 4000);
        be.setMatmulStrategy(before);
        const st = stT!.median;
        rows.push({ kernel: 'matmul baseline (storage-reg8)', shape: `${m}x${k} @ ${n}x${k}^T`, ms: st, rate: flops / st / 1e6, unit: 'GFLOP/s', roof: pct(flops / st / 1e6, probeRate(roof.fma, probeT!)), peers: '' });
      }
      a.dispose(); w.dispose();
    }
  }

  if (want('attention')) {
    const [B, H, T, D] = [32, 4, 128, 64];
    const q = randn([B, H, T, D], { backend: be, seed: 4 });
    const k = randn([B, H, T, D], { backend: be, seed: 5 });
    const v = randn([B, H, T, D], { backend: be, seed: 6 });
    const scale = 1 / Math.sqrt(D);
    const attn = (F as unknown as { attention?: (q: Tensor, k: Tensor, v: Tensor, o: { scale: number }) => Tensor }).attention;
    const composite = () => F.matmul(F.softmax(F.mul(F.matmul(q, k, { transB: true }), scale)), v);
    const run = attn ? () => attn(q, k, v, { scale }) : composite;
    const { ours: t, theirs, roof: rf } = await versusPeers(peers, oursTimed(be, run),
      (tf) => [tf.randomNormal([B * H, T, D]), tf.randomNormal([B * H, T, D]), tf.randomNormal([B * H, T, D])],
      (tf, [x, y, z]) => tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(x!, y!, false, true), scale)), z!)), 5, roof.fma);
    const flops = 4 * B * H * T * T * D;
    const ms = t.median;
    rows.push({ kernel: `attention ${attn ? 'F.attention (fused)' : 'composite'}`, shape: `B${B} h${H} T${T} d${D}`, ms, minMs: t.min, rate: flops / ms / 1e6, unit: 'GFLOP/s', roof: pct(flops / ms / 1e6, rf), peers: fmtPeers(ms, theirs) });
    q.dispose(); k.dispose(); v.dispose();
    // Forward + backward against our own composite, on BERT's (B, T, heads, d) tensors with a padding
    // mask (bench/attention.ts; the two paths interleaved). Rate: the composite's 6 products
    // (2 forward, 4 backward); the fused backward recomputes S, a 7th, not counted.
    // Its own loop alternates the two paths; the FMA probe runs just before and after it.
    const probeBefore = probeRate(roof.fma, await timeIt(roof.fma.run, 3));
    const r = await benchAttention({ B, nh: H, T, hs: D, layout: 'bthd', backend: be });
    const rfBoth = (probeBefore + probeRate(roof.fma, await timeIt(roof.fma.run, 3))) / 2;
    const both = 3 * flops;
    rows.push({
      kernel: 'attention fwd+bwd, fused vs composite', shape: `B${B} T${T} h${H} d${D}, key mask`, ms: r.fused.both, minMs: r.fused.bothMin,
      rate: both / r.fused.both / 1e6, unit: 'GFLOP/s', roof: pct(both / r.fused.both / 1e6, rfBoth),
      peers: `our composite ${r.composite.both.toFixed(1)} ms (fused x${(r.composite.both / r.fused.both).toFixed(2)}; at the minima ${r.composite.bothMin.toFixed(1)} ms, x${(r.composite.bothMin / r.fused.bothMin).toFixed(2)}); ` +
        `the composite with F.maskedSoftmax ${r.maskedSoftmax.both.toFixed(1)} ms (fused x${(r.maskedSoftmax.both / r.fused.both).toFixed(2)})`,
    });
  }

  if (want('norm')) {
    for (const [rowsN, len] of [[4096, 256], [quick ? 32 : 128, 30522]] as const) {
      const x = randn([rowsN, len], { backend: be, seed: 7 });
      const g = randn([len], { backend: be, seed: 8 });
      const b = randn([len], { backend: be, seed: 9 });
      const bytes = 2 * rowsN * len * 4;
      for (const [name, f, tff] of [
        ['softmax', () => F.softmax(x), (tf: Tf, [t]: import('@tensorflow/tfjs-core').Tensor[]) => tf.softmax(t!)],
        ['layernorm', () => F.layerNorm(x, g, b), (tf: Tf, [t]: import('@tensorflow/tfjs-core').Tensor[]) => tf.tidy(() => { const m = tf.moments(t!, -1, true); return tf.div(tf.sub(t!, m.mean), tf.sqrt(tf.add(m.variance, 1e-12))); })],
      ] as const) {
        const { ours: t, theirs, roof: rf } = await versusPeers(peers, oursTimed(be, f),
          (tf) => [tf.randomNormal([rowsN, len])], tff, 9, roof.copy, 5);
        const ms = t.median;
        rows.push({ kernel: name, shape: `${rowsN} rows x ${len}`, ms, minMs: t.min, rate: bytes / ms / 1e6, unit: 'GB/s', roof: pct(bytes / ms / 1e6, rf), peers: fmtPeers(ms, theirs) });
      }
      x.dispose(); g.dispose(); b.dispose();
    }
  }

  let trainLine = '';
  if (want('train') && !quick) {
    be.setTextureCacheBytes(DEFAULT_TEXTURE_CACHE_BYTES);
    const cfg = bertConfig({ hidden_size: 256, intermediate_size: 512, num_attention_heads: 4, num_hidden_layers: 2, num_labels: 2 });
    const model = new BertForSequenceClassification(cfg, { backend: be });
    const opt = new Adam(model.parameters(), { lr: 1e-4 });
    const [B, T] = [32, 128];
    const batch = benchBatch(cfg.vocab_size, B, T); // the tfjs peers train on the same batch
    const { tensor } = await import('../engine/index.js');
    const inputIds = tensor(batch.ids, [B, T], { backend: be, dtype: 'i32' });
    const labels = tensor(batch.labels, [B], { backend: be, dtype: 'i32' });
    const step = async () => {
      tidy(() => {
        const out = model.forward({ inputIds, labels }) as { loss: Tensor | null };
        out.loss!.backward();
        opt.step();
        opt.zeroGrad();
      });
      await model.parameters()[0]!.data();
    };
    await step();
    const d0 = be.stats().dispatches;
    await step();
    const perStep = be.stats().dispatches - d0;
    const ms = (await timeIt(async (calls) => { for (let i = 0; i < calls; i++) await step(); }, 3, 60_000)).median;
    const exs = (t: number) => B / (t / 1000);
    // The same model and step in TensorFlow.js (bench/tfjs-bert.ts): 1 warm-up step, then the
    // median of 3 on wasm, a single timed step on webgpu (tens of seconds each on llvmpipe).
    const peerSteps: string[] = [];
    for (const p of peers) {
      const timedSteps = p.name === 'tfjs-webgpu' ? 1 : 3;
      try {
        const r = await tfjsBertStepMs(p.tf, p.name === 'tfjs-wasm' ? 'wasm' : 'webgpu', { timedSteps });
        peerSteps.push(`${p.name} ${exs(r.msPerStep).toFixed(2)} ex/s, ${r.msPerStep.toFixed(0)} ms/step (ours x${(r.msPerStep / ms).toFixed(2)}${timedSteps === 1 ? '; 1 timed step' : ''})`);
      } catch (e) {
        peerSteps.push(`${p.name} failed: ${String(e).split('\n')[0]}`);
      }
    }
    trainLine = `BERT-small training step (hidden 256, FF 512, 4 heads, 2 layers, batch ${B}, seq ${T}, Adam, dropout 0.1): ours ${ms.toFixed(0)} ms/step, ` +
      `${exs(ms).toFixed(1)} examples/s, ${perStep.toFixed(0)} dispatches/step; ${peerSteps.join('; ') || 'no tfjs peers'}`;
    console.log(trainLine);
  }

  const header = '| kernel | shape | median ms | min ms | rate (at the median) | % of roofline | peers (same run; ratio = their median / our median) |';
  const table = [header, '|---|---|---:|---:|---:|---:|---|', ...rows.map((r) =>
    `| ${r.kernel} | ${r.shape} | ${r.ms.toFixed(2)} | ${r.minMs === undefined ? '' : r.minMs.toFixed(2)} | ${r.rate.toFixed(2)} ${r.unit} | ${r.roof.toFixed(1)}% | ${r.peers} |`)].join('\n');
  console.log(table);
  for (const n of notes) console.log(`note: ${n}`);
  const md = `# Benchmark results\n\nDate: ${new Date().toISOString()}\n\nAdapter: ${adapter}\n\n` +
    `Matmul strategy: ${be.matmulStrategy}${tune ? ` (autotune on ${tune.bucket}: ${JSON.stringify(tune.ms)})` : ''}\n\n` +
    `Rooflines measured at the start of this run: ${roof.gflops.toFixed(1)} GFLOP/s (vec4 FMA chains), ${roof.gbs.toFixed(2)} GB/s (vec4 storage copy); ` +
    `each row's % of roofline is against these kernels timed in the row's own rounds. ` +
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)}. On a shared VM the speed of the whole ` +
    `machine drifts between runs (the FMA roofline measured 40-78 GFLOP/s on 2026-11-23): compare a kernel with the rooflines and peers of the same run.\n\n` +
    `Command: npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}\n\n${table}\n\n${trainLine ? trainLine + '\n\n' : ''}${notes.map((n) => `- ${n}`).join('\n')}\n`;
  roof.destroy();
  if (!only && !quick) writeFileSync(new URL('./RESULTS.md', import.meta.url), md);
  else console.log('(RESULTS.md is written by the full run only)');
  process.exit(0);
}

void main();
