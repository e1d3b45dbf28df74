// Product-key memory (Lample et al. 2019, "Large Memory Layers with Product Keys"), following
// XLM's HashingMemory as tools/reference/pkm.py does: a query network (Linear + optional
// BatchNorm1d), `heads` heads each with two sub-key tables of n_keys keys over half the query
// dimensions, top-knn per half, top-knn of the knn x knn sums, softmax weights and a weighted
// sum of knn rows of an n_keys^2-row value table per head (EmbeddingBag mode 'sum').
// Parameter names: keys, values.weight, query_proj.0.{weight,bias}, query_proj.1.{weight,bias}
// plus the BatchNorm buffers query_proj.1.{running_mean,running_var,num_batches_tracked}.
//
// Index arithmetic is done in f32 (exact below 2^24 = n_keys^2 limit) and cast to i32 before
// gathers. The weighted sum materialises the knn*heads selected value rows per token
// (composite of gather + matmul; there is no fused EmbeddingBag kernel).

import { F, Linear, full, noGrad, tensor, tidy, type Backend, type Tensor } from '../engine/index.js';
import { Block, ModuleList, pickBackend } from './block.js';
import { normalInit, uniformInit } from './init.js';
import type { MemoryTrace } from './bert.js';

/** BatchNorm1d over [N, C] with PyTorch's semantics (biased batch variance for normalising, unbiased in the running estimate). */
export class BatchNorm1d extends Block {
  /** Host mirror of the num_batches_tracked buffer. */
  private batches = 0;
  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1, opts: { backend?: Backend } = {}) {
    super();
    const backend = pickBackend(opts.backend);
    this.param('weight', full([numFeatures], 1, { backend }));
    this.param('bias', full([numFeatures], 0, { backend }));
    this.buffer('running_mean', full([numFeatures], 0, { backend }));
    this.buffer('running_var', full([numFeatures], 1, { backend }));
    this.buffer('num_batches_tracked', tensor(Int32Array.of(0), [], { backend, dtype: 'i32' }));
  }

  override setBuffer(name: string, t: Tensor): void {
    super.setBuffer(name, t);
    if (name === 'num_batches_tracked') this.batches = t.hostInts ? t.hostInts[0] : this.batches;
  }

  /** x [N, C] -> normalised [N, C]; in training mode the running statistics are updated. */
  forward(x: Tensor): Tensor {
    const w = this.getParam('weight');
    const b = this.getParam('bias');
    if (x.rank !== 2 || x.shape[1] !== this.numFeatures) throw new Error(`BatchNorm1d(${this.numFeatures}): expected [N, ${this.numFeatures}], got [${x.shape.join(', ')}]`);
    let mean: Tensor;
    let variance: Tensor;
    if (this.training) {
      const n = x.shape[0];
      if (n < 2) throw new Error(`BatchNorm1d: training needs more than 1 value per channel, got input [${x.shape.join(', ')}]`);
      mean = F.mean(x, 0, true); // (1, C)
      const d = F.sub(x, mean);
      variance = F.mean(F.mul(d, d), 0, true); // (1, C), biased
      this.updateRunning(mean, variance, n);
    } else {
      mean = this.getBuffer('running_mean');
      variance = this.getBuffer('running_var');
    }
    const y = F.mul(F.sub(x, mean), F.rsqrt(F.add(variance, this.eps))); // (N, C)
    return F.add(F.mul(y, w), b);
  }

  private updateRunning(mean: Tensor, variance: Tensor, n: number): void {
    const m = this.momentum;
    const C = this.numFeatures;
    const [rm, rv] = noGrad(() =>
      tidy(() => [
        F.add(F.mul(this.getBuffer('running_mean'), 1 - m), F.mul(F.reshape(mean, [C]), m)), // (1, C) -> (C,)
        F.add(F.mul(this.getBuffer('running_var'), 1 - m), F.mul(F.reshape(variance, [C]), (m * n) / (n - 1))), // (1, C) -> (C,)
      ]),
    );
    this.setBuffer('running_mean', rm);
    this.setBuffer('running_var', rv);
    this.batches++;
    this.setBuffer('num_batches_tracked', tensor(Int32Array.of(this.batches), [], { backend: mean.backend, dtype: 'i32' }));
  }
}

export interface HashingMemoryOptions {
  k_dim: number;
  heads: number;
  knn: number;
  n_keys: number;
  query_batchnorm: boolean;
  batchnorm_eps: number;
  backend?: Backend;
  /** Std of the query Linear's weights (HF's initializer_range). */
  initStd?: number;
}

export class HashingMemory extends Block {
  readonly kDim: number;
  readonly heads: number;
  readonly knn: number;
  readonly nKeys: number;
  readonly vDim: number;
  readonly values: ValueTable;
  readonly query_proj: ModuleList<Linear | BatchNorm1d>;

