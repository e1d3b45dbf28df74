// TWilBERT's JSON config for examples/twilbert.ts: the schema (unknown keys and wrong types are
// errors naming their path), the cross-field checks, and the mapping to Hugging Face's AlbertConfig.

import { existsSync, readFileSync } from 'node:fs';

import { albertConfig, type AlbertConfig } from '../../models/index.js';
import { ConfigError, parseConfig, s, type ConfigIssue, type Infer, type Schema } from '../../train/index.js';

// ---- config schema (TWilBERT's keys) -------------------------------------------------------------

/** "auto" (balanced weights), null (none) or one weight per class. */
const classWeightsSchema: Schema<'auto' | number[] | null> = {
  kind: 'union',
  defaultValue: () => null,
  describe: () => '"auto" | null | array of numbers >= 0',
  check(v, path, issues) {
    if (v === null || v === 'auto') return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return v as number[];
    issues.push({ path, message: `expected "auto", null or an array of numbers >= 0, got ${JSON.stringify(v)}` });
    return null;
  },
};

export const TwilbertSchema = s.object({
  dataset: s.object({
    file: s.string({ description: 'pre-training pairs TSV (ORIG_ID, ORIG_TEXT, REPLY_ID, REPLY_TEXT)' }),
    vocab_file: s.nullable(s.string(), { default: null, description: 'vocab.txt, or null to train a WordPiece vocabulary on the pairs' }),
    vocab_size: s.int({ min: 50, default: 2000 }),
    train_file: s.string(),
    dev_file: s.string(),
    id_header: s.string({ default: 'ID' }),
    text_header: s.string({ default: 'TEXT' }),
    class_header: s.string({ default: 'CLASS' }),
    delimiter: s.enum(['\t'] as const, { default: '\t' }),
  }),
  representation: s.object({
    max_len: s.int({ min: 8, max: 512, default: 128 }),
    bucket_min_a: s.optional(s.int({ min: 0 })),
    bucket_min_b: s.optional(s.int({ min: 0 })),
    bucket_max_a: s.optional(s.int({ min: 0 })),
    bucket_max_b: s.optional(s.int({ min: 0 })),
    bucket_min: s.optional(s.int({ min: 0 })),
    bucket_max: s.optional(s.int({ min: 0 })),
    bucket_steps: s.optional(s.int({ min: 1 })),
    preprocessing: s.boolean({ default: false, description: 'replace @mentions by @usuario and links by url' }),
  }),
  model: s.object({
    factorize_embeddings: s.boolean({ default: true }),
    cross_sharing: s.boolean({ default: true }),
    embedding_size: s.int({ min: 1, default: 128 }),
    hidden_size: s.int({ min: 1, default: 256 }),
    n_encoders: s.int({ min: 1, default: 4 }),
    n_heads: s.int({ min: 1, default: 4 }),
    attention_size: s.int({ min: 1, default: 64 }),
    input_dropout: s.number({ min: 0, max: 1, default: 0 }),
    output_dropout: s.number({ min: 0, max: 1, default: 0 }),
    initializer_range: s.number({ gt: 0, default: 0.02 }),
    pkm: s.boolean({ default: false }),
    pkm_params: s.optional(
      s.object({
        factorize_embeddings: s.boolean({ default: false }),
        k_dim: s.int({ min: 2, default: 64 }),
        memory_size: s.int({ min: 1, default: 128 }),
        n_heads: s.int({ min: 1, default: 4 }),
        knn: s.int({ min: 1, default: 32 }),
        in_layers: s.array(s.int({ min: 0 }), { default: [] }),
        input_dropout: s.number({ min: 0, max: 1, default: 0 }),
        output_dropout: s.number({ min: 0, max: 1, default: 0 }),
        batch_norm: s.boolean({ default: true }),
      }),
    ),
    masked_lm: s.object({
      type: s.enum(['token', 'whole_word', 'span'] as const, { default: 'span' }),
      max_span: s.int({ min: 1, default: 3 }),
      budget: s.number({ min: 0, max: 1, default: 0.15 }),
      probs: s.object({
        mask: s.number({ min: 0, max: 1, default: 0.8 }),
        random: s.number({ min: 0, max: 1, default: 0.1 }),
        keep: s.number({ min: 0, max: 1, default: 0.1 }),
      }),
    }),
    rop: s.object({
      n_hidden: s.int({ min: 0, default: 0, description: 'hidden layers of the ROP head (only 0: the ALBERT SOP head)' }),
      hidden_size: s.int({ min: 1, default: 512 }),
    }),
  }),
  training: s.object({
    batch_size: s.int({ min: 1, default: 32 }),
    epochs: s.int({ min: 1, default: 1 }),
    optimizer: s.enum(['adam', 'lamb'] as const, { default: 'adam' }),
    lr: s.number({ gt: 0, default: 1e-3, description: 'used when noam_annealing is false' }),
    noam_annealing: s.boolean({ default: true }),
    warmup_steps: s.int({ min: 1, default: 8000 }),
    accum_iters: s.int({ min: 1, default: 1 }),
    path_save_weights: s.string({ default: 'out/twilbert/pretrained' }),
    verbose: s.int({ min: 0, default: 1 }),
  }),
  task: s.object({
    categories: s.record(s.int({ min: 0 })),
    class_weights: classWeightsSchema,
    eval_metric: s.enum(['f1', 'accuracy', 'precision', 'recall'] as const, { default: 'f1' }),
    average_metric: s.enum(['macro', 'micro', 'weighted'] as const, { default: 'macro' }),
    class_metric: s.nullable(s.int({ min: 0 }), { default: null }),
    stance_f1: s.boolean({ default: false }),
    stance_ignore: s.string({ default: 'NONE', description: 'the class stance F1 leaves out' }),
    multi_label: s.boolean({ default: false }),
  }),
  finetuning: s.object({
    dropout: s.number({ min: 0, max: 1, default: 0.1 }),
    trainable_layers: s.enum(['all'] as const, { default: 'all' }),
    collapse_mode: s.enum(['avg', 'cls'] as const, { default: 'avg' }),
    use_special_tokens: s.boolean({ default: true }),
    batch_size: s.int({ min: 1, default: 32 }),
    pred_batch_size: s.int({ min: 1, default: 32 }),
    epochs: s.int({ min: 1, default: 3 }),
    loss: s.enum(['categorical_crossentropy'] as const, { default: 'categorical_crossentropy' }),
    optimizer: s.enum(['adam', 'adam_accumulated', 'lamb'] as const, { default: 'adam' }),
    lr: s.number({ gt: 0, default: 1e-4 }),
    noam_annealing: s.boolean({ default: false }),
    warmup_steps: s.int({ min: 0, default: 0 }),
    accum_iters: s.int({ min: 1, default: 1 }),
    path_load_weights: s.nullable(s.string(), { default: null, description: 'a pre-trained checkpoint directory (skips stage 1 when given)' }),
    path_save_weights: s.string({ default: 'out/twilbert/finetuned' }),
    model_name: s.string({ default: 'model' }),
  }),
});
export type TwilbertConfig = Infer<typeof TwilbertSchema>;

