// fit(): the train/eval loop every example uses. Per micro-batch it reseeds the global random
// stream from (seed, micro-batch index), runs the user's step (forward + loss) and the backward
// pass inside a scope, so nothing leaks; every accumIters micro-batches it clips, steps the
// optimizer and the schedule. Losses are summed on the device and read back only every logEvery
// optimizer steps (readbacks stall a GPU). Each epoch it evaluates, appends a statistics record
// (JSONL + CSV), redraws the SVG curves and writes a checkpoint atomically; resume continues from
// the checkpoint and reproduces the uninterrupted run (same seed -> same losses), provided
// trainBatches is a pure function of its context (shuffle with ctx.seed, not Math.random).
// Platform neutral: files go through an injected TrainIO (train/io-node.ts: nodeIO()).

import * as F from '../engine/ops/api.js';
import type { Module } from '../engine/nn/module.js';
import type { Optimizer } from '../engine/optim/optimizer.js';
import type { LRScheduler } from '../engine/optim/schedules.js';
import { hash32, SeededRandom } from '../engine/random.js';
import { endScope, keep, noGrad, startScope, tidy } from '../engine/scope.js';
import { setSeed } from '../engine/seed.js';
import type { Tensor } from '../engine/tensor.js';
import { clipGradNorm } from '../engine/optim/optimizer.js';
import { captureModel, captureTraining, readCheckpoint, restoreTraining, writeCheckpoint, type CheckpointSidecar } from './checkpoint.js';
import { trainingCurves } from './curves.js';
import type { TrainIO } from './io.js';
import { argmaxRows } from './metrics.js';
import { consoleSink, Progress, type ProgressSink } from './progress.js';
import { toCsv, toJsonl, type StatRecord } from './stats.js';
import { serializeSafetensors } from '../engine/io/safetensors.js';

export interface EpochContext {
  /** 0-based epoch index. */
  epoch: number;
  /** Seed for this epoch's data order (derived from the run seed and the epoch). */
  seed: number;
}

export interface StepContext {
  epoch: number;
  /** Optimizer steps done before this micro-batch. */
  step: number;
  /** Global micro-batch index. */
  microStep: number;
  /** Index of the batch within its epoch. */
  batchIndex: number;
  /** The seed the global random stream was reset to for this micro-batch. */
  seed: number;
  /** A host generator seeded like the global stream (masking, sampling). */
  rng: SeededRandom;
}

export interface EvalOutput {
  /** Mean loss of the batch (scalar). */
  loss?: Tensor;
  /** Predicted classes [n], or logits [n, classes] (argmax taken), or regression values [n] / [n, 1]. */
  predictions?: Tensor | ArrayLike<number>;
  labels?: Tensor | ArrayLike<number>;
}

export interface StepInfo {
  epoch: number;
  step: number;
  microStep: number;
  batchIndex: number;
  /** Mean loss of the window just read back (only on logging steps). */
  loss?: number;
  lr: number;
}

export interface FitOptions<B, E = B> {
  model: Module;
  optimizer: Optimizer;
  /** Stepped after every optimizer step. */
  scheduler?: LRScheduler;
  /** The training batches of an epoch, in order; must depend only on ctx (for resume). */
  trainBatches: (ctx: EpochContext) => Iterable<B>;
  /** Micro-batches per epoch (for progress/ETA); taken from an array's length when omitted. */
  batchesPerEpoch?: number;
  /** Forward + loss of one micro-batch: a scalar mean loss (the trainer runs backward). */
  step: (batch: B, ctx: StepContext) => Tensor | Promise<Tensor>;
  /** Examples in a batch (throughput as ex/s); micro-batches (it/s) when omitted. */
  batchSize?: (batch: B) => number;
  /** Evaluation data; evalStep runs under noGrad and must be synchronous. */
  evalBatches?: () => Iterable<E>;
  evalStep?: (batch: E) => EvalOutput;
  /** Metrics from all eval predictions/labels (e.g. classificationMetrics). */
  metrics?: (r: { predictions: number[]; labels: number[] }) => Record<string, number>;
  /** Custom evaluation instead of evalBatches/evalStep; tensors it creates are disposed after it. */
  evaluate?: (ctx: { epoch: number; model: Module }) => Promise<Record<string, number>> | Record<string, number>;
  epochs: number;
  /** Micro-batches per optimizer step (default 1); losses are scaled by 1/accumIters. */
  accumIters?: number;
  /** Global gradient-norm clipping (torch clip_grad_norm_); off when null/undefined/0. */
  clipNorm?: number | null;
  /** Read the loss back and log every this many optimizer steps (default 10). */
  logEvery?: number;
  /** Also checkpoint every this many optimizer steps (default: only at epoch ends). */
  checkpointEvery?: number;
  /** Where stats, curves and checkpoints go (nothing is written without it). */
  outDir?: string;
  io?: TrainIO;
  seed: number;
  /** Continue from outDir's checkpoint when there is one. */
  resume?: boolean;
  /** Saves best-model.safetensors when this eval metric improves (e.g. {metric: 'eval_f1_macro', mode: 'max'}). */
  monitor?: { metric: string; mode: 'max' | 'min' };
  /** Progress output (default: plain lines through console.log; null for none). */
  progress?: ProgressSink | null;
  /** Stored in the checkpoint sidecar and the first stats record's run (e.g. the config). */
  meta?: Record<string, unknown>;
  onStep?: (info: StepInfo) => void | Promise<void>;
  onEpochEnd?: (stats: StatRecord) => void | Promise<void>;
}

