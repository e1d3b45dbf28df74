// The oracle itself, checked on hand-computed values and against PyTorch numbers, plus the
// scope / autodiff bookkeeping (tidy, keep, grad accumulation, noGrad, detach).

import { describe, expect, it } from 'vitest';
import { F, ReferenceBackend, keep, noGrad, tensor, tidy } from '../../engine/index.js';

const backend = new ReferenceBackend();
const t = (data: number[], shape: number[], dtype: 'f32' | 'i32' = 'f32') => tensor(data, shape, { backend, dtype });
const close = (a: ArrayLike<number>, b: number[], tol = 1e-12) => b.forEach((v, i) => expect(Math.abs(a[i] - v)).toBeLessThan(tol));

describe('reference backend values', () => {
  it('matmul, softmax, logSoftmax', async () => {
    close(await F.matmul(t([1, 2, 3, 4], [2, 2]), t([5, 6, 7, 8], [2, 2])).data(), [19, 22, 43, 50]);
    const e = Math.exp(1);
    close(await F.softmax(t([0, 1], [1, 2])).data(), [1 / (1 + e), e / (1 + e)]);
    close(await F.logSoftmax(t([0, 0], [1, 2])).data(), [Math.log(0.5), Math.log(0.5)]);
  });
  it('softmax of an all -inf row is zeros (masked rows are defined)', async () => {
    close(await F.softmax(t([-Infinity, -Infinity, 1, 1], [2, 2])).data(), [0, 0, 0.5, 0.5]);
  });
  it('erf GELU and tanh GELU match PyTorch at x = 1 and -0.5', async () => {
    // torch.nn.functional.gelu(torch.tensor([1., -.5], dtype=torch.float64)) and approximate='tanh'
    close(await F.gelu(t([1, -0.5], [2])).data(), [0.841344746068543, -0.15426876936299344], 1e-14);
    close(await F.geluTanh(t([1, -0.5], [2])).data(), [0.8411919906082768, -0.15428599017485606], 1e-14);
  });
  it('layerNorm normalises with the biased variance', async () => {
    const y = await F.layerNorm(t([1, 2, 3], [1, 3]), t([1, 1, 1], [3]), t([0, 0, 0], [3]), 0).data();
    const s = Math.sqrt(2 / 3);
    close(y, [-1 / s, 0, 1 / s], 1e-12);
  });
  it('crossEntropy ignores ignoreIndex rows in the mean', async () => {
    const l = await F.crossEntropy(t([0, 0, 5, 5], [2, 2]), t([1, -100], [2], 'i32')).item();
    expect(Math.abs(l - Math.log(2))).toBeLessThan(1e-12);
  });
  it('topk orders values descending with ties to the lower index', async () => {
    const { values, indices } = F.topk(t([1, 3, 3, 2], [1, 4]), 3);
    expect(Array.from(await indices.data())).toEqual([1, 2, 3]);
    close(await values.data(), [3, 3, 2]);
  });
});

describe('autodiff bookkeeping', () => {
  it('gradients accumulate across backward calls until zeroed', async () => {
    const x = keep(t([1, 2], [2]));
    x.requiresGrad = true;
    tidy(() => F.sum(F.mul(x, x)).backward());
    tidy(() => F.sum(F.mul(x, x)).backward());
    expect(Array.from(await x.grad!.data())).toEqual([4, 8]);
    x.grad = null;
    x.dispose();
  });
  it('noGrad and detach record nothing', () => {
    tidy(() => {
      const x = t([1], [1]);
      x.requiresGrad = true;
      expect(noGrad(() => F.mul(x, 2)).requiresGrad).toBe(false);
      expect(F.mul(x.detach(), 2).requiresGrad).toBe(false);
    });
  });
  it('tidy frees intermediates, keeps the result, and the result can be disposed', () => {
    const base = backend.liveCount();
    const y = tidy(() => F.exp(F.add(t([1, 2], [2]), 1)));
    expect(backend.liveCount()).toBe(base + 1);
    y.dispose();
    expect(backend.liveCount()).toBe(base);
  });
  it('a shared input gets the sum of both paths', async () => {
    const x = keep(t([3], [1]));
    x.requiresGrad = true;
    tidy(() => F.sum(F.add(F.mul(x, 2), F.mul(x, x))).backward());
    expect(Array.from(await x.grad!.data())).toEqual([8]);
    x.dispose();
  });
});
