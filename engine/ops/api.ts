// The functional API users and models call. Each function validates its arguments (errors name
// the op, the shapes and what was expected, before anything is allocated), then applies ops from
// the table. Composites (mean, linear, crossEntropy, maskedFill, ...) are written here from the
// primitives and get their gradients for free.

import type { BinaryOp, DType, UnaryOp } from '../backend/spec.js';
import { apply } from '../autodiff.js';
import { fmtShape, normAxis, sameShape, sizeOf, type Shape } from '../shape.js';
import { nextSeed } from '../seed.js';
import { scalar, Tensor } from '../tensor.js';
import { fillLike } from './kernel.js';
import { matmulGeometry } from './matmul.js';

// Fused attention and LayerNorm(x + residual): engine/ops/attention.ts.
export { attention, layerNormResidual, ATTENTION_MASK_VALUE, type AttentionOptions } from './attention.js';

type Operand = Tensor | number;

function checkF32(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${t.dtype} tensor of shape ${fmtShape(t.shape)}`);
}

/** A number operand becomes a scalar tensor on `like`'s backend. */
function asTensor(x: Operand, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(x, { backend: like.backend }) : x;
}

// ---- elementwise ------------------------------------------------------------------------------

export function unary(op: UnaryOp, x: Tensor): Tensor {
  checkF32(op, 'input', x);
  return apply('unary', [x], { op });
}
export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const erf = (x: Tensor) => unary('erf', x);
export const abs = (x: Tensor) => unary('abs', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
/** GELU in BERT's exact erf form. */
export const gelu = (x: Tensor) => unary('gelu', x);
/** GELU in the tanh approximation (Hugging Face's gelu_new, used by ALBERT). */
export const geluTanh = (x: Tensor) => unary('geluTanh', x);

/**
 * g * gelu'(x) in one elementwise pass (the backward of F.gelu, or of F.geluTanh with tanh: true);
 * g and x broadcast like F.mul's operands. Carries no gradient itself.
 */
export function geluBackward(g: Tensor, x: Tensor, opts: { tanh?: boolean } = {}): Tensor {
  return binary(opts.tanh ? 'geluTanhBackward' : 'geluBackward', g, x);
}

/** x * scale + shift. */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  checkF32('affine', 'input', x);
  return apply('affine', [x], { scale, shift });
}

function binary(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const like = (typeof a === 'number' ? b : a) as Tensor;
  const ta = asTensor(a, like);
  const tb = asTensor(b, like);
  checkF32(op, 'a', ta);
  checkF32(op, 'b', tb);
  return apply('binary', [ta, tb], { op });
}
export function add(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1, b);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, 1, a);
  return binary('add', a, b);
}
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1, -b);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, -1, a);
  return binary('sub', a, b);
}
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, b, 0);
  if (typeof a === 'number' && typeof b !== 'number') return affine(b, a, 0);
  return binary('mul', a, b);
}
export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === 'number' && typeof a !== 'number') return affine(a, 1 / b, 0);
  return binary('div', a, b);
}
export const pow = (a: Operand, b: Operand) => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('max', a, b);
export const minimum = (a: Operand, b: Operand) => binary('min', a, b);
export const eq = (a: Operand, b: Operand) => binary('eq', a, b);
export const ne = (a: Operand, b: Operand) => binary('ne', a, b);
export const lt = (a: Operand, b: Operand) => binary('lt', a, b);
export const le = (a: Operand, b: Operand) => binary('le', a, b);
export const gt = (a: Operand, b: Operand) => binary('gt', a, b);
export const ge = (a: Operand, b: Operand) => binary('ge', a, b);

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const like = typeof a === 'number' ? (typeof b === 'number' ? cond : b) : a;
  const c = cond.dtype === 'f32' ? cond : cast(cond, 'f32');
  const ta = asTensor(a, like);
  const tb = asTensor(b, like);
  checkF32('where', 'a', ta);
  checkF32('where', 'b', tb);
  return apply('where', [c, ta, tb], {});
}

/** x with `value` wherever mask != 0 (mask broadcasts to x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return apply('cast', [x], { to });
}

export const zerosLike = (x: Tensor) => fillLike(x, 0);
export const onesLike = (x: Tensor) => fillLike(x, 1);

// ---- layout -----------------------------------------------------------------------------------

/** A view with a new shape of the same size; one dimension may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const minus = s.filter((d) => d === -1).length;
  if (minus > 1) throw new Error(`reshape: at most one -1 allowed, got ${fmtShape(shape)}`);
  if (minus === 1) {
    const known = s.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0) {
      throw new Error(`reshape: cannot infer -1 in ${fmtShape(shape)} for ${x.size} elements of ${fmtShape(x.shape)}`);
    }
    s[s.indexOf(-1)] = x.size / known;
  }
  if (sizeOf(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot view ${fmtShape(x.shape)} (${x.size} elements) as ${fmtShape(shape)}`);
  }
  if (sameShape(s, x.shape)) return x;
  return apply('reshape', [x], { shape: s });
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const ax = axes.map((a) => normAxis('permute', a, x.rank));
  if (ax.length !== x.rank || new Set(ax).size !== ax.length) {
    throw new Error(`permute: axes ${fmtShape(axes)} are not a permutation of ${x.rank} axes of ${fmtShape(x.shape)}`);
  }
  if (ax.every((a, i) => a === i)) return x;
  return apply('permute', [x], { axes: ax });
}

