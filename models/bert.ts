// BERT (Devlin et al. 2019) in Hugging Face's module tree, hence its parameter names
// (bert.encoder.layer.0.attention.self.query.weight, ...), with post-LN residual blocks, erf GELU,
// the additive attention mask (1 - mask) * float32_min, and a tanh pooler.
// nanoGPT style: one config object, one class per block, shape comments on every reshape.
// Optional product-key memories (models/pkm.ts) sit at config.pkm.layers as in tools/reference/bert.py.

import { Dropout, Embedding, F, LayerNorm, Linear, type Backend, type Tensor } from '../engine/index.js';
import { normalInit } from './init.js';
import { Block, ModuleList, linearAct, layerNormResidual, pickBackend, headLinear } from './block.js';
import type { BertConfig, PkmConfig } from './configs.js';
import { HashingMemory } from './pkm.js';

/** torch.finfo(torch.float32).min: the value HF adds to masked attention scores. */
export const MASK_VALUE = -3.4028234663852886e38;

export interface ModelOptions {
  backend?: Backend;
}

/** Inputs shared by every BERT/ALBERT forward. ids are i32 [B, T]. */
export interface EncoderInputs {
  inputIds: Tensor;
  /** 1 = attend, 0 = padding; i32 or f32 [B, T]. Default: all ones. */
  attentionMask?: Tensor | null;
  /** Segment ids, i32 [B, T]. Default: zeros. */
  tokenTypeIds?: Tensor | null;
  /** i32 [B, T] or [1, T]. Default: 0..T-1. */
  positionIds?: Tensor | null;
  /** Return the embedding output and every layer's output. */
  outputHiddenStates?: boolean;
  /** Return every layer's attention probabilities [B, nh, T, T]. */
  outputAttentions?: boolean;
  /** Return the product-key memories' selected slots and weights (layer -> [B, T, heads, knn]). */
  outputMemory?: boolean;
}

export interface MemoryTrace {
  layer: number;
  /** i32 [B, T, heads, knn]: value rows read. */
  indices: Tensor;
  /** f32 [B, T, heads, knn]: their softmax weights. */
  weights: Tensor;
}

export interface EncoderOutput {
  /** [B, T, H] */
  lastHiddenState: Tensor;
  /** [B, H] tanh(dense(h[:, 0])), or null without a pooling layer. */
  poolerOutput: Tensor | null;
  /** L + 1 tensors [B, T, H] (embeddings first) when outputHiddenStates. */
  hiddenStates: Tensor[] | null;
  /** L tensors [B, nh, T, T] when outputAttentions. */
  attentions: Tensor[] | null;
  memory: MemoryTrace[] | null;
}

/** [B, T] 1/0 mask -> additive [B, 1, 1, T]: 0 where kept, float32 min where masked (HF's get_extended_attention_mask). */
export function extendedAttentionMask(mask: Tensor): Tensor {
  if (mask.rank !== 2) throw new Error(`attention mask must be [B, T], got [${mask.shape.join(', ')}]`);
  const [B, T] = mask.shape;
  const m = F.reshape(F.cast(mask, 'f32'), [B, 1, 1, T]); // (B, 1, 1, T)
  return F.mul(F.sub(1, m), MASK_VALUE);
}

