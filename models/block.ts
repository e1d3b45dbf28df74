// Block: the engine's Module plus what the models need on top of it: non-trainable buffers
// (BatchNorm running statistics, saved in checkpoints like PyTorch's persistent buffers) and a
// walk over sub-modules. Every model class in models/ extends Block; engine layers (Linear,
// Embedding, LayerNorm, Dropout) are leaves without buffers.

import { F, Linear, Module, getDefaultBackend, keep, type Backend, type LayerNorm, type Tensor } from '../engine/index.js';

export class Block extends Module {
  private readonly subs = new Map<string, Module>();
  private readonly bufs = new Map<string, Tensor>();

  protected override module<M extends Module>(name: string, m: M): M {
    this.subs.set(name, m);
    return super.module(name, m);
  }

  /** Registers a non-trainable tensor saved with the parameters (kept beyond scopes). */
  protected buffer(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = false;
    this.bufs.set(name, t);
    return t;
  }

  protected getBuffer(name: string): Tensor {
    const t = this.bufs.get(name);
    if (!t) throw new Error(`${this.constructor.name} has no buffer '${name}'`);
    return t;
  }

  /** Replaces a buffer's tensor (the old one is disposed unless it is the same). */
  setBuffer(name: string, t: Tensor): void {
    const old = this.bufs.get(name);
    if (!old) throw new Error(`setBuffer: ${this.constructor.name} has no buffer '${name}'`);
    keep(t);
    t.requiresGrad = false;
    this.bufs.set(name, t);
    if (old !== t) old.dispose();
  }

  /** Every (dotted name, module) pair below this one, this one first under ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.subs) {
      if (m instanceof Block) out.push(...m.namedModules(`${prefix}${n}.`));
      else out.push([`${prefix}${n}`, m]);
    }
    return out;
  }

  /** Buffers of this block and every block below it, with dotted names. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.bufs) out.push([prefix + n, t]);
    for (const [n, m] of this.subs) if (m instanceof Block) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Replaces a buffer by its dotted name (checkpoint loading). */
  setBufferByName(name: string, t: Tensor): void {
    const dot = name.indexOf('.');
    if (dot < 0) return this.setBuffer(name, t);
    const child = this.subs.get(name.slice(0, dot));
    if (!(child instanceof Block)) throw new Error(`setBufferByName: no block '${name.slice(0, dot)}' in ${this.constructor.name}`);
    child.setBufferByName(name.slice(dot + 1), t);
  }

  /** Frees parameters and buffers. */
  override dispose(): void {
    super.dispose();
    for (const [, t] of this.namedBuffers()) t.dispose();
  }
}

/** PyTorch's nn.ModuleList: children named 0, 1, 2, ... */
export class ModuleList<M extends Module> extends Block {
  readonly items: M[] = [];
  push(m: M): M {
    this.items.push(m);
    return this.module(String(this.items.length - 1), m);
  }
}

/**
 * Fused kernels the models use (tests flip them to compare with the composite path).
 * layerNormResidual: LN(dropout(dense(h)) + input) through F.layerNormResidual (one kernel).
 */
export const fusedKernels = { layerNormResidual: true };

/** LayerNorm(x + residual) with `ln`'s parameters: fused when fusedKernels.layerNormResidual. */
export function layerNormResidual(ln: LayerNorm, x: Tensor, residual: Tensor): Tensor {
  if (!fusedKernels.layerNormResidual) return ln.forward(F.add(x, residual));
  return F.layerNormResidual(x, residual, ln.weight, ln.bias, ln.eps);
}

/** The backend a model was asked to use, or the default one. */
export function pickBackend(b?: Backend): Backend {
  return b ?? getDefaultBackend();
}

/** A head's Linear from the hidden size, initialised as Hugging Face does (normal(0, initializer_range)). */
export function headLinear(config: { hidden_size: number; initializer_range: number }, outFeatures: number, backend?: Backend): Linear {
  return new Linear(config.hidden_size, outFeatures, { backend: pickBackend(backend), initStd: config.initializer_range });
}

/**
 * act(linear(x)) as one fused matmul dispatch when the activation is a GELU (the matmul epilogue
 * applies it and saves the pre-activation for the backward); other activations run after the linear.
 */
export function linearAct(linear: Linear, name: string): (x: Tensor) => Tensor {
  const fused = name === 'gelu' ? 'gelu' : ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(name) ? 'geluTanh' : null;
  const act = activation(name); // validates the name either way
  return fused ? (x) => F.linear(x, linear.weight, linear.bias, { activation: fused }) : (x) => act(linear.forward(x));
}

/** Hugging Face ACT2FN subset. */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case 'gelu':
      return F.gelu;
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return F.geluTanh;
    case 'relu':
      return F.relu;
    case 'tanh':
      return F.tanh;
    default:
      throw new Error(`unsupported hidden_act '${name}' (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, tanh)`);
  }
}
