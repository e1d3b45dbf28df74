// ALBERT (Lan et al. 2020) in Hugging Face's module tree and names: factorised embeddings of size
// E projected to H (albert.encoder.embedding_hidden_mapping_in), num_hidden_groups layer groups
// shared across the num_hidden_layers applications (layer i uses group floor(i / (L / G))),
// gelu_new, an MLM head H -> E -> vocab tied to the E-sized word embeddings, and the
// sentence-order prediction head. Optional product-key memories after given applications
// (pkm.position 'after'; names albert.encoder.memories.{i}.*; no reference implementation).

import { Dropout, F, LayerNorm, Linear, full, type Backend, type Tensor } from '../engine/index.js';
import { Block, ModuleList, linearAct, pickBackend, headLinear } from './block.js';
import {
  BertEmbeddings, checkIds, checkMask, extendedAttentionMask, memoryFor, multiHeadAttention,
  type EncoderInputs, type EncoderOutput, type MemoryTrace, type ModelOptions,
} from './bert.js';
import type { AlbertConfig } from './configs.js';
import { TiedLinear, gatherPositions } from './heads.js';
import { sequenceClassificationLoss } from './losses.js';
import type { HashingMemory } from './pkm.js';

export class AlbertAttention extends Block {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly attention_dropout: Dropout;
  readonly output_dropout: Dropout;
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  constructor(readonly config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    const H = config.hidden_size;
    const backend = pickBackend(opts.backend);
    const o = { backend, initStd: config.initializer_range };
    this.query = this.module('query', new Linear(H, H, o));
    this.key = this.module('key', new Linear(H, H, o));
    this.value = this.module('value', new Linear(H, H, o));
    this.attention_dropout = this.module('attention_dropout', new Dropout(config.attention_probs_dropout_prob));
    this.output_dropout = this.module('output_dropout', new Dropout(config.hidden_dropout_prob));
    this.dense = this.module('dense', new Linear(H, H, o));
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(H, config.layer_norm_eps, { backend }));
  }
  /** x [B, T, H] -> LN(x + dropout(dense(attention(x)))) and the probabilities [B, nh, T, T]. */
  forward(x: Tensor, mask: Tensor | null, wantProbs = true): { out: Tensor; probs: Tensor | null } {
    const { context, probs } = multiHeadAttention(x, mask, this.query, this.key, this.value, this.config.num_attention_heads, this.attention_dropout, wantProbs);
    return { out: this.LayerNorm.forward(F.add(x, this.output_dropout.forward(this.dense.forward(context)))), probs };
  }
}

export class AlbertLayer extends Block {
  readonly full_layer_layer_norm: LayerNorm;
  readonly attention: AlbertAttention;
  readonly ffn: Linear;
  readonly ffn_output: Linear;
  /** act(ffn(x)), fused into the matmul for GELUs. */
  private readonly ffnAct: (x: Tensor) => Tensor;
  constructor(config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    const o = { backend, initStd: config.initializer_range };
    this.full_layer_layer_norm = this.module('full_layer_layer_norm', new LayerNorm(config.hidden_size, config.layer_norm_eps, { backend }));
    this.attention = this.module('attention', new AlbertAttention(config, opts));
    this.ffn = this.module('ffn', new Linear(config.hidden_size, config.intermediate_size, o));
    this.ffn_output = this.module('ffn_output', new Linear(config.intermediate_size, config.hidden_size, o));
    this.ffnAct = linearAct(this.ffn, config.hidden_act);
  }
  forward(x: Tensor, mask: Tensor | null, wantProbs = true): { out: Tensor; probs: Tensor | null } {
    const { out: a, probs } = this.attention.forward(x, mask, wantProbs); // (B, T, H)
    // (B, T, H) -> (B, T, FF) -> (B, T, H) + a: HF applies no dropout here, so the residual add is fused into the second matmul.
    const f = F.linear(this.ffnAct(a), this.ffn_output.weight, this.ffn_output.bias, { residual: a });
    return { out: this.full_layer_layer_norm.forward(f), probs };
  }
}

export class AlbertLayerGroup extends Block {
  readonly albert_layers: ModuleList<AlbertLayer>;
  constructor(config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    this.albert_layers = this.module('albert_layers', new ModuleList<AlbertLayer>());
    for (let j = 0; j < config.inner_group_num; j++) this.albert_layers.push(new AlbertLayer(config, opts));
  }
}

/** Named children '1', '5', ... (a ModuleDict keyed by layer index). */
class MemoryDict extends Block {
  readonly byLayer = new Map<number, HashingMemory>();
  add(layer: number, m: HashingMemory): void {
    this.byLayer.set(layer, this.module(String(layer), m));
  }
}

