// Tolerances for float32 results against the float64 reference: per element
// |ours - ref| <= rtol*|ref| + atol*max|ref| + tiny, the form the model fixtures use too
// (a pure relative bound is wrong for values that cancel to near zero).

export interface Mismatch {
  index: number;
  ours: number;
  ref: number;
  bound: number;
}

export function firstMismatch(ours: ArrayLike<number>, ref: ArrayLike<number>, rtol = 2e-4, atol = 2e-5): Mismatch | null {
  if (ours.length !== ref.length) return { index: -1, ours: ours.length, ref: ref.length, bound: 0 };
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i])) maxRef = Math.max(maxRef, Math.abs(ref[i]));
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i];
    const b = ref[i];
    if (!Number.isFinite(b) || !Number.isFinite(a)) {
      if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
      return { index: i, ours: a, ref: b, bound: 0 };
    }
    const bound = rtol * Math.abs(b) + atol * maxRef + 1e-6;
    if (Math.abs(a - b) > bound) return { index: i, ours: a, ref: b, bound };
  }
  return null;
}
