// The TensorFlow.js peer of the BERT-small training step in bench/run.ts: the same
// BertForSequenceClassification (models/heads.ts with bertConfig, hidden 256, FF 512, 4 heads,
// 2 layers; vocab 30522, 512 positions, 2 token types, erf GELU, LayerNorm eps 1e-12, dropout 0.1
// on embeddings, attention probabilities, both residual branches and the pooled output, tanh
// pooler, 2 labels, softmax cross-entropy) written with tfjs-core ops, trained with Adam (lr 1e-4,
// betas 0.9/0.999, eps 1e-8, as engine/optim's Adam) on the same batch (benchBatch below).
// Differences from ours: no padding_idx on the word embeddings (row 0 receives gradient), dropout
// masks come from tfjs' host-side RNG, and on tfjs-wasm the dense layers compute their input and
// weight gradients as plain matmuls of explicitly transposed operands (denseNN: 5.0-5.7 s/step
// here against 23 s with tfjs' own matMul gradient) and the embedding gradient is a scatterND
// (tfjs-wasm has no UnsortedSegmentSum, tf.gather's gradient).
//
//   EGL_PLATFORM=surfaceless npx tsx bench/tfjs-bert.ts [--check] [--backend wasm|webgpu]
// times steps; --check trains 5 steps on the repeated batch and prints the losses.

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs-core';

type Tf = typeof TF;
type T = TF.Tensor;

export const BERT_SMALL = {
  vocab: 30522, maxPositions: 512, typeVocab: 2, hidden: 256, ff: 512, heads: 4, layers: 2, labels: 2,
  eps: 1e-12, dropout: 0.1, initStd: 0.02,
};
export const BATCH = 32;
export const SEQ = 128;

/** The benchmark batch, shared with our side in bench/run.ts: ids [B*T] and labels [B]. */
export function benchBatch(vocab: number, B = BATCH, T = SEQ): { ids: number[]; labels: number[] } {
  return {
    ids: Array.from({ length: B * T }, (_, i) => (i * 7919) % vocab),
    labels: Array.from({ length: B }, (_, i) => i % 2),
  };
}

interface Dense { w: TF.Variable; b: TF.Variable } // w [in, out] (a tfjs Dense kernel's layout)
interface Norm { g: TF.Variable; b: TF.Variable }
interface Layer { q: Dense; k: Dense; v: Dense; ao: Dense; ln1: Norm; ff1: Dense; ff2: Dense; ln2: Norm }
interface Params {
  word: TF.Variable; pos: TF.Variable; type: TF.Variable; embLn: Norm;
  layers: Layer[]; pooler: Dense; classifier: Dense;
}

function initParams(tf: Tf, c = BERT_SMALL): Params {
  const normal = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, c.initStd));
  const dense = (i: number, o: number): Dense => ({ w: normal([i, o]), b: tf.variable(tf.zeros([o])) });
  const norm = (n: number): Norm => ({ g: tf.variable(tf.ones([n])), b: tf.variable(tf.zeros([n])) });
  const H = c.hidden;
  return {
    word: normal([c.vocab, H]), pos: normal([c.maxPositions, H]), type: normal([c.typeVocab, H]), embLn: norm(H),
    layers: Array.from({ length: c.layers }, () => ({
      q: dense(H, H), k: dense(H, H), v: dense(H, H), ao: dense(H, H), ln1: norm(H),
      ff1: dense(H, c.ff), ff2: dense(c.ff, H), ln2: norm(H),
    })),
    pooler: dense(H, H), classifier: dense(H, c.labels),
  };
}

/**
 * x [N, in] @ w [in, out] whose backward is dx = dy @ w^T and dw = x^T @ dy computed as
 * untransposed matmuls of explicitly transposed operands. tfjs-wasm only sends 2-D matmuls
 * without transposes to XNNPACK; the transposed products of tfjs' own matMul gradient fall to
 * its scalar loop (~1 GFLOP/s against ~20 here), so this is the wasm peer at its real speed.
 */
