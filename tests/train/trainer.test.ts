// fit(): a run killed mid-epoch (a callback throws after step N) and resumed from its last
// checkpoint reproduces the uninterrupted run exactly on the reference backend (losses, metrics,
// parameters); a checkpoint write that dies halfway leaves the previous checkpoint intact; the
// statistics, curves and best-model files parse back; no buffer leaks; bad options are rejected.
// Tiny model (2-16-2 MLP with dropout, AdamW + warmup/decay, accumulation, clipping).

import { mkdtemp, open as fsOpen, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { AdamW, Dropout, F, LRScheduler, Linear, Module, ReferenceBackend, decayGroups, linearWarmupDecay, setSeed, tensor, type Backend, type Tensor } from '../../engine/index.js';
import { parseSafetensors } from '../../engine/io/safetensors.js';
import type { AtomicFileHandle, AtomicWriteFs } from '../../engine/io/safetensors-node.js';
import { spirals } from '../../examples/lib/mlp.js';
import { captureTraining, readCheckpoint, writeCheckpoint } from '../../train/checkpoint.js';
import { memoryIO } from '../../train/io.js';
import { nodeIO } from '../../train/io-node.js';
import { classificationMetrics } from '../../train/metrics.js';
import { memorySink } from '../../train/progress.js';
import { parseCsv, parseJsonl } from '../../train/stats.js';
import { fit, indexBatches, type FitOptions, type FitResult } from '../../train/index.js';
import { checkXml, polylinePoints } from './svg-helpers.js';
import { tryWebGPU } from '../helpers/webgpu.js';

class Tiny extends Module {
  readonly fc1: Linear;
  readonly drop: Dropout;
  readonly fc2: Linear;
  constructor(backend: Backend, p = 0.2) {
    super();
    this.drop = new Dropout(p);
    this.fc1 = this.module('fc1', new Linear(2, 16, { backend, initStd: 0.7 }));
    this.fc2 = this.module('fc2', new Linear(16, 2, { backend, initStd: 0.25 }));
    this.module('drop', this.drop);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.drop.forward(F.gelu(this.fc1.forward(x))));
  }
}

interface Batch {
  x: number[];
  y: number[];
}

const N = 48;
const data = spirals(N, 3);
const batchOf = (idx: number[]): Batch => ({ x: idx.flatMap((i) => [data.x[2 * i], data.x[2 * i + 1]]), y: idx.map((i) => data.y[i]) });
const EPOCHS = 3;
const TOTAL_STEPS = EPOCHS * 4; // 8 micro-batches of 6 per epoch, accumIters 2

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'fit-test-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function setup(backend: Backend, initSeed: number, dropout = 0.2) {
  setSeed(initSeed);
  const model = new Tiny(backend, dropout);
  const optimizer = new AdamW(decayGroups(model.namedParameters(), 0.01), { lr: 0.05 });
  const scheduler = new LRScheduler(optimizer, linearWarmupDecay(2, TOTAL_STEPS));
  return { model, optimizer, scheduler };
}

function options(backend: Backend, m: ReturnType<typeof setup>, outDir: string | undefined, extra: Partial<FitOptions<Batch>> = {}): FitOptions<Batch> {
  const { model } = m;
  return {
    ...m,
    trainBatches: ({ seed }) => indexBatches(N, 6, { seed }).map(batchOf),
    step: (b) => F.crossEntropy(model.forward(tensor(b.x, [b.y.length, 2], { backend })), tensor(Int32Array.from(b.y), [b.y.length], { backend })),
    batchSize: (b) => b.y.length,
    evalBatches: () => indexBatches(N, 16, { shuffle: false }).map(batchOf),
    evalStep: (b) => {
      const logits = model.forward(tensor(b.x, [b.y.length, 2], { backend }));
      return { loss: F.crossEntropy(logits, tensor(Int32Array.from(b.y), [b.y.length], { backend })), predictions: logits, labels: b.y };
    },
    metrics: ({ predictions, labels }) => classificationMetrics(labels, predictions, { numClasses: 2 }),
    epochs: EPOCHS,
    accumIters: 2,
    clipNorm: 1,
    logEvery: 1,
    outDir,
    io: outDir === undefined ? undefined : nodeIO(),
    seed: 42,
    progress: null,
    ...extra,
  };
}

async function params(model: Module): Promise<number[][]> {
  return Promise.all(model.parameters().map((p) => p.toArray()));
}