export function checkIds(inputIds: Tensor): [number, number] {
  if (inputIds.dtype !== 'i32' || inputIds.rank !== 2) {
    throw new Error(`inputIds must be i32 [B, T], got ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
  }
  return [inputIds.shape[0], inputIds.shape[1]];
}

/** The config fields the embeddings read (shared by BERT and ALBERT). */
export type EmbeddingsConfig = Pick<BertConfig, 'vocab_size' | 'max_position_embeddings' | 'type_vocab_size' | 'initializer_range' | 'layer_norm_eps' | 'hidden_dropout_prob' | 'pad_token_id'>;

/** Word + position + token-type embeddings of size `dim` (H for BERT, E for ALBERT), LayerNorm, dropout. */
export class BertEmbeddings extends Block {
  readonly word_embeddings: Embedding;
  readonly position_embeddings: Embedding;
  readonly token_type_embeddings: Embedding;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;
  constructor(readonly config: EmbeddingsConfig, dim: number, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    const o = { backend, initStd: config.initializer_range };
    this.word_embeddings = this.module('word_embeddings', paddedEmbedding(config.vocab_size, dim, config.pad_token_id, o));
    this.position_embeddings = this.module('position_embeddings', new Embedding(config.max_position_embeddings, dim, o));
    this.token_type_embeddings = this.module('token_type_embeddings', new Embedding(config.type_vocab_size, dim, o));
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(dim, config.layer_norm_eps, { backend }));
    this.dropout = this.module('dropout', new Dropout(config.hidden_dropout_prob));
  }

  /** ids [B, T] -> LN(word + token_type + position) with dropout: [B, T, dim]. */
  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    const [, T] = checkIds(inputIds);
    if (T > this.config.max_position_embeddings) {
      throw new Error(`sequence length ${T} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    // Default ids (positions 0..T-1, token type 0) read table rows as slices: the values of gathering
    // them, and gradients copied into those rows instead of scatter-adds (the position table's sort cost
    // ~2 ms, 2% of the SST-2 demo's step; the token-type gather of a BERT-small step 5-10 ms).
    const dim = this.position_embeddings.dim;
    const posEmb = positionIds
      ? this.position_embeddings.forward(positionIds) // (1|B, T, dim)
      : F.reshape(F.slice(this.position_embeddings.weight, 0, 0, T), [1, T, dim]); // (T, dim) -> (1, T, dim)
    const typeEmb = tokenTypeIds
      ? this.token_type_embeddings.forward(tokenTypeIds) // (B, T, dim)
      : F.reshape(F.slice(this.token_type_embeddings.weight, 0, 0, 1), [1, 1, dim]); // (1, dim) -> (1, 1, dim)
    let emb = F.add(this.word_embeddings.forward(inputIds), typeEmb); // (B, T, dim) + (B|1, T|1, dim)
    emb = F.add(emb, posEmb); // (B, T, dim) + (1|B, T, dim)
    return this.dropout.forward(this.LayerNorm.forward(emb));
  }
}

/** An Embedding whose padding row starts at zero and never receives a gradient (nn.Embedding(padding_idx)). */
export function paddedEmbedding(vocab: number, dim: number, paddingIdx: number, o: { backend: Backend; initStd: number }): Embedding {
  const e = new Embedding(vocab, dim, { ...o, paddingIdx });
  const old = e.weight;
  e.setParam('weight', normalInit([vocab, dim], o.initStd, o.backend, paddingIdx));
  old.dispose();
  return e;
}

export class BertSelfAttention extends Block {
  readonly numHeads: number;
  readonly headSize: number;
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly dropout: Dropout;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    const H = config.hidden_size;
    this.numHeads = config.num_attention_heads;
    this.headSize = H / this.numHeads;
    const o = { backend: pickBackend(opts.backend), initStd: config.initializer_range };
    this.query = this.module('query', new Linear(H, H, o));
    this.key = this.module('key', new Linear(H, H, o));
    this.value = this.module('value', new Linear(H, H, o));
    this.dropout = this.module('dropout', new Dropout(config.attention_probs_dropout_prob));
  }

  /** x [B, T, C], additive mask [B, 1, 1, T] -> context [B, T, C] and probabilities [B, nh, T, T] (null unless wantProbs). */
  forward(x: Tensor, mask: Tensor | null, wantProbs = true): { context: Tensor; probs: Tensor | null } {
    return multiHeadAttention(x, mask, this.query, this.key, this.value, this.numHeads, this.dropout, wantProbs);
  }
}

/**
 * Scaled dot-product attention over nh heads, shared by BERT and ALBERT. With wantProbs the
 * composite softmax(q k^T / sqrt(hs) + mask) -> dropout -> @ v, returning the probabilities;
 * without, the fused F.attention (same values, dropout on the probabilities included), probs null.
 */
