// Float64 reference of the fused kernels (attention, layernorm + residual, Adam/LAMB steps):
// written as the plain formulas of engine/backend/spec.ts, loop by loop.

import { attentionRow, type KernelSpec } from '../spec.js';
import { uniform } from '../../random.js';

type Arr = Float64Array | Int32Array;
type Spec<K extends KernelSpec['kind']> = Extract<KernelSpec, { kind: K }>;

/** Dropout factor of probability (i, j) of head bh, as F.dropout on the [B, nh, t, t] tensor. */
function dropFactor(spec: Spec<'attention'>, bh: number, i: number, j: number): number {
  if (spec.p === 0) return 1;
  return uniform(spec.seed, (bh * spec.t + i) * spec.t + j) >= spec.p ? 1 / (1 - spec.p) : 0;
}

/** Offset of row i of head bh in q, k, v, o (in elements) for the spec's layout. */
const rowOf = (spec: Spec<'attention'>, bh: number, i: number) => attentionRow(spec.layout, spec.heads, spec.t, bh, i) * spec.hs;

/** Row i of head bh: scores s_j, max m and the probabilities (all 0 when m = -inf). */
function probs(spec: Spec<'attention'>, q: Arr, k: Arr, bias: Arr, bh: number, i: number): { m: number; ls: number; p: Float64Array } {
  const { t, hs, scale, masked, heads } = spec;
  const s = new Float64Array(t);
  let m = -Infinity;
  const qi = rowOf(spec, bh, i);
  for (let j = 0; j < t; j++) {
    const kj = rowOf(spec, bh, j);
    let acc = 0;
    for (let d = 0; d < hs; d++) acc += q[qi + d] * k[kj + d];
    s[j] = acc * scale + (masked ? bias[Math.floor(bh / heads) * t + j] : 0);
    m = Math.max(m, s[j]);
  }
  const p = new Float64Array(t);
  if (m === -Infinity) return { m, ls: 0, p };
  let l = 0;
  for (let j = 0; j < t; j++) l += (p[j] = Math.exp(s[j] - m));
  for (let j = 0; j < t; j++) p[j] /= l;
  return { m, ls: Math.log(l), p };
}

export function attention(spec: Spec<'attention'>, x: Arr[], y: Arr[]): void {
  const [q, k, v, bias] = x;
  const [o, stats] = y;
  const { bh: BH, t, hs } = spec;
  for (let bh = 0; bh < BH; bh++) {
    for (let i = 0; i < t; i++) {
      const { m, ls, p } = probs(spec, q, k, bias, bh, i);
      const row = rowOf(spec, bh, i);
      stats[(row / hs) * 2] = m;
      stats[(row / hs) * 2 + 1] = ls;
      for (let d = 0; d < hs; d++) {
        let acc = 0;
        for (let j = 0; j < t; j++) acc += p[j] * dropFactor(spec, bh, i, j) * v[rowOf(spec, bh, j) + d];
        o[row + d] = acc;
      }
    }
  }
}

export function attentionBackward(spec: Spec<'attentionBackward'>, x: Arr[], y: Arr[]): void {
  const [q, k, v, bias, o, , dO] = x;
  const [dq, dk, dv] = y;
  const fwd = { ...spec, kind: 'attention' as const };
  const { bh: BH, t, hs, scale } = spec;
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  for (let bh = 0; bh < BH; bh++) {
    for (let i = 0; i < t; i++) {
      const { p } = probs(fwd, q, k, bias, bh, i);
      const row = rowOf(fwd, bh, i);
      let D = 0;
      for (let d = 0; d < hs; d++) D += dO[row + d] * o[row + d];
      for (let j = 0; j < t; j++) {
        const f = dropFactor(fwd, bh, i, j);
        const col = rowOf(fwd, bh, j);
        let dp = 0;
        for (let d = 0; d < hs; d++) {
          dp += dO[row + d] * v[col + d];
          dv[col + d] += p[j] * f * dO[row + d];
        }
        const ds = p[j] * (dp * f - D) * scale;
        for (let d = 0; d < hs; d++) {
          dq[row + d] += ds * k[col + d];
          dk[col + d] += ds * q[row + d];
        }
      }
    }
  }
}

