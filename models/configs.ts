// Model configurations with Hugging Face's field names (BertConfig / AlbertConfig), presets,
// config.json parsing/writing, and parameter names/shapes/counts computed from a config alone
// (no tensor is allocated), in PyTorch's named_parameters order.

/** Product-key memory settings (tools/reference/pkm.py; XLM's mem_* / TWilBERT's pkm_params). */
export interface PkmConfig {
  /** Encoder layer indices that get a memory. */
  layers: number[];
  /** 'in': the memory replaces the layer's FFN (XLM "%i_in"); 'after': x + memory(x) after the layer. */
  position: 'in' | 'after';
  heads: number;
  k_dim: number;
  n_keys: number;
  knn: number;
  query_batchnorm: boolean;
  batchnorm_eps: number;
}

export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

interface CommonConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  position_embedding_type: 'absolute';
  num_labels: number;
  problem_type: ProblemType | null;
  /** Optional product-key memory layers; null for the plain model. */
  pkm: PkmConfig | null;
  architectures?: string[];
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

export interface BertConfig extends CommonConfig {
  model_type: 'bert';
  classifier_dropout: number | null;
}

export interface AlbertConfig extends CommonConfig {
  model_type: 'albert';
  embedding_size: number;
  num_hidden_groups: number;
  inner_group_num: number;
  classifier_dropout_prob: number;
  bos_token_id: number;
  eos_token_id: number;
}

export type ModelConfig = BertConfig | AlbertConfig;

export const BERT_DEFAULTS: BertConfig = {
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  classifier_dropout: null,
  num_labels: 2,
  problem_type: null,
  pkm: null,
};

export const ALBERT_DEFAULTS: AlbertConfig = {
  model_type: 'albert',
  vocab_size: 30000,
  embedding_size: 128,
  hidden_size: 4096,
  num_hidden_layers: 12,
  num_hidden_groups: 1,
  num_attention_heads: 64,
  intermediate_size: 16384,
  inner_group_num: 1,
  hidden_act: 'gelu_new',
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  classifier_dropout_prob: 0.1,
  position_embedding_type: 'absolute',
  pad_token_id: 0,
  bos_token_id: 2,
  eos_token_id: 3,
  num_labels: 2,
  problem_type: null,
  pkm: null,
};

export const PKM_DEFAULTS: PkmConfig = {
  layers: [],
  position: 'in',
  heads: 4,
  k_dim: 256,
  n_keys: 512,
  knn: 32,
  query_batchnorm: true,
  batchnorm_eps: 1e-5,
};

/** A BertConfig from defaults (bert-base-uncased) and overrides; validated. */
export function bertConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  const c: BertConfig = { ...BERT_DEFAULTS, ...overrides, model_type: 'bert' };
  if (overrides.pkm) c.pkm = { ...PKM_DEFAULTS, ...overrides.pkm };
  validateConfig(c);
  return c;
}

/** An AlbertConfig from defaults (albert-xxlarge as HF's AlbertConfig()) and overrides; validated. */
export function albertConfig(overrides: Partial<AlbertConfig> = {}): AlbertConfig {
  const c: AlbertConfig = { ...ALBERT_DEFAULTS, ...overrides, model_type: 'albert' };
  if (overrides.pkm) c.pkm = { ...PKM_DEFAULTS, ...overrides.pkm };
  validateConfig(c);
  return c;
}