export function multiHeadAttention(
  x: Tensor, mask: Tensor | null, query: Linear, key: Linear, value: Linear, nh: number, dropout: Dropout, wantProbs = true,
): { context: Tensor; probs: Tensor | null } {
  const [B, T, C] = x.shape;
  const hs = C / nh;
  if (!wantProbs) {
    // Fused attention reads the heads in place: (B, T, C) -> (B, T, nh, hs), no permute.
    const heads = (t: Tensor) => F.reshape(t, [B, T, nh, hs]); // (B, T, C) -> (B, T, nh, hs)
    const y = F.attention(heads(query.forward(x)), heads(key.forward(x)), heads(value.forward(x)), {
      bias: mask, scale: 1 / Math.sqrt(hs), dropout: dropout.p, training: dropout.training, layout: 'bthd',
    }); // (B, T, nh, hs)
    return { context: F.reshape(y, [B, T, C]), probs: null }; // (B, T, nh, hs) -> (B, T, C)
  }
  const split = (t: Tensor) => F.permute(F.reshape(t, [B, T, nh, hs]), [0, 2, 1, 3]); // (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs)
  const q = split(query.forward(x));
  const k = split(key.forward(x));
  const v = split(value.forward(x));
  // softmax(q k^T / sqrt(hs) + mask) in one kernel; the mask (B, 1, 1, T) broadcasts over heads and queries.
  const probs = F.maskedSoftmax(F.matmul(q, k, { transB: true }), mask, 1 / Math.sqrt(hs)); // (B, nh, T, T)
  const y = F.matmul(dropout.forward(probs), v); // (B, nh, T, hs)
  const context = F.reshape(F.permute(y, [0, 2, 1, 3]), [B, T, C]); // (B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)
  return { context, probs };
}

/** LayerNorm(dropout(dense(h)) + residual): BertSelfOutput and BertOutput. */
export class BertResidualOutput extends Block {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;
  constructor(config: BertConfig, inFeatures: number, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    this.dense = this.module('dense', new Linear(inFeatures, config.hidden_size, { backend, initStd: config.initializer_range }));
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps, { backend }));
    this.dropout = this.module('dropout', new Dropout(config.hidden_dropout_prob));
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return layerNormResidual(this.LayerNorm, this.dropout.forward(this.dense.forward(h)), residual);
  }
}

export class BertAttention extends Block {
  readonly self: BertSelfAttention;
  readonly output: BertResidualOutput;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.self = this.module('self', new BertSelfAttention(config, opts));
    this.output = this.module('output', new BertResidualOutput(config, config.hidden_size, opts));
  }
  forward(x: Tensor, mask: Tensor | null, wantProbs = true): { out: Tensor; probs: Tensor | null } {
    const { context, probs } = this.self.forward(x, mask, wantProbs);
    return { out: this.output.forward(context, x), probs };
  }
}

export class BertIntermediate extends Block {
  readonly dense: Linear;
  /** act(dense(x)), fused into the matmul for GELUs. */
  private readonly denseAct: (x: Tensor) => Tensor;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.dense = this.module('dense', headLinear(config, config.intermediate_size, opts.backend));
    this.denseAct = linearAct(this.dense, config.hidden_act);
  }
  forward(x: Tensor): Tensor {
    return this.denseAct(x); // (B, T, FF)
  }
}

/** Residual block of a layer whose FFN is a memory (pkm position 'in'): LN(dropout(memory(x)) + x). */
export class BertMemoryOutput extends Block {
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps, { backend: pickBackend(opts.backend) }));
    this.dropout = this.module('dropout', new Dropout(config.hidden_dropout_prob));
  }
  forward(memoryOut: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(F.add(this.dropout.forward(memoryOut), residual));
  }
}

export function memoryFor(config: { pkm: PkmConfig | null; hidden_size: number; initializer_range: number }, opts: ModelOptions): HashingMemory {
  const p = config.pkm!;
  return new HashingMemory(config.hidden_size, config.hidden_size, { ...p, backend: opts.backend, initStd: config.initializer_range });
}