export class AlbertTransformer extends Block {
  readonly embedding_hidden_mapping_in: Linear;
  readonly albert_layer_groups: ModuleList<AlbertLayerGroup>;
  readonly memories: MemoryDict | null = null;
  constructor(readonly config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    this.embedding_hidden_mapping_in = this.module('embedding_hidden_mapping_in', new Linear(config.embedding_size, config.hidden_size, { backend, initStd: config.initializer_range }));
    this.albert_layer_groups = this.module('albert_layer_groups', new ModuleList<AlbertLayerGroup>());
    for (let g = 0; g < config.num_hidden_groups; g++) this.albert_layer_groups.push(new AlbertLayerGroup(config, opts));
    if (config.pkm && config.pkm.layers.length) {
      this.memories = this.module('memories', new MemoryDict());
      for (const i of [...config.pkm.layers].sort((a, b) => a - b)) this.memories.add(i, memoryFor(config, opts));
    }
  }

  /** Embeddings [B, T, E] -> hidden states [B, T, H] after L shared-layer applications. */
  forward(emb: Tensor, mask: Tensor | null, want: { hidden: boolean; attn: boolean; memory: MemoryTrace[] | null }) {
    let h = this.embedding_hidden_mapping_in.forward(emb); // (B, T, E) -> (B, T, H)
    const hiddenStates = want.hidden ? [h] : null;
    const attentions: Tensor[] | null = want.attn ? [] : null;
    const L = this.config.num_hidden_layers;
    const G = this.config.num_hidden_groups;
    for (let i = 0; i < L; i++) {
      const group = this.albert_layer_groups.items[Math.floor(i / (L / G))];
      for (const layer of group.albert_layers.items) {
        const r = layer.forward(h, mask, attentions !== null);
        h = r.out;
        attentions?.push(r.probs!);
      }
      const mem = this.memories?.byLayer.get(i);
      if (mem) h = F.add(h, mem.forward(h, want.memory ? { layer: i, list: want.memory } : undefined));
      hiddenStates?.push(h);
    }
    return { h, hiddenStates, attentions };
  }
}

export interface AlbertOutput extends EncoderOutput {
  /** [B, T, E]: the embeddings before the E -> H projection. */
  embeddingOutput: Tensor;
}

export class AlbertModel extends Block {
  static readonly architecture = 'AlbertModel';
  readonly embeddings: BertEmbeddings;
  readonly encoder: AlbertTransformer;
  readonly pooler: Linear | null;
  readonly backend: Backend;
  constructor(readonly config: AlbertConfig, opts: ModelOptions & { addPoolingLayer?: boolean } = {}) {
    super();
    this.backend = pickBackend(opts.backend);
    const o = { backend: this.backend };
    this.embeddings = this.module('embeddings', new BertEmbeddings(config, config.embedding_size, o));
    this.encoder = this.module('encoder', new AlbertTransformer(config, o));
    this.pooler = opts.addPoolingLayer === false ? null : this.module('pooler', new Linear(config.hidden_size, config.hidden_size, { ...o, initStd: config.initializer_range }));
  }

  forward(inputs: EncoderInputs): AlbertOutput {
    const [B, T] = checkIds(inputs.inputIds);
    const mask = inputs.attentionMask ? extendedAttentionMask(checkMask(inputs.attentionMask, B, T)) : null; // (B, 1, 1, T)
    const emb = this.embeddings.forward(inputs.inputIds, inputs.tokenTypeIds, inputs.positionIds); // (B, T, E)
    const memory: MemoryTrace[] | null = inputs.outputMemory ? [] : null;
    const { h, hiddenStates, attentions } = this.encoder.forward(emb, mask, { hidden: !!inputs.outputHiddenStates, attn: !!inputs.outputAttentions, memory });
    let poolerOutput: Tensor | null = null;
    if (this.pooler) {
      const first = F.reshape(F.slice(h, 1, 0, 1), [B, this.config.hidden_size]); // (B, 1, H) -> (B, H)
      poolerOutput = F.tanh(this.pooler.forward(first));
    }
    return { embeddingOutput: emb, lastHiddenState: h, poolerOutput, hiddenStates, attentions, memory };
  }
}

/** dense H -> E, activation, LayerNorm(E), decoder E -> V tied to the word embeddings (bias = predictions.bias). */
export class AlbertMLMHead extends Block {
  readonly LayerNorm: LayerNorm;
  readonly dense: Linear;
  readonly decoder: TiedLinear;
  private readonly denseAct: (x: Tensor) => Tensor;
  constructor(config: AlbertConfig, wordEmbeddings: Tensor, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    const bias = this.param('bias', full([config.vocab_size], 0, { backend }));
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(config.embedding_size, config.layer_norm_eps, { backend }));
    this.dense = this.module('dense', new Linear(config.hidden_size, config.embedding_size, { backend, initStd: config.initializer_range }));
    this.decoder = this.module('decoder', new TiedLinear(wordEmbeddings, bias));
    this.denseAct = linearAct(this.dense, config.hidden_act);
  }
  /** [..., H] -> [..., V] */
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.LayerNorm.forward(this.denseAct(x)));
  }
}

