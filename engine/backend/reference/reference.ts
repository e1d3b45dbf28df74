// The float64 reference backend: every KernelSpec interpreted in plain TypeScript with
// float64 arithmetic. Slow and obviously correct; it is the oracle every test compares with,
// and the backend finite-difference gradient checks run on.

import { matmulArity, softmaxGradScale, type Backend, type DType, type HostArray, type KernelSpec, type Storage } from '../spec.js';
import { uniform } from '../../random.js';
import { erf, unaryFn, binaryFn } from './math.js';
import * as fused from './fused.js';

class RefStorage implements Storage {
  freed = false;
  constructor(
    readonly size: number,
    readonly dtype: DType,
    public data: Float64Array | Int32Array,
  ) {}
}

function arr(s: Storage): Float64Array | Int32Array {
  const r = s as RefStorage;
  if (!(r instanceof RefStorage)) throw new Error('reference backend: storage belongs to another backend');
  if (r.freed) throw new Error('reference backend: storage used after it was freed');
  return r.data;
}

/** Offsets of every index tuple of `shape` under `strides`, in row-major order of the tuples. */
function stridedOffsets(shape: number[], strides: number[], offset = 0): Int32Array {
  const total = shape.reduce((a, b) => a * b, 1);
  const out = new Int32Array(total);
  const idx = new Array(shape.length).fill(0);
  let off = offset;
  for (let i = 0; i < total; i++) {
    out[i] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  private live = 0;

  alloc(size: number, dtype: DType): Storage {
    this.live++;
    return new RefStorage(size, dtype, dtype === 'i32' ? new Int32Array(size) : new Float64Array(size));
  }
  free(storage: Storage): void {
    const r = storage as RefStorage;
    if (r.freed) throw new Error('reference backend: storage freed twice');
    r.freed = true;
    this.live--;
  }
  write(storage: Storage, data: ArrayLike<number>): void {
    const a = arr(storage);
    if (data.length !== a.length) {
      throw new Error(`reference backend: write of ${data.length} elements into storage of ${a.length}`);
    }
    a.set(data);
  }
  async read(storage: Storage): Promise<HostArray> {
    return this.readSync(storage);
  }
  /** Synchronous read (reference only): a copy of the data. */
  readSync(storage: Storage): Float64Array | Int32Array {
    return arr(storage).slice();
  }
  flush(): void {}
  liveCount(): number {
    return this.live;
  }

  run(spec: KernelSpec, inputs: Storage[], outputs: Storage[]): void {
    const x = inputs.map(arr);
    const y = outputs.map(arr);
    switch (spec.kind) {
      case 'fill':
        y[0].fill(spec.dtype === 'i32' ? Math.trunc(spec.value) : spec.value);
        return;
      case 'unary': {
        const f = unaryFn(spec.op);
        for (let i = 0; i < spec.size; i++) y[0][i] = f(x[0][i]);
        return;
      }
      case 'affine':
        for (let i = 0; i < spec.size; i++) y[0][i] = x[0][i] * spec.scale + spec.shift;
        return;
      case 'binary': {
        const f = binaryFn(spec.op);
        const ao = stridedOffsets(spec.outShape, spec.aStrides);
        const bo = stridedOffsets(spec.outShape, spec.bStrides);
        for (let i = 0; i < ao.length; i++) y[0][i] = f(x[0][ao[i]], x[1][bo[i]]);
        return;
      }
      case 'where': {
        const co = stridedOffsets(spec.outShape, spec.condStrides);
        const ao = stridedOffsets(spec.outShape, spec.aStrides);
        const bo = stridedOffsets(spec.outShape, spec.bStrides);
        for (let i = 0; i < co.length; i++) y[0][i] = x[0][co[i]] !== 0 ? x[1][ao[i]] : x[2][bo[i]];
        return;
      }
      case 'cast':
        for (let i = 0; i < spec.size; i++) y[0][i] = spec.to === 'i32' ? Math.trunc(x[0][i]) : x[0][i];
        return;
      case 'pack': {
        let at = 0;
        spec.sizes.forEach((n, i) => { y[0].set(x[i]!.subarray(0, n), at); at += n; });
        return;
      }
      case 'unpack': {
        let at = 0;
        spec.sizes.forEach((n, i) => { y[i]!.set(x[0].subarray(at, at + n)); at += n; });
        return;
      }
      case 'copy': {
        const io = stridedOffsets(spec.shape, spec.inStrides, spec.inOffset);
        const oo = stridedOffsets(spec.shape, spec.outStrides, spec.outOffset);
        for (let i = 0; i < io.length; i++) y[0][oo[i]] = x[0][io[i]];
        return;
      }
      case 'reduce': {
        const { outer, len, inner } = spec;
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            let acc = spec.op === 'sum' ? 0 : -Infinity;
            for (let j = 0; j < len; j++) {
              const v = x[0][(o * len + j) * inner + i];
              acc = spec.op === 'sum' ? acc + v : Number.isNaN(v) || v > acc ? v : acc;
            }
            y[0][o * inner + i] = spec.op === 'sum' ? acc * spec.scale : acc;
          }
        }
        return;
      }
      case 'argmax':
        for (let r = 0; r < spec.rows; r++) {
          let best = 0;
          for (let j = 1; j < spec.len; j++) if (x[0][r * spec.len + j] > x[0][r * spec.len + best]) best = j;
          y[0][r] = best;
        }
        return;
      case 'matmul':
        return this.matmul(spec, x, y);
      case 'softmax':
        return this.softmax(spec, x[0], y[0]);
      case 'maskedSoftmax':
        return this.maskedSoftmax(spec, x[0], x[1], y[0]);
      case 'softmaxBackward':
        return this.softmaxBackward(spec, x[0], x[1], y[0]);
      case 'layernorm':
        return this.layernorm(spec, x, y);
      case 'layernormBackward':
        return this.layernormBackward(spec, x, y);
      case 'crossEntropy':
      case 'crossEntropyBackward':
        return this.crossEntropy(spec, x, y[0]);
      case 'gather': {
        const { rows, dim, vocab } = spec;
        for (let r = 0; r < rows; r++) {
          const id = x[1][r];
          for (let d = 0; d < dim; d++) y[0][r * dim + d] = id >= 0 && id < vocab ? x[0][id * dim + d] : 0;
        }
        return;
      }
      case 'scatterAdd': {
        const { rows, dim, vocab } = spec;
        y[0].fill(0);
        for (let r = 0; r < rows; r++) {
          const id = x[1][r];
          if (id < 0 || id >= vocab) continue;
          for (let d = 0; d < dim; d++) y[0][id * dim + d] += x[0][r * dim + d];
        }
        return;
      }
      case 'topk': {
        const { rows, len, k } = spec;
        for (let r = 0; r < rows; r++) {
          const idx = [...Array(len).keys()];
          // Stable sort by descending value keeps the lower index first on ties.
          idx.sort((a, b) => x[0][r * len + b] - x[0][r * len + a] || a - b);
          for (let j = 0; j < k; j++) y[0][r * k + j] = idx[j];
        }
        return;
      }
      case 'gatherLast': {
        const { rows, len, k } = spec;
        for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) y[0][r * k + j] = x[0][r * len + x[1][r * k + j]];
        return;
      }
      case 'scatterLast': {
        const { rows, len, k } = spec;
        y[0].fill(0);
        for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) y[0][r * len + x[1][r * k + j]] += x[0][r * k + j];
        return;
      }
      case 'dropout': {
        const scale = 1 / (1 - spec.p);
        for (let i = 0; i < spec.size; i++) y[0][i] = uniform(spec.seed, i) >= spec.p ? x[0][i] * scale : 0;
        return;
      }
      case 'attention':
        return fused.attention(spec, x, y);
      case 'attentionBackward':
        return fused.attentionBackward(spec, x, y);
      case 'layernormResidual':
        return fused.layernormResidual(spec, x, y);
      case 'adamStep':
        return fused.adamStep(spec, x, y);
      case 'lambStep':
        return fused.lambStep(spec, x, y);
      case 'lambStats':
        return fused.lambStats(spec, x, y);
      case 'lambApply':
        return fused.lambApply(spec, x, y);
      default: {
        const never: never = spec;
        throw new Error(`reference backend: unknown kernel ${(never as KernelSpec).kind}`);
      }
    }
  }

  private matmul(spec: Extract<KernelSpec, { kind: 'matmul' }>, x: ArrayLike<number>[], y: (Float64Array | Int32Array)[]): void {
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = spec;
    const [inArity, outArity] = matmulArity(spec);
    if (x.length !== inArity || y.length !== outArity) {
      throw new Error(`reference matmul: expected ${inArity} inputs and ${outArity} outputs, got ${x.length} and ${y.length}`);
    }
    const [a, b] = x as [ArrayLike<number>, ArrayLike<number>];
    const out = y[0]!;
    for (let bi = 0; bi < batch; bi++) {
      const ab = bi * aBatchStride;
      const bb = bi * bBatchStride;
      const ob = bi * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) {
            const av = transA ? a[ab + p * m + i] : a[ab + i * k + p];
            const bv = transB ? b[bb + j * k + p] : b[bb + p * n + j];
            acc += av * bv;
          }
          out[ob + i * n + j] = acc;
        }
      }
    }
    const ep = spec.epilogue;
    if (!ep) return;
    let next = 2;
    const bias = ep.bias ? x[next++]! : null;
    const res = ep.residual ? x[next++]! : null;
    const act = ep.activation ? unaryFn(ep.activation) : null;
    const pre = ep.savePre ? y[1]! : null;
    for (let i = 0; i < batch * m * n; i++) {
      let v = out[i]!;
      if (bias) v += bias[i % n]!;
      if (pre) pre[i] = v;
      if (act) v = act(v);
      if (res) v += res[i]!;
      out[i] = v;
    }
  }

  private softmax(spec: Extract<KernelSpec, { kind: 'softmax' }>, x: ArrayLike<number>, y: Float64Array | Int32Array): void {
    const { rows, len, log } = spec;
    for (let r = 0; r < rows; r++) {
      const o = r * len;
      let max = -Infinity;
      for (let j = 0; j < len; j++) max = Math.max(max, x[o + j]);
      if (max === -Infinity) {
        for (let j = 0; j < len; j++) y[o + j] = log ? -Infinity : 0;
        continue;
      }
      let sum = 0;
      for (let j = 0; j < len; j++) sum += Math.exp(x[o + j] - max);
      const lse = Math.log(sum);
      for (let j = 0; j < len; j++) y[o + j] = log ? x[o + j] - max - lse : Math.exp(x[o + j] - max) / sum;
    }
  }

  private maskedSoftmax(spec: Extract<KernelSpec, { kind: 'maskedSoftmax' }>, x: ArrayLike<number>, mask: ArrayLike<number>, y: Float64Array | Int32Array): void {
    const { rows, len, scale, masked, mdims: [, d1, d2], mstrides: [s0, s1, s2] } = spec;
    const z = new Float64Array(rows * len);
    for (let r = 0; r < rows; r++) {
      const mrow = Math.floor(r / (d1 * d2)) * s0 + (Math.floor(r / d2) % d1) * s1 + (r % d2) * s2;
      for (let j = 0; j < len; j++) z[r * len + j] = x[r * len + j] * scale + (masked ? mask[mrow * len + j] : 0);
    }
    this.softmax({ kind: 'softmax', log: false, rows, len }, z, y);
  }

  private softmaxBackward(spec: Extract<KernelSpec, { kind: 'softmaxBackward' }>, y: ArrayLike<number>, dy: ArrayLike<number>, dx: Float64Array | Int32Array): void {
    const { rows, len, log } = spec;
    const scale = softmaxGradScale(spec);
    for (let r = 0; r < rows; r++) {
      const o = r * len;
      let s = 0;
      for (let j = 0; j < len; j++) s += log ? dy[o + j] : dy[o + j] * y[o + j];
      for (let j = 0; j < len; j++) {
        // exp(-inf) = 0 for an all-masked log-softmax row; a softmax row of zeros has y = 0.
        dx[o + j] = log ? dy[o + j] - Math.exp(y[o + j]) * s : scale * (y[o + j] * (dy[o + j] - s));
        if (log && y[o + j] === -Infinity) dx[o + j] = 0;
      }
    }
  }

  private layernorm(spec: Extract<KernelSpec, { kind: 'layernorm' }>, x: (Float64Array | Int32Array)[], y: (Float64Array | Int32Array)[]): void {
    const { rows, len, eps } = spec;
    const [xs, gamma, beta] = x;
    const [out, mean, rstd] = y;
    for (let r = 0; r < rows; r++) {
      const o = r * len;
      let mu = 0;
      for (let j = 0; j < len; j++) mu += xs[o + j];
      mu /= len;
      let v = 0;
      for (let j = 0; j < len; j++) v += (xs[o + j] - mu) ** 2;
      v /= len;
      const rs = 1 / Math.sqrt(v + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let j = 0; j < len; j++) out[o + j] = (xs[o + j] - mu) * rs * gamma[j] + beta[j];
    }
  }

  private layernormBackward(spec: Extract<KernelSpec, { kind: 'layernormBackward' }>, x: (Float64Array | Int32Array)[], y: (Float64Array | Int32Array)[]): void {
    const { rows, len } = spec;
    const [xs, gamma, mean, rstd, dy] = x;
    const [dx, dgamma, dbeta] = y;
    dgamma.fill(0);
    dbeta.fill(0);
    for (let r = 0; r < rows; r++) {
      const o = r * len;
      let sumG = 0;
      let sumGX = 0;
      for (let j = 0; j < len; j++) {
        const xhat = (xs[o + j] - mean[r]) * rstd[r];
        const g = dy[o + j] * gamma[j];
        sumG += g;
        sumGX += g * xhat;
        dgamma[j] += dy[o + j] * xhat;
        dbeta[j] += dy[o + j];
      }
      for (let j = 0; j < len; j++) {
        const xhat = (xs[o + j] - mean[r]) * rstd[r];
        const g = dy[o + j] * gamma[j];
        dx[o + j] = rstd[r] * (g - sumG / len - (xhat * sumGX) / len);
      }
    }
  }

  private crossEntropy(
    spec: Extract<KernelSpec, { kind: 'crossEntropy' | 'crossEntropyBackward' }>,
    x: (Float64Array | Int32Array)[],
    out: Float64Array | Int32Array,
  ): void {
    const { rows, classes, ignoreIndex } = spec;
    const [logits, labels, dloss] = x;
    for (let r = 0; r < rows; r++) {
      const o = r * classes;
      const label = labels[r];
      const ignored = label === ignoreIndex;
      let max = -Infinity;
      for (let j = 0; j < classes; j++) max = Math.max(max, logits[o + j]);
      let sum = 0;
      for (let j = 0; j < classes; j++) sum += Math.exp(logits[o + j] - max);
      const lse = max + Math.log(sum);
      if (spec.kind === 'crossEntropy') {
        const valid = label >= 0 && label < classes;
        out[r] = ignored ? 0 : valid ? lse - logits[o + label] : NaN;
      } else {
        const g = ignored ? 0 : dloss[r];
        for (let j = 0; j < classes; j++) {
          out[o + j] = ignored ? 0 : (Math.exp(logits[o + j] - lse) - (j === label ? 1 : 0)) * g;
        }
      }
    }
  }
}

export { erf };
