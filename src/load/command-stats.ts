/** A WORKLOAD run's results per command (load/mix-client.ts): counts, verdicts, bytes and latency histograms, mergeable. */
import { OpHistogram } from '../measure/histogram.js';
import type { CommandReply } from '../targets/client.js';
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

/** Decimal digits of a non-negative integer. */
const digits = (n: number): number => (n < 10 ? 1 : Math.floor(Math.log10(n)) + 1);

/**
 * Bytes of a command in RESP (`*N\r\n` then `$len\r\n<bytes>\r\n` per argument), as every driver sends it. A WORKLOAD's
 * text arguments are ASCII (key names, fields, members, numbers, ASCII literals: config/workload.ts), one byte per character.
 */
export function requestBytes(args: readonly (string | Buffer)[]): number {
  let n = 3 + digits(args.length);
  for (const a of args) {
    const len = a.length;
    n += 5 + digits(len) + len;
  }
  return n;
}

/**
 * Bytes of a reply in RESP2 as its shape gives it: a bulk string `$len\r\n…\r\n`, an integer `:n\r\n`, nil `$-1\r\n`, an
 * array `*N\r\n…`. A status (+OK) arrives as a Buffer too and is counted as a bulk string (3 bytes more); a RESP3 double as
 * an integer's text.
 */
export function replyBytes(reply: CommandReply): number {
  if (reply === null) return 5;
  if (typeof reply === 'number') return 3 + String(reply).length;
  if (Buffer.isBuffer(reply)) return 5 + digits(reply.length) + reply.length;
  let n = 3 + digits(reply.length);
  for (const r of reply) n += replyBytes(r);
  return n;
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
