/**
 * One virtual client of a WORKLOAD run (load/generator.ts): each turn it picks an entry of the mix by weight and a key
 * of its own by the entry's pattern, then sends the entry's commands on that key, one slot of the schedule each, every
 * reply checked against the model (workload/mix-model.ts).
 */
import type { KeyDistribution } from '../config/plan.js';
import { sizeSampler, type SizeSpec } from '../config/sizes.js';
import { opName, readOnlyCommand, type MixCommand, type MixEntry, type WorkloadPlan } from '../config/workload.js';
import { CommandReplyError, OpTimeoutError, WaitShortfallError, type CacheClient, type CommandReply } from '../targets/client.js';
import { withDeadline } from '../targets/deadline.js';
import { Scripts } from './lua.js';
import type { Draw, MixModel, Prepared, Verdict } from './mix-model.js';
import { weightedPicker } from '../measure/random.js';
import { replyBytes, requestBytes } from './wire-bytes.js';
import type { MixKeys } from './mix-keys.js';
import { mixPicker } from './mix-keys.js';

/**
 * When an op is due: in which of the target's windows (it is sent only while that window lasts), whether that window is
 * measured, and (open loop) the intended send time its latency is measured from.
 */
export interface Slot {
  readonly window: number;
  readonly measured: boolean;
  readonly intended?: number;
}

/** Where a client's ops come from: the load's schedule (load/schedule.ts), or a fault run's clock. */
export interface SlotSource {
  /** When the next op is due; null when the run is over. */
  next(): Promise<Slot | null>;
}

/** What a mix client needs of everything a run shares: the model and keys of its worker, the plan. `T`: a trace's own (load/trace-run.ts). */
export interface MixRun<T = unknown> {
  readonly plan: WorkloadPlan;
  readonly keys: MixKeys;
  readonly model: MixModel;
  readonly distribution: KeyDistribution;
  /** The sizes of values without a size of their own (VALUE_SIZES, or PAYLOAD_BYTES fixed). */
  readonly sizes: SizeSpec;
  /** TTLs in seconds, drawn uniformly (KEY_TTL..KEY_TTL_MAX). */
  readonly ttl: { readonly min: number; readonly max: number };
  /** A TRACE run: the trace, each client's ops and what the replay counts (load/trace-client.ts); absent for a mix. */
  readonly trace?: T;
  /**
   * A fault run: how long the keys of a failed write are kept from use, so that a driver's retries of it after the op's
   * deadline cannot land after the key was put back in a known state (and be judged a lost write). Absent: not at all.
   */
  readonly quarantineMs?: number;
  /**
   * `<NAME>_WAIT`: every write op is followed by WAIT on its key's node, within the op (its latency includes it; the
   * write and its WAIT share one deadline, OP_TIMEOUT_MS).
   */
  readonly wait?: { readonly replicas: number; readonly timeoutMs: number; readonly opTimeoutMs: number };
}

/** What fills a mix's placeholders for one client (its own `random`), or for the preload. */
export function mixDraw(run: MixRun, random: () => number): Draw {
  const { min, max } = run.ttl;
  return {
    name: (i) => run.keys.name(i), group: (i, n) => run.keys.group(i, n), random, valueBytes: sizeSampler(run.sizes, random),
    ttl: min === max ? () => min : () => min + Math.floor(random() * (max - min + 1)),
  };
}

/** An op's outcome as the generator times it (see LoadGenerator.#timed). */
export type TimedOutcome<T> = ({ ok: true; value: T } | { ok: false; skipped?: true }) & { counted: boolean };

