// What scripts/browser-smoke.ts loads into headless Chromium: the engine core on the browser's own
// navigator.gpu (no Node, no Dawn bindings), checked against the float64 reference backend in the
// same page: kernels (shapes off the tile sizes), their gradients, fused attention with a padding
// mask, a small BERT classifier's loss, every parameter gradient and one Adam step, and the
// WordPiece tokenizer. Posts { adapter, checks, error? } to /result.

import { Adam, F, ReferenceBackend, tensor, type Backend, type Tensor } from '../../engine/index.js';
import { acquireDevice, describeAdapter } from '../../engine/backend/webgpu/device.js';
import { WebGPUBackend } from '../../engine/backend/webgpu/webgpu.js';
import { BertForSequenceClassification } from '../../models/heads.js';
import { bertConfig } from '../../models/configs.js';
import { loadSafetensorsBytes, serializeModel } from '../../models/checkpoint.js';
import { BertTokenizer } from '../../tokenizers/index.js';

export interface SmokeCheck { name: string; worst: number; bound: number; ok: boolean }
export interface SmokeResult { adapter: string; checks: SmokeCheck[]; error?: string }

/** Deterministic values in [-1, 1) (a 32-bit LCG), the same on both backends. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** |gpu - ref| / max|ref| over a tensor (the relative error the model fixtures bound too). */
async function relErr(gpu: Tensor, ref: Tensor): Promise<number> {
  const [a, b] = [await gpu.data(), await ref.data()];
  if (a.length !== b.length) throw new Error(`size ${a.length} vs ${b.length}`);
  let [err, big] = [0, 1e-30];
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    big = Math.max(big, Math.abs(b[i]!));
  }
  return err / big;
}

/**
 * Runs `build` on both backends on the same inputs (inputs marked `grad` get gradients of the sum
 * of the output times fixed weights) and records the worst relative error of the output and grads.
 */
async function compareOp(checks: SmokeCheck[], gpu: Backend, ref: Backend, name: string, shapes: { shape: number[]; grad?: boolean; mask?: boolean }[], build: (xs: Tensor[]) => Tensor, bound = 1e-4): Promise<void> {
  const run = (backend: Backend) => {
    const xs = shapes.map((s, i) => {
      const n = s.shape.reduce((p, q) => p * q, 1);
      const v = s.mask ? values(n, 99 + i).map((x) => (x > -0.6 ? 1 : 0)) : values(n, 7 + i);
      return tensor(v, s.shape, { backend, requiresGrad: !!s.grad });
    });
    const y = build(xs);
    const w = tensor(values(y.shape.reduce((p, q) => p * q, 1), 3), y.shape, { backend });
    F.sum(F.mul(y, w)).backward();
    return { y, grads: xs.filter((_, i) => shapes[i]!.grad).map((x) => x.grad!) };
  };
  const [a, b] = [run(gpu), run(ref)];
  const errs = [await relErr(a.y, b.y), ...(await Promise.all(a.grads.map((g, i) => relErr(g, b.grads[i]!))))];
  const worst = Math.max(...errs);
  checks.push({ name, worst, bound, ok: worst <= bound });
}