export class AlbertSOPHead extends Block {
  readonly dropout: Dropout;
  readonly classifier: Linear;
  constructor(config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    this.dropout = this.module('dropout', new Dropout(config.classifier_dropout_prob));
    this.classifier = this.module('classifier', headLinear(config, config.num_labels, opts.backend));
  }
  forward(pooled: Tensor): Tensor {
    return this.classifier.forward(this.dropout.forward(pooled)); // (B, num_labels)
  }
}

export class AlbertForPreTraining extends Block {
  static readonly architecture = 'AlbertForPreTraining';
  readonly albert: AlbertModel;
  readonly predictions: AlbertMLMHead;
  readonly sop_classifier: AlbertSOPHead;
  constructor(readonly config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    this.albert = this.module('albert', new AlbertModel(config, opts));
    this.predictions = this.module('predictions', new AlbertMLMHead(config, this.albert.embeddings.word_embeddings.weight, opts));
    this.sop_classifier = this.module('sop_classifier', new AlbertSOPHead(config, opts));
  }
  forward(inputs: EncoderInputs & { labels?: Tensor | null; sentenceOrderLabel?: Tensor | null; maskedPositions?: Tensor | null }) {
    const out = this.albert.forward(inputs);
    const h = inputs.maskedPositions ? gatherPositions(out.lastHiddenState, inputs.maskedPositions) : out.lastHiddenState; // (B, T|P, H)
    const predictionLogits = this.predictions.forward(h); // (B, T|P, V)
    const sopLogits = this.sop_classifier.forward(out.poolerOutput!); // (B, 2)
    let loss: Tensor | null = null;
    let mlm: Tensor | null = null;
    let sop: Tensor | null = null;
    if (inputs.labels && inputs.sentenceOrderLabel) {
      const V = this.config.vocab_size;
      mlm = F.crossEntropy(F.reshape(predictionLogits, [-1, V]), F.reshape(inputs.labels, [-1])); // (N, V), (N,)
      sop = F.crossEntropy(F.reshape(sopLogits, [-1, 2]), F.reshape(inputs.sentenceOrderLabel, [-1])); // (B, 2), (B,)
      loss = F.add(mlm, sop);
    }
    return { ...out, predictionLogits, sopLogits, loss, mlmLoss: mlm, sopLoss: sop };
  }
}

export class AlbertForMaskedLM extends Block {
  static readonly architecture = 'AlbertForMaskedLM';
  readonly albert: AlbertModel;
  readonly predictions: AlbertMLMHead;
  constructor(readonly config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    this.albert = this.module('albert', new AlbertModel(config, { ...opts, addPoolingLayer: false }));
    this.predictions = this.module('predictions', new AlbertMLMHead(config, this.albert.embeddings.word_embeddings.weight, opts));
  }
  forward(inputs: EncoderInputs & { labels?: Tensor | null; maskedPositions?: Tensor | null }) {
    const out = this.albert.forward(inputs);
    const h = inputs.maskedPositions ? gatherPositions(out.lastHiddenState, inputs.maskedPositions) : out.lastHiddenState; // (B, T|P, H)
    const logits = this.predictions.forward(h); // (B, T|P, V)
    const loss = inputs.labels ? F.crossEntropy(F.reshape(logits, [-1, this.config.vocab_size]), F.reshape(inputs.labels, [-1])) : null; // (N, V), (N,)
    return { ...out, logits, loss };
  }
}

export class AlbertForSequenceClassification extends Block {
  static readonly architecture = 'AlbertForSequenceClassification';
  readonly albert: AlbertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  constructor(readonly config: AlbertConfig, opts: ModelOptions = {}) {
    super();
    this.albert = this.module('albert', new AlbertModel(config, opts));
    this.dropout = this.module('dropout', new Dropout(config.classifier_dropout_prob));
    this.classifier = this.module('classifier', headLinear(config, config.num_labels, opts.backend));
  }
  forward(inputs: EncoderInputs & { labels?: Tensor | null }) {
    const out = this.albert.forward(inputs);
    const logits = this.classifier.forward(this.dropout.forward(out.poolerOutput!)); // (B, num_labels)
    const loss = inputs.labels ? sequenceClassificationLoss(this.config, logits, inputs.labels) : null;
    return { ...out, logits, loss };
  }
}

export type AlbertTaskModel = AlbertForPreTraining | AlbertForMaskedLM | AlbertForSequenceClassification;