/** What a mix client uses of its generator (or of a fault run's loop). */
export interface MixHost<S extends SlotSource = SlotSource> {
  readonly schedule: S;
  readonly aborted: () => boolean;
  readonly random: () => number;
  readonly now: () => number;
  timed(c: number, kind: 'set' | 'get', node: number, slot: Slot, op: (client: CacheClient) => Promise<CommandReply>, command: string): Promise<TimedOutcome<CommandReply>>;
  nodeOf(key: string): number;
  /**
   * Sends a command outside the measurement (an EXPIRE after a write that left a key without a TTL; a resync of a key
   * the model lost): counted per command as housekeeping, whether measured or not; undefined when it failed.
   */
  untimed(c: number, args: readonly (string | Buffer)[], key: string): Promise<CommandReply | undefined>;
  /** A command sent within a measured op besides its own (EVAL after NOSCRIPT): counted per command as housekeeping. */
  extra(c: number, command: string): void;
  /**
   * A measured reply's verdict, per command: with its bytes on the wire (request, reply), the sizes of the values it
   * wrote, and for a stale read its age in ms (MixModel.lastStaleAgeMs).
   */
  verdict(command: string, verdict: Verdict, sentBytes: number, readBytes: number, valueSizes: readonly number[], staleAgeMs: number): void;
  pause(): Promise<void>;
}

const NONE: readonly number[] = [];

/** What send() did: `ok` false when the command failed; `reply` when it was sent and answered; `counted` when measured. */
export interface SendOutcome {
  readonly ok: boolean;
  readonly reply?: CommandReply;
  readonly counted: boolean;
  /** A trace run: the reply found gone a key the replay had written (judged unverified: a cache may evict). */
  readonly lost?: boolean;
}

/**
 * A trace replays a cache's traffic, and a cache may evict: a GET that finds nothing, a DEL that deletes nothing, or
 * an INCR/DECR that starts a counter again (1 or -1), where the model expected the replay's own key, is a key gone
 * (evicted, or lost).
 */
function gone(c: MixCommand, reply: CommandReply, semantics: 'redis' | 'memcache'): boolean {
  if (c.name === 'GET') return reply === null;
  if (c.name === 'DEL') return reply === 0;
  if (c.name !== 'INCR' && c.name !== 'DECR') return false;
  // memcached answers an incr or decr of a missing key with nil (NOT_FOUND); Redis starts the counter again from 0.
  return semantics === 'memcache' ? reply === null : reply === (c.name === 'INCR' ? 1 : -1);
}

const NOT_SENT: SendOutcome = { ok: true, counted: false };

/**
 * `<NAME>_WAIT=N`: WAIT N after a write, on the connection of its key's node (every driver routes a command by its key),
 * so it covers the write; fewer replicas than N in time fails the op, as the seed loop's SET+WAIT does.
 */
async function waited<T>(client: CacheClient, key: string, wait: MixRun['wait'], reply: T): Promise<T> {
  if (wait === undefined) return reply;
  const command = client.command as NonNullable<CacheClient['command']>;
  const acknowledged = await command.call(client, ['WAIT', String(wait.replicas), String(wait.timeoutMs)], { key, readOnly: false });
  if (!(typeof acknowledged === 'number' && acknowledged >= wait.replicas)) {
    throw new WaitShortfallError('the node of the op\'s key', typeof acknowledged === 'number' ? acknowledged : 0, wait.replicas, wait.timeoutMs);
  }
  return reply;
}

/** Until when the keys of a write that failed now are kept from use (MixRun.quarantineMs), or undefined. */
const quarantineUntil = (host: MixHost, run: MixRun): number | undefined => (run.quarantineMs === undefined ? undefined : host.now() + run.quarantineMs);

