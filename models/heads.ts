// BERT task heads with Hugging Face's names: pretraining (MLM tied to the word embeddings + NSP),
// masked LM (optionally only at given positions, d2l's pred_positions), next-sentence prediction,
// sequence classification (CE / MSE / BCE-with-logits by problem_type), token classification
// and extractive question answering.

import { Dropout, F, LayerNorm, Linear, full, tensor, type Tensor } from '../engine/index.js';
import { Block, linearAct, pickBackend, headLinear } from './block.js';
import { BertModel, checkIds, type EncoderInputs, type EncoderOutput, type ModelOptions } from './bert.js';
import type { BertConfig } from './configs.js';
import { questionAnsweringLoss, sequenceClassificationLoss } from './losses.js';

/** A Linear whose weight (and bias) are tensors owned elsewhere (tied decoder). */
export class TiedLinear extends Block {
  private readonly hasBias: boolean;
  constructor(weight: Tensor, bias: Tensor | null) {
    super();
    this.param('weight', weight);
    this.hasBias = bias !== null;
    if (bias) this.param('bias', bias);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.getParam('weight'), this.hasBias ? this.getParam('bias') : null);
  }
}

export class BertPredictionHeadTransform extends Block {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  private readonly denseAct: (x: Tensor) => Tensor;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    const backend = pickBackend(opts.backend);
    this.dense = this.module('dense', new Linear(config.hidden_size, config.hidden_size, { backend, initStd: config.initializer_range }));
    this.denseAct = linearAct(this.dense, config.hidden_act);
    this.LayerNorm = this.module('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps, { backend }));
  }
  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(this.denseAct(x));
  }
}

/** transform -> decoder (weight tied to the word embeddings, bias = predictions.bias). */
export class BertLMPredictionHead extends Block {
  readonly transform: BertPredictionHeadTransform;
  readonly decoder: TiedLinear;
  constructor(config: BertConfig, wordEmbeddings: Tensor, opts: ModelOptions = {}) {
    super();
    const bias = this.param('bias', full([config.vocab_size], 0, { backend: pickBackend(opts.backend) }));
    this.transform = this.module('transform', new BertPredictionHeadTransform(config, opts));
    this.decoder = this.module('decoder', new TiedLinear(wordEmbeddings, bias));
  }
  /** [..., H] -> [..., V] */
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(x));
  }
}

/**
 * Rows of h [B, T, H] at positions [B, P] (per batch row) -> [B, P, H], via one gather of the
 * flattened [B*T, H] states at b*T + p (d2l's MaskLM pred_positions).
 */
export function gatherPositions(h: Tensor, positions: Tensor): Tensor {
  const [B, T, H] = h.shape;
  if (positions.dtype !== 'i32' || positions.rank !== 2 || positions.shape[0] !== B) {
    throw new Error(`maskedPositions must be i32 [${B}, P], got ${positions.dtype} [${positions.shape.join(', ')}]`);
  }
  const P = positions.shape[1];
  const flat = F.reshape(h, [B * T, H]); // (B*T, H)
  let rows: Tensor;
  const host = positions.hostInts;
  if (host) {
    const idx = new Int32Array(B * P);
    for (let i = 0; i < idx.length; i++) {
      const p = host[i];
      if (p < 0 || p >= T) throw new Error(`maskedPositions: position ${p} at [${Math.floor(i / P)}, ${i % P}] is outside [0, ${T})`);
      idx[i] = Math.floor(i / P) * T + p;
    }
    rows = tensor(idx, [B, P], { backend: h.backend, dtype: 'i32' });
  } else {
    const offsets = tensor(Float32Array.from({ length: B }, (_, b) => b * T), [B, 1], { backend: h.backend }); // (B, 1)
    rows = F.cast(F.add(F.cast(positions, 'f32'), offsets), 'i32'); // (B, P), exact in f32 below 2^24
  }
  return F.gather(flat, rows); // (B, P, H)
}

export interface PreTrainingInputs extends EncoderInputs {
  /** MLM labels i32 [B, T] (or [B, P] with maskedPositions), -100 = not predicted. */
  labels?: Tensor | null;
  nextSentenceLabel?: Tensor | null;
  /** i32 [B, P]: compute the vocabulary projection only at these positions. */
  maskedPositions?: Tensor | null;
}