function denseNN(tf: Tf): (x: T, w: T) => T {
  return tf.customGrad(((x: T, w: T, save: TF.GradSaveFunc) => {
    save([x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: T, [xs, ws]: T[]) => [tf.matMul(dy, tf.transpose(ws!)), tf.matMul(tf.transpose(xs!), dy)],
    };
  }) as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (x: T, w: T) => T;
}

/**
 * table [V, H] rows at int ids (any shape) -> [...ids.shape, H]. tf.gather's gradient is
 * UnsortedSegmentSum, which tfjs-wasm does not implement; there the backward is a scatterND
 * (which sums the rows of repeated ids) instead.
 */
function embedding(tf: Tf, backendName: string): (table: T, ids: T) => T {
  if (tf.getKernel('UnsortedSegmentSum', backendName)) return (table, ids) => tf.gather(table, ids);
  return (table, ids) => tf.customGrad(((t: T) => ({
    value: tf.gather(t, ids),
    gradFunc: (dy: T) => tf.scatterND(tf.reshape(ids, [-1, 1]), tf.reshape(dy, [-1, t.shape[1]!]), t.shape),
  })) as unknown as Parameters<Tf['customGrad']>[0])(table) as T;
}

interface Impl { matmul: (x: T, w: T) => T; embed: (table: T, ids: T) => T }

/** logits [B, labels] of the sequence classifier on ids [B, T] (training mode: dropout on). */
function forward(tf: Tf, p: Params, ids: T, typeIds: T, { matmul, embed }: Impl, c = BERT_SMALL): T {
  const [B, T] = ids.shape as [number, number];
  const H = c.hidden, nh = c.heads, hs = H / nh;
  const drop = (x: T) => tf.dropout(x, c.dropout);
  const dense = (x: T, d: Dense) => tf.add(matmul(x, d.w), d.b); // x [N, in]
  const layerNorm = (x: T, n: Norm) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, c.eps))), n.g), n.b);
  };
  const gelu = (x: T) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const heads = (x: T) => tf.transpose(tf.reshape(x, [B, T, nh, hs]), [0, 2, 1, 3]); // [B, nh, T, hs]

  let emb = tf.add(embed(p.word, ids), embed(p.type, typeIds)); // [B, T, H]
  emb = tf.add(emb, tf.slice(p.pos, [0, 0], [T, H]));
  let h = tf.reshape(drop(layerNorm(emb, p.embLn)), [B * T, H]);
  for (const l of p.layers) {
    const q = heads(dense(h, l.q)), k = heads(dense(h, l.k)), v = heads(dense(h, l.v));
    const probs = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hs))); // [B, nh, T, T]
    const ctx = tf.reshape(tf.transpose(tf.matMul(drop(probs), v), [0, 2, 1, 3]), [B * T, H]);
    const a = layerNorm(tf.add(drop(dense(ctx, l.ao)), h), l.ln1);
    h = layerNorm(tf.add(drop(dense(gelu(dense(a, l.ff1)), l.ff2)), a), l.ln2);
  }
  const cls = tf.reshape(tf.slice(tf.reshape(h, [B, T, H]), [0, 0, 0], [B, 1, H]), [B, H]);
  const pooled = tf.tanh(dense(cls, p.pooler));
  return dense(drop(pooled), p.classifier);
}

/**
 * tfjs-core 4.x ships its gradients apart from the core bundle: @tensorflow/tfjs (the union
 * package, not installed here) imports dist/register_all_gradients, so we do the same. Those files
 * are ES modules in a CommonJS package, loaded through tsx's require hook (about 3 s, once); the
 * registries they fill are tfjs globals shared with the core bundle.
 */
export function registerGradients(tf: Tf): void {
  if (!tf.getGradient('BatchMatMul')) createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}

