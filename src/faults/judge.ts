import { BUCKET_MS, bucketHistogram, type Bucket, type FailureRun } from './history.js';

/** A window ends at the first stretch this long with no failed op (a full second). */
export const QUIET_MS = 1000;
/** Throughput counts as recovered at this share of its pre-fault mean. */
export const RECOVERED_SHARE = 0.9;
/** The first second is left out of the pre-fault throughput (connections and JIT warming up) when the fault comes later than twice that. */
const SETTLE_MS = 1000;

/** Latency of the ops that succeeded in one phase, in µs; null values when no op succeeded in it. */
export interface PhaseLatency {
  readonly fromMs: number;
  readonly toMs: number;
  readonly ops: number;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
  readonly maxUs: number | null;
}

/** What a fault run's history says, judged after the run (see DESIGN: measurement and judgement apart). */
export interface FaultVerdict {
  /**
   * The failure window: from the start of the first op that failed (or stalled: succeeded after STALL_MS or more) after
   * the fault (not earlier than the fault) to the completion of the first op that succeeded in time after the window's
   * last failed or stalled op — the one followed by a full second (QUIET_MS) with none. 0 when no op failed or
   * stalled; null when it never closed.
   */
  readonly windowMs: number | null;
  readonly windowStartMs: number | null;
  readonly windowEndMs: number | null;
  /** Failed ops inside the window (FaultHistory starts a new failure run at the fault, so none from before it). */
  readonly windowFailedOps: number;
  /** Stalled ops (successes after STALL_MS or more) inside the window. */
  readonly windowStalledOps: number;
  /** Reads inside the window that returned nothing or other bytes for a key just written. */
  readonly windowBadReads: { readonly missing: number; readonly mismatched: number };
  /**
   * From the fault to the start of the first full second, at or after the window's end, with no failed op and the
   * pre-fault throughput (see recoveredThreshold); null if that never came.
   */
  readonly recoveryMs: number | null;
  /** Mean successful ops per second before the fault (the first second left out when there is time). */
  readonly preFaultOpsPerSec: number | null;
  /**
   * before: until the fault; during: from the fault to the window's end (or recovery) or the end of the fault's action,
   * whichever is later; after: the rest.
   */
  readonly latency: { readonly before: PhaseLatency; readonly during: PhaseLatency; readonly after: PhaseLatency };
}

export interface Timeline {
  readonly bucketMs: number;
  readonly ok: readonly number[];
  readonly failed: readonly number[];
  readonly p50Us: readonly (number | null)[];
  readonly p99Us: readonly (number | null)[];
}

const us = (ns: number): number => Math.round(ns / 10) / 100;

/**
 * Latency of one phase from the buckets that begin in [fromMs, toMs): each bucket belongs to exactly one phase (a
 * boundary inside a bucket attributes the whole bucket to the phase it began in), so the phases add up to the run.
 */
function phase(buckets: readonly Bucket[], fromMs: number, toMs: number): PhaseLatency {
  const merged = bucketHistogram();
  const first = Math.max(0, Math.ceil(fromMs / BUCKET_MS));
  const last = Math.min(buckets.length, Math.ceil(toMs / BUCKET_MS));
  for (let i = first; i < last; i++) {
    const b = buckets[i] as Bucket;
    if (b.ok > 0) merged.add(b.latency);
  }
  const ops = merged.totalCount;
  // A percentile is reported at its histogram bucket's upper edge; never above the largest value seen.
  const at = (p: number): number => us(Math.min(merged.getValueAtPercentile(p), merged.maxValue));
  return {
    fromMs: Math.round(fromMs), toMs: Math.round(toMs), ops,
    p50Us: ops > 0 ? at(50) : null,
    p99Us: ops > 0 ? at(99) : null,
    maxUs: ops > 0 ? us(merged.maxValue) : null,
  };
}

/**
 * Successful ops in a full second that count as recovered. With two or more full pre-fault seconds: RECOVERED_SHARE of
 * their median, or the slowest of them if that is lower (a second as slow as one before the fault is within the
 * pre-fault noise), but never under half the median (one stalled second before the fault is no reference). With fewer:
 * RECOVERED_SHARE of the pre-fault mean. Null with no pre-fault throughput.
 */
function recoveredThreshold(pre: readonly Bucket[], span: number, preOkPerBucket: number | null): number | null {
  if (preOkPerBucket === null) return null;
  const seconds: number[] = [];
  for (let i = 0; i + span <= pre.length; i += span) seconds.push(pre.slice(i, i + span).reduce((n, b) => n + b.ok, 0));
  if (seconds.length < 2) return RECOVERED_SHARE * preOkPerBucket * span;
  const sorted = [...seconds].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return Math.max(0.5 * median, Math.min(RECOVERED_SHARE * median, sorted[0] as number));
}

/**
 * Judges a fault run: `buckets` and `runs` as FaultHistory recorded them, `faultAtMs` when the fault was injected,
 * `endMs` when the timed part ended, `actionEndMs` when the nemesis's action was over (default: at once).
 */