export function layernormResidual(spec: Spec<'layernormResidual'>, x: Arr[], y: Arr[]): void {
  const { rows, len, eps } = spec;
  const [xs, res, gamma, beta] = x;
  const [out, mean, rstd, s] = y;
  for (let r = 0; r < rows; r++) {
    const o = r * len;
    let mu = 0;
    for (let j = 0; j < len; j++) mu += (s[o + j] = xs[o + j] + res[o + j]);
    mu /= len;
    let v = 0;
    for (let j = 0; j < len; j++) v += (s[o + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / len + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < len; j++) out[o + j] = (s[o + j] - mu) * rs * gamma[j] + beta[j];
  }
}

/** Adam direction with the new moments written to m2/v2. */
function moments(spec: { beta1: number; beta2: number }, g: number, m: number, v: number): [number, number] {
  return [m * spec.beta1 + g * (1 - spec.beta1), v * spec.beta2 + g * g * (1 - spec.beta2)];
}
const direction = (spec: { eps: number; bc1: number; bc2: number }, m: number, v: number) =>
  (m * (1 / spec.bc1)) / (Math.sqrt(v) * (1 / Math.sqrt(spec.bc2)) + spec.eps);

export function adamStep(spec: Spec<'adamStep'>, x: Arr[], y: Arr[]): void {
  const wd = spec.weightDecay;
  spec.sizes.forEach((size, k) => {
    const [p, g, m, v] = x.slice(4 * k, 4 * k + 4);
    const [p2, m2, v2] = y.slice(3 * k, 3 * k + 3);
    for (let i = 0; i < size; i++) {
      const gr = !spec.decoupled && wd ? g[i] + p[i] * wd : g[i];
      const [mi, vi] = moments(spec, gr, m[i], v[i]);
      m2[i] = mi;
      v2[i] = vi;
      const dir = direction(spec, mi, vi);
      p2[i] = (spec.decoupled && wd ? p[i] * (1 - spec.lr * wd) : p[i]) - dir * spec.lr;
    }
  });
}

/** lambStep: per tensor, lambStats with one part then lambApply. */
export function lambStep(spec: Spec<'lambStep'>, x: Arr[], y: Arr[]): void {
  const offsets = x[4 * spec.sizes.length]!;
  spec.sizes.forEach((size, k) => {
    if (offsets[k + 1]! - offsets[k]! !== size) throw new Error(`lambStep: offsets ${offsets[k]}..${offsets[k + 1]} do not match tensor ${k}'s size ${size}`);
    const [p, g, m, v] = x.slice(4 * k, 4 * k + 4);
    const [p2, m2, v2] = y.slice(3 * k, 3 * k + 3);
    const part = new Float64Array(2);
    lambStats({ ...spec, kind: 'lambStats', size, parts: 1 }, [p, g, m, v], [m2, v2, part]);
    lambApply({ ...spec, kind: 'lambApply', size, parts: 1 }, [p, m2, v2, part], [p2]);
  });
}

export function lambStats(spec: Spec<'lambStats'>, x: Arr[], y: Arr[]): void {
  const [p, g, m, v] = x;
  const [m2, v2, part] = y;
  const chunk = Math.ceil(spec.size / spec.parts);
  part.fill(0);
  for (let i = 0; i < spec.size; i++) {
    const [mi, vi] = moments(spec, g[i], m[i], v[i]);
    m2[i] = mi;
    v2[i] = vi;
    const u = direction(spec, mi, vi) + p[i] * spec.weightDecay;
    const k = Math.floor(i / chunk);
    part[2 * k] += p[i] * p[i];
    part[2 * k + 1] += u * u;
  }
}

export function lambApply(spec: Spec<'lambApply'>, x: Arr[], y: Arr[]): void {
  const [p, m, v, part] = x;
  const [p2] = y;
  let sp = 0;
  let su = 0;
  for (let k = 0; k < spec.parts; k++) {
    sp += part[2 * k];
    su += part[2 * k + 1];
  }
  const wn = Math.sqrt(sp);
  const un = Math.sqrt(su);
  const ratio = wn > 0 && un > 0 ? wn / un : 1;
  for (let i = 0; i < spec.size; i++) {
    const u = direction(spec, m[i], v[i]) + p[i] * spec.weightDecay;
    p2[i] = p[i] - u * ratio * spec.lr;
  }
}