/** Sends command `c` on key `index` through the host's timing; the model is updated only when it is really sent. */
export async function send(host: MixHost, run: MixRun, draw: Draw, conn: number, slot: Slot, c: MixCommand, index: number): Promise<SendOutcome> {
  const readOnly = readOnlyCommand(c.name);
  let prepared: Prepared | undefined;
  let sizes: readonly number[] = NONE;
  let noTtl: readonly number[] = NONE;
  const out = await host.timed(conn, readOnly ? 'get' : 'set', host.nodeOf(run.keys.name(index)), slot, (client) => {
    prepared = run.model.prepare(c, index, host.now(), draw);
    sizes = run.model.takeWritten();
    noTtl = run.model.takeNoTtl();
    if (client.command === undefined) throw new Error('this driver cannot send a WORKLOAD\'s commands');
    const key = prepared.args[1] as string;
    const wait = readOnly ? undefined : run.wait;
    if (wait === undefined) return client.command(prepared.args, { key, readOnly });
    host.extra(conn, 'WAIT');
    // A driver that sends WAIT with the command (in one write, after a redirection too), or WAIT after the reply.
    if (client.waitsInline === true) return client.command(prepared.args, { key, readOnly, wait });
    return withDeadline(client.command(prepared.args, { key, readOnly }).then((r) => waited(client, key, wait, r)), wait.opTimeoutMs,
      () => new OpTimeoutError('the node of the op\'s key', wait.opTimeoutMs));
  }, c.name);
  if (prepared === undefined) return NOT_SENT; // not sent: its window ended
  if (!out.ok) {
    run.model.forget(prepared.indexes, readOnly ? undefined : quarantineUntil(host, run));
    // A write that failed may still have run (a timeout): its keys get an EXPIRE all the same (replies not judged).
    if (!readOnly) for (const k of new Set([...prepared.indexes, ...noTtl])) await housekeep(host, run, conn, [run.model.expire(k, host.now(), draw)]);
    return { ok: false, counted: out.counted };
  }
  run.model.replied(prepared.indexes, host.now());
  let verdict = run.model.verdict(prepared.expect, out.value, host.now());
  if (verdict === 'missing' || verdict === 'mismatched') run.model.forget(prepared.indexes);
  const lost = run.trace !== undefined && (verdict === 'missing' || verdict === 'mismatched') && gone(c, out.value, run.model.semantics);
  if (lost) verdict = 'unverified';
  if (out.counted) host.verdict(c.name, verdict, requestBytes(prepared.args), replyBytes(out.value), sizes, run.model.lastStaleAgeMs);
  // Every key of the run has a TTL: one a write created (or MSET cleared) gets one now.
  for (const k of noTtl) await housekeep(host, run, conn, [run.model.expire(k, host.now(), draw)]);
  return { ok: true, reply: out.value, counted: out.counted, ...(lost ? { lost } : {}) };
}

const SCRIPTS = new Scripts();
const NOSCRIPT = /^NOSCRIPT\b/;

/**
 * Sends an atomic entry (MULTI … EXEC, or its script) on key `index` as one op of the schedule: the model prepares its
 * commands in turn (their effects applied in order, as the server applies them), and the reply's array is judged item
 * by item (the op's verdict is its worst). A script the server does not know (NOSCRIPT) is sent whole with EVAL, in
 * the same op, as a client's script runner does; that EVAL is counted as housekeeping.
 */
