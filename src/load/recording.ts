/** What a load worker keeps per connection and per second while it runs (see LoadWorker). */
import { OpHistogram } from '../measure/histogram.js';
import type { SecondRecord } from './record.js';

/** A pipeline's slots on one connection: at most PIPELINE ops in flight, the rest wait in order. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }

  acquire(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

const bump = (counts: Float64Array, i: number): void => {
  counts[i] = (counts[i] ?? 0) + 1;
};

/**
 * Per-second recording of the measured part (by completion time): one latency histogram per second. Ops complete in
 * time order, so once an op lands in second s no earlier second can change: it is encoded and the histogram reset for
 * the next, so a 6-hour run holds one live histogram, not 21,600. (A plain histogram, not a packed one: a packed
 * array's index lookups were 2.4% of a load worker's CPU at 29,000 ops/s; encoding the plain one takes about a
 * millisecond a second.)
 */
export class Seconds {
  readonly #ops: Float64Array;
  readonly #sets: Float64Array;
  readonly #gets: Float64Array;
  readonly #errors: Float64Array;
  readonly #encoded: string[] = [];
  #current = 0;
  readonly #latency = new OpHistogram();
  constructor(readonly count: number) {
    this.#ops = new Float64Array(count);
    this.#sets = new Float64Array(count);
    this.#gets = new Float64Array(count);
    this.#errors = new Float64Array(count);
  }

  /** Closes every second before `second`. */
  #advance(second: number): void {
    while (this.#current < second) {
      this.#encoded[this.#current++] = this.#latency.encode();
      this.#latency.reset();
    }
  }

  ok(second: number, kind: 'set' | 'get', latencyNs: number): void {
    this.#advance(second);
    bump(this.#ops, second);
    bump(kind === 'set' ? this.#sets : this.#gets, second);
    this.#latency.record(latencyNs);
  }

  failed(second: number, kind: 'set' | 'get'): void {
    this.#advance(second);
    bump(this.#errors, second);
    bump(kind === 'set' ? this.#sets : this.#gets, second);
  }

  /** `startOf(s)`: Unix ms at which measured second s began. */
  records(startOf: (second: number) => number): SecondRecord[] {
    this.#advance(this.count);
    return Array.from({ length: this.count }, (_, s) => ({
      t: startOf(s), ops: this.#ops[s] as number, sets: this.#sets[s] as number, gets: this.#gets[s] as number,
      errors: this.#errors[s] as number, latency: this.#encoded[s] as string,
    }));
  }
}
