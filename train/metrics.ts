// Evaluation metrics on host arrays of labels (single-label classification and regression), with
// scikit-learn's conventions: precision/recall/F1 of a class with no predicted (or no true) samples
// is 0 (zero_division=0), macro averages over the classes given (default: every class seen in
// y_true or y_pred, or 0..numClasses-1), micro averages pool the counts. Matthews correlation is
// sklearn's matthews_corrcoef (the multiclass R_K statistic; 0 when undefined). Platform neutral.

export type Labels = ArrayLike<number>;

export interface ClassOptions {
  /** Number of classes: labels are 0..numClasses-1 (otherwise the sorted union of seen labels). */
  numClasses?: number;
  /** Explicit class list (overrides numClasses); averages run over exactly these. */
  labels?: readonly number[];
}

function checkPair(name: string, yTrue: Labels, yPred: Labels): void {
  if (yTrue.length !== yPred.length) {
    throw new Error(`${name}: y_true has ${yTrue.length} entries but y_pred has ${yPred.length}`);
  }
}

function checkLabel(name: string, v: number, i: number, which: string): void {
  if (!Number.isInteger(v)) throw new Error(`${name}: ${which}[${i}] = ${v} is not an integer class label`);
}

/** The class list the metrics run over. */
export function classList(yTrue: Labels, yPred: Labels, opts: ClassOptions = {}): number[] {
  if (opts.labels) return [...opts.labels];
  if (opts.numClasses !== undefined) {
    if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) throw new Error(`numClasses must be a positive integer, got ${opts.numClasses}`);
    return Array.from({ length: opts.numClasses }, (_, i) => i);
  }
  const seen = new Set<number>();
  for (let i = 0; i < yTrue.length; i++) seen.add(yTrue[i]);
  for (let i = 0; i < yPred.length; i++) seen.add(yPred[i]);
  return [...seen].sort((a, b) => a - b);
}

/** Fraction of positions where prediction equals label (0 for empty input). */
export function accuracy(yTrue: Labels, yPred: Labels): number {
  checkPair('accuracy', yTrue, yPred);
  if (yTrue.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

/**
 * Confusion matrix C[i][j] = number of samples of true class labels[i] predicted as labels[j]
 * (sklearn's layout). Samples whose true or predicted label is not in the class list are ignored.
 */
export function confusionMatrix(yTrue: Labels, yPred: Labels, opts: ClassOptions = {}): { labels: number[]; matrix: number[][] } {
  checkPair('confusionMatrix', yTrue, yPred);
  const labels = classList(yTrue, yPred, opts);
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < yTrue.length; i++) {
    checkLabel('confusionMatrix', yTrue[i], i, 'y_true');
    checkLabel('confusionMatrix', yPred[i], i, 'y_pred');
    const a = index.get(yTrue[i]);
    const b = index.get(yPred[i]);
    if (a !== undefined && b !== undefined) matrix[a][b]++;
  }
  return { labels, matrix };
}

export interface ClassScores {
  label: number;
  precision: number;
  recall: number;
  f1: number;
  /** Number of true samples of the class. */
  support: number;
}

export interface PRFReport {
  perClass: ClassScores[];
  macro: { precision: number; recall: number; f1: number };
  micro: { precision: number; recall: number; f1: number };
  /** Support-weighted averages (sklearn's average='weighted'). */
  weighted: { precision: number; recall: number; f1: number };
}

const safeDiv = (a: number, b: number): number => (b === 0 ? 0 : a / b);
const f1Of = (p: number, r: number): number => safeDiv(2 * p * r, p + r);

/** Precision, recall and F1 per class plus macro / micro / weighted averages. */
export function precisionRecallF1(yTrue: Labels, yPred: Labels, opts: ClassOptions = {}): PRFReport {
  const { labels, matrix } = confusionMatrix(yTrue, yPred, opts);
  const k = labels.length;
  let tpSum = 0;
  let predSum = 0;
  let trueSum = 0;
  const perClass: ClassScores[] = labels.map((label, i) => {
    const tp = matrix[i][i];
    let pred = 0;
    let actual = 0;
    for (let j = 0; j < k; j++) {
      pred += matrix[j][i];
      actual += matrix[i][j];
    }
    tpSum += tp;
    predSum += pred;
    trueSum += actual;
    const precision = safeDiv(tp, pred);
    const recall = safeDiv(tp, actual);
    return { label, precision, recall, f1: f1Of(precision, recall), support: actual };
  });
  const mean = (f: (c: ClassScores) => number) => (k === 0 ? 0 : perClass.reduce((a, c) => a + f(c), 0) / k);
  const wmean = (f: (c: ClassScores) => number) => safeDiv(perClass.reduce((a, c) => a + f(c) * c.support, 0), trueSum);
  const microP = safeDiv(tpSum, predSum);
  const microR = safeDiv(tpSum, trueSum);
  return {
    perClass,
    macro: { precision: mean((c) => c.precision), recall: mean((c) => c.recall), f1: mean((c) => c.f1) },
    micro: { precision: microP, recall: microR, f1: f1Of(microP, microR) },
    weighted: { precision: wmean((c) => c.precision), recall: wmean((c) => c.recall), f1: wmean((c) => c.f1) },
  };
}

export type Average = 'macro' | 'micro' | 'weighted';

/** F1 with the given averaging (default macro). */
export function f1Score(yTrue: Labels, yPred: Labels, average: Average = 'macro', opts: ClassOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, opts)[average].f1;
}
export function precisionScore(yTrue: Labels, yPred: Labels, average: Average = 'macro', opts: ClassOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, opts)[average].precision;
}
export function recallScore(yTrue: Labels, yPred: Labels, average: Average = 'macro', opts: ClassOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, opts)[average].recall;
}

