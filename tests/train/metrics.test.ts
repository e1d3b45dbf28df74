// Metrics: hand-computed values (the sklearn documentation examples among them) and fast-check
// properties (MCC in [-1, 1] and symmetric, perfect predictions give 1, micro F1 == accuracy for
// single-label multiclass, confusion-matrix sums, balanced weights, Pearson invariances).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  accuracy,
  argmaxRows,
  balancedClassWeights,
  classificationMetrics,
  confusionMatrix,
  f1Score,
  inverseFrequencyWeights,
  matthewsCorrcoef,
  pearson,
  precisionRecallF1,
  precisionScore,
  recallScore,
  spearman,
  stanceF1,
} from '../../train/metrics.js';

describe('hand-computed values', () => {
  // sklearn docs (f1_score / precision_score / recall_score examples).
  const yt = [0, 1, 2, 0, 1, 2];
  const yp = [0, 2, 1, 0, 0, 1];

  it('precision / recall / F1: macro, micro, weighted, per class (sklearn doc example)', () => {
    expect(f1Score(yt, yp, 'macro')).toBeCloseTo(0.26666666666666666, 14);
    expect(f1Score(yt, yp, 'micro')).toBeCloseTo(1 / 3, 14);
    expect(f1Score(yt, yp, 'weighted')).toBeCloseTo(0.26666666666666666, 14);
    expect(precisionScore(yt, yp, 'macro')).toBeCloseTo(0.2222222222222222, 14);
    expect(recallScore(yt, yp, 'macro')).toBeCloseTo(1 / 3, 14);
    const r = precisionRecallF1(yt, yp);
    expect(r.perClass.map((c) => c.f1)).toEqual([0.8, 0, 0]);
    expect(r.perClass.map((c) => c.precision)).toEqual([2 / 3, 0, 0]);
    expect(r.perClass.map((c) => c.support)).toEqual([2, 2, 2]);
    expect(accuracy(yt, yp)).toBeCloseTo(1 / 3, 14);
  });

  it('confusion matrix in sklearn layout (rows true, columns predicted), with numClasses padding', () => {
    expect(confusionMatrix(yt, yp).matrix).toEqual([
      [2, 0, 0],
      [1, 0, 1],
      [0, 2, 0],
    ]);
    const { labels, matrix } = confusionMatrix([0, 1], [1, 1], { numClasses: 3 });
    expect(labels).toEqual([0, 1, 2]);
    expect(matrix).toEqual([
      [0, 1, 0],
      [0, 1, 0],
      [0, 0, 0],
    ]);
  });

  it('Matthews correlation: binary (sklearn doc: -1/3) and multiclass', () => {
    expect(matthewsCorrcoef([1, 1, 1, -1], [1, -1, 1, 1])).toBeCloseTo(-1 / 3, 14);
    // C = [[1,1,0],[0,2,0],[1,0,2]]: (5*7 - 16) / sqrt((49-17)(49-17)) = 19/32
    expect(matthewsCorrcoef([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2])).toBeCloseTo(19 / 32, 14);
    // Binary MCC equals (tp*tn - fp*fn)/sqrt(...): tp=3, tn=2, fp=1, fn=1
    const bt = [1, 1, 1, 1, 0, 0, 0];
    const bp = [1, 1, 1, 0, 0, 0, 1];
    expect(matthewsCorrcoef(bt, bp)).toBeCloseTo((3 * 2 - 1 * 1) / Math.sqrt(4 * 4 * 3 * 3), 14);
    // Undefined (one class only) -> 0, like sklearn.
    expect(matthewsCorrcoef([1, 1, 1], [1, 1, 1])).toBe(0);
    expect(matthewsCorrcoef([0, 1, 0], [1, 1, 1])).toBe(0);
  });

  it('stance F1: mean F1 of the classes except the ignored one (FAVOR/AGAINST, NONE ignored)', () => {
    // 0 = AGAINST, 1 = FAVOR, 2 = NONE. F1(AGAINST) = 0.5, F1(FAVOR) = 0.8.
    const t = [0, 0, 1, 1, 2, 2, 2];
    const p = [0, 1, 1, 1, 2, 0, 2];
    expect(stanceF1(t, p, 2)).toBeCloseTo(0.65, 14);
    // Ignoring another class averages the remaining two.
    const r = precisionRecallF1(t, p);
    expect(stanceF1(t, p, 0)).toBeCloseTo((r.perClass[1].f1 + r.perClass[2].f1) / 2, 14);
    // Predicting NONE for everything scores 0 even though NONE is right 3 times.
    expect(stanceF1(t, [2, 2, 2, 2, 2, 2, 2], 2)).toBe(0);
  });

  it('Pearson and Spearman', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 14);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 14);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBe(0);
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 14);
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4]), 14);
  });

  it("balanced class weights: n_samples / (n_classes * count), sklearn's 'balanced'", () => {
    expect(balancedClassWeights([0, 0, 0, 1], 2)).toEqual([4 / 6, 2]);
    expect(balancedClassWeights([0, 1, 2, 2], 4)).toEqual([1, 1, 0.5, 0]);
    const inv = inverseFrequencyWeights([0, 0, 0, 1], 2);
    expect(inv[1] / inv[0]).toBeCloseTo(3, 14);
    expect((inv[0] + inv[1]) / 2).toBeCloseTo(1, 14);
    expect(() => balancedClassWeights([0, 3], 2)).toThrow(/label 3 at index 1 is not in 0..1/);
  });

  it('classificationMetrics bundles the report; argmaxRows takes the first maximum', () => {
    const m = classificationMetrics([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2], { stanceIgnore: 2 });
    expect(m.accuracy).toBeCloseTo(5 / 7, 14);
    expect(m.f1_stance).toBeCloseTo(0.65, 14);
    expect(m.mcc).toBeCloseTo(19 / 32, 14);
    expect(m.f1_class1).toBeCloseTo(0.8, 14);
    expect(argmaxRows([0.1, 0.9, 0.5, 0.5, 2, -1], 2)).toEqual([1, 0, 0]);
  });

  it('rejects mismatched lengths and non-integer labels', () => {
    expect(() => accuracy([0, 1], [0])).toThrow(/2 entries but y_pred has 1/);
    expect(() => confusionMatrix([0.5], [0])).toThrow(/y_true\[0\] = 0.5 is not an integer/);
    expect(() => pearson([1], [1, 2])).toThrow(/1 and 2 entries/);
  });
});

