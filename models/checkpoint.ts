// Platform-neutral checkpoint I/O on bytes: Hugging Face safetensors state dicts in and out of
// our models. Loading follows transformers' from_pretrained rules:
//  * key fixes: legacy LayerNorm 'gamma'/'beta' -> 'weight'/'bias';
//  * base-model prefix: a BertModel checkpoint (no 'bert.' prefix) loads into a BertFor* model
//    and a BertFor* checkpoint loads into a BertModel (the prefix is stripped);
//  * position_ids / token_type_ids buffers in old checkpoints are ignored;
//  * tied tensors (MLM decoder weight/bias) are loaded once, through whichever name is present;
//  * missing and unexpected keys are reported with HF's messages (strict: thrown);
//  * every shape is checked before anything is allocated; a mismatch names the tensor and both shapes.
// Saving writes each distinct tensor once (tied duplicates dropped, first name wins, as HF's
// safetensors save), F32 parameters and the BatchNorm buffers (num_batches_tracked as I64).

import { tensor, type Tensor } from '../engine/index.js';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors, type SafetensorsTensor, type SerializableTensor } from '../engine/io/safetensors.js';
import { architectureOf, basePrefix, type AnyModel } from './auto.js';

export interface LoadOptions {
  /** Throw on missing or unexpected keys instead of warning. */
  strict?: boolean;
  /** Treat tensors whose shape differs as missing (newly initialised) instead of throwing. */
  ignoreMismatchedSizes?: boolean;
  /** Where warnings go (default console.warn); null silences them. */
  logger?: ((message: string) => void) | null;
  /** Name of the checkpoint in messages (a directory or file). */
  source?: string;
}

export interface LoadReport {
  /** Model tensors the checkpoint did not provide (left at their fresh initialisation). */
  missingKeys: string[];
  /** Checkpoint tensors the model has no place for (as named in the checkpoint). */
  unexpectedKeys: string[];
  /** With ignoreMismatchedSizes: [name, checkpoint shape, model shape]. */
  mismatchedKeys: [string, number[], number[]][];
  /** Checkpoint keys ignored on purpose (position_ids buffers). */
  ignoredKeys: string[];
  /** The HF-style messages (also sent to the logger). */
  messages: string[];
}

const IGNORED = [/(^|\.)position_ids$/, /(^|\.)embeddings\.token_type_ids$/];