const strip = (h: FitResult['history']) => h.map(({ time_s: _t, throughput: _x, ...r }) => r);
const stepLosses = (r: FitResult) => r.stepLog.map((s) => [s.step, s.loss, s.lr, s.grad_norm]);

const ref = new ReferenceBackend();
let baseline: { result: FitResult; params: number[][] } | null = null;
async function uninterrupted(): Promise<{ result: FitResult; params: number[][] }> {
  if (!baseline) {
    const m = setup(ref, 7);
    const result = await fit(options(ref, m, await tempDir()));
    baseline = { result, params: await params(m.model) };
  }
  return baseline;
}

describe('fit on the reference backend', () => {
  it('trains: loss falls, lr follows the schedule, evaluation runs each epoch, no buffer leaks', async () => {
    const m = setup(ref, 7);
    const before = ref.liveCount();
    const out = await tempDir();
    const sink = memorySink(false);
    const result = await fit(options(ref, m, out, { progress: sink, monitor: { metric: 'eval_accuracy', mode: 'max' } }));
    baseline ??= { result, params: await params(m.model) };
    expect(result.step).toBe(TOTAL_STEPS);
    expect(result.history).toHaveLength(EPOCHS);
    expect(result.stepLog).toHaveLength(TOTAL_STEPS);
    const first = result.stepLog[0].loss as number;
    expect(result.finalLoss).toBeLessThan(first);
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    for (const r of result.history) {
      expect(r.eval_accuracy).toBeGreaterThanOrEqual(0);
      expect(r.eval_accuracy).toBeLessThanOrEqual(1);
      expect(typeof r.eval_loss).toBe('number');
      expect(typeof r.eval_mcc).toBe('number');
    }
    // lr logged after step s is base * schedule(s); the last step reaches 0.
    expect(result.stepLog[0].lr).toBeCloseTo(0.05 * 0.5, 12);
    expect(result.stepLog[TOTAL_STEPS - 1].lr).toBe(0);
    expect(result.stepLog.every((s) => typeof s.grad_norm === 'number')).toBe(true);
    // Only the optimizer state (expAvg + expAvgSq per parameter) outlives fit.
    const stateTensors = [...m.optimizer.state.values()].reduce((a, s) => a + Object.keys(s.tensors).length, 0);
    expect(stateTensors).toBe(2 * m.model.parameters().length);
    expect(ref.liveCount()).toBe(before + stateTensors);
    // Progress lines (not a TTY): one per logged step, with step/total and ETA, plus epoch summaries.
    const lines = sink.text.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('epoch ') && l.includes('ETA'))).toHaveLength(TOTAL_STEPS);
    expect(lines.some((l) => l.includes(`step 3/${TOTAL_STEPS}`) && /ex\/s/.test(l))).toBe(true);
    expect(lines.filter((l) => l.includes('train_loss'))).toHaveLength(EPOCHS);
    expect(sink.text).not.toContain('\r');

    // Files: stats.jsonl / stats.csv / steps.jsonl parse back to the returned records.
    const jsonl = parseJsonl(await readFile(join(out, 'stats.jsonl'), 'utf8'));
    expect(jsonl).toEqual(JSON.parse(JSON.stringify(result.history)));
    const csv = parseCsv(await readFile(join(out, 'stats.csv'), 'utf8'));
    expect(csv.map((r) => [r.epoch, r.train_loss, r.eval_f1_macro])).toEqual(result.history.map((r) => [r.epoch, r.train_loss, r.eval_f1_macro]));
    expect(parseJsonl(await readFile(join(out, 'steps.jsonl'), 'utf8')).map((r) => r.loss)).toEqual(result.stepLog.map((r) => r.loss));
    const svg = await readFile(join(out, 'curves.svg'), 'utf8');
    checkXml(svg);
    expect(polylinePoints(svg, 'train loss')).toHaveLength(TOTAL_STEPS);
    expect(polylinePoints(svg, 'eval loss')).toHaveLength(EPOCHS);
    expect(polylinePoints(svg, 'f1_macro')).toHaveLength(EPOCHS);
    // best-model.safetensors holds the model's parameters under their names.
    const best = parseSafetensors(new Uint8Array(await readFile(join(out, 'best-model.safetensors'))));
    expect([...best.tensors.keys()].sort()).toEqual(m.model.namedParameters().map(([n]) => n).sort());
    expect(best.metadata.epoch).toBe(String(result.best!.epoch));
    expect(result.best!.value).toBe(Math.max(...result.history.map((r) => r.eval_accuracy as number)));
    // The checkpoint directory holds exactly one tensors file and the sidecar.
    expect((await readdir(join(out, 'checkpoint'))).sort()).toEqual(['checkpoint.json', `ckpt-s${String(TOTAL_STEPS).padStart(8, '0')}-e3.safetensors`]);
    m.optimizer.dispose();
    m.model.dispose();
  });

  it('a run killed mid-epoch 2 and resumed from the epoch-1 checkpoint reproduces the uninterrupted run exactly', async () => {
    const base = await uninterrupted();
    const out = await tempDir();
    const killed = setup(ref, 7);
    await expect(
      fit(options(ref, killed, out, { onStep: (i) => { if (i.step === 6) throw new Error('simulated kill'); } })),
    ).rejects.toThrow('simulated kill');
    // A fresh process: other initial weights, fresh optimizer and schedule.
    const m = setup(ref, 999);
    const result = await fit(options(ref, m, out, { resume: true }));
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 4 });
    expect(result.finalLoss).toBe(base.result.finalLoss);
    expect(strip(result.history)).toEqual(strip(base.result.history));
    expect(stepLosses(result)).toEqual(stepLosses(base.result));
    expect(await params(m.model)).toEqual(base.params);
  });

  it.each([
    [3, { epoch: 0, step: 3 }],
    [7, { epoch: 1, step: 6 }],
  ])('mid-epoch checkpoints (checkpointEvery 3): killed after step %i, resumes inside the epoch at %o', async (killAt, from) => {
    const base = await uninterrupted();
    const out = await tempDir();
    const killed = setup(ref, 7);
    await expect(
      fit(options(ref, killed, out, { checkpointEvery: 3, onStep: (i) => { if (i.step === killAt) throw new Error(`kill at ${killAt}`); } })),
    ).rejects.toThrow(`kill at ${killAt}`);
    const m = setup(ref, 123);
    const result = await fit(options(ref, m, out, { checkpointEvery: 3, resume: true }));
    expect(result.resumedFrom).toEqual(from);
    expect(result.finalLoss).toBe(base.result.finalLoss);
    expect(stepLosses(result)).toEqual(stepLosses(base.result));
    expect(strip(result.history)).toEqual(strip(base.result.history));
    expect(await params(m.model)).toEqual(base.params);
  });

  it('a checkpoint write that dies halfway leaves the previous checkpoint intact, and resuming from it still reproduces the run', async () => {
    const base = await uninterrupted();
    const out = await tempDir();
    let armed = false;
    let partialBytes = -1;
    // Dies in the middle of writing the epoch-2 tensors file (the temp file is half written).
    const failing: AtomicWriteFs = {
      async open(path, flags, mode) {
        const fh = await fsOpen(path, flags, mode);
        const handle: AtomicFileHandle = {
          async write(buf, off, len, pos) {
            if (armed && /ckpt-.*\.safetensors/.test(path)) {
              await fh.write(buf, off, Math.floor(len / 2), pos);
              partialBytes = (await stat(path)).size;
              throw new Error('disk died');
            }
            return fh.write(buf, off, len, pos);
          },
          sync: () => fh.sync(),
          close: () => fh.close(),
        };
        return handle;
      },
      rename: (a, b) => import('node:fs/promises').then((f) => f.rename(a, b)),
      unlink: (p) => import('node:fs/promises').then((f) => f.unlink(p)),
    };
    const m1 = setup(ref, 7);
    const opts = options(ref, m1, out, { io: nodeIO({ fs: failing }), onEpochEnd: (r) => { if (r.epoch === 1) armed = true; } });
    await expect(fit(opts)).rejects.toThrow('disk died');
    expect(partialBytes).toBeGreaterThan(0);
    const files = await readdir(join(out, 'checkpoint'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]); // the temp file was removed
    const ck = await readCheckpoint(nodeIO(), join(out, 'checkpoint'));
    expect(ck!.sidecar.tensorsFile).toBe('ckpt-s00000004-e1.safetensors');
    expect((ck!.sidecar.trainer as { epoch: number }).epoch).toBe(1);
    const m = setup(ref, 5);
    const result = await fit(options(ref, m, out, { resume: true }));
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 4 });
    expect(result.finalLoss).toBe(base.result.finalLoss);
    expect(await params(m.model)).toEqual(base.params);
  });

  it('writeCheckpoint: a failure writing the sidecar keeps the old pair; the next good write cleans up', async () => {
    const io = memoryIO();
    const m = setup(ref, 1);
    const cap = await captureTraining(m.model, m.optimizer);
    await writeCheckpoint(io, 'ck', 'a', cap.tensors, cap.optimizer, { n: 1 });
    const failing = { ...io, writeAtomic: async (p: string, d: Uint8Array | string) => (p.endsWith('.json') ? Promise.reject(new Error('sidecar lost')) : io.writeAtomic(p, d)) };
    await expect(writeCheckpoint(failing, 'ck', 'b', cap.tensors, cap.optimizer, { n: 2 })).rejects.toThrow('sidecar lost');
    expect((await readCheckpoint(io, 'ck'))!.sidecar.trainer).toEqual({ n: 1 });
    await writeCheckpoint(io, 'ck', 'c', cap.tensors, cap.optimizer, { n: 3 });
    expect((await io.list('ck')).sort()).toEqual(['checkpoint.json', 'ckpt-c.safetensors']);
    // A corrupted tensors file is detected by the checksum.
    const f = io.files.get('ck/ckpt-c.safetensors')!;
    f[f.length - 1] ^= 1;
    await expect(readCheckpoint(io, 'ck')).rejects.toThrow(/checksum differs/);
    m.optimizer.dispose();
    m.model.dispose();
  });

  it('accumIters 2 over batches of 6 equals accumIters 1 over batches of 12 (no dropout)', async () => {
    const run = async (accumIters: number, batch: number) => {
      const m = setup(ref, 7, 0);
      const r = await fit(options(ref, m, undefined, { accumIters, trainBatches: ({ seed }) => indexBatches(N, batch, { seed }).map(batchOf), logEvery: 2 }));
      const p = await params(m.model);
      m.optimizer.dispose();
      m.model.dispose();
      return { r, p };
    };
    const a = await run(2, 6);
    const b = await run(1, 12);
    expect(a.r.step).toBe(b.r.step);
    a.p.forEach((t, i) => t.forEach((v, k) => expect(Math.abs(v - b.p[i][k])).toBeLessThan(1e-12)));
    a.r.history.forEach((h, i) => expect(Math.abs((h.train_loss as number) - (b.r.history[i].train_loss as number))).toBeLessThan(1e-12));
  });

  it('rejects bad options, a non-scalar loss and a resume with another seed', async () => {
    const m = setup(ref, 1);
    await expect(fit(options(ref, m, undefined, { accumIters: 0 }))).rejects.toThrow(/accumIters must be a positive integer, got 0/);
    await expect(fit(options(ref, m, 'x', { io: undefined }))).rejects.toThrow(/outDir needs io/);
    await expect(fit({ ...options(ref, m, undefined), step: (b) => m.model.forward(tensor(b.x, [b.y.length, 2], { backend: ref })) })).rejects.toThrow(
      /step must return a scalar loss, got shape \[6, 2\]/,
    );
    const out = await tempDir();
    await fit(options(ref, m, out, { epochs: 1 }));
    await expect(fit(options(ref, m, out, { seed: 43, resume: true }))).rejects.toThrow(/written with seed 42, this run has seed 43/);
    m.optimizer.dispose();
    m.model.dispose();
  });
});

