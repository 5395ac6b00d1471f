/** A WORKLOAD run's results per command (workload/mix-client.ts): counts, verdicts, bytes and latency histograms, mergeable. */
import { OpHistogram } from '../measure/histogram.js';
import type { Verdict } from '../workload/mix-model.js';
import type { CommandRecord } from './record.js';

interface Live {
  ops: number;
  errors: number;
  verified: number;
  missing: number;
  mismatched: number;
  unverified: number;
  sentBytes: number;
  readBytes: number;
  latency: OpHistogram;
  intended: OpHistogram | null;
}

export class CommandStats {
  readonly #by = new Map<string, Live>();
  /** Sizes of the values measured ops wrote. */
  readonly #sizes = new OpHistogram();
  /** Commands sent outside the measurement to keep keys expiring and known, by name, whether in the measured part or not. */
  readonly #housekeeping = new Map<string, number>();

  constructor(private readonly open: boolean) {}

  #of(name: string): Live {
    let s = this.#by.get(name);
    if (s === undefined) {
      s = {
        ops: 0, errors: 0, verified: 0, missing: 0, mismatched: 0, unverified: 0, sentBytes: 0, readBytes: 0,
        latency: new OpHistogram(), intended: this.open ? new OpHistogram() : null,
      };
      this.#by.set(name, s);
    }
    return s;
  }

  /** A measured op: its service time and intended-time latency (ns) when it succeeded. */
  op(name: string, ok: boolean, serviceNs: number, intendedNs: number | undefined): void {
    const s = this.#of(name);
    s.ops++;
    if (!ok) {
      s.errors++;
      return;
    }
    s.latency.record(serviceNs);
    if (intendedNs !== undefined) s.intended?.record(intendedNs);
  }

  /** A measured op's verdict, its bytes on the wire and the sizes of the values it wrote. */
  verdict(name: string, verdict: Verdict, sent: number, read: number, sizes: readonly number[]): void {
    const s = this.#of(name);
    s[verdict]++;
    s.sentBytes += sent;
    s.readBytes += read;
    for (const size of sizes) this.#sizes.record(size);
  }

  housekeeping(command: string): void {
    this.#housekeeping.set(command, (this.#housekeeping.get(command) ?? 0) + 1);
  }

  encodeHousekeeping(): Record<string, number> {
    return Object.fromEntries(this.#housekeeping);
  }

  get unverified(): number {
    let n = 0;
    for (const s of this.#by.values()) n += s.unverified;
    return n;
  }

  /** The sizes of the values written, HdrHistogram-encoded; undefined when none was. */
  encodeSizes(): string | undefined {
    return this.#sizes.count > 0 ? this.#sizes.encode() : undefined;
  }

  encode(): Record<string, CommandRecord> {
    return Object.fromEntries([...this.#by].map(([name, s]) => [name, {
      ops: s.ops, errors: s.errors, verified: s.verified, missing: s.missing, mismatched: s.mismatched, unverified: s.unverified,
      sentBytes: s.sentBytes, readBytes: s.readBytes, latency: s.latency.encode(), intended: s.intended?.encode() ?? null,
    }]));
  }
}