/** HF's _fix_key: legacy TF-era LayerNorm names. */
export function fixKey(key: string): string {
  return key.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias').replace(/\.gamma\./, '.weight.').replace(/\.beta\./, '.bias.');
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Everything a model saves or loads: parameters (with tied duplicates) and buffers, name -> tensor. */
export function modelTensors(model: AnyModel): { entries: [string, Tensor][]; buffers: Set<string> } {
  const entries = [...model.stateDict(), ...model.namedBuffers()];
  return { entries, buffers: new Set(model.namedBuffers().map(([n]) => n)) };
}

/**
 * Loads `ckpt` into `model`. Validates names and shapes first; only then are device tensors
 * created, so an error leaves the model and the backend as they were.
 */
export function loadStateDict(model: AnyModel, ckpt: Map<string, SafetensorsTensor>, opts: LoadOptions = {}): LoadReport {
  const arch = architectureOf(model);
  const source = opts.source ?? 'the checkpoint';
  const { entries, buffers } = modelTensors(model);
  const expected = new Map(entries);
  const prefix = basePrefix(model.config) + '.';
  const expectsPrefix = entries.some(([n]) => n.startsWith(prefix));
  const fixed = [...ckpt.keys()].map((k) => [k, fixKey(k)] as const);
  const hasPrefix = fixed.some(([, k]) => k.startsWith(prefix));
  const ignoredKeys: string[] = [];
  const unexpectedKeys: string[] = [];
  // model name -> checkpoint name
  const source2model = new Map<string, string>();
  for (const [orig, k] of fixed) {
    if (IGNORED.some((re) => re.test(k))) {
      ignoredKeys.push(orig);
      continue;
    }
    let name = k;
    if (expectsPrefix && !hasPrefix) name = prefix + k; // BertModel checkpoint into BertFor*
    else if (!expectsPrefix && hasPrefix && k.startsWith(prefix)) name = k.slice(prefix.length); // BertFor* checkpoint into BertModel
    if (!expected.has(name)) {
      unexpectedKeys.push(orig);
      continue;
    }
    if (source2model.has(name)) throw new Error(`checkpoint ${source}: tensors '${source2model.get(name)}' and '${orig}' both map to '${name}'`);
    source2model.set(name, orig);
  }

  // One load per distinct model tensor, through its first name present in the checkpoint.
  const plan = new Map<Tensor, { name: string; key: string }>();
  const mismatchedKeys: [string, number[], number[]][] = [];
  const sizeErrors: string[] = [];
  for (const [name, t] of entries) {
    const key = source2model.get(name);
    if (key === undefined || plan.has(t)) continue;
    const src = ckpt.get(key)!;
    if (src.shape.length !== t.shape.length || src.shape.some((d, i) => d !== t.shape[i])) {
      if (opts.ignoreMismatchedSizes) mismatchedKeys.push([name, src.shape, [...t.shape]]);
      else sizeErrors.push(`size mismatch for ${name}: copying a param with shape ${fmt(src.shape)} from checkpoint, the shape in current model is ${fmt(t.shape)}.`);
      continue;
    }
    const isInt = t.dtype === 'i32';
    const srcInt = src.data instanceof Int32Array || src.data instanceof Int16Array || src.data instanceof Int8Array || src.data instanceof Uint8Array || src.data instanceof Uint16Array || src.data instanceof Uint32Array;
    if (isInt !== srcInt) {
      sizeErrors.push(`dtype mismatch for ${name}: the checkpoint holds ${src.dtype}, the model needs ${isInt ? 'an integer' : 'a float'} tensor.`);
      continue;
    }
    plan.set(t, { name, key });
  }
  if (sizeErrors.length) {
    throw new Error(`Error(s) in loading state_dict for ${arch} from ${source}:\n\t${sizeErrors.join('\n\t')}`);
  }
  const loaded = new Set(plan.keys());
  // A tied name is not missing when its tensor came in through another name.
  const mismatchedNames = new Set(mismatchedKeys.map(([n]) => n));
  const missing = entries.filter(([n, t]) => !loaded.has(t) && !mismatchedNames.has(n)).map(([n]) => n);

  const messages: string[] = [];
  if (unexpectedKeys.length) {
    messages.push(
      `Some weights of the model checkpoint at ${source} were not used when initializing ${arch}: [${unexpectedKeys.map((k) => `'${k}'`).join(', ')}]\n` +
        `- This IS expected if you are initializing ${arch} from the checkpoint of a model trained on another task or with another architecture (e.g. initializing a BertForSequenceClassification model from a BertForPreTraining model).\n` +
        `- This IS NOT expected if you are initializing ${arch} from the checkpoint of a model that you expect to be exactly identical (initializing a BertForSequenceClassification model from a BertForSequenceClassification model).`,
    );
  }
  if (missing.length) {
    messages.push(
      `Some weights of ${arch} were not initialized from the model checkpoint at ${source} and are newly initialized: [${missing.map((k) => `'${k}'`).join(', ')}]\n` +
        'You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.',
    );
  }
  if (mismatchedKeys.length) {
    messages.push(
      `Some weights of ${arch} were not initialized from the model checkpoint at ${source} and are newly initialized because the shapes did not match:\n` +
        mismatchedKeys.map(([n, a, b]) => `- ${n}: found shape ${fmt(a)} in the checkpoint and ${fmt(b)} in the model instantiated`).join('\n'),
    );
  }
  if (opts.strict && (missing.length || unexpectedKeys.length || mismatchedKeys.length)) {
    throw new Error(`strict loading of ${arch} from ${source} failed:\n${messages.join('\n')}`);
  }

  // Validated: now allocate and swap in.
  const backend = entries[0][1].backend;
  for (const [t, { name, key }] of plan) {
    const src = ckpt.get(key)!;
    const data = t.dtype === 'i32' ? Int32Array.from(src.data as ArrayLike<number>) : src.data instanceof Float32Array ? src.data : Float32Array.from(src.data as ArrayLike<number>);
    const fresh = tensor(data, [...t.shape], { backend, dtype: t.dtype });
    if (buffers.has(name)) model.setBufferByName(name, fresh);
    else t.assign(fresh);
  }
  const logger = opts.logger === undefined ? (m: string) => console.warn(m) : opts.logger;
  if (logger) for (const m of messages) logger(m);
  return { missingKeys: missing, unexpectedKeys, mismatchedKeys, ignoredKeys, messages };
}

/** Parses safetensors bytes (F64 rounded to f32) and loads them; a corrupt file throws before anything is allocated. */
export function loadSafetensorsBytes(model: AnyModel, bytes: Uint8Array, opts: LoadOptions = {}): LoadReport {
  const parsed = parseSafetensors(bytes, { float64: 'float32' });
  return loadStateDict(model, parsed.tensors, opts);
}

/** Merges shards (model-0000x-of-0000n.safetensors) into one tensor map; duplicate names are an error. */
export function mergeShards(shards: ParsedSafetensors[]): Map<string, SafetensorsTensor> {
  const out = new Map<string, SafetensorsTensor>();
  for (const s of shards) {
    for (const [k, v] of s.tensors) {
      if (out.has(k)) throw new Error(`sharded checkpoint: tensor '${k}' appears in more than one shard`);
      out.set(k, v);
    }
  }
  return out;
}

/** The tensors a checkpoint holds: each distinct tensor once (first name wins), then the buffers. */
export async function stateDictForSave(model: AnyModel): Promise<Map<string, SerializableTensor>> {
  const out = new Map<string, SerializableTensor>();
  const seen = new Set<Tensor>();
  const { entries, buffers } = modelTensors(model);
  for (const [name, t] of entries) {
    if (seen.has(t)) continue;
    seen.add(t);
    const data = await t.data();
    if (t.dtype === 'i32') {
      // PyTorch stores integer buffers (num_batches_tracked) as int64.
      out.set(name, { dtype: buffers.has(name) && name.endsWith('num_batches_tracked') ? 'I64' : 'I32', shape: [...t.shape], data: Int32Array.from(data) });
    } else {
      out.set(name, { dtype: 'F32', shape: [...t.shape], data: data instanceof Float32Array ? data : Float32Array.from(data) });
    }
  }
  return out;
}

/** model.safetensors bytes for `model` (metadata {format: 'pt'} as transformers writes). */
export async function serializeModel(model: AnyModel): Promise<Uint8Array> {
  return serializeSafetensors(await stateDictForSave(model), { format: 'pt' });
}
