// Basic layers with PyTorch/Hugging Face names and BERT's initialisation
// (normal(0, initializerRange) weights, zero biases, LayerNorm gamma 1 / beta 0).

import type { Backend } from '../backend/spec.js';
import { full, randn } from '../creation.js';
import * as F from '../ops/api.js';
import { fmtShape } from '../shape.js';
import { getDefaultBackend, type Tensor } from '../tensor.js';
import { Module } from './module.js';

export interface LayerOptions {
  backend?: Backend;
  /** Std of the normal initialiser (BERT's initializer_range). */
  initStd?: number;
}

export class Linear extends Module {
  readonly hasBias: boolean;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    const backend = opts.backend ?? getDefaultBackend();
    this.param('weight', randn([outFeatures, inFeatures], { backend, std: opts.initStd ?? 0.02 }));
    this.hasBias = opts.bias !== false;
    if (this.hasBias) this.param('bias', full([outFeatures], 0, { backend }));
  }
  get weight(): Tensor {
    return this.getParam('weight');
  }
  get bias(): Tensor | null {
    return this.hasBias ? this.getParam('bias') : null;
  }
  /** x: [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  constructor(readonly numEmbeddings: number, readonly dim: number, opts: LayerOptions & { paddingIdx?: number | null } = {}) {
    super();
    const backend = opts.backend ?? getDefaultBackend();
    const w = randn([numEmbeddings, dim], { backend, std: opts.initStd ?? 0.02 });
    this.param('weight', w);
    this.paddingIdx = opts.paddingIdx ?? null;
  }
  readonly paddingIdx: number | null;
  get weight(): Tensor {
    return this.getParam('weight');
  }
  /** ids: i32 of any shape -> [...ids.shape, dim]. The padding row receives no gradient. */
  forward(ids: Tensor): Tensor {
    if (this.paddingIdx === null) return F.gather(this.weight, ids);
    return F.embeddingWithPadding(this.weight, ids, this.paddingIdx);
  }
}

export class LayerNorm extends Module {
  constructor(readonly dim: number, readonly eps = 1e-12, opts: LayerOptions = {}) {
    super();
    const backend = opts.backend ?? getDefaultBackend();
    this.param('weight', full([dim], 1, { backend }));
    this.param('bias', full([dim], 0, { backend }));
  }
  get weight(): Tensor {
    return this.getParam('weight');
  }
  get bias(): Tensor {
    return this.getParam('bias');
  }
  forward(x: Tensor): Tensor {
    const w = this.weight;
    const b = this.bias;
    if (x.shape[x.rank - 1] !== this.dim) throw new Error(`LayerNorm(${this.dim}): input ${fmtShape(x.shape)} has last dimension ${x.shape[x.rank - 1]}`);
    return F.layerNorm(x, w, b, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, { training: this.training });
  }
}
