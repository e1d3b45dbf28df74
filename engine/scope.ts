// Deterministic memory: scopes dispose the tensors created inside them, and a global switch
// turns gradient recording off (noGrad). GPU memory is not garbage-collected, so training
// loops wrap each step in tidy() and a test checks the live-buffer count returns to baseline.

import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

/** Registers a new tensor with the innermost scope (called by the Tensor constructor). */
export function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/** Marks a tensor (or every tensor in a value) as outliving all scopes; returns it. */
export function keep<T>(value: T): T {
  forEachTensor(value, (t) => {
    t.kept = true;
    for (const s of scopes) s.delete(t);
  });
  return value;
}

/** Opens a scope; pair with endScope. Prefer tidy() for synchronous code. */
export function startScope(): void {
  scopes.push(new Set());
}

/** Closes the innermost scope, disposing its tensors except those in `result`, which move to the parent. */
export function endScope(result?: unknown): void {
  const s = scopes.pop();
  if (!s) throw new Error('endScope: no scope is open');
  const survivors = new Set<Tensor>();
  forEachTensor(result, (t) => survivors.add(t));
  for (const t of s) {
    if (survivors.has(t)) {
      if (scopes.length > 0) scopes[scopes.length - 1].add(t);
    } else if (!t.kept) {
      t.dispose();
    }
  }
}

/** Runs fn in a scope: tensors it creates are disposed unless returned (in any nesting of arrays/objects) or kept. */
export function tidy<T>(fn: () => T): T {
  startScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    endScope();
    throw e;
  }
  if (result instanceof Promise) {
    endScope();
    throw new Error('tidy: the function returned a Promise; use startScope()/endScope() around async code');
  }
  endScope(result);
  return result;
}

/** Async variant of tidy: the scope stays open across awaits (do not interleave two of these). */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  startScope();
  try {
    const r = await fn();
    endScope(r);
    return r;
  } catch (e) {
    endScope();
    throw e;
  }
}

function forEachTensor(value: unknown, f: (t: Tensor) => void, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) return f(value);
  if (Array.isArray(value)) for (const v of value) forEachTensor(v, f, seen);
  else if (value instanceof Map) for (const v of value.values()) forEachTensor(v, f, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) forEachTensor(v, f, seen);
}

function isTensor(v: object): v is Tensor {
  return 'shape' in v && 'dtype' in v && 'backend' in v && typeof (v as Tensor).dispose === 'function';
}

// ---- gradient recording switch -------------------------------------------------------------

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}
