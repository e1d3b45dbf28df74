// The kernel vocabulary shared by every backend: what a kernel computes, not how.
//
// Ops (engine/ops) describe their work as KernelSpecs and hand them to a Backend; they never
// touch GPU objects. The reference backend interprets each spec in float64 TypeScript (the
// oracle of every test); the WebGPU backend turns each spec into WGSL from kernels/.
//
// Rule for what goes where: fields that change the generated code (op kind, transposes,
// flags) are compile-time and live in the spec; sizes, strides, scalars and seeds are
// runtime values and also live in the spec, but a backend must pass them as uniforms so a
// new batch size or sequence length never compiles a new pipeline.
// Every tensor is contiguous, row-major. Element strides are in elements, not bytes.

export type DType = 'f32' | 'i32';

/** Largest tensor rank the strided kernels accept. */
export const MAX_DIMS = 8;

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'erf' | 'abs' | 'recip' | 'sigmoid'
  | 'relu'
  /** Heaviside step: 1 where x > 0 else 0 (relu's derivative). */
  | 'step'
  /** GELU, erf form: x * 0.5 * (1 + erf(x / sqrt(2))) (BERT). */
  | 'gelu'
  /** d/dx of the erf GELU: Phi(x) + x * phi(x). */
  | 'geluGrad'
  /** GELU, tanh form: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) (ALBERT's gelu_new). */
  | 'geluTanh'
  /** d/dx of geluTanh. */
  | 'geluTanhGrad';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min'
  /** Comparisons give 1.0 / 0.0. */
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
  /** a * gelu'(b) and a * geluTanh'(b): the GELU backward (a = upstream gradient, b = the GELU's input) in one pass. */
  | 'geluBackward' | 'geluTanhBackward';

/**
 * Fused matmul epilogue (compile-time flags), applied per output element in this order:
 *   pre = acc + bias[col]          (bias)
 *   y   = act(pre)                 (activation: erf GELU or tanh GELU)
 *   out = y + residual[same index] (residual)
 * and `pre` is also written as a second output when `savePre` (the activation's backward needs it).
 */
export interface MatmulEpilogue {
  bias?: boolean;
  activation?: 'gelu' | 'geluTanh';
  residual?: boolean;
  savePre?: boolean;
}

/** The kinds over a list of `sizes.length` tensors. */
export type ListKind = 'adamStep' | 'lambStep' | 'pack' | 'unpack';
export const isListKind = (kind: string): kind is ListKind => kind === 'adamStep' || kind === 'lambStep' || kind === 'pack' || kind === 'unpack';
/** Inputs and outputs of the kinds over `sizes.length` tensors. */
export function listArity(spec: { kind: ListKind; sizes: readonly number[] }): readonly [number, number] {
  const n = spec.sizes.length;
  switch (spec.kind) {
    case 'adamStep': return [4 * n, 3 * n];
    case 'lambStep': return [4 * n + 1, 3 * n];
    case 'pack': return [n, 1];
    case 'unpack': return [1, n];
  }
}

/** Inputs and outputs a matmul spec takes: 2 + bias + residual, 1 + savePre. */
export function matmulArity(spec: { epilogue?: MatmulEpilogue }): readonly [number, number] {
  const e = spec.epilogue;
  return [2 + (e?.bias ? 1 : 0) + (e?.residual ? 1 : 0), 1 + (e?.savePre ? 1 : 0)];
}

/** softmaxBackward's scale (1 when absent); throws for a log-softmax given one (only softmax takes a scale). */
export function softmaxGradScale(spec: { log: boolean; scale?: number }): number {
  const scale = spec.scale ?? 1;
  if (spec.log && scale !== 1) throw new Error(`softmaxBackward: scale ${scale} with log (only softmax takes a scale)`);
  return scale;
}

/** Memory layout of fused attention's q, k, v, o: [B, nh, T, hs] or [B, T, nh, hs]. */
export type AttentionLayout = 'bhtd' | 'bthd';

/**
 * Memory row (in units of hs) of query/key row i of head bh = b * heads + h: bh * t + i for
 * 'bhtd', (b * t + i) * heads + h for 'bthd'. Written as b * t * heads + h * hstride + i * rstride.
 */
export function attentionRow(layout: AttentionLayout | undefined, heads: number, t: number, bh: number, i: number): number {
  const b = Math.floor(bh / heads);
  const h = bh - b * heads;
  return layout === 'bthd' ? (b * t + i) * heads + h : bh * t + i;
}

/**
 * A unit of work. `inputs` and `outputs` of Backend.run are listed per kind below.
 * All f32 unless noted.
 */
