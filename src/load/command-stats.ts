/** A WORKLOAD run's results per command (load/mix-client.ts): counts, verdicts and latency histograms, mergeable. */
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
  latency: OpHistogram;
  intended: OpHistogram | null;
}

export class CommandStats {
  readonly #by = new Map<string, Live>();

  constructor(private readonly open: boolean) {}

  #of(name: string): Live {
    let s = this.#by.get(name);
    if (s === undefined) {
      s = {
        ops: 0, errors: 0, verified: 0, missing: 0, mismatched: 0, unverified: 0, latency: new OpHistogram(), intended: this.open ? new OpHistogram() : null,
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

  verdict(name: string, verdict: Verdict): void {
    this.#of(name)[verdict]++;
  }

  get unverified(): number {
    let n = 0;
    for (const s of this.#by.values()) n += s.unverified;
    return n;
  }

  encode(): Record<string, CommandRecord> {
    return Object.fromEntries([...this.#by].map(([name, s]) => [name, {
      ops: s.ops, errors: s.errors, verified: s.verified, missing: s.missing, mismatched: s.mismatched, unverified: s.unverified,
      latency: s.latency.encode(), intended: s.intended?.encode() ?? null,
    }]));
  }
}