/** BERT presets: Devlin et al. base/large, d2l's small BERT, Turc et al.'s tiny/mini. */
export const BERT_PRESETS = {
  base: { num_hidden_layers: 12, hidden_size: 768, num_attention_heads: 12, intermediate_size: 3072 },
  large: { num_hidden_layers: 24, hidden_size: 1024, num_attention_heads: 16, intermediate_size: 4096 },
  small: { num_hidden_layers: 2, hidden_size: 256, num_attention_heads: 4, intermediate_size: 512 },
  tiny: { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 },
  mini: { num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
} as const satisfies Record<string, Partial<BertConfig>>;
export type BertPreset = keyof typeof BERT_PRESETS;

export function bertPreset(name: BertPreset, overrides: Partial<BertConfig> = {}): BertConfig {
  const p = BERT_PRESETS[name];
  if (!p) throw new Error(`unknown BERT preset '${name}' (one of ${Object.keys(BERT_PRESETS).join(', ')})`);
  return bertConfig({ ...p, ...overrides });
}

/** ALBERT presets (albert-*-v2 shapes). */
export const ALBERT_PRESETS = {
  base: { embedding_size: 128, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
  large: { embedding_size: 128, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 },
  xlarge: { embedding_size: 128, hidden_size: 2048, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 8192 },
  xxlarge: { embedding_size: 128, hidden_size: 4096, num_hidden_layers: 12, num_attention_heads: 64, intermediate_size: 16384 },
} as const satisfies Record<string, Partial<AlbertConfig>>;
export type AlbertPreset = keyof typeof ALBERT_PRESETS;

export function albertPreset(name: AlbertPreset, overrides: Partial<AlbertConfig> = {}): AlbertConfig {
  const p = ALBERT_PRESETS[name];
  if (!p) throw new Error(`unknown ALBERT preset '${name}' (one of ${Object.keys(ALBERT_PRESETS).join(', ')})`);
  return albertConfig({ ...p, ...overrides });
}

function validateConfig(c: ModelConfig): void {
  const need = (ok: boolean, msg: string) => {
    if (!ok) throw new Error(`${c.model_type} config: ${msg}`);
  };
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size', 'num_labels'] as const) {
    need(Number.isInteger(c[k]) && c[k] >= 1, `${k} must be a positive integer, got ${c[k]}`);
  }
  need(c.hidden_size % c.num_attention_heads === 0, `hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  need(c.position_embedding_type === 'absolute', `position_embedding_type '${c.position_embedding_type}' is not supported (only 'absolute')`);
  need(Number.isInteger(c.pad_token_id) && c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, `pad_token_id ${c.pad_token_id} outside [0, ${c.vocab_size})`);
  if (c.model_type === 'albert') {
    need(Number.isInteger(c.embedding_size) && c.embedding_size >= 1, `embedding_size must be a positive integer`);
    need(c.num_hidden_groups >= 1 && c.num_hidden_groups <= c.num_hidden_layers, `num_hidden_groups ${c.num_hidden_groups} must be in [1, num_hidden_layers]`);
    need(c.inner_group_num >= 1, 'inner_group_num must be >= 1');
  }
  const p = c.pkm;
  if (p) {
    need(p.position === 'in' || p.position === 'after', `pkm.position must be 'in' or 'after', got '${p.position}'`);
    need(p.k_dim >= 2 && p.k_dim % 2 === 0, `pkm.k_dim must be even and >= 2, got ${p.k_dim}`);
    need(p.knn >= 1 && p.knn <= p.n_keys, `pkm.knn ${p.knn} must be in [1, n_keys=${p.n_keys}]`);
    need(p.n_keys * p.n_keys <= 1 << 24, `pkm.n_keys^2 = ${p.n_keys * p.n_keys} exceeds 2^24 (index arithmetic is done in f32)`);
    for (const l of p.layers) need(Number.isInteger(l) && l >= 0 && l < c.num_hidden_layers, `pkm layer ${l} outside [0, ${c.num_hidden_layers})`);
    if (c.model_type === 'albert') need(p.position === 'after', "ALBERT supports pkm.position 'after' only (its layers are shared)");
  }
}

// ---- config.json ------------------------------------------------------------------------------

/** Reads a Hugging Face config.json object (BERT or ALBERT). num_labels comes from id2label as HF does. */
export function configFromJson(json: Record<string, unknown>): ModelConfig {
  const type = json.model_type ?? (String((json.architectures as string[] | undefined)?.[0] ?? '').startsWith('Albert') ? 'albert' : 'bert');
  const defaults: ModelConfig = type === 'albert' ? ALBERT_DEFAULTS : type === 'bert' ? BERT_DEFAULTS : (null as never);
  if (!defaults) throw new Error(`config.json: model_type '${String(type)}' is not supported (bert, albert)`);
  const picked: Record<string, unknown> = {};
  for (const k of Object.keys(defaults)) if (k in json && json[k] !== undefined) picked[k] = json[k];
  if (json.id2label && typeof json.id2label === 'object') {
    picked.num_labels = Object.keys(json.id2label as object).length;
    picked.id2label = json.id2label;
  } else if (typeof json.num_labels === 'number') picked.num_labels = json.num_labels;
  if (json.label2id && typeof json.label2id === 'object') picked.label2id = json.label2id;
  if (Array.isArray(json.architectures)) picked.architectures = json.architectures;
  // Older checkpoints omit position_embedding_type / pad_token_id: HF's defaults apply.
  return type === 'albert' ? albertConfig(picked as Partial<AlbertConfig>) : bertConfig(picked as Partial<BertConfig>);
}

/** The config.json object Hugging Face writes for this config and architecture. */
export function configToJson(c: ModelConfig, architecture: string): Record<string, unknown> {
  const out: Record<string, unknown> = { architectures: [architecture], model_type: c.model_type };
  const defaults = c.model_type === 'albert' ? ALBERT_DEFAULTS : BERT_DEFAULTS;
  for (const k of Object.keys(defaults)) {
    if (k === 'num_labels' || k === 'model_type' || (k === 'pkm' && !c.pkm)) continue;
    out[k] = (c as unknown as Record<string, unknown>)[k];
  }
  const n = c.num_labels;
  out.id2label = c.id2label && Object.keys(c.id2label).length === n ? c.id2label : Object.fromEntries([...Array(n).keys()].map((i) => [String(i), `LABEL_${i}`]));
  out.label2id = c.label2id && Object.keys(c.label2id).length === n ? c.label2id : Object.fromEntries([...Array(n).keys()].map((i) => [`LABEL_${i}`, i]));
  out.torch_dtype = 'float32';
  if (c.model_type === 'bert') out.use_cache = true;
  return out;
}

// ---- parameter names and counts without allocation --------------------------------------------

export type ParamShapes = [string, number[]][];

export const BERT_ARCHITECTURES = [
  'BertModel', 'BertForPreTraining', 'BertForMaskedLM', 'BertForNextSentencePrediction',
  'BertForSequenceClassification', 'BertForTokenClassification', 'BertForQuestionAnswering',
] as const;
export const ALBERT_ARCHITECTURES = ['AlbertModel', 'AlbertForPreTraining', 'AlbertForMaskedLM', 'AlbertForSequenceClassification'] as const;
export type BertArchitecture = (typeof BERT_ARCHITECTURES)[number];
export type AlbertArchitecture = (typeof ALBERT_ARCHITECTURES)[number];
export type Architecture = BertArchitecture | AlbertArchitecture;

const lin = (p: string, out: number, inp: number, bias = true): ParamShapes =>
  bias ? [[`${p}.weight`, [out, inp]], [`${p}.bias`, [out]]] : [[`${p}.weight`, [out, inp]]];
const ln = (p: string, d: number): ParamShapes => [[`${p}.weight`, [d]], [`${p}.bias`, [d]]];

/** Parameters of one product-key memory (own 'keys' first, then values, then the query net). */
export function pkmParamShapes(p: string, pkm: PkmConfig, inputDim: number, outputDim: number): ParamShapes {
  const q = pkm.heads * pkm.k_dim;
  return [
    [`${p}.keys`, [pkm.heads, 2, pkm.n_keys, pkm.k_dim / 2]],
    [`${p}.values.weight`, [pkm.n_keys * pkm.n_keys, outputDim]],
    ...lin(`${p}.query_proj.0`, q, inputDim),
    ...(pkm.query_batchnorm ? ln(`${p}.query_proj.1`, q) : []),
  ];
}

/** Buffers (saved, not trained) of one memory: BatchNorm running statistics. */
export function pkmBufferShapes(p: string, pkm: PkmConfig): ParamShapes {
  if (!pkm.query_batchnorm) return [];
  const q = pkm.heads * pkm.k_dim;
  return [[`${p}.query_proj.1.running_mean`, [q]], [`${p}.query_proj.1.running_var`, [q]], [`${p}.query_proj.1.num_batches_tracked`, []]];
}

function bertTrunkShapes(c: BertConfig, pre: string, pooler: boolean): ParamShapes {
  const H = c.hidden_size;
  const out: ParamShapes = [
    [`${pre}embeddings.word_embeddings.weight`, [c.vocab_size, H]],
    [`${pre}embeddings.position_embeddings.weight`, [c.max_position_embeddings, H]],
    [`${pre}embeddings.token_type_embeddings.weight`, [c.type_vocab_size, H]],
    ...ln(`${pre}embeddings.LayerNorm`, H),
  ];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `${pre}encoder.layer.${i}`;
    out.push(...lin(`${l}.attention.self.query`, H, H), ...lin(`${l}.attention.self.key`, H, H), ...lin(`${l}.attention.self.value`, H, H));
    out.push(...lin(`${l}.attention.output.dense`, H, H), ...ln(`${l}.attention.output.LayerNorm`, H));
    const mem = c.pkm && c.pkm.layers.includes(i) ? c.pkm : null;
    if (mem && mem.position === 'in') {
      out.push(...pkmParamShapes(`${l}.memory`, mem, H, H), ...ln(`${l}.output.LayerNorm`, H));
    } else {
      out.push(...lin(`${l}.intermediate.dense`, c.intermediate_size, H), ...lin(`${l}.output.dense`, H, c.intermediate_size), ...ln(`${l}.output.LayerNorm`, H));
      if (mem) out.push(...pkmParamShapes(`${l}.memory`, mem, H, H));
    }
  }
  if (pooler) out.push(...lin(`${pre}pooler.dense`, H, H));
  return out;
}

function albertTrunkShapes(c: AlbertConfig, pre: string, pooler: boolean): ParamShapes {
  const E = c.embedding_size;
  const H = c.hidden_size;
  const out: ParamShapes = [
    [`${pre}embeddings.word_embeddings.weight`, [c.vocab_size, E]],
    [`${pre}embeddings.position_embeddings.weight`, [c.max_position_embeddings, E]],
    [`${pre}embeddings.token_type_embeddings.weight`, [c.type_vocab_size, E]],
    ...ln(`${pre}embeddings.LayerNorm`, E),
    ...lin(`${pre}encoder.embedding_hidden_mapping_in`, H, E),
  ];
  for (let g = 0; g < c.num_hidden_groups; g++) {
    for (let j = 0; j < c.inner_group_num; j++) {
      const l = `${pre}encoder.albert_layer_groups.${g}.albert_layers.${j}`;
      out.push(...ln(`${l}.full_layer_layer_norm`, H));
      out.push(...lin(`${l}.attention.query`, H, H), ...lin(`${l}.attention.key`, H, H), ...lin(`${l}.attention.value`, H, H));
      out.push(...lin(`${l}.attention.dense`, H, H), ...ln(`${l}.attention.LayerNorm`, H));
      out.push(...lin(`${l}.ffn`, c.intermediate_size, H), ...lin(`${l}.ffn_output`, H, c.intermediate_size));
    }
  }
  if (c.pkm) for (const i of c.pkm.layers) out.push(...pkmParamShapes(`${pre}encoder.memories.${i}`, c.pkm, H, H));
  if (pooler) out.push(...lin(`${pre}pooler`, H, H));
  return out;
}

/**
 * Distinct trainable parameters of `arch` built from `config`, with PyTorch's names and order
 * (tied tensors such as the MLM decoder listed once, under their first name).
 */
export function parameterShapes(config: ModelConfig, arch: Architecture): ParamShapes {
  const c = config;
  const H = c.hidden_size;
  if (c.model_type === 'bert') {
    const b = (pooler: boolean) => bertTrunkShapes(c, 'bert.', pooler);
    const mlm = (): ParamShapes => [[`cls.predictions.bias`, [c.vocab_size]], ...lin('cls.predictions.transform.dense', H, H), ...ln('cls.predictions.transform.LayerNorm', H)];
    switch (arch) {
      case 'BertModel': return bertTrunkShapes(c, '', true);
      case 'BertForPreTraining': return [...b(true), ...mlm(), ...lin('cls.seq_relationship', 2, H)];
      case 'BertForMaskedLM': return [...b(false), ...mlm()];
      case 'BertForNextSentencePrediction': return [...b(true), ...lin('cls.seq_relationship', 2, H)];
      case 'BertForSequenceClassification': return [...b(true), ...lin('classifier', c.num_labels, H)];
      case 'BertForTokenClassification': return [...b(false), ...lin('classifier', c.num_labels, H)];
      case 'BertForQuestionAnswering': return [...b(false), ...lin('qa_outputs', c.num_labels, H)];
    }
  } else {
    const E = c.embedding_size;
    const a = (pooler: boolean) => albertTrunkShapes(c, 'albert.', pooler);
    const mlm = (): ParamShapes => [['predictions.bias', [c.vocab_size]], ...ln('predictions.LayerNorm', E), ...lin('predictions.dense', E, H)];
    switch (arch) {
      case 'AlbertModel': return albertTrunkShapes(c, '', true);
      case 'AlbertForPreTraining': return [...a(true), ...mlm(), ...lin('sop_classifier.classifier', c.num_labels, H)];
      case 'AlbertForMaskedLM': return [...a(false), ...mlm()];
      case 'AlbertForSequenceClassification': return [...a(true), ...lin('classifier', c.num_labels, H)];
    }
  }
  throw new Error(`architecture '${arch}' does not match model_type '${c.model_type}'`);
}

/** Number of trainable scalars of `arch` (tied tensors counted once), from the config alone. */
export function parameterCount(config: ModelConfig, arch: Architecture): number {
  return parameterShapes(config, arch).reduce((acc, [, s]) => acc + s.reduce((a, b) => a * b, 1), 0);
}