// WebGPU, when an adapter is available: the same run tracks the reference closely (dropout masks
// are bit-identical by construction), resume is exact there too, and no buffer leaks.
const gpu = await tryWebGPU();

describe.skipIf(!gpu)('fit on WebGPU', () => {
  it('matches the reference run, resumes exactly and leaks no buffers', async () => {
    const backend = gpu!;
    const base = await uninterrupted();
    const m = setup(backend, 7);
    const before = backend.liveCount();
    const out = await tempDir();
    const full = await fit(options(backend, m, out));
    const stateTensors = [...m.optimizer.state.values()].reduce((a, s) => a + Object.keys(s.tensors).length, 0);
    expect(backend.liveCount()).toBe(before + stateTensors);
    full.stepLog.forEach((s, i) => expect(Math.abs((s.loss as number) - (base.result.stepLog[i].loss as number))).toBeLessThan(1e-4));
    const fullParams = await params(m.model);

    const out2 = await tempDir();
    await expect(fit(options(backend, setup(backend, 7), out2, { onStep: (i) => { if (i.step === 7) throw new Error('kill'); } }))).rejects.toThrow('kill');
    const m2 = setup(backend, 3);
    const resumed = await fit(options(backend, m2, out2, { resume: true }));
    expect(resumed.finalLoss).toBe(full.finalLoss);
    expect(await params(m2.model)).toEqual(fullParams);
  });
});
