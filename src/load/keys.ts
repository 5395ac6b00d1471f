import type { KeyDistribution } from '../config/resolve.js';
import { DELETE_BATCH_KEYS, KEYSPACE_HEADER_BYTES } from '../config/limits.js';
import { seededRandom } from '../measure/random.js';

const CHECK_WORD = 0x63626b73; // "cbks"

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

/**
 * The values of a KEYSPACE: one block of random bytes (from the run's seed, so every worker has the same) with each
 * key's index stamped into its first bytes. A value read back must be exactly its key's: a value of another key
 * (misrouted) or any other bytes fail verification. Building or checking a value copies or compares PAYLOAD_BYTES,
 * with no per-key state, so the key space can be far larger than memory.
 */
export class KeyspaceValues {
  readonly #block: Buffer;

  constructor(readonly payloadBytes: number, seed: number) {
    const random = seededRandom(seed ^ 0x5bd1e995);
    this.#block = Buffer.allocUnsafe(payloadBytes);
    for (let i = 0; i < payloadBytes; i++) this.#block[i] = Math.floor(random() * 256);
  }

  /** Writes key `index`'s value into `into` (PAYLOAD_BYTES long; reused across writes of one client). */
  fill(into: Buffer, index: number): Buffer {
    this.#block.copy(into);
    into.writeUInt32LE(index >>> 0, 0);
    into.writeUInt32LE(CHECK_WORD, 4);
    return into;
  }

  /** A fresh buffer holding key `index`'s value. */
  value(index: number): Buffer {
    return this.fill(Buffer.allocUnsafe(this.payloadBytes), index);
  }

  /** Whether `read` is exactly key `index`'s value. */
  matches(read: Buffer, index: number): boolean {
    const n = this.payloadBytes;
    return read.length === n && read.readUInt32LE(0) === index >>> 0 && read.readUInt32LE(4) === CHECK_WORD &&
      read.compare(this.#block, KEYSPACE_HEADER_BYTES, n, KEYSPACE_HEADER_BYTES, n) === 0;
  }
}

/** The name of KEYSPACE key `index`: the preload, the load and the clean-up all name keys here. */
export function keyspaceKey(prefix: string, index: number): string {
  return `${prefix}ks:${index}`;
}

/** How many of the indexes first, first + step, … below end there are (one worker's share of a KEYSPACE). */
export function shareCount(first: number, step: number, end: number): number {
  return end > first ? Math.ceil((end - first) / step) : 0;
}

/**
 * The names of KEYSPACE keys first, first + step, … below end (a worker's share, as far as its preload got), generated
 * `size` at a time (named by `name`: a WORKLOAD names its keys otherwise): the clean-up of any KEYSPACE holds one batch of names, never the whole key space.
 */
export function* keyspaceBatches(prefix: string, first: number, step: number, end: number, size = DELETE_BATCH_KEYS,
  name: (index: number) => string = (i) => keyspaceKey(prefix, i)): Generator<string[]> {
  let batch: string[] = [];
  for (let i = first; i < end; i += step) {
    batch.push(name(i));
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
