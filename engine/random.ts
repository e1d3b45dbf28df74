// Counter-based random numbers: uniform(seed, i) is a pure function of (seed, i), so the
// dropout mask for element i is recomputed in the backward pass instead of being stored, and
// the WGSL kernel (kernels/dropout.ts) and the reference backend agree bit for bit.
// The mixer is the "lowbias32" integer hash (Chris Wellons), applied twice with the seed folded in.

/** 32-bit integer hash (lowbias32). */
export function hash32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Uniform float in [0, 1) with 24 bits of resolution for element `i` under `seed`. */
export function uniform(seed: number, i: number): number {
  const h = hash32((hash32(seed >>> 0) ^ (i >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}

/** WGSL twin of hash32/uniform; kernels include this text verbatim. */
export const WGSL_RANDOM = /* wgsl */ `
fn hash32(v: u32) -> u32 {
  var x = v;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}
fn uniform01(seed: u32, i: u32) -> f32 {
  let h = hash32(hash32(seed) ^ i);
  return f32(h >> 8u) / 16777216.0;
}
`;

/** A small seeded generator for host-side choices (seeds for dropout, init). splitmix32. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal by Box-Muller. */
  normal(): number {
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