/** Cross-field checks the schema cannot express; throws a ConfigError with the key paths. */
export function checkTwilbertConfig(c: TwilbertConfig, source = 'config'): void {
  const issues: ConfigIssue[] = [];
  const m = c.model;
  if (m.attention_size * m.n_heads !== m.hidden_size) issues.push({ path: 'model.attention_size', message: `attention_size ${m.attention_size} x n_heads ${m.n_heads} must equal hidden_size ${m.hidden_size}` });
  if (m.pkm && !m.pkm_params) issues.push({ path: 'model.pkm_params', message: 'missing: model.pkm is true' });
  if (m.pkm && m.pkm_params) {
    const p = m.pkm_params;
    if (p.k_dim % 2 !== 0) issues.push({ path: 'model.pkm_params.k_dim', message: `must be even, got ${p.k_dim}` });
    if (p.knn > p.memory_size) issues.push({ path: 'model.pkm_params.knn', message: `knn ${p.knn} exceeds memory_size ${p.memory_size}` });
    p.in_layers.forEach((l, i) => {
      if (l >= m.n_encoders) issues.push({ path: `model.pkm_params.in_layers[${i}]`, message: `layer ${l} outside [0, n_encoders=${m.n_encoders})` });
    });
    if (p.factorize_embeddings) issues.push({ path: 'model.pkm_params.factorize_embeddings', message: 'factorised memory values are not supported (use false)' });
    if (p.input_dropout || p.output_dropout) issues.push({ path: p.input_dropout ? 'model.pkm_params.input_dropout' : 'model.pkm_params.output_dropout', message: 'memory dropout is not supported (use 0)' });
  }
  if (m.rop.n_hidden !== 0) issues.push({ path: 'model.rop.n_hidden', message: `only 0 is supported (the ROP head is ALBERT's SOP classifier on the pooler), got ${m.rop.n_hidden}` });
  const probs = m.masked_lm.probs;
  if (Math.abs(probs.mask + probs.random + probs.keep - 1) > 1e-9) issues.push({ path: 'model.masked_lm.probs', message: `mask + random + keep must be 1, got ${probs.mask + probs.random + probs.keep}` });
  const ids = Object.values(c.task.categories).sort((a, b) => a - b);
  if (ids.length < 2 || ids.some((v, i) => v !== i)) issues.push({ path: 'task.categories', message: `class ids must be 0..n-1 with n >= 2, got ${JSON.stringify(c.task.categories)}` });
  if (Array.isArray(c.task.class_weights) && c.task.class_weights.length !== ids.length) issues.push({ path: 'task.class_weights', message: `${c.task.class_weights.length} weights for ${ids.length} categories` });
  if (c.task.multi_label) issues.push({ path: 'task.multi_label', message: 'multi-label fine-tuning is not supported here (use false)' });
  if (c.task.stance_f1 && !(c.task.stance_ignore in c.task.categories)) issues.push({ path: 'task.stance_ignore', message: `'${c.task.stance_ignore}' is not a category (${Object.keys(c.task.categories).join(', ')})` });
  if (c.task.class_metric !== null && c.task.class_metric >= ids.length) issues.push({ path: 'task.class_metric', message: `class ${c.task.class_metric} outside 0..${ids.length - 1}` });
  if (issues.length) throw new ConfigError(issues, source);
}

