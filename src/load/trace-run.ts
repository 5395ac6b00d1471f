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
  /** Replies that found a key gone which the replay had written (evicted by the server, or lost): misses, not failures. */
  lost: number;
  /** Ops of operations without a RESP command cachebench verifies (append, prepend), per operation. */
  readonly skipped: Record<string, number>;
}

/** A worker's part of a replay: the trace, its clients' ops, and its tally. */
export interface TraceRun {
  readonly trace: Trace;
  /** TRACE_SPEED; null: max. */
  readonly speed: number | null;
  /**
   * At a factor: per virtual client of this worker, the indexes of its ops in time order. At max: one list, this
   * worker's ops in trace order, which its clients take in turn (TraceRun.cursor), a key's op waiting for its last one.
   */
  readonly ops: readonly Uint32Array[];
  /** At max: the next op of the shared list, and the keys with an op in flight (what their next op waits for). */
  readonly shared: { cursor: number; readonly busy: Map<number, Promise<void>> };
  /** Ops of this worker's clients due in the measured part (a factor); null at max. */
  readonly scheduled: number | null;
  /** The size of a value the trace does not size; the TTL of a write without one (KEY_TTL). */
  readonly payloadBytes: number;
  readonly ttlSeconds: number;
  /** TRACE_REFILL: a get that misses is refilled with a SET. */
  readonly refill: boolean;
  /** This worker's connections: at max each key's ops go on connection key mod this (a late reply of a timed-out op stays ahead of the next). */
  readonly connections: number;
  readonly tally: TraceTally;
}

/**
 * Splits a trace's ops over this worker's clients (client c of worker w is owner g = c·W + w of keys k ≡ g mod
 * CLIENTS × W), and counts those due in the measured part.
 */
export function traceRun(trace: Trace, plan: TracePlan, clients: number, worker: { index: number; of: number },
  window: { warmupMs: number; durationMs: number }, payloadBytes: number, ttlSeconds: number, connections = 1): TraceRun {
  // At max one list for the worker (keys k ≡ w mod W), taken in turn by its clients: the trace's mix and key popularity
  // stay what they are (per-client lists replayed at one pace would repeat a cold key as often as the hottest).
  const lists = plan.speed === null ? 1 : clients;
  const owners = clients * worker.of;
  const counts = new Uint32Array(lists);
  const mine = (k: number): number => {
    if (plan.speed === null) return k % worker.of === worker.index ? 0 : -1;
    const g = k % owners;
    return g % worker.of === worker.index ? Math.floor(g / worker.of) : -1;
  };
  for (let i = 0; i < trace.ops; i++) {
    const c = mine(trace.key[i] as number);
    if (c >= 0) counts[c] = (counts[c] as number) + 1;
  }
  const ops = Array.from(counts, (n) => new Uint32Array(n));
  const filled = new Uint32Array(lists);
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
    trace, speed: plan.speed, refill: plan.refill !== false, connections, ops, shared: { cursor: 0, busy: new Map() },
    scheduled: plan.speed === null ? null : scheduled,
    payloadBytes, ttlSeconds,
    tally: { hits: 0, misses: 0, refills: 0, lost: 0, skipped: {} },
  };
}
