// Behaviour of the heads and blocks beyond the fixtures (reference backend, float64):
// MLM at given positions, the loss composites, QA clamping, attention-mask invariance,
// train/eval, feature extraction, input errors and memory hygiene.

import { describe, expect, it } from 'vitest';
import { F, ReferenceBackend, noGrad, setSeed, tensor, tidy, type Tensor } from '../../engine/index.js';
import { AlbertForPreTraining, AlbertModel } from '../../models/albert.js';
import { BertModel } from '../../models/bert.js';
import { albertConfig, bertConfig } from '../../models/configs.js';
import { extractFeatures, padBatch } from '../../models/features.js';
import {
  BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
} from '../../models/heads.js';
import { bceWithLogitsLoss } from '../../models/losses.js';

const ref = new ReferenceBackend();
const backend = ref;
const cfg = bertConfig({ vocab_size: 30, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 16, num_labels: 3 });
const acfg = albertConfig({ vocab_size: 30, embedding_size: 8, hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 16, hidden_dropout_prob: 0.1 });

const ids = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length], { backend, dtype: 'i32' });
const read = async (t: Tensor) => Array.from(await t.data());
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const X = [
  [2, 7, 4, 9, 3, 11, 4, 3],
  [2, 5, 6, 4, 3, 0, 0, 0],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 0, 0, 0],
];

describe('masked LM at given positions (d2l pred_positions)', () => {
  it('equals the full projection at those rows, with the same loss and gradients', async () => {
    setSeed(1);
    const m = new BertForMaskedLM(cfg, { backend }).eval();
    const positions = [[2, 6], [3, 1]];
    const labelsAt = [[12, 13], [14, -100]];
    const full = Array.from({ length: 2 }, () => new Array(8).fill(-100));
    positions.forEach((r, b) => r.forEach((p, j) => (full[b][p] = labelsAt[b][j])));
    const run = async (restricted: boolean) =>
      tidy(() => {
        m.zeroGrad();
        const out = m.forward({
          inputIds: ids(X), attentionMask: ids(MASK),
          labels: ids(restricted ? labelsAt : full),
          maskedPositions: restricted ? ids(positions) : null,
        });
        out.loss!.backward();
        return { logits: out.logits, loss: out.loss! };
      });
    const a = await run(false);
    const aGrads = await Promise.all(m.parameters().map((p) => read(p.grad!)));
    const b = await run(true);
    const bGrads = await Promise.all(m.parameters().map((p) => read(p.grad!)));
    expect(b.logits.shape).toEqual([2, 2, 30]);
    const fullLogits = await read(a.logits);
    const sel = await read(b.logits);
    positions.forEach((r, bb) => r.forEach((p, j) => {
      const row = fullLogits.slice((bb * 8 + p) * 30, (bb * 8 + p + 1) * 30);
      expect(maxDiff(sel.slice((bb * 2 + j) * 30, (bb * 2 + j + 1) * 30), row)).toBeLessThan(1e-12);
    }));
    expect(Math.abs((await a.loss.item()) - (await b.loss.item()))).toBeLessThan(1e-12);
    aGrads.forEach((g, i) => expect(maxDiff(g, bGrads[i])).toBeLessThan(1e-12));
    // positions computed on the device (no host copy) give the same rows
    const dev = tidy(() => {
      const p = F.cast(tensor([2, 6, 3, 1], [2, 2], { backend }), 'i32');
      expect(p.hostInts).toBeNull();
      return m.forward({ inputIds: ids(X), attentionMask: ids(MASK), maskedPositions: p }).logits;
    });
    expect(maxDiff(await read(dev), sel)).toBe(0);
    expect(() => m.forward({ inputIds: ids(X), maskedPositions: ids([[2, 8], [0, 1]]) })).toThrow(/position 8 .* outside \[0, 8\)/);
    m.dispose();
  });

  it('works for BertForPreTraining and AlbertForPreTraining', () => {
    setSeed(2);
    const base = ref.liveCount();
    for (const m of [new BertForPreTraining(cfg, { backend }), new AlbertForPreTraining(acfg, { backend })]) {
      tidy(() => {
        const out = m.forward({
          inputIds: ids(X), attentionMask: ids(MASK), maskedPositions: ids([[1], [2]]), labels: ids([[7], [6]]),
          nextSentenceLabel: tensor(Int32Array.of(0, 1), [2], { backend, dtype: 'i32' }),
          sentenceOrderLabel: tensor(Int32Array.of(1, 0), [2], { backend, dtype: 'i32' }),
        } as never) as { predictionLogits: Tensor; loss: Tensor };
        expect(out.predictionLogits.shape).toEqual([2, 1, 30]);
        expect(out.loss.shape).toEqual([]);
        out.loss.backward();
      });
      m.dispose();
    }
    expect(ref.liveCount()).toBe(base);
  });
});

