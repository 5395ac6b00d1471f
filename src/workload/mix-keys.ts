/**
 * The keys of a WORKLOAD run and who owns them. Key index i (0 ≤ i < the process's KEYSPACE) belongs to virtual client
 * g = i mod G of the G = CLIENTS × WORKERS clients (client c of worker w is g = c·WORKERS + w, so a worker's preload
 * share, i ≡ w mod WORKERS, is exactly its clients' keys). One writer per key keeps the model exact (workload/mix-model.ts).
 * Client g's keys are g + j·G for j below its share; its j-th key is in hash-tag group ⌊j / width⌋, so {keys:N} names
 * keys of one cluster slot (and one owner).
 */
import type { KeyPattern } from '../config/workload.js';
import { ZipfSampler, keyPicker, shareCount } from './key-pickers.js';

const PAD = 'x'.repeat(256);

export class MixKeys {
  constructor(
    readonly prefix: string,
    readonly keyspace: number,
    /** CLIENTS × WORKERS. */
    readonly owners: number,
    /** Keys per hash-tag group (the widest {keys:N}); 1: no tags. */
    readonly width: number,
    /** A trace's key sizes per key index: a shorter name is padded to its size (config/trace.ts). */
    readonly keyBytes?: Uint8Array,
  ) {}

  /** The name of key index i (the preload, the load and the clean-up all name keys here). */
  name(i: number): string {
    if (this.keyBytes !== undefined) {
      const base = `${this.prefix}ks:${i}`;
      const size = this.keyBytes[i] ?? 0;
      return size > base.length + 1 ? `${base}:${PAD.slice(0, size - base.length - 1)}` : base;
    }
    if (this.width <= 1) return `${this.prefix}ks:${i}`;
    const g = i % this.owners;
    const j = Math.floor(i / this.owners);
    return `${this.prefix}ks:{${g}.${Math.floor(j / this.width)}}${i}`;
  }

  /** How many keys client g owns. */
  share(g: number): number {
    return shareCount(g, this.owners, this.keyspace);
  }

  /** Client g's j-th key. */
  index(g: number, j: number): number {
    return g + j * this.owners;
  }

  /** n keys of i's group, starting with i (fewer where the owner's share ends). */
  group(i: number, n: number): number[] {
    const g = i % this.owners;
    const j = Math.floor(i / this.owners);
    const first = Math.floor(j / this.width) * this.width;
    const end = Math.min(first + this.width, this.share(g));
    const out = [i];
    for (let k = first; k < end && out.length < n; k++) if (k !== j) out.push(this.index(g, k));
    return out;
  }
}

/**
 * Picks j in [0, share) for one client and one key pattern. latest: zipf ranks back from the key the client wrote last
 * (`last()`); gaussian: around the middle of the share, standard deviation share/6.
 */
export function mixPicker(pattern: KeyPattern, share: number, random: () => number, start: number, last: () => number): () => number {
  switch (pattern.kind) {
    case 'latest': {
      const zipf = new ZipfSampler(share, pattern.exponent, random);
      return () => (((last() - (zipf.sample() - 1)) % share) + share) % share;
    }
    case 'gaussian':
      return () => {
        const u = 1 - random();
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
        return Math.min(share - 1, Math.max(0, Math.round(share / 2 + (z * share) / 6)));
      };
    default:
      return keyPicker(pattern, share, random, start);
  }
}