export interface FitResult {
  /** One record per epoch (what stats.jsonl / stats.csv hold). */
  history: StatRecord[];
  /** One record per logged step (steps.jsonl). */
  stepLog: StatRecord[];
  /** Optimizer steps done. */
  step: number;
  /** Mean training loss of the last epoch. */
  finalLoss: number;
  resumedFrom?: { epoch: number; step: number };
  best?: { metric: string; value: number; epoch: number };
}

/** A 32-bit seed from a run seed and integer parts (order-sensitive). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = hash32((seed >>> 0) ^ 0x9e3779b9);
  for (const p of parts) h = hash32((h + Math.imul(p >>> 0, 0x85ebca6b)) >>> 0);
  return h;
}

/**
 * Index batches over n items: shuffled with `seed` (Fisher-Yates) unless shuffle is false; the
 * last short batch is kept unless dropLast.
 */
export function indexBatches(n: number, batchSize: number, opts: { seed?: number; shuffle?: boolean; dropLast?: boolean } = {}): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`indexBatches: batchSize must be a positive integer, got ${batchSize}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  if (opts.shuffle !== false) {
    const rng = new SeededRandom(opts.seed ?? 0);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
  }
  const out: number[][] = [];
  for (let i = 0; i < n; i += batchSize) if (!opts.dropLast || i + batchSize <= n) out.push(idx.slice(i, i + batchSize));
  return out;
}

interface RunState {
  epoch: number;
  batchInEpoch: number;
  step: number;
  microStep: number;
  epochLossSum: number;
  epochLossCount: number;
  epochExamples: number;
  epochTimeSec: number;
  history: StatRecord[];
  stepLog: StatRecord[];
  best: { metric: string; value: number; epoch: number } | null;
  batchesPerEpoch: number | null;
}

function checkOptions<B, E>(o: FitOptions<B, E>): void {
  const posInt = (v: number | undefined, name: string) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`fit: ${name} must be a positive integer, got ${v}`);
  };
  posInt(o.epochs, 'epochs');
  posInt(o.accumIters, 'accumIters');
  posInt(o.logEvery, 'logEvery');
  posInt(o.checkpointEvery, 'checkpointEvery');
  if (!Number.isInteger(o.seed)) throw new Error(`fit: seed must be an integer, got ${o.seed}`);
  if (o.clipNorm !== undefined && o.clipNorm !== null && !(o.clipNorm >= 0)) throw new Error(`fit: clipNorm must be >= 0, got ${o.clipNorm}`);
  if (o.outDir !== undefined && !o.io) throw new Error('fit: outDir needs io (nodeIO() from train/io-node.js)');
  if (o.resume && o.outDir === undefined) throw new Error('fit: resume needs outDir');
  if (o.evalBatches && !o.evalStep) throw new Error('fit: evalBatches needs evalStep');
}

async function toNumbers(v: Tensor | ArrayLike<number>): Promise<{ values: number[]; cols: number }> {
  if (Array.isArray(v) || ArrayBuffer.isView(v) || !('shape' in (v as object))) return { values: Array.from(v as ArrayLike<number>), cols: 1 };
  const t = v as Tensor;
  return { values: Array.from(await t.data()), cols: t.rank === 2 ? t.shape[1] : 1 };
}

/** Trains `model`; see FitOptions. Rejects with the first error a step, callback or write throws. */
export async function fit<B, E = B>(o: FitOptions<B, E>): Promise<FitResult> {
  checkOptions(o);
  const { model, optimizer, scheduler, io, outDir } = o;
  const accumIters = o.accumIters ?? 1;
  const logEvery = o.logEvery ?? 10;
  const progress = new Progress(o.progress === undefined ? consoleSink() : o.progress);
  const ckptDir = outDir !== undefined && io ? io.join(outDir, 'checkpoint') : undefined;
  const params = model.parameters();

  const st: RunState = {
    epoch: 0, batchInEpoch: 0, step: 0, microStep: 0, epochLossSum: 0, epochLossCount: 0, epochExamples: 0, epochTimeSec: 0,
    history: [], stepLog: [], best: null, batchesPerEpoch: o.batchesPerEpoch ?? null,
  };
  let resumedFrom: FitResult['resumedFrom'];
  if (o.resume && io && ckptDir) {
    const ck = await readCheckpoint(io, ckptDir);
    if (ck) {
      const saved = ck.sidecar.trainer as unknown as RunState & { seed: number; accumIters: number };
      if (saved.seed !== o.seed) throw new Error(`fit: the checkpoint was written with seed ${saved.seed}, this run has seed ${o.seed}`);
      if (saved.accumIters !== accumIters) throw new Error(`fit: the checkpoint was written with accumIters ${saved.accumIters}, this run has ${accumIters}`);
      restoreTraining(model, optimizer, ck.tensors, ck.sidecar.optimizer);
      Object.assign(st, pickState(saved));
      scheduler?.setStep((ck.sidecar.trainer.schedulerStep as number | null) ?? st.step);
      resumedFrom = { epoch: st.epoch, step: st.step };
      progress.log(`resumed from ${ckptDir} at epoch ${st.epoch + 1}, batch ${st.batchInEpoch}, step ${st.step}`);
    }
  }

  // Device-side loss sum of the current logging window; read back at log steps.
  let windowSum: Tensor | null = null;
  let windowCount = 0;
  let lastNorm: Tensor | null = null;
  let lastLoss = NaN;
  let pending = 0;
  const runStart = Date.now();
  const startStep = st.step;
  let examplesSinceStart = 0;
  let epochStart = Date.now();
  const lr = () => optimizer.groups[0]?.lr ?? 0;
  const stepsPerEpoch = () => (st.batchesPerEpoch === null ? null : Math.ceil(st.batchesPerEpoch / accumIters));
  const totalSteps = () => {
    const s = stepsPerEpoch();
    return s === null ? undefined : s * o.epochs;
  };

  const dropWindow = () => {
    windowSum?.dispose();
    lastNorm?.dispose();
    windowSum = lastNorm = null;
    windowCount = 0;
  };

  /** Reads the window's loss back; returns its mean (NaN for an empty window). */
  const flushWindow = async (): Promise<{ loss: number; norm?: number }> => {
    if (!windowSum || windowCount === 0) return { loss: NaN };
    const [sum, norm] = await Promise.all([windowSum.item(), lastNorm ? lastNorm.item() : Promise.resolve(undefined)]);
    st.epochLossSum += sum;
    st.epochLossCount += windowCount;
    const loss = sum / windowCount;
    dropWindow();
    return { loss, norm };
  };

  const showProgress = (logged: boolean, extra?: Record<string, number>) => {
    const elapsed = (Date.now() - runStart) / 1000;
    const total = totalSteps();
    const done = st.step - startStep;
    progress.update(
      {
        epoch: st.epoch + 1, epochs: o.epochs, step: st.step, totalSteps: total, loss: Number.isNaN(lastLoss) ? undefined : lastLoss, lr: lr(),
        examplesPerSec: elapsed > 0 ? examplesSinceStart / elapsed : undefined, unit: o.batchSize ? 'ex' : 'it', elapsedSec: elapsed,
        etaSec: total !== undefined && done > 0 ? ((total - st.step) * elapsed) / done : undefined, extra,
      },
      logged,
    );
  };

  const writeFiles = async () => {
    if (!io || outDir === undefined) return;
    await io.mkdir(outDir);
    await io.writeAtomic(io.join(outDir, 'stats.jsonl'), toJsonl(st.history));
    await io.writeAtomic(io.join(outDir, 'stats.csv'), toCsv(st.history));
    await io.writeAtomic(io.join(outDir, 'steps.jsonl'), toJsonl(st.stepLog));
    await io.writeAtomic(io.join(outDir, 'curves.svg'), trainingCurves(st.stepLog, st.history, o.meta?.name ? String(o.meta.name) : undefined));
  };

  const checkpoint = async (): Promise<CheckpointSidecar | undefined> => {
    if (!io || !ckptDir) return;
    const cap = await captureTraining(model, optimizer);
    const trainer = { ...st, seed: o.seed, accumIters, schedulerStep: scheduler ? scheduler.lastStep : null, meta: o.meta ?? null };
    return writeCheckpoint(io, ckptDir, `s${String(st.step).padStart(8, '0')}-e${st.epoch}`, cap.tensors, cap.optimizer, trainer);
  };

  const optimizerStep = async (epoch: number, batchIndex: number) => {
    tidy(() => {
      const withGrad = params.filter((p) => p.grad);
      if (o.clipNorm && withGrad.length > 0) {
        const norm = clipGradNorm(withGrad, o.clipNorm);
        if ((st.step + 1) % logEvery === 0) {
          lastNorm?.dispose();
          lastNorm = keep(norm);
        }
      }
      optimizer.step();
    });
    scheduler?.step();
    optimizer.zeroGrad();
    model.zeroGrad();
    st.step++;
    pending = 0;
    const info: StepInfo = { epoch, step: st.step, microStep: st.microStep, batchIndex, lr: lr() };
    if (st.step % logEvery === 0) {
      const { loss, norm } = await flushWindow();
      lastLoss = info.loss = loss;
      const elapsed = (Date.now() - runStart) / 1000;
      const rec: StatRecord = { step: st.step, epoch: epoch + 1, loss, lr: info.lr };
      if (norm !== undefined) rec.grad_norm = norm;
      rec.throughput = elapsed > 0 ? examplesSinceStart / elapsed : null;
      st.stepLog.push(rec);
      showProgress(true, norm !== undefined ? { grad_norm: norm } : undefined);
    } else showProgress(false);
    if (o.checkpointEvery && st.step % o.checkpointEvery === 0) {
      await flushWindow();
      st.epochTimeSec += (Date.now() - epochStart) / 1000;
      epochStart = Date.now();
      await checkpoint();
    }
    await o.onStep?.(info);
  };

  const evaluate = async (epoch: number): Promise<Record<string, number>> => {
    model.eval();
    try {
      if (o.evaluate) {
        startScope();
        try {
          const r = await o.evaluate({ epoch, model });
          return r;
        } finally {
          endScope();
        }
      }
      if (!o.evalBatches || !o.evalStep) return {};
      const preds: number[] = [];
      const labels: number[] = [];
      let lossSum = 0;
      let lossN = 0;
      for (const batch of o.evalBatches()) {
        startScope();
        try {
          const out = noGrad(() => o.evalStep!(batch));
          let n = 1;
          if (out.predictions !== undefined) {
            const { values, cols } = await toNumbers(out.predictions);
            const p = cols > 1 ? argmaxRows(values, cols) : values;
            preds.push(...p);
            n = p.length;
          }
          if (out.labels !== undefined) {
            const l = (await toNumbers(out.labels)).values;
            labels.push(...l);
            n = l.length;
          }
          if (out.loss) {
            lossSum += (await out.loss.item()) * n;
            lossN += n;
          }
        } finally {
          endScope();
        }
      }
      const m: Record<string, number> = {};
      if (lossN > 0) m.loss = lossSum / lossN;
      if (o.metrics && preds.length > 0) Object.assign(m, o.metrics({ predictions: preds, labels }));
      return m;
    } finally {
      model.train();
    }
  };

  try {
    for (; st.epoch < o.epochs; st.epoch++) {
      const epoch = st.epoch;
      model.train();
      epochStart = Date.now();
      const batches = o.trainBatches({ epoch, seed: deriveSeed(o.seed, 1, epoch) });
      if (st.batchesPerEpoch === null && Array.isArray(batches)) st.batchesPerEpoch = batches.length;
      let batchIndex = 0;
      for (const batch of batches) {
        if (batchIndex < st.batchInEpoch) {
          batchIndex++; // already trained on before the checkpoint we resumed from
          continue;
        }
        const seed = deriveSeed(o.seed, 2, st.microStep);
        setSeed(seed);
        const ctx: StepContext = { epoch, step: st.step, microStep: st.microStep, batchIndex, seed, rng: new SeededRandom(seed) };
        startScope();
        try {
          let loss = o.step(batch, ctx);
          if (loss instanceof Promise) loss = await loss;
          if (loss.size !== 1) throw new Error(`fit: step must return a scalar loss, got shape [${loss.shape.join(', ')}]`);
          (accumIters > 1 ? F.mul(loss, 1 / accumIters) : loss).backward();
          noGrad(() => {
            const l = F.reshape(loss.detach(), []);
            const next = windowSum ? F.add(windowSum, l) : F.mul(l, 1);
            windowSum?.dispose();
            windowSum = keep(next);
          });
          windowCount++;
        } finally {
          endScope();
        }
        const n = o.batchSize ? o.batchSize(batch) : 1;
        examplesSinceStart += n;
        st.epochExamples += n;
        st.microStep++;
        st.batchInEpoch = ++batchIndex;
        if (++pending === accumIters) await optimizerStep(epoch, batchIndex);
      }
      if (pending > 0) await optimizerStep(epoch, batchIndex); // the epoch's last, short accumulation
      if (st.batchesPerEpoch === null) st.batchesPerEpoch = batchIndex;
      await flushWindow();
      st.epochTimeSec += (Date.now() - epochStart) / 1000;
      const rec: StatRecord = {
        epoch: epoch + 1, step: st.step, train_loss: st.epochLossCount > 0 ? st.epochLossSum / st.epochLossCount : NaN, lr: lr(),
        time_s: Math.round(st.epochTimeSec * 1000) / 1000, throughput: st.epochTimeSec > 0 ? st.epochExamples / st.epochTimeSec : null,
      };
      const metrics = await evaluate(epoch);
      for (const [k, v] of Object.entries(metrics)) rec[`eval_${k}`] = v;
      st.history.push(rec);
      progress.log(Object.entries(rec).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(5) : v}`).join('  '));
      if (o.monitor) {
        const v = rec[o.monitor.metric];
        if (typeof v !== 'number') throw new Error(`fit: monitored metric '${o.monitor.metric}' is not in the epoch record (${Object.keys(rec).join(', ')})`);
        const better = st.best === null || (o.monitor.mode === 'max' ? v > st.best.value : v < st.best.value);
        if (better) {
          st.best = { metric: o.monitor.metric, value: v, epoch: epoch + 1 };
          if (io && outDir !== undefined) {
            await io.mkdir(outDir);
            await io.writeAtomic(io.join(outDir, 'best-model.safetensors'), serializeSafetensors(await captureModel(model, ''), { epoch: String(epoch + 1), [o.monitor.metric]: String(v) }));
          }
        }
      }
      // The epoch is complete: the checkpoint resumes at the next one.
      Object.assign(st, { epoch: epoch + 1, batchInEpoch: 0, epochLossSum: 0, epochLossCount: 0, epochExamples: 0, epochTimeSec: 0 });
      await writeFiles();
      await checkpoint();
      st.epoch = epoch; // the for-loop increments it
      lastLoss = rec.train_loss as number;
      await o.onEpochEnd?.(rec);
    }
  } finally {
    dropWindow();
    model.zeroGrad();
    progress.end();
  }
  const last = st.history[st.history.length - 1];
  return {
    history: st.history, stepLog: st.stepLog, step: st.step, finalLoss: last ? (last.train_loss as number) : NaN, resumedFrom,
    best: st.best ?? undefined,
  };
}

function pickState(s: RunState): RunState {
  return {
    epoch: s.epoch, batchInEpoch: s.batchInEpoch, step: s.step, microStep: s.microStep, epochLossSum: s.epochLossSum, epochLossCount: s.epochLossCount,
    epochExamples: s.epochExamples, epochTimeSec: s.epochTimeSec, history: s.history, stepLog: s.stepLog, best: s.best, batchesPerEpoch: s.batchesPerEpoch,
  };
}
