// The config schema validator (train/config.ts) on a TWilBERT-style nested config, and the CLI
// flag parser built on it (train/args.ts): defaults, types, enums, arrays, unknown keys rejected
// with their key path ('model.pkm_params.knn'), every issue reported at once.

import { describe, expect, it } from 'vitest';

import { helpText, mergeDeep, parseArgs, parseFlags } from '../../train/args.js';
import { ConfigError, configDefaults, describeSchema, parseConfig, s, schemaAt, validateConfig, type Infer } from '../../train/config.js';

const Schema = s.object({
  name: s.string({ minLength: 1 }),
  dataset: s.object({
    train_path: s.string(),
    max_len: s.int({ min: 8, max: 512, default: 128 }),
    lowercase: s.boolean({ default: true }),
  }),
  model: s.object({
    hidden_size: s.int({ min: 1, default: 768 }),
    activation: s.enum(['gelu', 'relu', 'tanh'] as const, { default: 'gelu' }),
    pkm: s.boolean({ default: false }),
    pkm_params: s.optional(
      s.object({
        factorize: s.boolean({ default: false }),
        k_dim: s.int({ min: 1, default: 256 }),
        memory_size: s.int({ min: 1 }),
        n_heads: s.int({ min: 1, default: 4 }),
        knn: s.int({ min: 1, default: 32 }),
      }),
    ),
    layers: s.array(s.object({ size: s.int({ min: 1 }), dropout: s.number({ min: 0, max: 1, default: 0.1 }) }), { default: [] }),
  }),
  optimizer: s.object({
    type: s.enum(['adam', 'adamw', 'lamb'] as const, { default: 'adamw' }),
    lr: s.number({ gt: 0, default: 2e-5 }),
    warmup: s.int({ min: 0, default: 0 }),
  }),
  class_weights: s.nullable(s.array(s.number({ min: 0 })), { default: null }),
  tags: s.array(s.string(), { default: [] }),
  extra: s.record(s.number(), { default: {} }),
});
type Config = Infer<typeof Schema>;

const valid = {
  name: 'stance',
  dataset: { train_path: 'data/train.tsv' },
  model: { hidden_size: 128, pkm: true, pkm_params: { memory_size: 512, knn: 16 }, layers: [{ size: 64 }] },
  optimizer: { type: 'lamb', lr: 1e-3 },
};