export type KernelSpec =
  /** out[i] = scalar for i < size. out: f32 or i32 (dtype). */
  | { kind: 'fill'; dtype: DType; size: number; value: number }
  /** out[i] = op(x[i]). in: [x]; out: [y], same size. */
  | { kind: 'unary'; op: UnaryOp; size: number }
  /** out[i] = x[i] * scale + shift. Used for scalar arithmetic without a scalar tensor. */
  | { kind: 'affine'; size: number; scale: number; shift: number }
  /**
   * Broadcasting binary op. in: [a, b]; out: [y] with shape `outShape`.
   * aStrides/bStrides have outShape's rank and hold 0 on broadcast dimensions.
   */
  | { kind: 'binary'; op: BinaryOp; outShape: number[]; aStrides: number[]; bStrides: number[] }
  /** y = cond != 0 ? a : b, broadcasting like binary. in: [cond, a, b]. */
  | { kind: 'where'; outShape: number[]; condStrides: number[]; aStrides: number[]; bStrides: number[] }
  /** Element conversion. f32 -> i32 truncates toward zero. in: [x] of `from`; out: [y] of `to`. */
  | { kind: 'cast'; from: DType; to: DType; size: number }
  /**
   * Strided copy: for every index tuple t of `shape`,
   *   out[outOffset + sum(t*outStrides)] = x[inOffset + sum(t*inStrides)].
   * Covers permute, slice, expand (stride 0) and writing one part of a concat.
   * Elements of `out` not addressed are left untouched. Works for f32 and i32 (dtype).
   */
  | {
      kind: 'copy'; dtype: DType; shape: number[];
      inStrides: number[]; inOffset: number; outStrides: number[]; outOffset: number;
    }
  /**
   * pack: the N inputs (sizes[i] elements each, any dtype moved as bits) one after another in one output
   * of sum(sizes) elements; unpack: the reverse, one input split into N outputs.
   */
  | { kind: 'pack'; sizes: readonly number[] }
  | { kind: 'unpack'; sizes: readonly number[] }
  /**
   * Reduction over the middle axis of x viewed as [outer, len, inner]:
   *   out[o, i] = reduce_j x[o, j, i], then multiplied by `scale` (sum only; mean = sum/len).
   * `op: 'max'` ignores scale. len >= 1 always (ops reject empty reductions).
   */
  | { kind: 'reduce'; op: 'sum' | 'max'; outer: number; len: number; inner: number; scale: number }
  /** argmax over the last axis of x viewed as [rows, len]; first index wins ties. out: i32 [rows]. */
  | { kind: 'argmax'; rows: number; len: number }
  /**
   * Batched matmul: out[b] = op(A[b]) @ op(B[b]) with op = transpose when the flag is set.
   * A is stored as [M, K] (or [K, M] when transA), B as [K, N] (or [N, K] when transB).
   * aBatchStride / bBatchStride in elements (0 broadcasts one matrix over the batch).
   * out: [batch, M, N] contiguous.
   * With `epilogue`, extra inputs follow A and B: [A, B, bias? [N], residual? [batch, M, N]], and
   * outputs are [out, pre? [batch, M, N]] (see MatmulEpilogue).
   */
  | {
      kind: 'matmul'; transA: boolean; transB: boolean;
      batch: number; m: number; n: number; k: number; aBatchStride: number; bBatchStride: number;
      epilogue?: MatmulEpilogue;
    }
  /**
   * Row softmax over x viewed as [rows, len]: y = softmax(x) or log_softmax(x) when `log`.
   * A row whose entries are all -inf gives all zeros (softmax) / all -inf (log) and zero gradient.
   */
  | { kind: 'softmax'; log: boolean; rows: number; len: number }
  /**
   * y = softmax(x * scale + mask) over x viewed as [rows, len], in one pass over x (attention scores
   * with their scale and additive padding mask). The mask is [mrows, len], broadcast over x's rows:
   * x row r = (i0 * d1 + i1) * d2 + i2 (mdims [d0, d1, d2]: x's leading dims, merged) reads mask row
   * i0 * s0 + i1 * s1 + i2 * s2 (mstrides; 0 where the mask broadcasts). Without `masked`, y =
   * softmax(x * scale) and the mask input is not read. in: [x, mask]; out: [y]. A row whose values
   * are all -inf gives zeros (as softmax). The backward is softmaxBackward with `scale`.
   */
  | {
      kind: 'maskedSoftmax'; rows: number; len: number; scale: number; masked: boolean;
      mdims: [number, number, number]; mstrides: [number, number, number];
    }
  /**
   * Softmax backward from the output y. in: [y, dy]; out: [dx].
   *   softmax:     dx = scale * y * (dy - sum(dy * y))   (scale: maskedSoftmax's, default 1)
   *   log-softmax: dx = dy - exp(y) * sum(dy)            (scale must be 1 or absent)
   */
  | { kind: 'softmaxBackward'; log: boolean; rows: number; len: number; scale?: number }
  /**
   * LayerNorm over the last axis, x viewed as [rows, len]. in: [x, gamma, beta];
   * out: [y, mean, rstd] with mean/rstd of shape [rows]. Two-pass variance (no E[x^2]-mean^2).
   */
  | { kind: 'layernorm'; rows: number; len: number; eps: number }
  /**
   * LayerNorm backward. in: [x, gamma, mean, rstd, dy]; out: [dx, dgamma, dbeta]
   * (dgamma/dbeta summed over rows).
   */
  | { kind: 'layernormBackward'; rows: number; len: number }
  /**
   * Per-row cross-entropy from logits [rows, classes] and i32 labels [rows]:
   *   loss[r] = logsumexp(x[r]) - x[r, label[r]], or 0 when label[r] == ignoreIndex.
   * in: [logits, labels]; out: [loss]. A label outside [0, classes) other than ignoreIndex gives NaN.
   */
  | { kind: 'crossEntropy'; rows: number; classes: number; ignoreIndex: number }
  /**
   * d loss / d logits: (softmax(x[r]) - onehot(label[r])) * dloss[r]; zero row when ignored.
   * in: [logits, labels, dloss]; out: [dlogits].
   */
  | { kind: 'crossEntropyBackward'; rows: number; classes: number; ignoreIndex: number }
  /**
   * Row gather: out[r, :] = table[ids[r], :]. in: [table [vocab, dim], ids i32 [rows]].
   * An id outside [0, vocab) gives a zero row (ops validate ids before dispatch when they can).
   */
  | { kind: 'gather'; rows: number; dim: number; vocab: number }
  /**
   * Deterministic scatter-add, gather's backward: dtable[v, :] = sum over r with ids[r] == v of dy[r, :],
   * summed in a fixed order (increasing r; kernels may split the rows into fixed parts summed in part
   * order). Rows never referenced are 0. in: [dy [rows, dim], ids]; out: [dtable].
   */
  | { kind: 'scatterAdd'; rows: number; dim: number; vocab: number }
  /**
   * Indices of the k largest entries of each row of x viewed as [rows, len], in descending order of
   * value (ties: the lower index first). in: [x]; out: i32 [rows, k]. 1 <= k <= len.
   */
  | { kind: 'topk'; rows: number; len: number; k: number }
  /** out[r, j] = x[r, idx[r, j]]. in: [x [rows, len] of dtype, idx i32 [rows, k]]; out: [rows, k] of dtype. */
  | { kind: 'gatherLast'; dtype: DType; rows: number; len: number; k: number }
  /**
   * gatherLast's backward: dx[r, c] = sum over j with idx[r, j] == c of g[r, j] (j ascending).
   * in: [g [rows, k], idx i32 [rows, k]]; out: [rows, len].
   */
  | { kind: 'scatterLast'; rows: number; len: number; k: number }
  /**
   * Inverted dropout with a counter-based RNG: y[i] = keep(seed, i) ? x[i] / (1 - p) : 0, where
   * keep(seed, i) = uniform(seed, i) >= p (see engine/random.ts). Linear in x, so the backward is
   * the same kernel applied to dy with the same seed.
   */
  | { kind: 'dropout'; size: number; p: number; seed: number }
  /**
   * Fused attention (kernels/attention.ts) over q, k, v of `heads` heads, bh = B * heads:
   *   s[i, j] = (q[i] . k[j]) * scale + bias[(bh / heads) * t + j]   (bias read only when `masked`)
   *   P = softmax_j(s), o[i] = sum_j P[i, j] * f(i, j) * v[j]
   * with f the dropout factor of F.dropout(P, p, seed) on the [B, heads, t, t] tensor (1 when p = 0):
   * keep(seed, (bh * t + i) * t + j) ? 1 / (1 - p) : 0. hs must be a multiple of 4.
   * `layout` (default 'bhtd') is how q, k, v, o (and dq, dk, dv, dO) lie in memory: 'bhtd' is
   * [B, heads, t, hs] (row i of head bh at attentionRow = bh * t + i), 'bthd' is [B, t, heads, hs]
   * (the linear layers' output reshaped: row (b * t + i) * heads + h); see attentionRow.
   * in: [q, k, v, bias [B, t] (any f32 storage when !masked)]; out: [o, stats [bh * t, 2]] with
   * stats = (row max m, log of the row sum of exp(s - m)) at the rows' memory order (as o's rows).
   * A row with every s = -inf gives o = 0 and stats (-inf, 0). Kernels may skip the keys after the
   * batch's last key with bias > -1e30 (when it has one): their P is exactly 0 in float32 unless
   * |q . k * scale| nears 1e30 (kernels/attention-tex.ts KEY_END). They skip whole tiles of such
   * keys, unread: a NaN or infinity in their k or v then no longer reaches o where the composite
   * gives NaN (0 * inf); keys that share a tile with a live key are computed as before.
   */
  | { kind: 'attention'; bh: number; heads: number; t: number; hs: number; scale: number; masked: boolean; p: number; seed: number; layout?: AttentionLayout }
  /**
   * Gradients of `attention` (P recomputed from q, k and the saved stats), all in `layout`. in: [q,
   * k, v, bias, o, stats, dO]; out: [dq, dk, dv]. Rows with m = -inf get zero gradient.
   */
  | { kind: 'attentionBackward'; bh: number; heads: number; t: number; hs: number; scale: number; masked: boolean; p: number; seed: number; layout?: AttentionLayout }
  /**
   * y = LayerNorm(x + residual) (as `layernorm` of s = x + residual). in: [x, residual, gamma, beta];
   * out: [y, mean, rstd, s]. The backward is `layernormBackward` on s (d residual = dx).
   */
  | { kind: 'layernormResidual'; rows: number; len: number; eps: number }
  /**
   * One Adam/AdamW step for N = sizes.length parameter tensors of sizes[i] elements sharing the
   * hyperparameters, elementwise in PyTorch's order (g' = g + wd p for Adam's L2):
   *   m' = b1 m + (1 - b1) g';  v' = b2 v + (1 - b2) g'^2
   *   dir = (m' / bc1) / (sqrt(v') / sqrt(bc2) + eps)
   *   p' = p - lr dir (Adam) or p (1 - lr wd) - lr dir (AdamW, `decoupled`).
   * in: [p, g, m, v] per tensor; out: [p', m', v'] per tensor.
   */
  | {
      kind: 'adamStep'; sizes: readonly number[]; lr: number; beta1: number; beta2: number; eps: number;
      bc1: number; bc2: number; weightDecay: number; decoupled: boolean;
    }
  /**
   * One whole LAMB step (lambStats then lambApply, per tensor) for N = sizes.length tensors sharing the
   * hyperparameters, each tensor's norms summed in one chunk (as lambStats with parts = 1).
   * in: [p, g, m, v] per tensor, then offsets (i32 [N + 1]: the exclusive prefix sums of sizes);
   * out: [p', m', v'] per tensor.
   */
  | { kind: 'lambStep'; sizes: readonly number[]; lr: number; beta1: number; beta2: number; eps: number; bc1: number; bc2: number; weightDecay: number }
  /**
   * LAMB pass 1: the Adam moments and, per part i of `parts` equal chunks of ceil(size / parts)
   * elements, partial sums of p^2 and u^2 with u = dir + wd p (dir as adamStep).
   * in: [p, g, m, v]; out: [m', v', partials [parts, 2]].
   */
  | { kind: 'lambStats'; size: number; parts: number; beta1: number; beta2: number; eps: number; bc1: number; bc2: number; weightDecay: number }
  /**
   * LAMB pass 2: ||p|| and ||u|| from the partials (summed in part order), ratio = ||p|| / ||u||
   * (1 when either is 0), p' = p - lr * ratio * u. in: [p, m', v', partials]; out: [p'].
   */
  | { kind: 'lambApply'; size: number; parts: number; lr: number; eps: number; bc1: number; bc2: number; weightDecay: number };

export type KernelKind = KernelSpec['kind'];

/** A backend-owned block of memory holding `size` elements of `dtype`. */
export interface Storage {
  readonly size: number;
  readonly dtype: DType;
}

/** Host-side element arrays accepted and returned by backends. */
export type HostArray = Float32Array | Float64Array | Int32Array;

/** The narrow interface every backend implements. */
export interface Backend {
  readonly name: string;
  /** Allocates uninitialised storage. */
  alloc(size: number, dtype: DType): Storage;
  /** Releases storage; using it afterwards is an error. */
  free(storage: Storage): void;
  /** Copies host data into storage (lengths must match). */
  write(storage: Storage, data: ArrayLike<number>): void;
  /** Reads storage back to the host: Float32Array/Float64Array for f32, Int32Array for i32. */
  read(storage: Storage): Promise<HostArray>;
  /** Records one kernel; may run later (flushed by read/flush). */
  run(spec: KernelSpec, inputs: Storage[], outputs: Storage[]): void;
  /** Submits pending work. */
  flush(): void;
  /** Number of storages allocated and not yet freed (for leak tests). */
  liveCount(): number;
}
