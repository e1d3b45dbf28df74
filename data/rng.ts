// Role: a small, fast, seedable PRNG for the data pipeline (masking, pair sampling, shuffling),
// so every random choice is reproducible from a seed, in Node and in the browser alike.
// mulberry32 for the stream, a splitmix32-style hash to derive independent seeds from
// (seed, epoch, example index) without any shared state.

/** Mix 32-bit integers into one well-spread 32-bit seed (splitmix32 finalizer per input). */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new RangeError(`seed parts must be finite numbers, got ${p}`);
    // Fold in the low and high 32 bits so seeds up to 2^53 stay distinct.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const v of [lo, hi]) {
      h = (h + v + 0x9e3779b9) | 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      h = (z ^ (z >>> 16)) | 0;
    }
  }
  return h >>> 0;
}

/** mulberry32: 32-bit state, period 2^32, passes the usual small-crush style checks. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = hashSeed(seed);
  }

  /** An independent generator for (seed, ...parts), e.g. (seed, epoch, index). */
  static derive(seed: number, ...parts: number[]): Rng {
    const r = new Rng(0);
    r.state = hashSeed(seed, ...parts);
    return r;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** A random element. */
  choice<T>(a: readonly T[]): T {
    if (a.length === 0) throw new RangeError('Rng.choice: empty array');
    return a[this.int(a.length)]!;
  }
}
