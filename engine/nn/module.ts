// Module: a tree of named parameters and sub-modules with PyTorch's conventions:
// dotted parameter names (Hugging Face checkpoints rely on them), train()/eval() switching
// dropout, and parameters shared by identity (ALBERT's cross-layer sharing, tied decoders)
// listed once by namedParameters() but under every name by stateDict().

import { keep } from '../scope.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';

export class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter (kept beyond scopes, requiresGrad). */
  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    keep(t);
    this.ownParams.set(name, t);
    return t;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected module<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** The current tensor of one of this module's own parameters. */
  protected getParam(name: string): Tensor {
    const t = this.ownParams.get(name);
    if (!t) throw new Error(`${this.constructor.name} has no parameter '${name}'`);
    return t;
  }

  /** Replaces a registered parameter's tensor (loading weights, tying). */
  setParam(name: string, t: Tensor): void {
    if (!this.ownParams.has(name)) throw new Error(`setParam: ${this.constructor.name} has no parameter '${name}'`);
    t.requiresGrad = true;
    keep(t);
    this.ownParams.set(name, t);
  }

  /** Every (name, tensor) pair, including repeats of shared tensors under each of their names. */
  stateDict(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.stateDict(`${prefix}${n}.`));
    return out;
  }

  /** Distinct parameters with their first name, in registration order (PyTorch's named_parameters). */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    return this.stateDict().filter(([, t]) => (seen.has(t) ? false : (seen.add(t), true)));
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of trainable scalars (shared tensors counted once). */
  numParameters(): number {
    return this.parameters().reduce((acc, t) => acc + t.size, 0);
  }

  train(on = true): this {
    this.training = on;
    for (const m of this.children.values()) m.train(on);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Frees every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }

  /** A parameter table like the seeds print: name, shape, count, and the total. */
  parameterTable(): string {
    const rows = this.namedParameters().map(([n, t]) => [n, fmtShape(t.shape), String(t.size)]);
    const w0 = Math.max(9, ...rows.map((r) => r[0].length));
    const w1 = Math.max(5, ...rows.map((r) => r[1].length));
    const lines = [`${'parameter'.padEnd(w0)}  ${'shape'.padEnd(w1)}  count`];
    for (const r of rows) lines.push(`${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2].padStart(9)}`);
    lines.push(`total trainable parameters: ${this.numParameters().toLocaleString('en-US')}`);
    return lines.join('\n');
  }
}