/** Swaps two axes. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const axes = [...Array(x.rank).keys()];
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(x, axes);
}

/** x[..., start:end, ...] along `axis` (end exclusive; negative indices count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis('slice', axis, x.rank);
  const d = x.shape[a];
  const s = start < 0 ? start + d : start;
  const e = end === undefined ? d : end < 0 ? end + d : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s > e) {
    throw new Error(`slice: range [${start}, ${end ?? d}) is out of bounds for axis ${axis} of size ${d} in ${fmtShape(x.shape)}`);
  }
  const starts = x.shape.map((_, i) => (i === a ? s : 0));
  const ends = x.shape.map((dim, i) => (i === a ? e : dim));
  return apply('slice', [x], { starts, ends });
}

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  const a = normAxis('concat', axis, xs[0].rank);
  for (const t of xs) {
    if (t.rank !== xs[0].rank || t.dtype !== xs[0].dtype || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(
        `concat: along axis ${axis} all tensors need equal shapes elsewhere and one dtype; got ` +
          xs.map((u) => `${u.dtype}${fmtShape(u.shape)}`).join(', '),
      );
    }
  }
  return apply('concat', xs, { axis: a });
}

/** Broadcasts x to `shape` (materialised). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  if (s.length < x.rank || x.shape.some((d, i) => d !== 1 && d !== s[s.length - x.rank + i])) {
    throw new Error(`expand: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  if (sameShape(s, x.shape)) return x;
  return apply('expand', [x], { shape: s });
}

/** Sums g over the dimensions along which `shape` was broadcast to g's shape. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, [...shape]);
}

// ---- reductions -------------------------------------------------------------------------------

function reduceArgs(op: string, x: Tensor, axes?: number | number[]): number[] {
  const list = axes === undefined ? [...Array(x.rank).keys()] : Array.isArray(axes) ? axes : [axes];
  const ax = [...new Set(list.map((a) => normAxis(op, a, x.rank)))].sort((p, q) => p - q);
  for (const a of ax) {
    if (x.shape[a] === 0) throw new Error(`${op}: cannot reduce over axis ${a} of size 0 in ${fmtShape(x.shape)} (empty reduction)`);
  }
  checkF32(op, 'input', x);
  return ax;
}

export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = reduceArgs('sum', x, axes);
  if (ax.length === 0) return x;
  return apply('sum', [x], { axes: ax, keepdim, scale: 1 });
}

export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = reduceArgs('mean', x, axes);
  if (ax.length === 0) return x;
  const count = ax.reduce((acc, a) => acc * x.shape[a], 1);
  return apply('sum', [x], { axes: ax, keepdim, scale: 1 / count });
}

export function max(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = reduceArgs('max', x, axes);
  if (ax.length === 0) return x;
  return apply('max', [x], { axes: ax, keepdim });
}

/** Index of the largest entry along the last axis (i32, not differentiable). */
export function argmax(x: Tensor): Tensor {
  if (x.rank === 0 || x.shape[x.rank - 1] === 0) throw new Error(`argmax: needs a non-empty last axis, got ${fmtShape(x.shape)}`);
  checkF32('argmax', 'input', x);
  return apply('argmax', [x], {});
}