/**
 * Stance F1 (SemEval-2016 task 6, TWilBERT's stance metric): the mean F1 of every class except
 * `ignoreClass` (FAVOR and AGAINST, ignoring NONE). The ignored class still counts as a wrong
 * prediction for the others (it lowers their recall/precision), as in the official script.
 */
export function stanceF1(yTrue: Labels, yPred: Labels, ignoreClass: number, opts: ClassOptions = {}): number {
  const report = precisionRecallF1(yTrue, yPred, opts);
  const kept = report.perClass.filter((c) => c.label !== ignoreClass);
  return kept.length === 0 ? 0 : kept.reduce((a, c) => a + c.f1, 0) / kept.length;
}

/**
 * Matthews correlation coefficient, binary or multiclass, as sklearn.metrics.matthews_corrcoef:
 * (c*s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)), 0 when the denominator is 0.
 */
export function matthewsCorrcoef(yTrue: Labels, yPred: Labels, opts: ClassOptions = {}): number {
  const { matrix } = confusionMatrix(yTrue, yPred, opts);
  const k = matrix.length;
  let s = 0;
  let c = 0;
  const t = new Array<number>(k).fill(0);
  const p = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    c += matrix[i][i];
    for (let j = 0; j < k; j++) {
      s += matrix[i][j];
      t[i] += matrix[i][j];
      p[j] += matrix[i][j];
    }
  }
  let pt = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < k; i++) {
    pt += p[i] * t[i];
    pp += p[i] * p[i];
    tt += t[i] * t[i];
  }
  const den = Math.sqrt(s * s - pp) * Math.sqrt(s * s - tt);
  if (den === 0 || !Number.isFinite(den)) return 0;
  const r = (c * s - pt) / den;
  return Math.max(-1, Math.min(1, r));
}

/** Pearson correlation of two equal-length series (0 when either is constant). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`pearson: series have ${x.length} and ${y.length} entries`);
  const n = x.length;
  if (n === 0) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx;
    const b = y[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  const den = Math.sqrt(sxx) * Math.sqrt(syy);
  return den === 0 ? 0 : Math.max(-1, Math.min(1, sxy / den));
}

/** Spearman rank correlation (average ranks for ties), for STS-B style reports. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return pearson(ranks(x), ranks(y));
}

function ranks(v: ArrayLike<number>): number[] {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * Class weights for imbalanced data, sklearn's compute_class_weight('balanced'):
 * n_samples / (n_classes * count_c). Classes 0..numClasses-1; a class with no samples gets 0
 * (sklearn raises; a weight of 0 is harmless since it never occurs in the loss).
 */
export function balancedClassWeights(labels: Labels, numClasses: number): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`balancedClassWeights: numClasses must be a positive integer, got ${numClasses}`);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new Error(`balancedClassWeights: label ${l} at index ${i} is not in 0..${numClasses - 1}`);
    counts[l]++;
  }
  return counts.map((c) => (c === 0 ? 0 : labels.length / (numClasses * c)));
}

/** Inverse-frequency weights normalised to mean 1 over the present classes (1 / count, rescaled). */
export function inverseFrequencyWeights(labels: Labels, numClasses: number): number[] {
  const balanced = balancedClassWeights(labels, numClasses);
  const present = balanced.filter((w) => w > 0);
  const mean = present.reduce((a, b) => a + b, 0) / Math.max(1, present.length);
  return balanced.map((w) => (w === 0 ? 0 : w / mean));
}

/** Index of the largest value in each row of a row-major [rows, cols] array (first on ties). */
export function argmaxRows(values: ArrayLike<number>, cols: number): number[] {
  if (!Number.isInteger(cols) || cols < 1 || values.length % cols !== 0) {
    throw new Error(`argmaxRows: ${values.length} values do not form rows of ${cols}`);
  }
  const out: number[] = [];
  for (let r = 0; r < values.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

/** The usual single-label classification report as a flat metrics record. */
export function classificationMetrics(yTrue: Labels, yPred: Labels, opts: ClassOptions & { stanceIgnore?: number } = {}): Record<string, number> {
  const r = precisionRecallF1(yTrue, yPred, opts);
  const out: Record<string, number> = {
    accuracy: accuracy(yTrue, yPred),
    f1_macro: r.macro.f1,
    f1_micro: r.micro.f1,
    precision_macro: r.macro.precision,
    recall_macro: r.macro.recall,
    mcc: matthewsCorrcoef(yTrue, yPred, opts),
  };
  for (const c of r.perClass) out[`f1_class${c.label}`] = c.f1;
  if (opts.stanceIgnore !== undefined) out.f1_stance = stanceF1(yTrue, yPred, opts.stanceIgnore, opts);
  return out;
}