function issuesOf(value: unknown): { path: string; message: string }[] {
  try {
    validateConfig(Schema, value);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config schema', () => {
  it('fills defaults in nested objects, optional objects and array items', () => {
    const cfg: Config = validateConfig(Schema, valid);
    expect(cfg.dataset).toEqual({ train_path: 'data/train.tsv', max_len: 128, lowercase: true });
    expect(cfg.model.pkm_params).toEqual({ factorize: false, k_dim: 256, memory_size: 512, n_heads: 4, knn: 16 });
    expect(cfg.model.layers).toEqual([{ size: 64, dropout: 0.1 }]);
    expect(cfg.model.activation).toBe('gelu');
    expect(cfg.optimizer).toEqual({ type: 'lamb', lr: 1e-3, warmup: 0 });
    expect(cfg.class_weights).toBeNull();
    expect(cfg.tags).toEqual([]);
    // An absent optional object stays absent; the input is not modified.
    const { pkm_params: _drop, ...model } = valid.model;
    void _drop;
    expect(validateConfig(Schema, { ...valid, model }).model.pkm_params).toBeUndefined();
    expect((valid.dataset as Record<string, unknown>).max_len).toBeUndefined();
    // An object whose fields all have defaults may be omitted.
    expect(validateConfig(Schema, { ...valid, optimizer: undefined }).optimizer).toEqual({ type: 'adamw', lr: 2e-5, warmup: 0 });
  });

  it('rejects an unknown key with its full path and a suggestion', () => {
    const bad = { ...valid, model: { ...valid.model, pkm_params: { memory_size: 512, kn: 16 } } };
    const issues = issuesOf(bad);
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toBe('model.pkm_params.kn');
    expect(issues[0].message).toMatch(/unknown key .*did you mean 'knn'\?/);
    expect(() => validateConfig(Schema, bad)).toThrow(/model\.pkm_params\.kn: unknown key/);
  });

  it('rejects wrong types, ranges and enum values with their paths, all at once', () => {
    const issues = issuesOf({
      ...valid,
      dataset: { train_path: 3, max_len: 4 },
      model: { ...valid.model, pkm_params: { memory_size: 512, knn: '32' }, activation: 'gleu', layers: [{ size: 8 }, { size: 0 }] },
      optimizer: { type: 'sgd', lr: 0 },
      tags: ['a', 2],
      extra: { x: 'y' },
      class_weights: [1, -1],
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['dataset.train_path']).toMatch(/expected a string, got number 3/);
    expect(byPath['dataset.max_len']).toMatch(/4 is out of range \(expected >= 8, <= 512\)/);
    expect(byPath['model.pkm_params.knn']).toMatch(/expected an integer, got string "32"/);
    expect(byPath['model.activation']).toMatch(/expected one of "gelu" \| "relu" \| "tanh", got string "gleu"; did you mean 'gelu'/);
    expect(byPath['model.layers[1].size']).toMatch(/0 is out of range/);
    expect(byPath['optimizer.type']).toMatch(/expected one of/);
    expect(byPath['optimizer.lr']).toMatch(/0 is out of range \(expected > 0\)/);
    expect(byPath['tags[1]']).toMatch(/expected a string/);
    expect(byPath['extra.x']).toMatch(/expected a number/);
    expect(byPath['class_weights[1]']).toMatch(/-1 is out of range/);
    expect(issues).toHaveLength(10);
  });

  it('reports missing required keys, non-objects, and invalid JSON', () => {
    const issues = issuesOf({ dataset: {}, model: { pkm_params: { knn: 2.5 } } });
    expect(issues.map((i) => i.path).sort()).toEqual(['dataset.train_path', 'model.pkm_params.knn', 'model.pkm_params.memory_size', 'name']);
    expect(issues.find((i) => i.path === 'name')!.message).toMatch(/missing required key \(string\)/);
    expect(issuesOf([1])[0]).toEqual({ path: '', message: 'expected an object, got an array' });
    expect(() => parseConfig(Schema, '{"name": ', 'cfg.json')).toThrow(/cfg\.json: invalid config:\n {2}\(root\): not valid JSON/);
    expect(parseConfig(Schema, JSON.stringify(valid)).name).toBe('stance');
    expect(() => configDefaults(Schema)).toThrow(ConfigError);
    expect(configDefaults(s.object({ a: s.int({ default: 1 }) }))).toEqual({ a: 1 });
  });

  it('allowUnknown keeps extra keys; schemaAt and describeSchema walk the tree', () => {
    const open = s.object({ a: s.int() }, { allowUnknown: true });
    expect(validateConfig(open, { a: 1, b: 'x' })).toEqual({ a: 1, b: 'x' });
    expect(schemaAt(Schema, 'model.pkm_params.knn')?.kind).toBe('number');
    expect(schemaAt(Schema, 'model.nope')).toBeUndefined();
    const lines = describeSchema(Schema);
    expect(lines).toContain('model.pkm_params.knn: integer >= 1 (default 32)');
    expect(lines).toContain('name: string (required)');
  });
});

describe('command-line flags', () => {
  it('parses --k v, --k=v, dotted paths, booleans and --no-x, arrays, positionals', () => {
    const argv = ['train', '--name', 'run1', '--dataset.train_path=d.tsv', '--model.pkm_params.memory_size', '64', '--model.pkm', '--no-dataset.lowercase', '--tags', 'a,b', '--optimizer.lr=3e-4', '--', '--literal'];
    const { config, positionals, help } = parseArgs(argv, Schema);
    expect(help).toBe(false);
    expect(positionals).toEqual(['train', '--literal']);
    expect(config.name).toBe('run1');
    expect(config.dataset).toEqual({ train_path: 'd.tsv', max_len: 128, lowercase: false });
    expect(config.model.pkm).toBe(true);
    expect(config.model.pkm_params?.memory_size).toBe(64);
    expect(config.tags).toEqual(['a', 'b']);
    expect(config.optimizer.lr).toBe(3e-4);
  });

  it('merges over a base config (flags win) and validates the result', () => {
    const { config } = parseArgs(['--model.hidden_size', '256'], Schema, valid);
    expect(config.model.hidden_size).toBe(256);
    expect(config.model.pkm_params?.knn).toBe(16);
    expect(mergeDeep({ a: { b: 1, c: [1] } }, { a: { c: [2] } })).toEqual({ a: { b: 1, c: [2] } });
  });

  it('rejects unknown flags and bad values with the key path', () => {
    expect(() => parseFlags(['--model.pkm_params.kn', '3'], Schema)).toThrow(/model\.pkm_params\.kn: unknown flag --model\.pkm_params\.kn/);
    expect(() => parseArgs(['--model.hidden_size', 'big'], Schema, valid)).toThrow(/model\.hidden_size: expected a number, got "big"/);
    expect(() => parseArgs(['--model.activation', 'swish'], Schema, valid)).toThrow(/model\.activation: expected one of/);
    expect(() => parseArgs(['--name'], Schema, valid)).toThrow(/name: flag --name needs a value/);
    expect(parseArgs(['-h'], Schema).help).toBe(true);
    expect(helpText(Schema, 'usage: train [flags]')).toMatch(/--optimizer\.type: "adam" \| "adamw" \| "lamb" \(default "adamw"\)/);
  });
});