// ---- linear algebra ---------------------------------------------------------------------------

/** Batched matmul with broadcasting batch dims; transA/transB read an operand transposed in place. */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  matmulGeometry(a, b, transA, transB); // validates before anything runs
  return apply('matmul', [a, b], { transA, transB });
}

export interface LinearOptions {
  /** Activation applied after the bias: erf GELU (BERT) or tanh GELU (ALBERT's gelu_new). */
  activation?: 'gelu' | 'geluTanh';
  /** Added after the activation; the output's shape [..., out]. */
  residual?: Tensor | null;
}

/**
 * act(x @ weight^T + bias) + residual, with weight stored [out, in] as in PyTorch. x: [..., in].
 * One fused matmul dispatch (bias, activation and residual in its epilogue); the backward is two
 * matmuls, a column sum for the bias and the activation's derivative at the saved pre-activation.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  const inF = x.shape[x.rank - 1];
  if (x.rank < 1) throw new Error('linear: input needs at least one dimension');
  if (weight.rank !== 2 || weight.shape[1] !== inF) {
    throw new Error(`linear: input ${fmtShape(x.shape)} has ${inF} features but weight is ${fmtShape(weight.shape)} (expected [out, ${inF}])`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new Error(`linear: bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(weight.shape)} (expected [${weight.shape[0]}])`);
  }
  const outShape = [...x.shape.slice(0, -1), weight.shape[0]];
  const res = opts.residual ?? null;
  if (res && !sameShape(res.shape, outShape)) {
    throw new Error(`linear: residual ${fmtShape(res.shape)} does not match the output ${fmtShape(outShape)}`);
  }
  if (opts.activation !== undefined && opts.activation !== 'gelu' && opts.activation !== 'geluTanh') {
    throw new Error(`linear: unknown activation ${String(opts.activation)} (gelu or geluTanh)`);
  }
  for (const [name, t] of [['input', x], ['weight', weight], ['bias', bias], ['residual', res]] as const) if (t) checkF32('linear', name, t);
  // x stays [..., in] (the op treats it as N = size / in rows), so x's gradient accumulates at x itself
  // and dX's matmul can fuse that accumulation (BackwardContext.takeAccumulated).
  const inputs = [x, weight];
  if (bias) inputs.push(bias);
  if (res) inputs.push(res);
  return apply('fusedLinear', inputs, { activation: opts.activation ?? 'none', bias: Boolean(bias), residual: Boolean(res) });
}

// ---- neural-network functions -----------------------------------------------------------------

function lastAxisOnly(op: string, x: Tensor, axis: number): void {
  if (x.rank === 0) throw new Error(`${op}: needs at least one dimension`);
  if (normAxis(op, axis, x.rank) !== x.rank - 1) throw new Error(`${op}: only the last axis is supported (got axis ${axis} of ${fmtShape(x.shape)})`);
  if (x.shape[x.rank - 1] === 0) throw new Error(`${op}: last axis of ${fmtShape(x.shape)} is empty`);
  checkF32(op, 'input', x);
}

/** Softmax over the last axis; a row of all -inf gives zeros. */
export function softmax(x: Tensor, axis = -1): Tensor {
  lastAxisOnly('softmax', x, axis);
  return apply('softmax', [x], { log: false });
}

/**
 * softmax(x * scale + mask) over the last axis in one kernel, forward and backward: attention scores
 * with their 1/sqrt(d) scale and HF's additive padding mask [B, 1, 1, T]. Equals
 * F.softmax(F.add(F.mul(x, scale), mask)). `mask`: null, or f32 whose last dim equals x's and whose
 * other dims broadcast to x's (at most three runs of broadcast / kept dims among them, which every
 * mask of a rank-4 x is).
 */
