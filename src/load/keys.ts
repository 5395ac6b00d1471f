import { DELETE_BATCH_KEYS, KEYSPACE_HEADER_BYTES } from '../config/limits.js';
import { seededRandom } from '../measure/random.js';

const CHECK_WORD = 0x63626b73; // "cbks"

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
