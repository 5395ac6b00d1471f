import { build, type Histogram } from 'hdr-histogram-js';

/** Width of one timeline bucket in ms. */
export const BUCKET_MS = 100;

export type OpKind = 'set' | 'get';

/**
 * A stretch of failed ops with no successful op between them: when the first began, when the last ended, and when the
 * first op to succeed after them completed (null: none did before the run ended). Failed ops are paced by the loop
 * (see FAILURE_PAUSE_MS), so a run of failures holds at most one entry per ~10 ms of failing.
 */
export interface FailureRun {
  readonly firstStartMs: number;
  lastEndMs: number;
  /** Failed ops in the run. */
  count: number;
  /** Stalled ops in the run: they succeeded, but took STALL_MS or longer (a frozen server answering at last). */
  stalls: number;
  recoveredAtMs: number | null;
}

/**
 * A successful op this slow counts as unavailability, like a failed one: in a fault run the client retries and queues
 * until OP_TIMEOUT_MS, so a stall shorter than the deadline ends in a success, and a window built from failed ops alone
 * would shrink as the deadline grows. One second, as the window's quiet second (judge.ts QUIET_MS).
 */
export const STALL_MS = 1000;

/** One BUCKET_MS slice of a fault run's timeline (by the time an op ended). */
export interface Bucket {
  ok: number;
  failed: number;
  /** Reads that returned nothing, or other bytes, for a key written and acknowledged just before. */
  missing: number;
  mismatched: number;
  /** Latencies of the ops that succeeded, in ns (2 significant digits: 1% resolution, small memory). */
  readonly latency: Histogram;
}

/** A histogram for one bucket or a merge of buckets: packed (memory follows the values seen), 1% resolution. */
export function bucketHistogram(): Histogram {
  return build({ bitBucketSize: 'packed', lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 36, numberOfSignificantValueDigits: 2, autoResize: true });
}

/**
 * The history of one target's fault run, kept as it happens: a timeline of BUCKET_MS buckets and the runs of failed
 * ops with their times. Times are ms after the measurement started. Memory follows the run's length, not its op count.
 * Judging it (window, recovery, phases) is judge.ts's job: recording and judgement stay apart.
 */
export class FaultHistory {
  readonly buckets: Bucket[] = [];
  readonly failureRuns: FailureRun[] = [];
  /** When the fault was injected (ms), once it was. */
  faultAtMs: number | null = null;
  /** Failed ops by kind over the whole run. */
  readonly failed = { set: 0, get: 0 };
  /** Successful ops that took STALL_MS or longer. */
  stalled = 0;
  #open: FailureRun | undefined;

  constructor(private readonly startNs: bigint) {}

  /** ms since the start for a process.hrtime.bigint() reading. */
  ms(ns: bigint): number {
    return Number(ns - this.startNs) / 1e6;
  }

  bucketAt(ms: number): Bucket {
    const index = Math.max(0, Math.floor(ms / BUCKET_MS));
    while (this.buckets.length <= index) this.buckets.push({ ok: 0, failed: 0, missing: 0, mismatched: 0, latency: bucketHistogram() });
    return this.buckets[index] as Bucket;
  }

  ok(startNs: bigint, endNs: bigint): void {
    const end = this.ms(endNs);
    const bucket = this.bucketAt(end);
    bucket.ok++;
    const ns = Math.max(1, Number(endNs - startNs));
    bucket.latency.recordValue(ns);
    if (ns >= STALL_MS * 1e6) {
      this.stalled++;
      this.#extend(this.ms(startNs), end, 'stall');
    } else if (this.#open !== undefined) {
      this.#open.recoveredAtMs = end;
      this.#open = undefined;
    }
  }

  fail(op: OpKind, startNs: bigint, endNs: bigint): void {
    const end = this.ms(endNs);
    this.bucketAt(end).failed++;
    this.failed[op]++;
    this.#extend(this.ms(startNs), end, 'fail');
  }

  /** Adds a failed or stalled op to the open failure run, or opens one. */
  #extend(start: number, end: number, kind: 'fail' | 'stall'): void {
    // Failures under way when the fault came end their run there: the window counts only those after the fault.
    const straddles = this.#open !== undefined && this.faultAtMs !== null && this.#open.lastEndMs < this.faultAtMs && end >= this.faultAtMs;
    if (this.#open === undefined || straddles) {
      this.#open = { firstStartMs: start, lastEndMs: end, count: 0, stalls: 0, recoveredAtMs: null };
      this.failureRuns.push(this.#open);
    }
    this.#open.lastEndMs = end;
    if (kind === 'fail') this.#open.count++;
    else this.#open.stalls++;
  }

  badRead(kind: 'missing' | 'mismatched', atNs: bigint): void {
    this.bucketAt(this.ms(atNs))[kind]++;
  }
}
