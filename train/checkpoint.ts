// Training checkpoints: model parameters and optimizer state tensors in a safetensors file, and a
// JSON sidecar with everything else (step counters, per-parameter optimizer steps, group lrs,
// scheduler step, seed, data-order position, trainer history). Layout in the checkpoint directory:
//
//   ckpt-<step>.safetensors   model.<param name> / optim.<param name>.<state name> tensors
//   checkpoint.json           the sidecar; names the tensors file, its size and FNV-1a checksum
//
// Both are written atomically (temp file + rename) and in that order, and the previous tensors
// file is removed only after the new sidecar is in place, so a write interrupted at any point
// leaves the previous checkpoint loadable. Tensors keep the backend's precision (F64 from the
// reference backend, F32 from WebGPU) so a resumed run on the reference backend is bit-exact.
// Platform neutral: file access goes through TrainIO.

import { parseSafetensors, serializeSafetensors, type SafetensorsTensor, type SerializableTensor } from '../engine/io/safetensors.js';
import type { Module } from '../engine/nn/module.js';
import type { Optimizer } from '../engine/optim/optimizer.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import type { TrainIO } from './io.js';

export const CHECKPOINT_FORMAT = 'webgpu-bert/train-checkpoint';
export const SIDECAR_NAME = 'checkpoint.json';

export interface OptimizerInfo {
  type: string;
  groups: { lr: number; baseLr: number; weightDecay: number }[];
  /** Per-parameter update counts, by parameter name. */
  steps: Record<string, number>;
}

/** The JSON sidecar. `trainer` is the trainer's own resumable state (opaque here). */
export interface CheckpointSidecar {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  tensorsFile: string;
  tensorsBytes: number;
  tensorsFnv1a: string;
  createdAt: string;
  optimizer: OptimizerInfo;
  trainer: Record<string, unknown>;
}

/** FNV-1a 32-bit hash as 8 hex digits. */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

async function toSerializable(t: Tensor): Promise<SerializableTensor> {
  const data = await t.data();
  const dtype = data instanceof Float64Array ? 'F64' : data instanceof Int32Array ? 'I32' : 'F32';
  return { dtype, shape: [...t.shape], data };
}

/** Model parameters (model.<name>) as serializable tensors, read back from the device. */
export async function captureModel(model: Module, prefix = 'model.'): Promise<Map<string, SerializableTensor>> {
  const out = new Map<string, SerializableTensor>();
  for (const [name, p] of model.namedParameters()) out.set(prefix + name, await toSerializable(p));
  return out;
}

/** Model parameters plus optimizer state tensors, and the optimizer's scalar state. */
export async function captureTraining(model: Module, optimizer: Optimizer): Promise<{ tensors: Map<string, SerializableTensor>; optimizer: OptimizerInfo }> {
  const tensors = await captureModel(model);
  const names = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  const steps: Record<string, number> = {};
  for (const g of optimizer.groups) {
    for (const p of g.params) {
      const name = names.get(p);
      if (name === undefined) throw new Error('checkpoint: the optimizer holds a parameter that is not in the model (checkpoints need every parameter named)');
      const st = optimizer.state.get(p);
      if (!st) continue;
      steps[name] = st.step;
      for (const [sname, t] of Object.entries(st.tensors)) tensors.set(`optim.${name}.${sname}`, await toSerializable(t));
    }
  }
  return {
    tensors,
    optimizer: { type: optimizer.constructor.name, groups: optimizer.groups.map((g) => ({ lr: g.lr, baseLr: g.baseLr, weightDecay: g.weightDecay })), steps },
  };
}

function loadInto(p: Tensor, t: SafetensorsTensor, name: string): Tensor {
  if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
    throw new Error(`checkpoint: ${name} has shape [${t.shape.join(', ')}] but the model's is [${p.shape.join(', ')}]`);
  }
  return tensor(t.data as ArrayLike<number>, p.shape, { backend: p.backend, dtype: p.dtype });
}

/** Copies model.<name> tensors into the model's parameters (in place: the Tensor objects stay). */
export function restoreModel(model: Module, tensors: Map<string, SafetensorsTensor>, prefix = 'model.'): void {
  const params = model.namedParameters();
  const missing = params.filter(([n]) => !tensors.has(prefix + n)).map(([n]) => n);
  if (missing.length > 0) throw new Error(`checkpoint: missing parameters ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}`);
  const known = new Set(params.map(([n]) => prefix + n));
  const extra = [...tensors.keys()].filter((k) => k.startsWith(prefix) && !known.has(k));
  if (extra.length > 0) throw new Error(`checkpoint: parameters not in the model: ${extra.slice(0, 5).join(', ')}`);
  for (const [n, p] of params) p.assign(loadInto(p, tensors.get(prefix + n)!, n));
}