export async function sendAtomic(host: MixHost, run: MixRun, draw: Draw, conn: number, slot: Slot, entry: MixEntry, index: number): Promise<SendOutcome> {
  let prepared: Prepared[] | undefined;
  let sizes: readonly number[] = NONE;
  let noTtl: readonly number[] = NONE;
  let request: readonly (string | Buffer)[][] = [];
  const name = opName(entry, entry.commands[0] as MixCommand);
  const reads = entry.commands.every((c) => readOnlyCommand(c.name));
  const wait = reads ? undefined : run.wait;
  const op = (client: CacheClient): Promise<CommandReply> => {
    const sent = atomicOp(client);
    // A driver that sends WAIT with the op bounds both itself; else the op and its WAIT share one deadline here.
    return wait === undefined || client.waitsInline === true ? sent
      : withDeadline(sent, wait.opTimeoutMs, () => new OpTimeoutError('the node of the op\'s key', wait.opTimeoutMs));
  };
  const atomicOp = async (client: CacheClient): Promise<CommandReply> => {
    const now = host.now();
    // The op goes to the key's primary (READ_FROM=replica or not): its reads are judged against the current state only.
    prepared = entry.commands.map((c) => run.model.prepare(c, index, now, draw, true));
    sizes = run.model.takeWritten();
    noTtl = run.model.takeNoTtl();
    const route = { key: draw.name(index), readOnly: false };
    const commands = prepared.map((p) => p.args);
    if (wait !== undefined) host.extra(conn, 'WAIT');
    const inline = wait !== undefined && client.waitsInline === true;
    if (entry.atomic === 'multi') {
      if (client.transaction === undefined) throw new Error('this driver cannot send a transaction');
      request = [['MULTI'], ...commands, ['EXEC']];
      if (inline) return client.transaction(commands, { ...route, wait });
      return waited(client, route.key, wait, await client.transaction(commands, route));
    }
    if (client.command === undefined) throw new Error('this driver cannot send a WORKLOAD\'s commands');
    const call = SCRIPTS.call(commands);
    request = [call.evalsha];
    const scriptRoute = inline ? { ...route, wait } : route;
    let reply: CommandReply;
    try {
      reply = await client.command(call.evalsha, scriptRoute);
    } catch (error: unknown) {
      if (!(error instanceof CommandReplyError && NOSCRIPT.test(error.message))) throw error;
      host.extra(conn, 'EVAL');
      // The WAIT sent with the EVALSHA ran too; the EVAL gets one of its own.
      if (inline) host.extra(conn, 'WAIT');
      request = [call.evalsha, call.eval];
      reply = await client.command(call.eval, scriptRoute);
    }
    return inline ? reply : waited(client, route.key, wait, reply);
  };
  const out = await host.timed(conn, reads ? 'get' : 'set', host.nodeOf(run.keys.name(index)), slot, op, name);
  if (prepared === undefined) return NOT_SENT;
  const indexes = [...new Set(prepared.flatMap((p) => p.indexes))];
  if (!out.ok) {
    run.model.forget(indexes, reads ? undefined : quarantineUntil(host, run));
    for (const k of new Set([...indexes, ...noTtl])) await housekeep(host, run, conn, [run.model.expire(k, host.now(), draw)]);
    return { ok: false, counted: out.counted };
  }
  run.model.replied(indexes, host.now());
  const verdict = run.model.verdict({ kind: 'array', items: prepared.map((p) => p.expect) }, out.value, host.now());
  if (verdict === 'missing' || verdict === 'mismatched') run.model.forget(indexes);
  if (out.counted) host.verdict(name, verdict, request.reduce((n, r) => n + requestBytes(r), 0), replyBytes(out.value), sizes, run.model.lastStaleAgeMs);
  for (const k of noTtl) await housekeep(host, run, conn, [run.model.expire(k, host.now(), draw)]);
  return { ok: true, reply: out.value, counted: out.counted };
}

/**
 * Sends housekeeping commands in turn, each reply judged; a key whose reply was not as expected is forgotten (resynced
 * before its next use) and, when a resync stopped half way, given an EXPIRE (what it wrote may lack one).
 */
export async function housekeep(host: MixHost, run: MixRun, conn: number, list: readonly Prepared[], draw?: Draw): Promise<void> {
  for (const p of list) {
    const reply = await host.untimed(conn, p.args, p.args[1] as string);
    if (reply !== undefined) run.model.replied(p.indexes, host.now());
    if (reply === undefined || (p.expect.kind !== 'unknown' && run.model.verdict(p.expect, reply, host.now()) !== 'verified')) {
      run.model.forget(p.indexes);
      if (draw !== undefined && list.length > 1) for (const k of p.indexes) await host.untimed(conn, run.model.expire(k, host.now(), draw).args, draw.name(k));
      return;
    }
  }
}

/**
 * Preloads key `i` of a WORKLOAD: DEL first (as a resync does: a key left by an earlier stopped clean-up would answer
 * otherwise), then the model's commands for its data type and TTL, each reply as the model expects (else it throws).
 */
export async function preloadKey(client: CacheClient, run: MixRun, i: number, now: () => number): Promise<void> {
  const command = client.command;
  if (command === undefined) throw new Error('this driver cannot send a WORKLOAD\'s commands');
  const preload = run.model.resync(run.plan.keyType, i, now(), mixDraw(run, Math.random), run.plan);
  // The preload's values are not the measured ops' (the report's sizes are of what the load wrote).
  run.model.takeWritten();
  for (const p of preload) {
    const reply = await command.call(client, p.args, { key: p.args[1] as string, readOnly: false });
    run.model.replied(p.indexes, now());
    if (p.expect.kind === 'unknown') continue; // the DEL: 0 or 1
    const verdict = run.model.verdict(p.expect, reply, now());
    if (verdict !== 'verified') throw new Error(`preload of ${run.keys.name(i)}: ${String(p.args[0])} was answered ${verdict === 'missing' ? 'with nothing' : 'otherwise than expected'}`);
  }
}