function mlmLoss(logits: Tensor, labels: Tensor): Tensor {
  return F.crossEntropy(F.reshape(logits, [-1, logits.shape[logits.rank - 1]]), F.reshape(labels, [-1])); // (N, V), (N,)
}

function labelsI32(name: string, t: Tensor): Tensor {
  if (t.dtype !== 'i32') throw new Error(`${name} must be i32, got ${t.dtype}`);
  return t;
}

/** Encoder inputs with the trunk's flags, for heads that take the pooled or last state. */
function trunk(bert: BertModel, inputs: EncoderInputs): EncoderOutput {
  return bert.forward(inputs);
}

export class BertPreTrainingHeads extends Block {
  readonly predictions: BertLMPredictionHead;
  readonly seq_relationship: Linear;
  constructor(config: BertConfig, wordEmbeddings: Tensor, opts: ModelOptions = {}) {
    super();
    this.predictions = this.module('predictions', new BertLMPredictionHead(config, wordEmbeddings, opts));
    this.seq_relationship = this.module('seq_relationship', headLinear(config, 2, opts.backend));
  }
}

export class BertForPreTraining extends Block {
  static readonly architecture = 'BertForPreTraining';
  readonly bert: BertModel;
  readonly cls: BertPreTrainingHeads;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, opts));
    this.cls = this.module('cls', new BertPreTrainingHeads(config, this.bert.embeddings.word_embeddings.weight, opts));
  }
  forward(inputs: PreTrainingInputs) {
    const out = trunk(this.bert, inputs);
    const h = inputs.maskedPositions ? gatherPositions(out.lastHiddenState, inputs.maskedPositions) : out.lastHiddenState; // (B, T|P, H)
    const predictionLogits = this.cls.predictions.forward(h); // (B, T|P, V)
    const seqRelationshipLogits = this.cls.seq_relationship.forward(out.poolerOutput!); // (B, 2)
    let loss: Tensor | null = null;
    let mlm: Tensor | null = null;
    let nsp: Tensor | null = null;
    if (inputs.labels && inputs.nextSentenceLabel) {
      mlm = mlmLoss(predictionLogits, labelsI32('labels', inputs.labels));
      nsp = F.crossEntropy(seqRelationshipLogits, F.reshape(labelsI32('nextSentenceLabel', inputs.nextSentenceLabel), [-1])); // (B, 2), (B,)
      loss = F.add(mlm, nsp);
    }
    return { ...out, predictionLogits, seqRelationshipLogits, loss, mlmLoss: mlm, nspLoss: nsp };
  }
}

export class BertOnlyMLMHead extends Block {
  readonly predictions: BertLMPredictionHead;
  constructor(config: BertConfig, wordEmbeddings: Tensor, opts: ModelOptions = {}) {
    super();
    this.predictions = this.module('predictions', new BertLMPredictionHead(config, wordEmbeddings, opts));
  }
}

export class BertForMaskedLM extends Block {
  static readonly architecture = 'BertForMaskedLM';
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, { ...opts, addPoolingLayer: false }));
    this.cls = this.module('cls', new BertOnlyMLMHead(config, this.bert.embeddings.word_embeddings.weight, opts));
  }
  forward(inputs: EncoderInputs & { labels?: Tensor | null; maskedPositions?: Tensor | null }) {
    const out = trunk(this.bert, inputs);
    const h = inputs.maskedPositions ? gatherPositions(out.lastHiddenState, inputs.maskedPositions) : out.lastHiddenState; // (B, T|P, H)
    const logits = this.cls.predictions.forward(h); // (B, T|P, V)
    const loss = inputs.labels ? mlmLoss(logits, labelsI32('labels', inputs.labels)) : null;
    return { ...out, logits, loss };
  }
}

export class BertOnlyNSPHead extends Block {
  readonly seq_relationship: Linear;
  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.seq_relationship = this.module('seq_relationship', headLinear(config, 2, opts.backend));
  }
}

