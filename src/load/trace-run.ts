/** A worker's part of a TRACE run: the trace's ops split over its virtual clients, and what the replay counts. */
import type { TracePlan } from '../config/plan.js';
import { TRACE_COMMANDS } from '../config/trace-plan.js';
import { TRACE_OPS, type Trace, type TraceOpName } from '../config/trace.js';

/** What one worker's replay counts besides the per-command records (measured ops only). */
export interface TraceTally {
  hits: number;
  misses: number;
  /** SETs sent after a get that missed (also counted as SET ops). */
  refills: number;
  /** Ops of operations without a RESP command cachebench verifies (append, prepend), per operation. */
  readonly skipped: Record<string, number>;
}

/** A worker's part of a replay: the trace, its clients' ops, and its tally. */
export interface TraceRun {
  readonly trace: Trace;
  /** TRACE_SPEED; null: max. */
  readonly speed: number | null;
  /** Per virtual client of this worker: the indexes of its ops, in time order. */
  readonly ops: readonly Uint32Array[];
  /** Ops of this worker's clients due in the measured part (a factor); null at max. */
  readonly scheduled: number | null;
  /** The size of a value the trace does not size; the TTL of a write without one (KEY_TTL). */
  readonly payloadBytes: number;
  readonly ttlSeconds: number;
  readonly tally: TraceTally;
}

/**
 * Splits a trace's ops over this worker's clients (client c of worker w is owner g = c·W + w of keys k ≡ g mod
 * CLIENTS × W), and counts those due in the measured part.
 */
export function traceRun(trace: Trace, plan: TracePlan, clients: number, worker: { index: number; of: number },
  window: { warmupMs: number; durationMs: number }, payloadBytes: number, ttlSeconds: number): TraceRun {
  const owners = clients * worker.of;
  const counts = new Uint32Array(clients);
  const mine = (k: number): number => {
    const g = k % owners;
    return g % worker.of === worker.index ? Math.floor(g / worker.of) : -1;
  };
  for (let i = 0; i < trace.ops; i++) {
    const c = mine(trace.key[i] as number);
    if (c >= 0) counts[c] = (counts[c] as number) + 1;
  }
  const ops = Array.from(counts, (n) => new Uint32Array(n));
  const filled = new Uint32Array(clients);
  let scheduled = 0;
  for (let i = 0; i < trace.ops; i++) {
    const c = mine(trace.key[i] as number);
    if (c < 0) continue;
    const f = filled[c] as number;
    (ops[c] as Uint32Array)[f] = i;
    filled[c] = f + 1;
    if (plan.speed === null || TRACE_COMMANDS[TRACE_OPS[trace.op[i] as number] as TraceOpName] === undefined) continue;
    const at = (trace.atMs[i] as number) / plan.speed;
    if (at >= window.warmupMs && at < window.warmupMs + window.durationMs) scheduled++;
  }
  return {
    trace, speed: plan.speed, ops, scheduled: plan.speed === null ? null : scheduled, payloadBytes, ttlSeconds,
    tally: { hits: 0, misses: 0, refills: 0, skipped: {} },
  };
}