export class BertLayer extends Block {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate | null = null;
  readonly output: BertResidualOutput | BertMemoryOutput;
  readonly memory: HashingMemory | null = null;
  readonly memoryPosition: 'in' | 'after' | null;
  constructor(config: BertConfig, readonly index: number, opts: ModelOptions = {}) {
    super();
    this.attention = this.module('attention', new BertAttention(config, opts));
    const pkm = config.pkm;
    this.memoryPosition = pkm && pkm.layers.includes(index) ? pkm.position : null;
    if (this.memoryPosition === 'in') {
      // XLM "%i_in": the memory replaces the FFN inside the residual block.
      this.memory = this.module('memory', memoryFor(config, opts));
      this.output = this.module('output', new BertMemoryOutput(config, opts));
    } else {
      this.intermediate = this.module('intermediate', new BertIntermediate(config, opts));
      this.output = this.module('output', new BertResidualOutput(config, config.intermediate_size, opts));
      // XLM "%i_after": x = LN(x + FFN(x)); x = x + memory(x).
      if (this.memoryPosition === 'after') this.memory = this.module('memory', memoryFor(config, opts));
    }
  }

  forward(x: Tensor, mask: Tensor | null, trace?: MemoryTrace[], wantProbs = true): { out: Tensor; probs: Tensor | null } {
    const { out: a, probs } = this.attention.forward(x, mask, wantProbs); // (B, T, H)
    if (this.memoryPosition === 'in') {
      const m = this.memory!.forward(a, trace && { layer: this.index, list: trace });
      return { out: (this.output as BertMemoryOutput).forward(m, a), probs };
    }
    let out = (this.output as BertResidualOutput).forward(this.intermediate!.forward(a), a);
    if (this.memoryPosition === 'after') out = F.add(out, this.memory!.forward(out, trace && { layer: this.index, list: trace }));
    return { out, probs };
  }
}

export class BertEncoder extends Block {
  readonly layer: ModuleList<BertLayer>;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.layer = this.module('layer', new ModuleList<BertLayer>());
    for (let i = 0; i < config.num_hidden_layers; i++) this.layer.push(new BertLayer(config, i, opts));
  }
}

export class BertPooler extends Block {
  readonly dense: Linear;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.dense = this.module('dense', headLinear(config, config.hidden_size, opts.backend));
  }
  /** h [B, T, H] -> tanh(dense(h[:, 0])) [B, H]. */
  forward(h: Tensor): Tensor {
    const [B, , H] = h.shape;
    const first = F.reshape(F.slice(h, 1, 0, 1), [B, H]); // (B, 1, H) -> (B, H)
    return F.tanh(this.dense.forward(first));
  }
}

export class BertModel extends Block {
  static readonly architecture = 'BertModel';
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;
  readonly backend: Backend;
  constructor(readonly config: BertConfig, opts: ModelOptions & { addPoolingLayer?: boolean } = {}) {
    super();
    this.backend = pickBackend(opts.backend);
    const o = { backend: this.backend };
    this.embeddings = this.module('embeddings', new BertEmbeddings(config, config.hidden_size, o));
    this.encoder = this.module('encoder', new BertEncoder(config, o));
    this.pooler = opts.addPoolingLayer === false ? null : this.module('pooler', new BertPooler(config, o));
  }

  forward(inputs: EncoderInputs): EncoderOutput {
    const [B, T] = checkIds(inputs.inputIds);
    const mask = inputs.attentionMask ? extendedAttentionMask(checkMask(inputs.attentionMask, B, T)) : null; // (B, 1, 1, T)
    let h = this.embeddings.forward(inputs.inputIds, inputs.tokenTypeIds, inputs.positionIds); // (B, T, H)
    const hiddenStates = inputs.outputHiddenStates ? [h] : null;
    const attentions: Tensor[] | null = inputs.outputAttentions ? [] : null;
    const memory: MemoryTrace[] | null = inputs.outputMemory ? [] : null;
    for (const layer of this.encoder.layer.items) {
      const r = layer.forward(h, mask, memory ?? undefined, attentions !== null);
      h = r.out;
      hiddenStates?.push(h);
      attentions?.push(r.probs!);
    }
    return { lastHiddenState: h, poolerOutput: this.pooler ? this.pooler.forward(h) : null, hiddenStates, attentions, memory };
  }
}

export function checkMask(mask: Tensor, B: number, T: number): Tensor {
  if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== T) {
    throw new Error(`attentionMask must be [${B}, ${T}] like inputIds, got [${mask.shape.join(', ')}]`);
  }
  return mask;
}
