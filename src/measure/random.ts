import { randomInt } from 'node:crypto';

/** Largest seed `--seed` accepts (32 bits). */
export const MAX_SEED = 0xffffffff;

/** A fresh seed for a run that was not given one (recorded, so the run can be repeated with --seed). */
export function newSeed(): number {
  return randomInt(0, MAX_SEED);
}

/**
 * mulberry32: a small, fast PRNG with a 32-bit state; uniform [0, 1). The same seed gives the same
 * round orders, so a run's shuffles can be reproduced exactly.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks index i with probability weights[i] / Σ weights, by `random` (uniform in [0, 1)): cumulative weights, searched. */
export function weightedPicker(weights: readonly number[], random: () => number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return () => {
    const x = random() * total;
    let k = 0;
    while (k < cumulative.length - 1 && x >= (cumulative[k] as number)) k++;
    return k;
  };
}
