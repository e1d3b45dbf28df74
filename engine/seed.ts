// The global seed stream: setSeed() makes every later random draw (dropout seeds, parameter
// initialisation) reproducible.

import { SeededRandom } from './random.js';

let stream = new SeededRandom(0x5eed);

/** Restarts the global random stream from `seed`. */
export function setSeed(seed: number): void {
  stream = new SeededRandom(seed);
}

/** The next 32-bit seed of the global stream. */
export function nextSeed(): number {
  return stream.nextU32();
}

/** The global generator itself (for host-side sampling). */
export function globalRandom(): SeededRandom {
  return stream;
}
