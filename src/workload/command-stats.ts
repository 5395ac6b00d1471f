/** A WORKLOAD's results per command (workload/mix-client.ts), in throughput and fault runs: counts, verdicts, bytes and latency histograms, mergeable. */
import { OpHistogram, type OpStats } from '../measure/histogram.js';
import type { Verdict } from './mix-model.js';

/** One command's measured ops in one record (a worker's, or merged; a transaction or a script counts as one op). */
export interface CommandRecord {
  /** Ops sent in the measured part (succeeded + failed). */
  readonly ops: number;
  readonly errors: number;
  /** Replies checked against the model: as expected, empty where a value was expected, other, or not judgeable (the key's state unknown). */
  readonly verified: number;
  readonly missing: number;
  readonly mismatched: number;
  readonly unverified: number;
  /** Reads answered with an earlier state of their key (a replica behind its primary); present where staleness is judged. */
  readonly stale?: number;
  /**
   * Bytes its requests took on the wire (RESP, exact) and its replies took (RESP2 as the reply's shape gives it: a status
   * such as +OK counted as a bulk string, 3 bytes more).
   */
  readonly sentBytes: number;
  readonly readBytes: number;
  /** Service times (ns) of its successful ops, HdrHistogram-encoded; and from the intended send time (open loop; else null). */
  readonly latency: string;
  readonly intended: string | null;
}

/** One command of a WORKLOAD run (see CommandRecord). */
export interface CommandSummary {
  readonly command: string;
  /** Sent in the measured part (succeeded + failed), and their share of all the target's ops (0–1). */
  readonly ops: number;
  readonly share: number;
  /** Successful ops per measured second. */
  readonly opsPerSec: number;
  readonly service: OpStats;
  /** Open loop: from the intended send time; null in closed loop. */
  readonly intended: OpStats | null;
  readonly verified: number;
  readonly missing: number;
  readonly mismatched: number;
  readonly unverified: number;
  /** Reads answered with an earlier state of their key; present where staleness is judged (replica reads). */
  readonly stale?: number;
  /** Bytes on the wire per answered op: the request (RESP, exact) and the reply (as RESP2; see CommandRecord); null: none answered. */
  readonly sentBytesPerOp: number | null;
  readonly readBytesPerOp: number | null;
}

interface Live {
  ops: number;
  errors: number;
  verified: number;
  missing: number;
  mismatched: number;
  unverified: number;
  stale: number;
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

  /** `staleness`: reads are judged against earlier states too (replica reads), and the stale ones counted. */
  constructor(private readonly open: boolean, private readonly staleness = false) {}

  #of(name: string): Live {
    let s = this.#by.get(name);
    if (s === undefined) {
      s = {
        ops: 0, errors: 0, verified: 0, missing: 0, mismatched: 0, unverified: 0, stale: 0, sentBytes: 0, readBytes: 0,
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
      ...(this.staleness ? { stale: s.stale } : {}), sentBytes: s.sentBytes, readBytes: s.readBytes, latency: s.latency.encode(),
      intended: s.intended?.encode() ?? null,
    }]));
  }
}

/** The per-command summaries of a record's commands over `durationMs`, the most sent first. */
export function summarizeCommands(commands: Readonly<Record<string, CommandRecord>>, durationMs: number): CommandSummary[] {
  const all = Object.values(commands).reduce((n, c) => n + c.ops, 0);
  return Object.entries(commands).map(([command, c]) => ({
    command, ops: c.ops, share: all > 0 ? c.ops / all : 0, opsPerSec: durationMs > 0 ? (c.ops - c.errors) / (durationMs / 1000) : 0,
    service: stats(c.latency, c.errors), intended: c.intended === null ? null : stats(c.intended, c.errors),
    verified: c.verified, missing: c.missing, mismatched: c.mismatched, unverified: c.unverified,
    ...(c.stale !== undefined ? { stale: c.stale } : {}),
    ...perOp(c.sentBytes, c.readBytes, c.verified + c.missing + c.mismatched + c.unverified + (c.stale ?? 0)),
  })).sort((a, b) => b.ops - a.ops || (a.command < b.command ? -1 : 1));
}

const perOp = (sent: number, read: number, n: number): Pick<CommandSummary, 'sentBytesPerOp' | 'readBytesPerOp'> =>
  (n > 0 ? { sentBytesPerOp: Math.round(sent / n), readBytesPerOp: Math.round(read / n) } : { sentBytesPerOp: null, readBytesPerOp: null });

const stats = (encoded: string | null, errors: number): OpStats => (encoded === null ? { count: 0, errors } : OpHistogram.decode(encoded).summarize(errors));

/** The sizes of the values a WORKLOAD's measured ops wrote (HdrHistogram: within 0.1%). */
export interface ValueSizes {
  readonly written: number;
  readonly meanBytes: number;
  readonly minBytes: number;
  readonly p50Bytes: number;
  readonly p90Bytes: number;
  readonly p99Bytes: number;
  readonly maxBytes: number;
}

/** Value sizes from their encoded histogram (CommandStats.encodeSizes); undefined when none was written. */
export function valueSizesOf(encoded: string | undefined): ValueSizes | undefined {
  if (encoded === undefined) return undefined;
  const h = OpHistogram.decode(encoded);
  if (h.count === 0) return undefined;
  return {
    written: h.count, meanBytes: Math.round(h.mean), minBytes: h.valueAt(0), p50Bytes: h.valueAt(50), p90Bytes: h.valueAt(90), p99Bytes: h.valueAt(99),
    maxBytes: h.max,
  };
}
