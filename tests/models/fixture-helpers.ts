// Runs one golden fixture (tests/fixtures, written by tools/reference/make_fixtures.py) on a
// backend: loads the Python-written checkpoint, runs the forward in eval mode with every output
// switched on, back-propagates the loss, and measures each expected tensor against ours.

import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tensor, type Backend, type Tensor } from '../../engine/index.js';
import { readSafetensorsFile } from '../../engine/io/safetensors-node.js';
import type { SafetensorsTensor } from '../../engine/io/safetensors.js';
import { fromPretrained } from '../../models/checkpoint-node.js';
import type { AnyModel } from '../../models/auto.js';
import type { Architecture } from '../../models/configs.js';
import type { LoadReport } from '../../models/checkpoint.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export interface FixtureEntry {
  name: string;
  architecture: Architecture;
  dir: string;
  forward_args: Record<string, string>;
  expected_tensors: string[];
  num_parameters: number;
  checkpoint_tensor_count: number;
  loss: number;
  loss_f64: number;
  tied_not_in_checkpoint: Record<string, string>;
}

export interface Manifest {
  models: FixtureEntry[];
  attention_mask_value: number;
  special_tokens: Record<string, number>;
}

export const manifest: Manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));

let inputsCache: Map<string, SafetensorsTensor> | null = null;
export async function fixtureInputs(): Promise<Map<string, SafetensorsTensor>> {
  inputsCache ??= (await readSafetensorsFile(join(FIXTURES, 'inputs.safetensors'))).tensors;
  return inputsCache;
}

const ARG_NAMES: Record<string, string> = {
  input_ids: 'inputIds',
  attention_mask: 'attentionMask',
  token_type_ids: 'tokenTypeIds',
  labels: 'labels',
  next_sentence_label: 'nextSentenceLabel',
  sentence_order_label: 'sentenceOrderLabel',
  start_positions: 'startPositions',
  end_positions: 'endPositions',
};

const OUTPUT_NAMES: Record<string, string> = {
  prediction_logits: 'predictionLogits',
  seq_relationship_logits: 'seqRelationshipLogits',
  sop_logits: 'sopLogits',
  logits: 'logits',
  start_logits: 'startLogits',
  end_logits: 'endLogits',
  loss: 'loss',
  mlm_loss: 'mlmLoss',
  nsp_loss: 'nspLoss',
  sop_loss: 'sopLoss',
  start_loss: 'startLoss',
  end_loss: 'endLoss',
  pooler_output: 'poolerOutput',
  embedding_output: 'embeddingOutput',
};

export interface TensorResult {
  name: string;
  /** max over elements of |ours - ref| / (1e-4 |ref| + 1e-5 max|ref|) for outputs; for gradients max |ours - ref| / max|ref| (bound 1e-3). */
  ratio: number;
  maxAbsErr: number;
  maxRef: number;
  kind: 'output' | 'grad' | 'zero-grad' | 'indices';
  ours?: ArrayLike<number>;
  ref?: ArrayLike<number>;
}

export interface FixtureRun {
  entry: FixtureEntry;
  report: LoadReport;
  model: AnyModel;
  results: TensorResult[];
  numParameters: number;
  /** max |g| over every gradient of the reference (for the absolute bound of zero gradients). */
  maxGrad: number;
  padGradRow: Float64Array | null;
}

/**
 * Gradients that are exactly zero in exact arithmetic (the references hold rounding noise):
 *  * attention key biases add the same amount to every score of a query row, which softmax cancels;
 *  * in QA, the span losses are softmaxes over positions: anything adding the same amount to the
 *    logits of every position (qa_outputs.bias, the last LayerNorm's bias) cancels too.
 */
export function mathematicallyZero(entry: FixtureEntry, gradName: string): boolean {
  if (/attention\.(self\.)?key\.bias$/.test(gradName)) return true;
  if (entry.architecture === 'BertForQuestionAnswering') {
    return gradName === 'grad.qa_outputs.bias' || /^grad\.bert\.encoder\.layer\.(\d+)\.output\.LayerNorm\.bias$/.test(gradName) && lastLayer(entry, gradName);
  }
  return false;
}

function lastLayer(entry: FixtureEntry, gradName: string): boolean {
  const layers = new Set(entry.expected_tensors.map((n) => /encoder\.layer\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined).map(Number));
  return Number(/layer\.(\d+)\./.exec(gradName)![1]) === Math.max(...layers);
}

function inputTensor(t: SafetensorsTensor, backend: Backend): Tensor {
  if (t.data instanceof Int32Array) return tensor(t.data, t.shape, { backend, dtype: 'i32' });
  return tensor(t.data as Float32Array, t.shape, { backend });
}

