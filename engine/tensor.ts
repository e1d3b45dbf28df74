// Tensor: a shape, a dtype and a reference-counted backend storage, plus the autodiff fields
// (requiresGrad, grad, the node that produced it). Views (reshape, detach) share storage;
// the storage is freed when the last tensor using it is disposed. Every tensor created inside
// a scope (engine/scope.ts) is disposed when the scope ends unless it is returned or kept.

import type { Backend, DType, HostArray, Storage } from './backend/spec.js';
import { checkShape, fmtShape, sizeOf, type Shape } from './shape.js';
import { track, keep } from './scope.js';

/** A storage with a count of the tensors that use it. */
export class SharedStorage {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
  ) {}
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

/** The record autodiff keeps for a tensor computed by an op (see engine/autodiff.ts). */
export interface GradNode {
  readonly op: string;
  readonly inputs: Tensor[];
  readonly attrs: unknown;
  /** Extra tensors the forward produced for the backward (e.g. layernorm mean/rstd). */
  readonly saved: Tensor[];
}

let nextId = 1;

// autodiff.ts registers itself here; importing it from this file would make a module cycle.
let backwardImpl: ((root: Tensor, seed?: Tensor) => void) | null = null;
export function registerBackward(f: (root: Tensor, seed?: Tensor) => void): void {
  backwardImpl = f;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  requiresGrad = false;
  node: GradNode | null = null;
  /** Set by keep(): scopes never dispose this tensor. */
  kept = false;
  /** Optional host copy of small integer tensors (ids, labels) used to validate them without a readback. */
  hostInts: Int32Array | null = null;
  private shared: SharedStorage | null;
  private _grad: Tensor | null = null;

  constructor(shared: SharedStorage, shape: Shape, dtype: DType) {
    checkShape('Tensor', shape);
    if (sizeOf(shape) !== shared.storage.size) {
      throw new Error(`Tensor: shape ${fmtShape(shape)} has ${sizeOf(shape)} elements but storage holds ${shared.storage.size}`);
    }
    this.shared = shared;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.backend = shared.backend;
    track(this);
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.shared === null;
  }

  /** The backend storage; throws if the tensor was disposed. */
  get storage(): Storage {
    if (!this.shared) throw new Error(`Tensor#${this.id} ${fmtShape(this.shape)} was used after dispose()`);
    return this.shared.storage;
  }

  /** Accumulated gradient of a leaf; assigning keeps it alive beyond the current scope. */
  get grad(): Tensor | null {
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (g && !sameShapeAs(g, this)) {
      throw new Error(`grad: gradient shape ${fmtShape(g.shape)} does not match tensor shape ${fmtShape(this.shape)}`);
    }
    if (this._grad && this._grad !== g) this._grad.dispose();
    // A kept view: the caller's tensor stays theirs (and their scope's) to dispose.
    this._grad = g ? keep(g.view(g.shape)) : null;
  }

  /** A new tensor sharing this storage with another shape of the same size (no copy). */
  view(shape: Shape): Tensor {
    const s = this.shared;
    if (!s) throw new Error(`Tensor#${this.id} ${fmtShape(this.shape)} was used after dispose()`);
    s.refs++;
    return new Tensor(s, shape, this.dtype);
  }

  /** Reads the data back: Float32Array (WebGPU) or Float64Array (reference) for f32, Int32Array for i32. */
  async data(): Promise<HostArray> {
    return this.backend.read(this.storage);
  }
  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }
  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.data())[0];
  }

  /** Releases this tensor's hold on its storage; idempotent. The gradient is released too. */
  dispose(): void {
    if (!this.shared) return;
    this.shared.release();
    this.shared = null;
    this.node = null;
    if (this._grad) {
      this._grad.dispose();
      this._grad = null;
    }
  }

  /** Swaps in the storage of `other` (same shape and dtype) and disposes `other`. For optimizer updates. */
  assign(other: Tensor): void {
    if (!sameShapeAs(other, this) || other.dtype !== this.dtype || other.backend !== this.backend) {
      throw new Error(`assign: ${other.dtype}${fmtShape(other.shape)} cannot replace ${this.dtype}${fmtShape(this.shape)}`);
    }
    const s = other.shared!;
    s.refs++;
    this.shared?.release();
    this.shared = s;
    other.dispose();
  }

  /** Back-propagates from this tensor (see engine/autodiff.ts). */
  backward(seed?: Tensor): void {
    if (!backwardImpl) throw new Error('backward: autodiff is not loaded (import from engine/index.js)');
    backwardImpl(this, seed);
  }

  /** A view of the same data cut off from the graph (no gradient flows through it). */
  detach(): Tensor {
    const t = this.view(this.shape);
    t.hostInts = this.hostInts;
    return t;
  }

  toString(): string {
    return `Tensor(${this.dtype}${fmtShape(this.shape)}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

function sameShapeAs(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

// ---- creation -------------------------------------------------------------------------------

let defaultBackend: Backend | null = null;

/** Sets the backend used when creation functions get none. */
export function setDefaultBackend(backend: Backend): void {
  defaultBackend = backend;
}
export function getDefaultBackend(): Backend {
  if (!defaultBackend) {
    throw new Error('no default backend: call setDefaultBackend(await createNodeBackend()) or pass {backend}');
  }
  return defaultBackend;
}

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
  requiresGrad?: boolean;
}

/** An uninitialised tensor (kernels fill it). */
export function empty(shape: Shape, dtype: DType, backend: Backend): Tensor {
  checkShape('empty', shape);
  return new Tensor(new SharedStorage(backend, backend.alloc(sizeOf(shape), dtype)), shape, dtype);
}

/** A tensor from host data; `shape` defaults to [data.length]. Integer data is checked for i32. */
export function tensor(data: ArrayLike<number>, shape?: Shape, opts: CreateOptions = {}): Tensor {
  const backend = opts.backend ?? getDefaultBackend();
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const s = shape ?? [data.length];
  checkShape('tensor', s);
  if (sizeOf(s) !== data.length) {
    throw new Error(`tensor: ${data.length} values do not fill shape ${fmtShape(s)} (${sizeOf(s)} elements)`);
  }
  if (dtype === 'i32') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
        throw new Error(`tensor: value ${v} at index ${i} is not a 32-bit integer (dtype i32)`);
      }
    }
  }
  const t = empty(s, dtype, backend);
  backend.write(t.storage, data);
  if (dtype === 'i32') t.hostInts = Int32Array.from(data);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** A scalar (shape []) tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return tensor([value], [], opts);
}