describe('losses', () => {
  it('BCE-with-logits composite = the textbook formula, stable at extreme logits, gradient (sigmoid(x) - y)/N', async () => {
    const xs = [-120, -3, -0.5, 0, 0.7, 4, 90, 1e-3];
    const ys = [0, 1, 0.3, 1, 0, 1, 1, 0];
    const x = tensor(xs, [2, 4], { backend, requiresGrad: true });
    const loss = bceWithLogitsLoss(x, tensor(ys, [2, 4], { backend }));
    const sp = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    const want = xs.reduce((s, v, i) => s + sp(v) - v * ys[i], 0) / xs.length;
    expect(Math.abs((await loss.item()) - want)).toBeLessThan(1e-12);
    loss.backward();
    const g = await read(x.grad!);
    g.forEach((v, i) => expect(Math.abs(v - (1 / (1 + Math.exp(-xs[i])) - ys[i]) / xs.length)).toBeLessThan(1e-12));
  });

  it('sequence classification picks CE / MSE / BCE like HF', async () => {
    setSeed(3);
    const inputs = { inputIds: ids(X), attentionMask: ids(MASK) };
    const reg = new BertForSequenceClassification({ ...cfg, num_labels: 1 }, { backend }).eval();
    const out = reg.forward({ ...inputs, labels: tensor([0.5, -2], [2], { backend }) });
    const lg = await read(out.logits);
    expect(await out.loss!.item()).toBeCloseTo(((lg[0] - 0.5) ** 2 + (lg[1] + 2) ** 2) / 2, 12);
    const ce = new BertForSequenceClassification(cfg, { backend }).eval();
    const o2 = ce.forward({ ...inputs, labels: tensor(Int32Array.of(2, 0), [2], { backend, dtype: 'i32' }) });
    const l2 = await read(o2.logits);
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(await o2.loss!.item()).toBeCloseTo((lse(l2.slice(0, 3)) - l2[2] + lse(l2.slice(3)) - l2[3]) / 2, 12);
    const o3 = ce.forward({ ...inputs, labels: tensor([1, 0, 1, 0, 0, 1], [2, 3], { backend }) }); // f32 labels -> multi-label
    const sp = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    const y3 = [1, 0, 1, 0, 0, 1];
    expect(await o3.loss!.item()).toBeCloseTo(l2.reduce((s, v, i) => s + sp(v) - v * y3[i], 0) / 6, 12);
    reg.dispose();
    ce.dispose();
  });

  it('QA: positions clamped to [0, T], T ignored; host and device positions agree', async () => {
    setSeed(4);
    const m = new BertForQuestionAnswering({ ...cfg, num_labels: 2 }, { backend }).eval();
    const inputs = { inputIds: ids(X), attentionMask: ids(MASK) };
    const host = m.forward({ ...inputs, startPositions: tensor(Int32Array.of(3, -4), [2], { backend, dtype: 'i32' }), endPositions: tensor(Int32Array.of(99, 2), [2], { backend, dtype: 'i32' }) });
    const s = await read(host.startLogits);
    const e = await read(host.endLogits);
    const lse = (r: number[]) => Math.log(r.reduce((acc, v) => acc + Math.exp(v), 0));
    const startLoss = (lse(s.slice(0, 8)) - s[3] + lse(s.slice(8)) - s[8 + 0]) / 2; // -4 -> 0
    const endLoss = lse(e.slice(8)) - e[8 + 2]; // 99 -> 8 = ignored
    expect(await host.startLoss!.item()).toBeCloseTo(startLoss, 12);
    expect(await host.endLoss!.item()).toBeCloseTo(endLoss, 12);
    expect(await host.loss!.item()).toBeCloseTo((startLoss + endLoss) / 2, 12);
    const dev = m.forward({ ...inputs, startPositions: F.cast(tensor([3, -4], [2], { backend }), 'i32'), endPositions: F.cast(tensor([99, 2], [2], { backend }), 'i32') });
    expect(await dev.loss!.item()).toBe(await host.loss!.item());
    m.dispose();
  });
});