async function smoke(): Promise<SmokeResult> {
  const { device, report } = await acquireDevice(navigator.gpu, { featureLevel: 'core' }).catch(() => acquireDevice(navigator.gpu, { featureLevel: 'compatibility' }));
  const gpu = new WebGPUBackend(device, report);
  const ref = new ReferenceBackend();
  const checks: SmokeCheck[] = [];
  await compareOp(checks, gpu, ref, 'matmul 37x70 @ 45x70^T (fwd + both grads)', [{ shape: [37, 70], grad: true }, { shape: [45, 70], grad: true }], ([a, b]) => F.matmul(a!, b!, { transB: true }));
  await compareOp(checks, gpu, ref, 'linear + bias + GELU 3x17x33 -> 29', [{ shape: [3, 17, 33], grad: true }, { shape: [29, 33], grad: true }, { shape: [29], grad: true }], ([x, w, b]) => F.linear(x!, w!, b!, { activation: 'gelu' }));
  await compareOp(checks, gpu, ref, 'softmax 19x301', [{ shape: [19, 301], grad: true }], ([x]) => F.softmax(F.mul(x!, 4)));
  await compareOp(checks, gpu, ref, 'layerNorm 23x130', [{ shape: [23, 130], grad: true }, { shape: [130], grad: true }, { shape: [130], grad: true }], ([x, g, b]) => F.layerNorm(x!, g!, b!));
  await compareOp(checks, gpu, ref, 'attention B3 T37 h2 d16, key mask', [{ shape: [3, 37, 2, 16], grad: true }, { shape: [3, 37, 2, 16], grad: true }, { shape: [3, 37, 2, 16], grad: true }, { shape: [3, 37], mask: true }],
    ([q, k, v, m]) => F.attention(q!, k!, v!, { mask: m!, scale: 0.25, layout: 'bthd' }));
  await compareOp(checks, gpu, ref, 'crossEntropy 21x1000', [{ shape: [21, 1000], grad: true }], ([x]) => F.crossEntropy(F.mul(x!, 3), tensor(Int32Array.from({ length: 21 }, (_, i) => (i * 47) % 1000), [21], { backend: x!.backend, dtype: 'i32' })));

  // A small BERT classifier: the reference model's weights, through safetensors bytes, in the WebGPU one.
  const cfg = bertConfig({ vocab_size: 97, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32, num_labels: 3, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 });
  const models = [new BertForSequenceClassification(cfg, { backend: ref }), new BertForSequenceClassification(cfg, { backend: gpu })] as const;
  const loaded = loadSafetensorsBytes(models[1], await serializeModel(models[0]));
  if (loaded.missingKeys.length || loaded.unexpectedKeys.length) throw new Error(`checkpoint keys: missing ${loaded.missingKeys.join(', ')}; unexpected ${loaded.unexpectedKeys.join(', ')}`);
  const refParams = models[0].namedParameters();
  const [B, T] = [4, 11];
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 31 + 5) % 97);
  const keep = Float32Array.from({ length: B * T }, (_, i) => (i % T < T - (Math.floor(i / T) * 3) ? 1 : 0));
  const labels = Int32Array.of(0, 2, 1, 2);
  const losses: Tensor[] = [];
  for (const m of models) {
    const backend = m === models[0] ? ref : gpu;
    const out = m.forward({
      inputIds: tensor(ids, [B, T], { backend, dtype: 'i32' }),
      attentionMask: tensor(keep, [B, T], { backend }),
      labels: tensor(labels, [B], { backend, dtype: 'i32' }),
    }) as { loss: Tensor | null };
    out.loss!.backward();
    losses.push(out.loss!);
  }
  const lossErr = await relErr(losses[1]!, losses[0]!);
  checks.push({ name: 'BERT L2 H32 classifier: loss', worst: lossErr, bound: 1e-4, ok: lossErr <= 1e-4 });
  // The key biases' gradient is mathematically zero (softmax ignores a per-row constant q.b): the
  // reference gets ~1e-17, float32 ~1e-9. As in the fixture suite, they are held to 1e-6 of the
  // model's largest gradient.
  const zeroGrad = (name: string) => /attention\.self\.key\.bias$/.test(name);
  const gpuParams = new Map(models[1].namedParameters());
  let [gradErr, worstName, largest, zeroWorst] = [0, '', 0, 0];
  for (const [, p] of refParams) largest = Math.max(largest, ...Array.from(await p.grad!.data(), Math.abs));
  for (const [name, p] of refParams) {
    const g = gpuParams.get(name)!.grad!;
    if (zeroGrad(name)) { zeroWorst = Math.max(zeroWorst, ...Array.from(await g.data(), Math.abs)); continue; }
    const e = await relErr(g, p.grad!);
    if (e > gradErr) [gradErr, worstName] = [e, name];
  }
  checks.push({ name: `BERT L2 H32 classifier: ${refParams.filter(([n]) => !zeroGrad(n)).length} parameter gradients (worst ${worstName})`, worst: gradErr, bound: 1e-3, ok: gradErr <= 1e-3 });
  checks.push({ name: 'BERT L2 H32 classifier: the key biases\' zero gradients, over the largest gradient', worst: zeroWorst / largest, bound: 1e-6, ok: zeroWorst / largest <= 1e-6 });
  // One Adam step from the same gradients (the reference's, rounded to float32, on both: a first
  // Adam step moves an element by lr g / (|g| + eps), which turns float32 noise in a gradient near
  // eps into an update error near lr), each update against the reference's, over the learning rate
  // (float32 rounds a parameter near 1 to 6e-8, 6e-6 lr).
  const lr = 1e-2;
  const before = new Map<string, Float64Array>();
  for (const [name, p] of refParams) {
    before.set(name, Float64Array.from(await p.data()));
    const g = Float32Array.from(await p.grad!.data());
    p.grad = tensor(g, p.shape, { backend: ref });
    gpuParams.get(name)!.grad = tensor(g, p.shape, { backend: gpu });
  }
  for (const m of models) new Adam(m.parameters(), { lr }).step();
  let [stepErr, stepName] = [0, ''];
  for (const [name, p] of refParams) {
    const [a, b, p0] = [await gpuParams.get(name)!.data(), await p.data(), before.get(name)!];
    for (let i = 0; i < a.length; i++) {
      const e = Math.abs((a[i]! - p0[i]!) - (b[i]! - p0[i]!)) / lr;
      if (e > stepErr) [stepErr, stepName] = [e, name];
    }
  }
  checks.push({ name: `BERT L2 H32 classifier: Adam updates from the same gradients, over lr (worst ${stepName})`, worst: stepErr, bound: 3e-5, ok: stepErr <= 3e-5 });

  const tok = BertTokenizer.fromVocabText(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##aff', '##able', 'hello', ',', 'world', '!'].join('\n'));
  const enc = tok.encode('Hello, unaffable World!', 'hello');
  const want = [2, 8, 9, 5, 6, 7, 10, 11, 3, 8, 3];
  const wantTypes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
  const same = JSON.stringify([enc.inputIds, enc.tokenTypeIds]) === JSON.stringify([want, wantTypes]);
  checks.push({ name: `WordPiece pair: ids [${enc.inputIds.join(', ')}], segments [${enc.tokenTypeIds.join('')}]`, worst: same ? 0 : 1, bound: 0, ok: same });
  return { adapter: describeAdapter(report), checks };
}

smoke()
  .catch((e: unknown): SmokeResult => ({ adapter: 'unknown', checks: [], error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) }))
  .then((r) => fetch('/result', { method: 'POST', body: JSON.stringify(r) }));