  constructor(readonly inputDim: number, readonly outputDim: number, opts: HashingMemoryOptions) {
    super();
    const backend = pickBackend(opts.backend);
    if (opts.k_dim < 2 || opts.k_dim % 2 !== 0) throw new Error(`HashingMemory: k_dim must be even, got ${opts.k_dim}`);
    if (opts.knn > opts.n_keys) throw new Error(`HashingMemory: knn ${opts.knn} > n_keys ${opts.n_keys}`);
    this.kDim = opts.k_dim;
    this.heads = opts.heads;
    this.knn = opts.knn;
    this.nKeys = opts.n_keys;
    this.vDim = outputDim;
    const half = this.kDim / 2;
    // XLM: keys ~ U(-1/sqrt(half), 1/sqrt(half)); values ~ N(0, v_dim^-0.5).
    this.param('keys', uniformInit([this.heads, 2, this.nKeys, half], 1 / Math.sqrt(half), backend));
    this.values = this.module('values', new ValueTable(this.nKeys * this.nKeys, outputDim, backend));
    this.query_proj = this.module('query_proj', new ModuleList<Linear | BatchNorm1d>());
    this.query_proj.push(new Linear(inputDim, this.heads * this.kDim, { backend, initStd: opts.initStd ?? 0.02 }));
    if (opts.query_batchnorm) this.query_proj.push(new BatchNorm1d(this.heads * this.kDim, opts.batchnorm_eps, 0.1, { backend }));
  }

  get keys(): Tensor {
    return this.getParam('keys');
  }

  /** x [..., input_dim] -> [..., v_dim]. `trace` collects the selected slots and weights. */
  forward(x: Tensor, trace?: { layer: number; list: MemoryTrace[] }): Tensor {
    if (x.shape[x.rank - 1] !== this.inputDim) throw new Error(`HashingMemory: input last dim ${x.shape[x.rank - 1]} != ${this.inputDim}`);
    const prefix = x.shape.slice(0, -1);
    const bs = prefix.reduce((a, b) => a * b, 1);
    const { heads: nh, kDim, knn, nKeys } = this;
    const half = kDim / 2;
    let q = F.reshape(x, [bs, this.inputDim]); // (bs, in)
    for (const m of this.query_proj.items) q = m.forward(q); // (bs, nh*k_dim)
    q = F.permute(F.reshape(q, [bs, nh, kDim]), [1, 0, 2]); // (bs, nh, k_dim) -> (nh, bs, k_dim)
    const subkeys = (j: number) => F.reshape(F.slice(this.keys, 1, j, j + 1), [nh, nKeys, half]); // (nh, 1, n_keys, half) -> (nh, n_keys, half)
    const s1 = F.matmul(F.slice(q, 2, 0, half), subkeys(0), { transB: true }); // (nh, bs, n_keys)
    const s2 = F.matmul(F.slice(q, 2, half), subkeys(1), { transB: true }); // (nh, bs, n_keys)
    const t1 = F.topk(s1, knn); // (nh, bs, knn) each, sorted descending
    const t2 = F.topk(s2, knn);
    const allScores = F.reshape(
      F.add(F.reshape(t1.values, [nh, bs, knn, 1]), F.reshape(t2.values, [nh, bs, 1, knn])), // (nh, bs, knn, knn)
      [nh, bs, knn * knn],
    ); // (nh, bs, knn*knn): entry a*knn+b = s1[a] + s2[b]
    const allIndices = F.reshape(
      F.add(F.mul(F.reshape(F.cast(t1.indices, 'f32'), [nh, bs, knn, 1]), nKeys), F.reshape(F.cast(t2.indices, 'f32'), [nh, bs, 1, knn])), // (nh, bs, knn, knn)
      [nh, bs, knn * knn],
    ); // (nh, bs, knn*knn): i1[a]*n_keys + i2[b], exact in f32
    const best = F.topk(allScores, knn); // (nh, bs, knn)
    const indices = F.cast(F.gatherLast(allIndices, best.indices), 'i32'); // (nh, bs, knn)
    const weights = F.softmax(best.values); // (nh, bs, knn)
    const idxRows = F.reshape(F.permute(indices, [1, 0, 2]), [bs, nh * knn]); // (bs, nh, knn) -> (bs, nh*knn)
    const w = F.reshape(F.permute(weights, [1, 0, 2]), [bs, 1, nh * knn]); // (bs, nh, knn) -> (bs, 1, nh*knn)
    const rows = F.gather(this.values.getWeight(), idxRows); // (bs, nh*knn, v_dim)
    const out = F.matmul(w, rows); // (bs, 1, v_dim)
    if (trace) {
      trace.list.push({
        layer: trace.layer,
        indices: F.reshape(F.permute(indices, [1, 0, 2]), [...prefix, nh, knn]), // (..., nh, knn)
        weights: F.reshape(F.permute(weights, [1, 0, 2]), [...prefix, nh, knn]), // (..., nh, knn)
      });
    }
    return F.reshape(out, [...prefix, this.vDim]); // (..., v_dim)
  }
}

/** The value table: an EmbeddingBag's single 'weight' parameter. */
export class ValueTable extends Block {
  constructor(rows: number, dim: number, backend: Backend) {
    super();
    this.param('weight', normalInit([rows, dim], dim ** -0.5, backend));
  }
  getWeight(): Tensor {
    return this.getParam('weight');
  }
}