export function maskedSoftmax(x: Tensor, mask: Tensor | null, scale = 1): Tensor {
  lastAxisOnly('maskedSoftmax', x, -1);
  if (!Number.isFinite(scale)) throw new Error(`maskedSoftmax: scale must be finite, got ${scale}`);
  if (!mask) return apply('maskedSoftmax', [x], { scale, masked: false, mdims: [1, 1, 1], mstrides: [0, 0, 0] });
  checkF32('maskedSoftmax', 'mask', mask);
  const { mdims, mstrides } = maskGeometry(x.shape, mask.shape);
  return apply('maskedSoftmax', [x, mask], { scale, masked: true, mdims, mstrides });
}

/**
 * How maskedSoftmax's mask row follows x's row: x's leading dims (all but the last) merged into at most
 * three, each with the mask's row stride along it (0 where the mask broadcasts). Throws, naming both
 * shapes, when the mask does not broadcast to x with the same last dim.
 */
export function maskGeometry(xShape: Shape, maskShape: Shape): { mdims: [number, number, number]; mstrides: [number, number, number] } {
  const r = xShape.length;
  const bad = (why: string) => new Error(`maskedSoftmax: mask ${fmtShape(maskShape)} does not fit scores ${fmtShape(xShape)}: ${why}`);
  if (maskShape.length === 0 || maskShape.length > r) throw bad(`expected rank 1..${r}`);
  if (maskShape[maskShape.length - 1] !== xShape[r - 1]) throw bad(`its last dim must be ${xShape[r - 1]} (the softmax axis)`);
  const m = [...Array(r - maskShape.length).fill(1), ...maskShape] as number[]; // left-padded to x's rank
  // Row strides of the contiguous [m_0 .. m_{r-2}] mask rows, 0 along broadcast dims.
  const dims: [number, number][] = [];
  let rowStride = 1;
  for (let i = r - 2; i >= 0; i--) {
    if (m[i] !== 1 && m[i] !== xShape[i]) throw bad(`dim ${i} is ${m[i]}, expected 1 or ${xShape[i]}`);
    if (xShape[i] !== 1) dims.unshift([xShape[i]!, m[i] === 1 ? 0 : rowStride]);
    rowStride *= m[i]!;
  }
  // Merge neighbours that index alike: both broadcast, or the outer one contiguous over the inner.
  const merged: [number, number][] = [];
  for (const [d, st] of dims) {
    const last = merged[merged.length - 1];
    if (last && ((last[1] === 0 && st === 0) || last[1] === st * d)) merged[merged.length - 1] = [last[0] * d, st];
    else merged.push([d, st]);
  }
  if (merged.length > 3) throw bad('more than three alternating runs of broadcast and kept dims');
  while (merged.length < 3) merged.unshift([1, 0]);
  return { mdims: [merged[0]![0], merged[1]![0], merged[2]![0]], mstrides: [merged[0]![1], merged[1]![1], merged[2]![1]] };
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  lastAxisOnly('logSoftmax', x, axis);
  return apply('softmax', [x], { log: true });
}

/** LayerNorm over the last axis with affine gamma/beta (eps 1e-12 as BERT by default). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-12): Tensor {
  lastAxisOnly('layerNorm', x, -1);
  const d = x.shape[x.rank - 1];
  if (!sameShape(gamma.shape, [d]) || !sameShape(beta.shape, [d])) {
    throw new Error(`layerNorm: gamma ${fmtShape(gamma.shape)} and beta ${fmtShape(beta.shape)} must both be [${d}] for input ${fmtShape(x.shape)}`);
  }
  return apply('layernorm', [x, gamma, beta], { eps });
}

function checkLabels(op: string, logits: Tensor, labels: Tensor, ignoreIndex: number): void {
  if (labels.dtype !== 'i32') throw new Error(`${op}: labels must be i32, got ${labels.dtype} tensor of shape ${fmtShape(labels.shape)}`);
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`${op}: expected logits [N, C] and labels [N], got ${fmtShape(logits.shape)} and ${fmtShape(labels.shape)}`);
  }
  checkF32(op, 'logits', logits);
  const classes = logits.shape[1];
  const h = labels.hostInts;
  if (h) {
    for (let i = 0; i < h.length; i++) {
      if (h[i] !== ignoreIndex && (h[i] < 0 || h[i] >= classes)) {
        throw new Error(`${op}: label ${h[i]} at position ${i} is out of range [0, ${classes}) (ignoreIndex is ${ignoreIndex})`);
      }
    }
  }
}

/** Per-row cross-entropy [N] (0 where the label is ignoreIndex). */
export function crossEntropyRows(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  checkLabels('crossEntropy', logits, labels, ignoreIndex);
  return apply('crossEntropyRows', [logits, labels], { ignoreIndex });
}