/**
 * Runs fixture `entry` on `backend`. refKind 'f64' compares against expected_f64 where it has
 * the tensor (float64 evaluation of the same f32 weights), else the float32 expected file.
 */
export async function runFixture(entry: FixtureEntry, backend: Backend): Promise<FixtureRun> {
  const dir = join(FIXTURES, entry.dir);
  const exp32 = (await readSafetensorsFile(join(dir, 'expected.safetensors'))).tensors;
  const exp64 = (await readSafetensorsFile(join(dir, 'expected_f64.safetensors'))).tensors;
  const inputs = await fixtureInputs();
  const { model, report } = await fromPretrained(dir, { backend, architecture: entry.architecture, logger: null });
  model.eval();
  const args: Record<string, unknown> = { outputHiddenStates: true, outputAttentions: true, outputMemory: true };
  for (const [arg, inputName] of Object.entries(entry.forward_args)) args[ARG_NAMES[arg]] = inputTensor(inputs.get(inputName)!, backend);
  const out = (model.forward as (a: unknown) => Record<string, unknown>)(args);
  (out.loss as Tensor).backward();

  const params = new Map(model.stateDict());
  const results: TensorResult[] = [];
  let maxGrad = 0;
  for (const name of entry.expected_tensors) {
    if (name.startsWith('grad.')) {
      const r = exp64.get(name) ?? exp32.get(name)!;
      for (const v of r.data as Float32Array) maxGrad = Math.max(maxGrad, Math.abs(v));
    }
  }
  let padGradRow: Float64Array | null = null;
  for (const name of entry.expected_tensors) {
    const ref = exp64.get(name) ?? exp32.get(name)!;
    let ours: Tensor | undefined;
    if (name.startsWith('grad.')) {
      const p = params.get(name.slice(5));
      if (!p) throw new Error(`${entry.name}: no parameter ${name.slice(5)}`);
      ours = p.grad ?? undefined;
      if (!ours) throw new Error(`${entry.name}: parameter ${name.slice(5)} got no gradient`);
    } else if (name.startsWith('hidden_states.')) ours = (out.hiddenStates as Tensor[])[Number(name.split('.')[1])];
    else if (name.startsWith('attentions.')) ours = (out.attentions as Tensor[])[Number(name.split('.')[1])];
    else if (name.startsWith('memory.')) {
      const [, layer, what] = name.split('.');
      const m = (out.memory as { layer: number; indices: Tensor; weights: Tensor }[]).find((x) => x.layer === Number(layer))!;
      ours = what === 'indices' ? m.indices : m.weights;
    } else ours = out[OUTPUT_NAMES[name]] as Tensor;
    if (!ours) throw new Error(`${entry.name}: no output for ${name}`);
    const a = await ours.data();
    const b = ref.data as ArrayLike<number>;
    if (a.length !== b.length) throw new Error(`${entry.name}: ${name} has ${a.length} elements, expected ${b.length} (shape ${ours.shape} vs ${ref.shape})`);
    let maxRef = 0;
    for (let i = 0; i < b.length; i++) maxRef = Math.max(maxRef, Math.abs(b[i]));
    let maxAbsErr = 0;
    let ratio = 0;
    const isGrad = name.startsWith('grad.');
    const kind: TensorResult['kind'] = name.endsWith('.indices') ? 'indices' : isGrad ? (maxRef === 0 || mathematicallyZero(entry, name) ? 'zero-grad' : 'grad') : 'output';
    for (let i = 0; i < b.length; i++) {
      const e = Math.abs(a[i] - b[i]);
      maxAbsErr = Math.max(maxAbsErr, e);
      if (kind === 'output') ratio = Math.max(ratio, e / (1e-4 * Math.abs(b[i]) + 1e-5 * maxRef || 1e-30));
    }
    if (kind === 'grad') ratio = maxAbsErr / maxRef / 1e-3;
    if (kind === 'zero-grad') ratio = Math.max(maxRef, ...Array.from(a, Math.abs)) / (1e-6 * maxGrad);
    if (kind === 'indices') ratio = maxAbsErr; // must be exactly 0
    if (name.endsWith('word_embeddings.weight') && isGrad) {
      const H = ours.shape[1];
      padGradRow = Float64Array.from(Array.from(a).slice(0, H));
    }
    results.push({ name, ratio, maxAbsErr, maxRef, kind });
  }
  return { entry, report, model, results, numParameters: model.numParameters(), maxGrad, padGradRow };
}

export function worst(results: TensorResult[], kind?: TensorResult['kind']): TensorResult {
  const rs = kind ? results.filter((r) => r.kind === kind) : results;
  return rs.reduce((w, r) => (r.ratio > w.ratio ? r : w), rs[0] ?? { name: '-', ratio: 0, maxAbsErr: 0, maxRef: 0, kind: 'output' });
}