const labelPairs = (k: number) =>
  fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(fc.array(fc.integer({ min: 0, max: k - 1 }), { minLength: n, maxLength: n }), fc.array(fc.integer({ min: 0, max: k - 1 }), { minLength: n, maxLength: n })));

describe('properties', () => {
  it('MCC is in [-1, 1] and symmetric in (y_true, y_pred)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }).chain(labelPairs), ([t, p]) => {
        const m = matthewsCorrcoef(t, p);
        expect(m).toBeGreaterThanOrEqual(-1);
        expect(m).toBeLessThanOrEqual(1);
        expect(matthewsCorrcoef(p, t)).toBeCloseTo(m, 12);
      }),
    );
  });

  it('perfect predictions give MCC 1, accuracy 1 and F1 1 (when two or more classes occur)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 50 }), (t) => {
        fc.pre(new Set(t).size >= 2);
        expect(matthewsCorrcoef(t, t)).toBeCloseTo(1, 12);
        expect(accuracy(t, t)).toBe(1);
        expect(f1Score(t, t, 'macro')).toBeCloseTo(1, 12);
      }),
    );
  });

  it('micro F1 == micro precision == micro recall == accuracy for single-label multiclass', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }).chain(labelPairs), ([t, p]) => {
        const r = precisionRecallF1(t, p);
        const a = accuracy(t, p);
        expect(r.micro.f1).toBeCloseTo(a, 12);
        expect(r.micro.precision).toBeCloseTo(a, 12);
        expect(r.micro.recall).toBeCloseTo(a, 12);
        expect(r.macro.f1).toBeGreaterThanOrEqual(0);
        expect(r.macro.f1).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('the confusion matrix sums to n, its rows to the supports; metrics ignore sample order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }).chain(labelPairs), fc.integer(), ([t, p], seed) => {
        const { matrix } = confusionMatrix(t, p);
        expect(matrix.flat().reduce((a, b) => a + b, 0)).toBe(t.length);
        const r = precisionRecallF1(t, p);
        r.perClass.forEach((c, i) => expect(matrix[i].reduce((a, b) => a + b, 0)).toBe(c.support));
        // A rotation of both arrays changes nothing.
        const k = Math.abs(seed) % t.length;
        const rot = <T>(a: T[]) => [...a.slice(k), ...a.slice(0, k)];
        expect(f1Score(rot(t), rot(p), 'macro')).toBeCloseTo(r.macro.f1, 12);
        expect(matthewsCorrcoef(rot(t), rot(p))).toBeCloseTo(matthewsCorrcoef(t, p), 12);
      }),
    );
  });

  it('balanced weights make every present class weigh n / n_classes in total', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 80 }), (labels) => {
        const w = balancedClassWeights(labels, 5);
        const counts = [0, 1, 2, 3, 4].map((c) => labels.filter((l) => l === c).length);
        counts.forEach((c, i) => {
          if (c > 0) expect(c * w[i]).toBeCloseTo(labels.length / 5, 12);
          else expect(w[i]).toBe(0);
        });
      }),
    );
  });

  it('Pearson is in [-1, 1], 1 for y = a x + b with a > 0, and -1 for a < 0', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 30 }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        (x, a, b) => {
          const spread = Math.max(...x) - Math.min(...x);
          fc.pre(spread > 1e-3);
          expect(pearson(x, x.map((v) => a * v + b))).toBeCloseTo(1, 9);
          expect(pearson(x, x.map((v) => -a * v + b))).toBeCloseTo(-1, 9);
          const y = x.map((v, i) => Math.sin(v + i));
          const r = pearson(x, y);
          expect(Math.abs(r)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