/**
 * Mean cross-entropy over the rows whose label is not ignoreIndex (PyTorch's reduction='mean').
 * logits [..., C] are flattened to [N, C]. When every label is ignored the loss is 0.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: { ignoreIndex?: number; reduction?: 'mean' | 'sum' | 'none' } = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const classes = logits.shape[logits.rank - 1];
  const rows = crossEntropyRows(reshape(logits, [-1, classes]), reshape(labels, [-1]), ignoreIndex); // (N,)
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return reshape(rows, [...labels.shape]);
  const total = sum(rows);
  if (reduction === 'sum') return total;
  const h = labels.hostInts;
  if (h) {
    let valid = 0;
    for (let i = 0; i < h.length; i++) if (h[i] !== ignoreIndex) valid++;
    return div(total, Math.max(valid, 1));
  }
  // Labels computed on the device: count the valid rows there (no gradient flows through it).
  const valid = maximum(sum(ne(cast(reshape(labels, [-1]), 'f32'), ignoreIndex)), 1);
  return div(total, valid);
}

/** Embedding lookup: rows of `table` [V, D] at i32 `ids` of any shape -> [...ids.shape, D]. */
export function gather(table: Tensor, ids: Tensor): Tensor {
  return embeddingWithPadding(table, ids, -1);
}

/** gather() whose row `paddingIdx` receives no gradient (PyTorch's Embedding padding_idx). */
export function embeddingWithPadding(table: Tensor, ids: Tensor, paddingIdx: number): Tensor {
  if (ids.dtype !== 'i32') throw new Error(`gather: ids must be i32, got ${ids.dtype} tensor of shape ${fmtShape(ids.shape)}`);
  if (table.rank !== 2) throw new Error(`gather: table must be [vocab, dim], got ${fmtShape(table.shape)}`);
  checkF32('gather', 'table', table);
  const vocab = table.shape[0];
  const h = ids.hostInts;
  if (h) {
    for (let i = 0; i < h.length; i++) {
      if (h[i] < 0 || h[i] >= vocab) {
        throw new Error(`gather: id ${h[i]} at position ${i} is out of range [0, ${vocab}) for table ${fmtShape(table.shape)}`);
      }
    }
  }
  return apply('gather', [table, ids], { paddingIdx });
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
 * Identity when not training or p == 0. The mask comes from a counter-based RNG keyed by `seed`
 * (drawn from the global generator when omitted), so it is reproducible and recomputed in backward.
 */
export function dropout(x: Tensor, p: number, opts: { training?: boolean; seed?: number } = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (opts.training === false || p === 0) return x;
  checkF32('dropout', 'input', x);
  return apply('dropout', [x], { p, seed: opts.seed ?? nextSeed() });
}

/** The k largest entries along the last axis: values (differentiable) and i32 indices, descending. */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  const len = x.shape[x.rank - 1];
  if (x.rank === 0 || !Number.isInteger(k) || k < 1 || k > len) {
    throw new Error(`topk: k=${k} must be an integer in [1, ${len}] for input ${fmtShape(x.shape)}`);
  }
  checkF32('topk', 'input', x);
  const indices = apply('topk', [x], { k });
  return { values: gatherLast(x, indices), indices };
}

/** out[..., j] = x[..., idx[..., j]] (PyTorch's take_along_dim on the last axis). */
export function gatherLast(x: Tensor, idx: Tensor): Tensor {
  if (idx.dtype !== 'i32') throw new Error(`gatherLast: indices must be i32, got ${idx.dtype} ${fmtShape(idx.shape)}`);
  if (idx.rank !== x.rank || idx.shape.slice(0, -1).some((d, i) => d !== x.shape[i])) {
    throw new Error(`gatherLast: indices ${fmtShape(idx.shape)} must match x ${fmtShape(x.shape)} except in the last axis`);
  }
  return apply('gatherLast', [x, idx], {});
}