export interface StepOptions { timedSteps?: number; lr?: number; onLoss?: (step: number, loss: number) => void }

/**
 * ms per training step of the tfjs BERT-small on `backendName` ('wasm' | 'webgpu', already
 * registered): one warm-up step, then the median of `timedSteps` (default 3) steps, each synced
 * by reading the loss back. Every variable is disposed afterwards.
 */
export async function tfjsBertStepMs(tf: Tf, backendName: string, opts: StepOptions = {}): Promise<{ msPerStep: number; losses: number[] }> {
  if (!(await tf.setBackend(backendName))) throw new Error(`tfjs backend '${backendName}' unavailable`);
  await tf.ready();
  registerGradients(tf);
  const c = BERT_SMALL;
  const { ids, labels } = benchBatch(c.vocab);
  const idsT = tf.tensor2d(ids, [BATCH, SEQ], 'int32');
  const typeIds = tf.zeros([BATCH, SEQ], 'int32');
  const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), c.labels);
  const params = initParams(tf, c);
  const impl: Impl = {
    matmul: backendName === 'wasm' ? denseNN(tf) : (x: T, w: T) => tf.matMul(x, w),
    embed: embedding(tf, backendName),
  };
  const opt = tf.train.adam(opts.lr ?? 1e-4, 0.9, 0.999, 1e-8);
  const losses: number[] = [];
  const step = async () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(onehot, forward(tf, params, idsT, typeIds, impl, c)) as TF.Scalar, true)!;
    const v = (await loss.data())[0]!;
    loss.dispose();
    losses.push(v);
    opts.onLoss?.(losses.length - 1, v);
  };
  await step(); // warm-up: kernel compilation, XNNPACK packing, Adam slots
  const ts: number[] = [];
  for (let i = 0; i < (opts.timedSteps ?? 3); i++) {
    const t0 = performance.now();
    await step();
    ts.push(performance.now() - t0);
  }
  opt.dispose();
  tf.dispose([idsT, typeIds, onehot]);
  tf.disposeVariables();
  return { msPerStep: [...ts].sort((a, b) => a - b)[ts.length >> 1]!, losses };
}

/**
 * Registers TensorFlow.js's WebGPU backend on Dawn's OpenGL ES adapter (llvmpipe): navigator.gpu
 * from the `webgpu` package, with requestAdapter asking for featureLevel 'compatibility'.
 */
export async function installTfjsWebGPU(): Promise<void> {
  const { create, globals } = await import('webgpu');
  process.env['EGL_PLATFORM'] ??= 'surfaceless';
  const gpu = create(['backend=opengles']);
  const orig = gpu.requestAdapter.bind(gpu);
  (gpu as { requestAdapter: unknown }).requestAdapter = (o: GPURequestAdapterOptions = {}) => orig({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const bi = argv.indexOf('--backend');
  const backend = bi >= 0 ? argv[bi + 1]! : 'wasm';
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else {
    await installTfjsWebGPU();
  }
  const check = argv.includes('--check');
  const t0 = performance.now();
  const r = await tfjsBertStepMs(tf, backend, {
    timedSteps: check ? 4 : backend === 'webgpu' ? 1 : 3,
    onLoss: (s, l) => console.log(`step ${s}: loss ${l.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s, ${tf.memory().numTensors} tensors)`),
  });
  console.log(`tfjs-${backend}: ${r.msPerStep.toFixed(0)} ms/step, ${(BATCH / (r.msPerStep / 1000)).toFixed(2)} examples/s`);
  if (check) {
    const ok = r.losses.every(Number.isFinite) && r.losses[r.losses.length - 1]! < r.losses[0]!;
    console.log(`check: losses ${r.losses.map((l) => l.toFixed(4)).join(' -> ')}: ${ok ? 'finite and decreasing' : 'FAILED'}`);
    process.exitCode = ok ? 0 : 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) void main();
