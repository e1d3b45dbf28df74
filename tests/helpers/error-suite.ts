// Shared bad-input suite: bad input gets an error naming the op, the shapes or values and what was expected; the engine
// stays usable afterwards and nothing leaks.

import { describe, expect, it } from 'vitest';
import { F, tensor, tidy, type Backend } from '../../engine/index.js';

export function errorSuite(name: string, getBackend: () => Backend): void {
  describe(`bad input (${name})`, () => {
    const t = (data: number[], shape: number[], dtype: 'f32' | 'i32' = 'f32') => tensor(data, shape, { backend: getBackend(), dtype });

    it('add with non-broadcastable shapes names both shapes', () => {
      tidy(() => {
        expect(() => F.add(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 2, 3, 4], [4]))).toThrow(/add: shapes \[2, 3\] and \[4\] are not broadcastable/);
      });
    });
    it('matmul with mismatched inner dimensions names K on both sides', () => {
      tidy(() => {
        expect(() => F.matmul(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]))).toThrow(/matmul: inner dimensions differ: a \[2, 3\] has K=3, b \[4, 2\] has K=4/);
      });
    });
    it('gather with float ids names the dtype', () => {
      tidy(() => {
        expect(() => F.gather(t([1, 2, 3, 4], [2, 2]), t([0, 1], [2]))).toThrow(/gather: ids must be i32, got f32/);
      });
    });
    it('gather with an out-of-range id names the id, its position and the range', () => {
      tidy(() => {
        expect(() => F.gather(t([1, 2, 3, 4], [2, 2]), t([0, 5], [2], 'i32'))).toThrow(/gather: id 5 at position 1 is out of range \[0, 2\)/);
      });
    });
    it('crossEntropy with an out-of-range label names it', () => {
      tidy(() => {
        expect(() => F.crossEntropy(t([1, 2, 3, 4], [2, 2]), t([0, 2], [2], 'i32'))).toThrow(/label 2 at position 1 is out of range \[0, 2\)/);
      });
    });
    it('backward on a non-scalar without a seed explains what to pass', () => {
      tidy(() => {
        const x = t([1, 2, 3], [3]);
        x.requiresGrad = true;
        expect(() => F.mul(x, 2).backward()).toThrow(/backward: output has shape \[3\] \(3 elements\); pass a seed gradient/);
      });
    });
    it('reductions over an empty axis are rejected', () => {
      tidy(() => {
        expect(() => F.sum(t([], [2, 0]), 1)).toThrow(/empty reduction/);
      });
    });
    it('reshape to a different size names both shapes', () => {
      tidy(() => {
        expect(() => F.reshape(t([1, 2, 3, 4, 5, 6], [2, 3]), [4, 2])).toThrow(/reshape: cannot view \[2, 3\] \(6 elements\) as \[4, 2\]/);
      });
    });
    it('the engine stays usable and leaks nothing after errors', async () => {
      const b = getBackend();
      const before = b.liveCount();
      tidy(() => {
        for (let i = 0; i < 3; i++) {
          try {
            F.matmul(t([1, 2], [1, 2]), t([1, 2], [1, 2]));
          } catch {
            /* expected */
          }
        }
      });
      expect(b.liveCount()).toBe(before);
      const y = tidy(() => F.add(t([1, 2], [2]), t([10, 20], [2])));
      expect(Array.from(await y.data())).toEqual([11, 22]);
      y.dispose();
      expect(b.liveCount()).toBe(before);
    });
  });
}

