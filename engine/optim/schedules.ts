// Learning-rate schedules as pure functions of the step, and a scheduler that applies one to
// an optimizer. Formulas follow Hugging Face's get_linear_schedule_with_warmup and the Noam
// schedule of "Attention Is All You Need" (TWilBERT's noam_annealing).

import type { Optimizer } from './optimizer.js';

/** A multiplier of the base lr at a step (step 0 is before the first update). */
export type Schedule = (step: number) => number;

export const constantSchedule: Schedule = () => 1;

/** Linear warmup from 0 to 1 over `warmup` steps, then linear decay to 0 at `total`. */
export function linearWarmupDecay(warmup: number, total: number): Schedule {
  return (step) => (step < warmup ? step / Math.max(1, warmup) : Math.max(0, (total - step) / Math.max(1, total - warmup)));
}

/**
 * Noam: factor * dModel^-0.5 * min(step^-0.5, step * warmup^-1.5), an absolute lr (use with base lr 1).
 * Step 0 is treated as step 1 so the first update has a non-zero lr.
 */
export function noam(dModel: number, warmup: number, factor = 1): Schedule {
  return (step) => {
    const s = Math.max(step, 1);
    return factor * dModel ** -0.5 * Math.min(s ** -0.5, s * warmup ** -1.5);
  };
}

/** Applies a schedule: call step() after each optimizer step (like torch's LambdaLR). */
export class LRScheduler {
  private count = 0;
  constructor(
    private readonly optimizer: Optimizer,
    private readonly schedule: Schedule,
  ) {
    optimizer.scaleLr(schedule(0));
  }
  step(): void {
    this.count++;
    this.optimizer.scaleLr(this.schedule(this.count));
  }
  get lastStep(): number {
    return this.count;
  }
  /** Resumes at a step (checkpoints). */
  setStep(step: number): void {
    this.count = step;
    this.optimizer.scaleLr(this.schedule(step));
  }
}