/** Per entry: the N of its {keys:N} (one per entry: config/workload.ts), or 0 for one key. */
function groupWidths(plan: WorkloadPlan): number[] {
  return plan.entries.map((e) => {
    const keys = e.commands.flatMap((c) => c.args).find((a) => a.kind === 'keys');
    return keys?.kind === 'keys' ? keys.n : 0;
  });
}

/** Virtual client `g` (of CLIENTS × WORKERS) on connection `conn` until the schedule ends or the load is aborted. */
export async function mixClient(host: MixHost, run: MixRun, conn: number, g: number): Promise<void> {
  const { schedule, aborted, random } = host;
  const share = run.keys.share(g);
  let last = 0;
  const start = Math.floor(random() * share);
  const pickers = run.plan.entries.map((e) => mixPicker(e.pattern ?? run.distribution, share, random, start, () => last));
  const entry = weightedPicker(run.plan.entries.map((e) => e.weight), random);
  const widths = groupWidths(run.plan);
  const draw = mixDraw(run, random);
  let carried: Slot | null = null;
  let skips = 0;
  while (!aborted()) {
    let slot: Slot | null = carried ?? (await schedule.next());
    carried = null;
    if (slot === null || aborted()) return;
    const e = entry();
    const j = (pickers[e] as () => number)();
    const index = run.keys.index(g, j);
    const commands = (run.plan.entries[e] as WorkloadPlan['entries'][number]).commands;
    const width = widths[e] as number;
    const keys = width === 0 ? [index] : run.keys.group(index, width);
    // A key a failed write may still reach is left alone for now: the slot goes to another pick.
    if (run.quarantineMs !== undefined && keys.some((k) => run.model.quarantined(k, host.now()))) {
      carried = slot;
      // Another pick at once; a pause when picks keep landing on such keys (all of them, while servers are down).
      if (++skips % 16 === 0) await host.pause();
      continue;
    }
    skips = 0;
    // A key the model lost track of is put back in a known state first (not measured).
    for (const k of width === 0 ? (run.model.isUnknown(index) ? [index] : NONE) : run.keys.group(index, width)) {
      if (!run.model.isUnknown(k)) continue;
      const resync = run.model.resync(run.plan.keyType, k, host.now(), draw, run.plan);
      run.model.takeWritten(); // not the measured ops' values
      await housekeep(host, run, conn, resync, draw);
      // With WAIT, the key's new state is on the replicas too before it is judged again (a failover must not undo it).
      if (run.wait !== undefined && !run.model.isUnknown(k)) {
        const acknowledged = await host.untimed(conn, ['WAIT', String(run.wait.replicas), String(run.wait.timeoutMs)], run.keys.name(k));
        if (!(typeof acknowledged === 'number' && acknowledged >= run.wait.replicas)) run.model.forget([k]);
      }
    }
    if (aborted()) return;
    const chosen = run.plan.entries[e] as MixEntry;
    if (chosen.atomic !== undefined) {
      if (!chosen.commands.every((c) => readOnlyCommand(c.name))) last = j;
      if (!(await sendAtomic(host, run, draw, conn, slot, chosen, index)).ok) await host.pause();
      continue;
    }
    const window = slot.window;
    let ok = true;
    for (let k = 0; k < commands.length && ok && !aborted(); k++) {
      if (k > 0) {
        slot = await schedule.next();
        if (slot === null) return;
        // A sequence stays in the turn it began in (as the seed loop's reads do); the slot goes to the next entry.
        if (slot.window !== window) {
          carried = slot;
          break;
        }
      }
      const c = commands[k] as MixCommand;
      if (!readOnlyCommand(c.name)) last = j;
      ok = (await send(host, run, draw, conn, slot, c, index)).ok;
    }
    if (!ok) await host.pause();
  }
}