/** Restores model parameters and the optimizer's state (tensors, per-parameter steps, group lrs). */
export function restoreTraining(model: Module, optimizer: Optimizer, tensors: Map<string, SafetensorsTensor>, info: OptimizerInfo): void {
  if (info.type !== optimizer.constructor.name) throw new Error(`checkpoint: optimizer state is for ${info.type}, not ${optimizer.constructor.name}`);
  if (info.groups.length !== optimizer.groups.length) throw new Error(`checkpoint: ${info.groups.length} parameter groups saved, the optimizer has ${optimizer.groups.length}`);
  restoreModel(model, tensors);
  const byName = new Map(model.namedParameters());
  optimizer.dispose(); // frees and clears the current state
  info.groups.forEach((g, i) => Object.assign(optimizer.groups[i], g));
  for (const [name, step] of Object.entries(info.steps)) {
    const p = byName.get(name);
    if (!p) throw new Error(`checkpoint: optimizer state for unknown parameter ${name}`);
    const st = { step, tensors: {} as Record<string, Tensor> };
    optimizer.state.set(p, st);
    const prefix = `optim.${name}.`;
    for (const [k, t] of tensors) if (k.startsWith(prefix)) optimizer.setState(st, k.slice(prefix.length), loadInto(p, t, k));
  }
}

/**
 * Writes a checkpoint into `dir`: the tensors file, then the sidecar, then removes stale tensors
 * files. `tag` names the tensors file (e.g. the step).
 */
export async function writeCheckpoint(
  io: TrainIO,
  dir: string,
  tag: string,
  tensors: Map<string, SerializableTensor>,
  optimizer: OptimizerInfo,
  trainer: Record<string, unknown>,
): Promise<CheckpointSidecar> {
  await io.mkdir(dir);
  const tensorsFile = `ckpt-${tag}.safetensors`;
  const bytes = serializeSafetensors(tensors, { format: CHECKPOINT_FORMAT });
  await io.writeAtomic(io.join(dir, tensorsFile), bytes);
  const sidecar: CheckpointSidecar = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    tensorsFile,
    tensorsBytes: bytes.length,
    tensorsFnv1a: fnv1a(bytes),
    createdAt: new Date().toISOString(),
    optimizer,
    trainer,
  };
  await io.writeAtomic(io.join(dir, SIDECAR_NAME), JSON.stringify(sidecar, null, 1) + '\n');
  // Only now is the previous tensors file unreferenced.
  for (const f of await io.list(dir)) {
    if (f !== tensorsFile && /^ckpt-.*\.safetensors$/.test(f)) await io.remove(io.join(dir, f));
  }
  return sidecar;
}

/** Reads the checkpoint in `dir` (null when there is none) and verifies the tensors file. */
export async function readCheckpoint(io: TrainIO, dir: string): Promise<{ sidecar: CheckpointSidecar; tensors: Map<string, SafetensorsTensor> } | null> {
  const raw = await io.read(io.join(dir, SIDECAR_NAME));
  if (!raw) return null;
  let sidecar: CheckpointSidecar;
  try {
    sidecar = JSON.parse(new TextDecoder().decode(raw)) as CheckpointSidecar;
  } catch (e) {
    throw new Error(`${io.join(dir, SIDECAR_NAME)}: not valid JSON: ${(e as Error).message}`);
  }
  if (sidecar.format !== CHECKPOINT_FORMAT || sidecar.version !== 1) throw new Error(`${io.join(dir, SIDECAR_NAME)}: not a version-1 ${CHECKPOINT_FORMAT} sidecar`);
  const path = io.join(dir, sidecar.tensorsFile);
  const bytes = await io.read(path);
  if (!bytes) throw new Error(`${path}: missing (named by ${SIDECAR_NAME})`);
  if (bytes.length !== sidecar.tensorsBytes || fnv1a(bytes) !== sidecar.tensorsFnv1a) {
    throw new Error(`${path}: size or checksum differs from ${SIDECAR_NAME} (corrupt or replaced file)`);
  }
  return { sidecar, tensors: parseSafetensors(bytes).tensors };
}