export class BertForNextSentencePrediction extends Block {
  static readonly architecture = 'BertForNextSentencePrediction';
  readonly bert: BertModel;
  readonly cls: BertOnlyNSPHead;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, opts));
    this.cls = this.module('cls', new BertOnlyNSPHead(config, opts));
  }
  forward(inputs: EncoderInputs & { labels?: Tensor | null }) {
    const out = trunk(this.bert, inputs);
    const logits = this.cls.seq_relationship.forward(out.poolerOutput!); // (B, 2)
    const loss = inputs.labels ? F.crossEntropy(logits, F.reshape(labelsI32('labels', inputs.labels), [-1])) : null; // (B, 2), (B,)
    return { ...out, logits, loss };
  }
}

export class BertForSequenceClassification extends Block {
  static readonly architecture = 'BertForSequenceClassification';
  readonly bert: BertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, opts));
    this.dropout = this.module('dropout', new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob));
    this.classifier = this.module('classifier', headLinear(config, config.num_labels, opts.backend));
  }
  /** labels: i32 [B] (single-label), f32 [B] (regression, num_labels 1) or f32 [B, num_labels] (multi-label). */
  forward(inputs: EncoderInputs & { labels?: Tensor | null }) {
    const out = trunk(this.bert, inputs);
    const logits = this.classifier.forward(this.dropout.forward(out.poolerOutput!)); // (B, num_labels)
    const loss = inputs.labels ? sequenceClassificationLoss(this.config, logits, inputs.labels) : null;
    return { ...out, logits, loss };
  }
}

export class BertForTokenClassification extends Block {
  static readonly architecture = 'BertForTokenClassification';
  readonly bert: BertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, { ...opts, addPoolingLayer: false }));
    this.dropout = this.module('dropout', new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob));
    this.classifier = this.module('classifier', headLinear(config, config.num_labels, opts.backend));
  }
  /** labels i32 [B, T], -100 ignored (the attention mask is not used, as in HF: label padding with -100). */
  forward(inputs: EncoderInputs & { labels?: Tensor | null }) {
    const out = trunk(this.bert, inputs);
    const logits = this.classifier.forward(this.dropout.forward(out.lastHiddenState)); // (B, T, num_labels)
    const loss = inputs.labels ? F.crossEntropy(F.reshape(logits, [-1, this.config.num_labels]), F.reshape(labelsI32('labels', inputs.labels), [-1])) : null; // (B*T, C), (B*T,)
    return { ...out, logits, loss };
  }
}

export class BertForQuestionAnswering extends Block {
  static readonly architecture = 'BertForQuestionAnswering';
  readonly bert: BertModel;
  readonly qa_outputs: Linear;
  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    this.bert = this.module('bert', new BertModel(config, { ...opts, addPoolingLayer: false }));
    this.qa_outputs = this.module('qa_outputs', headLinear(config, config.num_labels, opts.backend));
  }
  /** startPositions / endPositions i32 [B]; positions outside [0, T] are clamped to T and ignored. */
  forward(inputs: EncoderInputs & { startPositions?: Tensor | null; endPositions?: Tensor | null }) {
    const [B, T] = checkIds(inputs.inputIds);
    if (this.config.num_labels !== 2) throw new Error(`BertForQuestionAnswering needs num_labels 2, got ${this.config.num_labels}`);
    const out = trunk(this.bert, inputs);
    const logits = this.qa_outputs.forward(out.lastHiddenState); // (B, T, 2)
    const startLogits = F.reshape(F.slice(logits, 2, 0, 1), [B, T]); // (B, T, 1) -> (B, T)
    const endLogits = F.reshape(F.slice(logits, 2, 1, 2), [B, T]); // (B, T, 1) -> (B, T)
    let losses: { loss: Tensor | null; startLoss: Tensor | null; endLoss: Tensor | null } = { loss: null, startLoss: null, endLoss: null };
    if (inputs.startPositions && inputs.endPositions) losses = questionAnsweringLoss(startLogits, endLogits, inputs.startPositions, inputs.endPositions);
    return { ...out, startLogits, endLogits, ...losses };
  }
}

export type BertTaskModel =
  | BertForPreTraining | BertForMaskedLM | BertForNextSentencePrediction
  | BertForSequenceClassification | BertForTokenClassification | BertForQuestionAnswering;