describe('encoder behaviour', () => {
  it('padding does not change the outputs at real positions (attention mask)', async () => {
    setSeed(5);
    for (const m of [new BertModel(cfg, { backend }).eval(), new AlbertModel(acfg, { backend }).eval()]) {
      const padded = m.forward({ inputIds: ids([[2, 5, 6, 4, 3, 0, 0, 0]]), attentionMask: ids([[1, 1, 1, 1, 1, 0, 0, 0]]) });
      const alone = m.forward({ inputIds: ids([[2, 5, 6, 4, 3]]) });
      const a = await read(padded.lastHiddenState);
      const b = await read(alone.lastHiddenState);
      expect(maxDiff(a.slice(0, b.length), b)).toBeLessThan(1e-12);
      expect(maxDiff(await read(padded.poolerOutput!), await read(alone.poolerOutput!))).toBeLessThan(1e-12);
      m.dispose();
    }
  });

  it('train() turns dropout on, eval() off, for every block', async () => {
    setSeed(6);
    const m = new BertForSequenceClassification(cfg, { backend });
    const inputs = { inputIds: ids(X), attentionMask: ids(MASK) };
    expect(m.training).toBe(true);
    const t1 = await read(m.forward(inputs).logits);
    const t2 = await read(m.forward(inputs).logits);
    expect(maxDiff(t1, t2)).toBeGreaterThan(1e-6);
    m.eval();
    expect(m.namedModules().every(([, b]) => !b.training)).toBe(true);
    const e1 = await read(m.forward(inputs).logits);
    const e2 = await read(m.forward(inputs).logits);
    expect(maxDiff(e1, e2)).toBe(0);
    m.train();
    expect(m.namedModules().every(([, b]) => b.training)).toBe(true);
    m.dispose();
    // with every dropout probability 0, train and eval agree
    const m0 = new BertForSequenceClassification({ ...cfg, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { backend });
    const a = await read(m0.forward(inputs).logits);
    const b = await read(m0.eval().forward(inputs).logits);
    expect(maxDiff(a, b)).toBe(0);
    m0.dispose();
  });

  it('a training step inside tidy leaves only parameters and gradients allocated', () => {
    setSeed(7);
    const base = ref.liveCount();
    const m = new BertForPreTraining(cfg, { backend });
    const params = m.parameters().length;
    expect(ref.liveCount()).toBe(base + params);
    tidy(() => {
      const out = m.forward({
        inputIds: ids(X), attentionMask: ids(MASK), tokenTypeIds: ids([[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]]),
        labels: ids([[-100, 7, -100, -100, -100, -100, 3, -100], [-100, -100, 6, -100, -100, -100, -100, -100]]),
        nextSentenceLabel: tensor(Int32Array.of(1, 0), [2], { backend, dtype: 'i32' }),
      });
      out.loss!.backward();
    });
    expect(ref.liveCount()).toBe(base + 2 * params);
    m.dispose();
    expect(ref.liveCount()).toBe(base);
  });

  it('default ids (no token types, no positions) equal explicit zeros and 0..T-1: output and every gradient', async () => {
    setSeed(3);
    const m = new BertModel(cfg, { backend }).eval(); // no dropout: both runs see the same network
    const T = X[0].length;
    const run = async (explicit: boolean) => {
      m.zeroGrad();
      const out = m.forward({
        inputIds: ids(X), attentionMask: ids(MASK),
        ...(explicit ? { tokenTypeIds: ids(X.map((r) => r.map(() => 0))), positionIds: ids([Array.from({ length: T }, (_, i) => i)]) } : {}),
      });
      const h = out.lastHiddenState;
      F.sum(F.mul(h, h)).backward();
      // The pooler is not on the path to h: its parameters have no gradient in either run.
      return [await read(h), ...(await Promise.all(m.parameters().map((p) => (p.grad ? read(p.grad) : []))))];
    };
    const [a, b] = [await run(false), await run(true)];
    expect(a.length).toBe(m.parameters().length + 1);
    // Same entries with a gradient in both runs (a gradient missing in one would compare as equal),
    // then equal values.
    a.forEach((x, i) => expect(x.length, `entry ${i}`).toBe(b[i].length));
    a.forEach((x, i) => expect(maxDiff(x, b[i]), `entry ${i}`).toBeLessThan(1e-12));
    // With default ids the token-type and position tables get a gradient, not all zero (so the
    // comparison above covers them).
    const params = m.parameters();
    const e = m.embeddings;
    for (const p of [e.token_type_embeddings.weight, e.position_embeddings.weight]) {
      const g = a[1 + params.indexOf(p)];
      expect(g.length).toBe(p.size);
      expect(g.some((x) => x !== 0)).toBe(true);
    }
    m.dispose();
  });

  it('rejects bad inputs with clear errors', () => {
    const m = new BertModel(cfg, { backend });
    expect(() => m.forward({ inputIds: tensor([1, 2], [1, 2], { backend }) })).toThrow(/inputIds must be i32 \[B, T\], got f32/);
    expect(() => m.forward({ inputIds: ids([new Array(17).fill(1)]) })).toThrow(/sequence length 17 exceeds max_position_embeddings 16/);
    expect(() => m.forward({ inputIds: ids(X), attentionMask: ids([[1, 1]]) })).toThrow(/attentionMask must be \[2, 8\]/);
    expect(() => m.forward({ inputIds: ids([[2, 31]]) })).toThrow(/id 31 .* out of range \[0, 30\)/);
    m.dispose();
  });
});

describe('feature extraction', () => {
  it('last / all hidden states, pooled output, [CLS] and masked-mean sentence vectors, without gradients', async () => {
    setSeed(8);
    for (const m of [new BertForSequenceClassification(cfg, { backend }).eval(), new AlbertModel(acfg, { backend }).eval()]) {
      const batch = padBatch([[2, 7, 4, 9, 3], [2, 5, 3]], 0, backend);
      const f = extractFeatures(m, batch, { pooling: 'mean', allHiddenStates: true });
      const L = m.config.num_hidden_layers;
      expect(f.hiddenStates!.length).toBe(L + 1);
      expect(f.lastHiddenState.requiresGrad).toBe(false);
      const h = await read(f.lastHiddenState);
      const H = 16;
      const mean1 = Array.from({ length: H }, (_, d) => (h[(5 + 0) * H + d] + h[(5 + 1) * H + d] + h[(5 + 2) * H + d]) / 3);
      expect(maxDiff((await read(f.sentenceVectors)).slice(H), mean1)).toBeLessThan(1e-12);
      const cls = extractFeatures(m, batch, { pooling: 'cls' });
      expect(maxDiff(await read(cls.sentenceVectors), [...h.slice(0, H), ...h.slice(5 * H, 6 * H)])).toBeLessThan(1e-12);
      const pooled = extractFeatures(m, batch, { pooling: 'pooler' });
      expect(maxDiff(await read(pooled.sentenceVectors), await read(pooled.poolerOutput!))).toBe(0);
      expect(await read(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
      m.dispose();
    }
    const noPool = new BertForMaskedLM(cfg, { backend });
    expect(() => extractFeatures(noPool, { inputIds: ids(X) }, { pooling: 'pooler' })).toThrow(/no pooling layer/);
    noPool.dispose();
  });

  it('noGrad is the default; grad: true records', () => {
    const m = new BertModel(cfg, { backend });
    const f = extractFeatures(m, { inputIds: ids(X) }, { grad: true });
    expect(f.sentenceVectors.requiresGrad).toBe(true);
    expect(noGrad(() => extractFeatures(m, { inputIds: ids(X) }, { grad: true })).sentenceVectors.requiresGrad).toBe(false);
    m.dispose();
  });
});
