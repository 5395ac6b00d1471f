/**
 * How a client picks keys of a key space: zipf ranks (any size, O(1)), the KEY_DISTRIBUTION pickers, and a client's share
 * of the indexes. Used by the load's KEYSPACE mix and by every WORKLOAD loop (load and fault runs).
 */
import type { KeyDistribution } from '../config/resolve.js';

/**
 * Zipf ranks 1..n with P(k) ∝ 1/k^exponent, by rejection-inversion (Hörmann & Derflinger 1996, as in Apache Commons
 * RNG's RejectionInversionZipfSampler): O(1) memory and time per draw whatever n, so a 100-million-key space costs
 * nothing to set up.
 */
export class ZipfSampler {
  readonly #hIntegralX1: number;
  readonly #hIntegralN: number;
  readonly #s: number;

  constructor(
    readonly n: number,
    readonly exponent: number,
    readonly random: () => number,
  ) {
    this.#hIntegralX1 = this.#hIntegral(1.5) - 1;
    this.#hIntegralN = this.#hIntegral(n + 0.5);
    this.#s = 2 - this.#hIntegralInverse(this.#hIntegral(2.5) - this.#h(2));
  }

  /** A rank from 1 (the most frequent) to n. */
  sample(): number {
    for (;;) {
      const u = this.#hIntegralN + this.random() * (this.#hIntegralX1 - this.#hIntegralN);
      const x = this.#hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.#s || u >= this.#hIntegral(k + 0.5) - this.#h(k)) return k;
    }
  }

  #h(x: number): number {
    return Math.exp(-this.exponent * Math.log(x));
  }

  #hIntegral(x: number): number {
    const logX = Math.log(x);
    return helper2((1 - this.exponent) * logX) * logX;
  }

  #hIntegralInverse(x: number): number {
    let t = x * (1 - this.exponent);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }
}

/** log1p(x)/x, exact near 0. */
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x)/x, exact near 0. */
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x * (1 / 3)) * (1 + 0.25 * x));
}

/**
 * Picks key indexes 0..keyspace-1 for one virtual client. Zipf rank r is index r−1: key names are hashed to slots, so
 * the hot keys land on slots (and cluster nodes) as any key would. `sequential` walks the keys in order from a
 * starting point that spreads the clients over the key space.
 */
export function keyPicker(distribution: KeyDistribution, keyspace: number, random: () => number, start = 0): () => number {
  switch (distribution.kind) {
    case 'uniform':
      return () => Math.floor(random() * keyspace);
    case 'sequential': {
      let next = start % keyspace;
      return () => {
        const i = next;
        next = (next + 1) % keyspace;
        return i;
      };
    }
    case 'zipf': {
      const zipf = new ZipfSampler(keyspace, distribution.exponent, random);
      return () => zipf.sample() - 1;
    }
  }
}

/** How many of the indexes first, first + step, … below end there are (one worker's share of a KEYSPACE). */
export function shareCount(first: number, step: number, end: number): number {
  return end > first ? Math.ceil((end - first) / step) : 0;
}
