/**
 * One virtual client of a TRACE run: it replays, at their times in the trace (scaled by TRACE_SPEED), the ops of the
 * keys it owns (key index k belongs to client k mod CLIENTS × WORKERS, as a WORKLOAD's keys do: one writer per key, so
 * each key's ops keep their order and every reply has one right answer). Each op is sent as the RESP command the
 * model verifies (config/trace-plan.ts TRACE_COMMANDS); a get that misses is refilled cache-aside. At TRACE_SPEED=max
 * each client sends its ops back to back, from its first again, until DURATION ends.
 */
import { TRACE_COMMANDS } from '../config/trace-plan.js';
import { TRACE_OPS, type TraceOpName } from '../config/trace.js';
import type { MixCommand } from '../config/workload.js';
import type { Draw } from '../workload/mix-model.js';
import { housekeep, send, type MixHost, type MixRun } from '../workload/mix-client.js';
import type { Schedule, Slot } from './schedule.js';
import type { TraceRun } from './trace-run.js';

const KEY = { kind: 'key' } as const;
const EX = { kind: 'lit', text: 'EX' } as const;
const TTL = { kind: 'ttl' } as const;
const GET: MixCommand = { name: 'GET', args: [KEY] };
const SET: MixCommand = { name: 'SET', args: [KEY, { kind: 'value', bytes: null }, EX, TTL] };
/** A counter key's set writes an integer, so that its incr and decr count from it. */
const SET_COUNTER: MixCommand = { name: 'SET', args: [KEY, { kind: 'lit', text: '0' }, EX, TTL] };
const DEL: MixCommand = { name: 'DEL', args: [KEY] };
const BY_NAME: Readonly<Record<string, MixCommand>> = { GET, SET, DEL, INCR: { name: 'INCR', args: [KEY] }, DECR: { name: 'DECR', args: [KEY] } };

/** The next op of a client and when it is due; null when its replay is over. At max: the shared list's next op. */
async function nextOp(host: MixHost<Schedule>, tr: TraceRun, ops: Uint32Array, n: number): Promise<{ op: number; slot: Slot } | null> {
  if (tr.speed === null) {
    const list = tr.ops[0] as Uint32Array;
    if (list.length === 0) return null;
    const slot = await host.schedule.next();
    return slot === null ? null : { op: list[tr.shared.cursor++ % list.length] as number, slot };
  }
  if (n >= ops.length) return null;
  const op = ops[n] as number;
  const slot = await host.schedule.at((tr.trace.atMs[op] as number) / tr.speed);
  return slot === null ? null : { op, slot };
}

/** Virtual client `c` of this worker (on connection `conn`) replays its ops until they end, DURATION ends, or the load is aborted. */
export async function traceClient(host: MixHost<Schedule>, run: MixRun<TraceRun>, tr: TraceRun, conn: number, c: number): Promise<void> {
  const { trace, tally } = tr;
  const ops = tr.ops[c] ?? new Uint32Array(0);
  // The op being sent sizes {value} and gives {ttl}.
  const current = { bytes: tr.payloadBytes, ttl: tr.ttlSeconds };
  const draw: Draw = { name: (i) => run.keys.name(i), group: (i) => [i], random: host.random, valueBytes: () => current.bytes, ttl: () => current.ttl };
  for (let n = 0; !host.aborted(); n++) {
    const next = await nextOp(host, tr, ops, n);
    if (next === null || host.aborted()) return;
    const { op, slot } = next;
    const name = TRACE_OPS[trace.op[op] as number] as TraceOpName;
    const command = TRACE_COMMANDS[name];
    if (command === undefined) {
      if (slot.measured) tally.skipped[name] = (tally.skipped[name] ?? 0) + 1;
      continue;
    }
    const k = trace.key[op] as number;
    const counter = trace.counter[k] === 1;
    // At max, clients share one list: a key's op waits for its last one (one op of a key in flight, in trace order).
    let done: (() => void) | undefined;
    if (tr.speed === null) {
      for (let busy = tr.shared.busy.get(k); busy !== undefined; busy = tr.shared.busy.get(k)) await busy;
      tr.shared.busy.set(k, new Promise<void>((resolve) => {
        done = resolve;
      }));
    }
    try {
      // At max a key's ops go on one connection (key mod CONNECTIONS), as each client's own keys do at a factor.
      await replay(host, run, tr, tr.speed === null ? k % tr.connections : conn, slot, { op, k, counter, command }, draw, current);
    } finally {
      if (done !== undefined) {
        tr.shared.busy.delete(k);
        done();
      }
    }
  }
}

/** One op sent (a key the model lost deleted first); a get that misses refilled. */
async function replay(host: MixHost<Schedule>, run: MixRun<TraceRun>, tr: TraceRun, conn: number, slot: Slot,
  o: { op: number; k: number; counter: boolean; command: string }, draw: Draw, current: { bytes: number; ttl: number }): Promise<void> {
  const { trace, tally } = tr;
  const { op, k, counter, command } = o;
  // A key the model lost track of (a failed op, a reply near its expiry) is deleted first: a cache's lost key is a miss.
  if (run.model.isUnknown(k)) await housekeep(host, run, conn, [run.model.prepare(DEL, k, host.now(), draw)]);
  current.bytes = (trace.valueBytes[op] as number) || tr.payloadBytes;
  current.ttl = (trace.ttl[op] as number) || tr.ttlSeconds;
  const out = await send(host, run, draw, conn, slot, command === 'SET' && counter ? SET_COUNTER : BY_NAME[command] as MixCommand, k);
  if (out.lost === true && out.counted) tally.lost++;
  if (!out.ok) {
    await host.pause();
    return;
  }
  if (command !== 'GET' || !('reply' in out)) return;
  if (out.reply !== null) {
    if (out.counted) tally.hits++;
    return;
  }
  if (out.counted) tally.misses++;
  if (!tr.refill) return;
  // Cache-aside: the miss is refilled, due with the get (in its window), timed from its own send.
  const refill = await send(host, run, draw, conn, { window: slot.window, measured: slot.measured }, counter ? SET_COUNTER : SET, k);
  if (refill.counted && 'reply' in refill) tally.refills++;
}
