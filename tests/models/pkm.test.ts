// Product-key memory beyond the fixtures: a brute-force host implementation of XLM's
// HashingMemory forward, BatchNorm1d's training statistics, gradients into every memory
// parameter, and ALBERT with memories (position 'after').

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { F, ReferenceBackend, randn, setSeed, tensor, tidy, type Tensor } from '../../engine/index.js';
import { AlbertForPreTraining } from '../../models/albert.js';
import { fromPretrained, savePretrained } from '../../models/checkpoint-node.js';
import { albertConfig, parameterShapes } from '../../models/configs.js';
import { BatchNorm1d, HashingMemory } from '../../models/pkm.js';

const backend = new ReferenceBackend();
const read = async (t: Tensor) => Array.from(await t.data());

/** Indices of the k largest values, descending, ties to the lower index. */
function topk(v: number[], k: number): number[] {
  return [...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
}

describe('HashingMemory', () => {
  for (const [label, o] of [
    ['small', { heads: 2, k_dim: 6, n_keys: 5, knn: 3 }],
    ['n_keys 64 (4096 slots), knn 8', { heads: 3, k_dim: 8, n_keys: 64, knn: 8 }],
  ] as const) {
    it(`equals a brute-force evaluation (${label})`, async () => {
      setSeed(11);
      const inDim = 7;
      const vDim = 5;
      const mem = new HashingMemory(inDim, vDim, { ...o, query_batchnorm: true, batchnorm_eps: 1e-5, backend, initStd: 0.5 });
      mem.eval();
      const bn = mem.query_proj.items[1] as BatchNorm1d;
      bn.setBuffer('running_mean', randn([o.heads * o.k_dim], { backend, std: 0.1 }));
      bn.setBuffer('running_var', F.add(F.abs(randn([o.heads * o.k_dim], { backend })), 0.5));
      const x = randn([2, 3, inDim], { backend });
      const trace: { layer: number; indices: Tensor; weights: Tensor }[] = [];
      const out = await read(mem.forward(x, { layer: 0, list: trace }));
      // host evaluation
      const P = new Map(mem.stateDict());
      const Wq = await read(P.get('query_proj.0.weight')!);
      const bq = await read(P.get('query_proj.0.bias')!);
      const g = await read(P.get('query_proj.1.weight')!);
      const beta = await read(P.get('query_proj.1.bias')!);
      const rmean = await read(bn.namedBuffers().find(([n]) => n === 'running_mean')![1]);
      const rvar = await read(bn.namedBuffers().find(([n]) => n === 'running_var')![1]);
      const keys = await read(mem.keys);
      const values = await read(P.get('values.weight')!);
      const xs = await read(x);
      const Q = o.heads * o.k_dim;
      const half = o.k_dim / 2;
      const idxOut = await read(trace[0].indices);
      for (let t = 0; t < 6; t++) {
        const q = Array.from({ length: Q }, (_, j) => {
          let s = bq[j];
          for (let i = 0; i < inDim; i++) s += Wq[j * inDim + i] * xs[t * inDim + i];
          return ((s - rmean[j]) / Math.sqrt(rvar[j] + 1e-5)) * g[j] + beta[j];
        });
        const want = new Array(vDim).fill(0);
        for (let h = 0; h < o.heads; h++) {
          const sub = (j: number) => Array.from({ length: o.n_keys }, (_, n) => {
            let s = 0;
            for (let d = 0; d < half; d++) s += q[h * o.k_dim + j * half + d] * keys[((h * 2 + j) * o.n_keys + n) * half + d];
            return s;
          });
          const s1 = sub(0);
          const s2 = sub(1);
          const i1 = topk(s1, o.knn);
          const i2 = topk(s2, o.knn);
          const all: number[] = [];
          const allIdx: number[] = [];
          for (const a of i1) for (const b of i2) (all.push(s1[a] + s2[b]), allIdx.push(a * o.n_keys + b));
          const best = topk(all, o.knn);
          const sc = best.map((j) => all[j]);
          const mx = Math.max(...sc);
          const z = sc.reduce((acc, v) => acc + Math.exp(v - mx), 0);
          best.forEach((j, k) => {
            const w = Math.exp(sc[k] - mx) / z;
            expect(idxOut[(t * o.heads + h) * o.knn + k]).toBe(allIdx[j]);
            for (let d = 0; d < vDim; d++) want[d] += w * values[allIdx[j] * vDim + d];
          });
        }
        for (let d = 0; d < vDim; d++) expect(Math.abs(out[t * vDim + d] - want[d])).toBeLessThan(1e-12);
      }
      mem.dispose();
    });
  }

  it('gradients reach the keys, the values and the query network', () => {
    setSeed(12);
    const mem = new HashingMemory(6, 4, { heads: 2, k_dim: 4, n_keys: 6, knn: 3, query_batchnorm: true, batchnorm_eps: 1e-5, backend });
    tidy(() => {
      const y = mem.forward(randn([5, 6], { backend }));
      F.sum(F.mul(y, randn([5, 4], { backend }))).backward();
    });
    for (const [n, p] of mem.namedParameters()) {
      expect(p.grad, n).not.toBeNull();
    }
    mem.dispose();
  });
});

describe('BatchNorm1d', () => {
  it('training normalises with batch statistics and updates the running estimates like PyTorch', async () => {
    const bn = new BatchNorm1d(3, 1e-5, 0.1, { backend });
    const xs = [1, 2, 3, 4, 6, 8, -1, 0, 5, 2, 2, 2];
    const y = await read(bn.forward(tensor(xs, [4, 3], { backend })));
    const col = (c: number) => [0, 1, 2, 3].map((r) => xs[r * 3 + c]);
    const buf = new Map(bn.namedBuffers());
    const rm = await read(buf.get('running_mean')!);
    const rv = await read(buf.get('running_var')!);
    for (let c = 0; c < 3; c++) {
      const v = col(c);
      const mean = v.reduce((a, b) => a + b) / 4;
      const varB = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      v.forEach((val, r) => expect(y[r * 3 + c]).toBeCloseTo((val - mean) / Math.sqrt(varB + 1e-5), 10));
      expect(rm[c]).toBeCloseTo(0.1 * mean, 12);
      expect(rv[c]).toBeCloseTo(0.9 + 0.1 * varB * (4 / 3), 12);
    }
    expect(await read(buf.get('num_batches_tracked')!)).toEqual([1]);
    bn.eval();
    const e = await read(bn.forward(tensor([1, 1, 1], [1, 3], { backend })));
    expect(e[0]).toBeCloseTo((1 - rm[0]) / Math.sqrt(rv[0] + 1e-5), 10);
    bn.dispose();
  });
});

describe('ALBERT with product-key memories (position after)', () => {
  it('builds with the config-driven names, trains, and round-trips through savePretrained', async () => {
    setSeed(13);
    const cfg = albertConfig({
      vocab_size: 30, embedding_size: 8, hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 24, max_position_embeddings: 16,
      pkm: { layers: [1], position: 'after', heads: 2, k_dim: 4, n_keys: 5, knn: 2, query_batchnorm: true, batchnorm_eps: 1e-5 },
    });
    const m = new AlbertForPreTraining(cfg, { backend });
    expect(m.namedParameters().map(([n, t]) => [n, [...t.shape]])).toEqual(parameterShapes(cfg, 'AlbertForPreTraining'));
    expect(m.namedBuffers().map(([n]) => n)).toEqual([
      'albert.encoder.memories.1.query_proj.1.running_mean', 'albert.encoder.memories.1.query_proj.1.running_var', 'albert.encoder.memories.1.query_proj.1.num_batches_tracked',
    ]);
    const ids = tensor(Int32Array.from([2, 5, 6, 7, 3, 2, 9, 3, 0, 0]), [2, 5], { backend, dtype: 'i32' });
    tidy(() => {
      const out = m.forward({
        inputIds: ids, attentionMask: tensor(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), [2, 5], { backend, dtype: 'i32' }),
        labels: tensor(Int32Array.from([-100, 5, -100, -100, -100, -100, 9, -100, -100, -100]), [2, 5], { backend, dtype: 'i32' }),
        sentenceOrderLabel: tensor(Int32Array.of(0, 1), [2], { backend, dtype: 'i32' }), outputMemory: true,
      });
      expect(out.memory!.map((t) => [t.layer, t.indices.shape])).toEqual([[1, [2, 5, 2, 2]]]);
      out.loss!.backward();
    });
    const memKeys = m.namedParameters().find(([n]) => n === 'albert.encoder.memories.1.keys')![1];
    expect(memKeys.grad).not.toBeNull();
    const dir = await mkdtemp(join(tmpdir(), 'albert-pkm-'));
    try {
      await savePretrained(m, dir);
      const back = await fromPretrained(dir, { backend, logger: null });
      expect(back.report.missingKeys).toEqual([]);
      expect(back.report.unexpectedKeys).toEqual([]);
      const a = [...m.stateDict(), ...m.namedBuffers()];
      const b = new Map([...back.model.stateDict(), ...back.model.namedBuffers()]);
      for (const [n, t] of a) expect(await read(b.get(n)!), n).toEqual(Array.from(Float32Array.from(await read(t))));
      expect(await read(b.get('albert.encoder.memories.1.query_proj.1.num_batches_tracked')!)).toEqual([1]);
      back.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    m.dispose();
  });
});