export function judgeFault(buckets: readonly Bucket[], runs: readonly FailureRun[], faultAtMs: number, endMs: number, actionEndMs = faultAtMs): FaultVerdict {
  // The window: failure runs that ended after the fault, merged while less than QUIET_MS separates them.
  const after = runs.filter((r) => r.lastEndMs >= faultAtMs);
  let windowStartMs: number | null = null;
  let windowEndMs: number | null = null;
  let windowFailedOps = 0;
  let windowStalledOps = 0;
  let closed = true;
  if (after.length > 0) {
    const first = after[0] as FailureRun;
    windowStartMs = Math.max(first.firstStartMs, faultAtMs);
    let last = first;
    windowFailedOps = first.count;
    windowStalledOps = first.stalls;
    for (const next of after.slice(1)) {
      if (next.firstStartMs - last.lastEndMs >= QUIET_MS) break;
      last = next;
      windowFailedOps += next.count;
      windowStalledOps += next.stalls;
    }
    closed = last.recoveredAtMs !== null && endMs - last.lastEndMs >= QUIET_MS;
    windowEndMs = closed ? last.recoveredAtMs : null;
  }
  const windowMs = windowStartMs === null ? 0 : windowEndMs === null ? null : windowEndMs - windowStartMs;

  const faultBucket = Math.floor(faultAtMs / BUCKET_MS);
  const settle = faultAtMs >= 2 * SETTLE_MS ? SETTLE_MS / BUCKET_MS : 0;
  const pre = buckets.slice(settle, faultBucket);
  const preOkPerBucket = pre.length > 0 ? pre.reduce((n, b) => n + b.ok, 0) / pre.length : null;
  const preFaultOpsPerSec = preOkPerBucket === null ? null : Math.round(preOkPerBucket * (1000 / BUCKET_MS));

  // Recovery: the first full second from the window's end (or the fault) with no failure and enough throughput.
  let recoveryMs: number | null = null;
  const span = QUIET_MS / BUCKET_MS;
  const endBucket = Math.floor(endMs / BUCKET_MS);
  const recoveredOps = recoveredThreshold(pre, span, preOkPerBucket);
  if (recoveredOps !== null && (windowStartMs === null || windowEndMs !== null)) {
    const from = Math.ceil((windowEndMs ?? faultAtMs) / BUCKET_MS);
    for (let b = Math.max(from, faultBucket); b + span <= Math.min(endBucket, buckets.length); b++) {
      const stretch = buckets.slice(b, b + span);
      const ok = stretch.reduce((n, x) => n + x.ok, 0);
      if (stretch.every((x) => x.failed === 0) && ok >= recoveredOps) {
        recoveryMs = Math.max(0, b * BUCKET_MS - faultAtMs);
        break;
      }
    }
  }

  // During: from the fault to the window's end (or recovery), and at least until the nemesis finished its action (a
  // pause until SIGCONT, a restart until the server is back, a scaling event until its slots have moved).
  const duringEnd = Math.min(endMs, Math.max(windowEndMs ?? (recoveryMs !== null ? faultAtMs + recoveryMs : endMs), actionEndMs));
  const windowBadReads = { missing: 0, mismatched: 0 };
  if (windowStartMs !== null) {
    const last = Math.min(buckets.length, Math.ceil((windowEndMs ?? endMs) / BUCKET_MS));
    for (let i = Math.floor(windowStartMs / BUCKET_MS); i < last; i++) {
      windowBadReads.missing += (buckets[i] as Bucket).missing;
      windowBadReads.mismatched += (buckets[i] as Bucket).mismatched;
    }
  }
  return {
    windowMs: windowMs === null ? null : Math.round(windowMs),
    windowStartMs: windowStartMs === null ? null : Math.round(windowStartMs),
    windowEndMs: windowEndMs === null ? null : Math.round(windowEndMs),
    windowFailedOps,
    windowStalledOps,
    windowBadReads,
    recoveryMs: recoveryMs === null ? null : Math.round(recoveryMs),
    preFaultOpsPerSec,
    latency: {
      before: phase(buckets, 0, faultAtMs),
      during: phase(buckets, faultAtMs, duringEnd),
      after: phase(buckets, duringEnd, endMs),
    },
  };
}

/** The timeline as data: per bucket, ops that succeeded and failed, and the p50/p99 of those that succeeded (µs). */
export function timeline(buckets: readonly Bucket[]): Timeline {
  return {
    bucketMs: BUCKET_MS,
    ok: buckets.map((b) => b.ok),
    failed: buckets.map((b) => b.failed),
    p50Us: buckets.map((b) => (b.ok > 0 ? us(Math.min(b.latency.getValueAtPercentile(50), b.latency.maxValue)) : null)),
    p99Us: buckets.map((b) => (b.ok > 0 ? us(Math.min(b.latency.getValueAtPercentile(99), b.latency.maxValue)) : null)),
  };
}