/** Reads, validates and checks a TWilBERT JSON config file. */
export function loadTwilbertConfig(path: string): TwilbertConfig {
  if (!existsSync(path)) throw new Error(`--config: file not found: ${path}`);
  const cfg = parseConfig(TwilbertSchema, readFileSync(path, 'utf8'), path);
  checkTwilbertConfig(cfg, path);
  return cfg;
}

/** The Hugging Face AlbertConfig of the model section. */
export function albertFromTwilbert(c: TwilbertConfig, vocabSize: number, padId: number): AlbertConfig {
  const m = c.model;
  return albertConfig({
    vocab_size: vocabSize,
    pad_token_id: padId,
    embedding_size: m.factorize_embeddings ? m.embedding_size : m.hidden_size,
    hidden_size: m.hidden_size,
    num_hidden_layers: m.n_encoders,
    num_hidden_groups: m.cross_sharing ? 1 : m.n_encoders,
    num_attention_heads: m.n_heads,
    intermediate_size: 4 * m.hidden_size,
    hidden_dropout_prob: m.output_dropout,
    attention_probs_dropout_prob: m.input_dropout,
    initializer_range: m.initializer_range,
    max_position_embeddings: Math.max(c.representation.max_len, 64),
    pkm: m.pkm && m.pkm_params
      ? {
          layers: m.pkm_params.in_layers, position: 'after', heads: m.pkm_params.n_heads, k_dim: m.pkm_params.k_dim, n_keys: m.pkm_params.memory_size,
          knn: m.pkm_params.knn, query_batchnorm: m.pkm_params.batch_norm, batchnorm_eps: 1e-5,
        }
      : null,
  });
}
