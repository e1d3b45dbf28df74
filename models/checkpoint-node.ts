// Node file I/O for checkpoints: fromPretrained(dir) / savePretrained(model, dir) with Hugging
// Face's layout (config.json, model.safetensors or a sharded model.safetensors.index.json, and
// vocab.txt). Everything is read and validated before the model is built; if loading fails the
// model is disposed, so nothing stays allocated. Writes are atomic (temp file + rename).

import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../engine/index.js';
import { readSafetensorsFile, writeFileAtomic } from '../engine/io/safetensors-node.js';
import { architectureOf, createModel, isArchitecture, type AnyModel } from './auto.js';
import { loadStateDict, mergeShards, serializeModel, type LoadOptions, type LoadReport } from './checkpoint.js';
import { configFromJson, configToJson, type Architecture, type ModelConfig } from './configs.js';

export interface FromPretrainedOptions extends LoadOptions {
  backend?: Backend;
  /** Architecture to build (default: config.json's architectures[0], else BertModel / AlbertModel). */
  architecture?: Architecture;
  /** Overrides applied to config.json (e.g. num_labels for a new classification head). */
  config?: Partial<ModelConfig>;
}

export interface Pretrained<M extends AnyModel = AnyModel> {
  model: M;
  config: ModelConfig;
  report: LoadReport;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(() => true, () => false);
}

/** Reads config.json of a checkpoint directory into a config (HF field names). */
export async function readConfig(dir: string): Promise<ModelConfig> {
  return configFromJson(await readJson(join(dir, 'config.json'), 'fromPretrained'));
}

/** Loads a Hugging Face BERT/ALBERT checkpoint directory. */
export async function fromPretrained<M extends AnyModel = AnyModel>(dir: string, opts: FromPretrainedOptions = {}): Promise<Pretrained<M>> {
  const json = await readJson(join(dir, 'config.json'), 'fromPretrained');
  const config = configFromJson({ ...json, ...(opts.config ?? {}), ...(opts.config?.num_labels !== undefined ? { id2label: undefined, label2id: undefined } : {}) });
  const archs = (json.architectures as string[] | undefined) ?? [];
  const arch = opts.architecture ?? archs.find(isArchitecture) ?? (config.model_type === 'albert' ? 'AlbertModel' : 'BertModel');
  // Read and validate every tensor before building the model.
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  let tensors;
  if (await exists(single)) {
    tensors = (await readSafetensorsFile(single, { float64: 'float32' })).tensors;
  } else if (await exists(index)) {
    const map = (await readJson(index, 'fromPretrained')).weight_map as Record<string, string> | undefined;
    if (!map || typeof map !== 'object') throw new Error(`fromPretrained: ${index} has no weight_map`);
    const files = [...new Set(Object.values(map))].sort();
    tensors = mergeShards(await Promise.all(files.map((f) => readSafetensorsFile(join(dir, f), { float64: 'float32' }))));
  } else {
    const bin = (await exists(join(dir, 'pytorch_model.bin'))) ? ' (found pytorch_model.bin: convert it to safetensors first)' : '';
    throw new Error(`fromPretrained: no model.safetensors or model.safetensors.index.json in ${dir}${bin}`);
  }
  const model = createModel(config, arch, { backend: opts.backend });
  try {
    const report = loadStateDict(model, tensors, { ...opts, source: opts.source ?? dir });
    return { model: model as M, config, report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface SavePretrainedOptions {
  /** A vocab.txt to copy next to the weights. */
  vocabFile?: string;
  /** Or the vocabulary itself, one token per line. */
  vocab?: readonly string[];
}

/** Writes config.json, model.safetensors (and vocab.txt when given) into `dir`, each atomically. */
export async function savePretrained(model: AnyModel, dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const bytes = await serializeModel(model);
  const config = configToJson(model.config, architectureOf(model));
  await writeFileAtomic(join(dir, 'model.safetensors'), bytes);
  await writeFileAtomic(join(dir, 'config.json'), new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'));
  if (opts.vocabFile) await writeFileAtomic(join(dir, 'vocab.txt'), new Uint8Array(await fsp.readFile(opts.vocabFile)));
  else if (opts.vocab) await writeFileAtomic(join(dir, 'vocab.txt'), new TextEncoder().encode(opts.vocab.join('\n') + '\n'));
}
