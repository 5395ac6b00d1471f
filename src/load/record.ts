import { OpHistogram } from '../measure/histogram.js';
import type { CommandRecord } from '../workload/command-stats.js';

export type { CommandRecord };
import { maxOf, minOf } from '../stats/extent.js';

/** One second of a throughput run (by the time ops completed), as recorded: mergeable across workers and machines. */
export interface SecondRecord {
  /** Unix ms when the second began (aligned across --shard processes that share START_AT). */
  readonly t: number;
  /** Ops that succeeded in the second. */
  readonly ops: number;
  readonly sets: number;
  readonly gets: number;
  /** Ops that failed in the second. */
  readonly errors: number;
  /** Latencies (ns) of the second's successful ops, in the run's latency view, HdrHistogram-encoded. */
  readonly latency: string;
}

/** Ops of one cluster primary (by the slot of each op's key). */
export interface NodeRecord {
  /** host:port of the primary that served the slot when the run started. */
  readonly node: string;
  readonly slots: string;
  readonly ops: number;
  readonly errors: number;
  /** Service times (ns) of its successful ops, HdrHistogram-encoded. */
  readonly latency: string;
}

/** One load-generating process of a throughput run. */
export interface WorkerRecord {
  /** `shard i/N worker j/M`. */
  readonly worker: string;
  readonly ops: number;
  /** Peak resident memory of the worker process while it ran. */
  readonly peakRssBytes: number;
  /**
   * The load generator's own saturation, over the seconds in which its target sent throughout (a worker sleeps through
   * other targets' turns): its event loop's utilisation (0–1; CLIENT_BOUND_BUSY and above: client-bound), its process's
   * CPU time per op it completed, its longest event-loop delay p99 of one second, and its time in garbage collection
   * per second. null where no such second was seen; absent in files written before they were recorded.
   */
  readonly client?: ClientLoad | null;
  /** In a merged record: which input (results file) the worker came from; absent in a run's own record. */
  readonly input?: number;
}

/** A load worker's saturation (see WorkerRecord.client). */
export interface ClientLoad {
  readonly busy: number;
  readonly cpuUsPerOp: number | null;
  readonly loopDelayP99Ms: number;
  readonly gcMsPerSecond: number;
  /** Seconds it was measured over. */
  readonly seconds: number;
  /** CPU seconds the process used per second of those seconds, and the CPUs it may run on (its affinity). */
  readonly cpuPerSecond?: number;
  readonly cores?: number;
  /** Bytes on the wire per op (requests and replies; a fresh key's DEL included), where the client counts them. */
  readonly wireBytesPerOp?: number;
}

/**
 * A worker whose event loop was busy this share of its target's seconds or more measured itself, not the servers; so
 * did workers that together used this share of the CPUs they may run on (several workers starving on fewer cores each
 * show a moderate busy share).
 */
export const CLIENT_BOUND_BUSY = 0.9;

/** How saturated the load generator of a record was: the busiest event loop, and the busiest machine's CPU share. */
export interface Saturation {
  /** The busiest worker's event-loop utilisation (0–1). */
  readonly busy: number;
  /**
   * CPU seconds per second of one machine's workers together, over the CPUs they may run on (0–1), the busiest
   * machine's; null when not every worker measured it.
   */
  readonly cpuShare: number | null;
  readonly cores: number | null;
  /** CLIENT_BOUND_BUSY reached: by the CPUs (more workers cannot help), by one event loop, or not (null). */
  readonly by: 'CPU' | 'event loop' | null;
}

/**
 * The one rule of client-bound, for capacity steps and report rows alike. The workers of one shard of one input (one
 * machine) share its CPUs; other shards and inputs have their own, and the busiest counts. null: no worker measured itself.
 */
export function saturationOf(workers: readonly WorkerRecord[]): Saturation | null {
  const measured = workers.flatMap((w) => (w.client != null ? [{ worker: w.worker, input: w.input, ...w.client }] : []));
  if (measured.length === 0) return null;
  const busy = Math.max(...measured.map((w) => w.busy));
  const machines = new Map<string, typeof measured>();
  for (const w of measured) {
    const machine = `${w.input ?? ''}|${w.worker.split(' worker ')[0] ?? ''}`;
    machines.set(machine, [...(machines.get(machine) ?? []), w]);
  }
  const shares = [...machines.values()].map((list) => {
    const cpus = Math.max(0, ...list.map((w) => w.cores ?? 0));
    if (cpus === 0 || !list.every((w) => w.cpuPerSecond !== undefined)) return null;
    return { share: list.reduce((n, w) => n + (w.cpuPerSecond as number), 0) / cpus, cpus };
  });
  const known = shares.every((x) => x !== null) ? (shares as { share: number; cpus: number }[]) : [];
  const busiest = known.reduce<{ share: number; cpus: number } | null>((m, x) => (m === null || x.share > m.share ? x : m), null);
  const cpuShare = busiest === null ? null : Math.min(1, busiest.share);
  // The CPUs first: when they are full, more workers cannot help (the advice differs).
  const by = cpuShare !== null && cpuShare >= CLIENT_BOUND_BUSY ? 'CPU' : busy >= CLIENT_BOUND_BUSY ? 'event loop' : null;
  return { busy, cpuShare, cores: busiest?.cpus ?? null, by };
}

/**
 * Everything one target's throughput run recorded, in a form that merges exactly: counts add up, histograms are carried
 * encoded (HdrHistogram compressed base64, nanoseconds) and merged by adding, seconds are aligned by wall clock.
 * Workers of one process merge into one; `cachebench merge` merges processes (shards).
 */
export interface LoadRecord {
  readonly target: string;
  /** Unix ms when the measured part began (after the warm-up). */
  readonly startMs: number;
  readonly durationMs: number;
  /** Which latency the series and per-node histograms hold: from the intended send time (open loop) or the actual send. */
  readonly view: 'intended' | 'service';
  /** Ops issued in the measured part (succeeded + failed), by type. */
  readonly sets: number;
  readonly gets: number;
  readonly setErrors: number;
  readonly getErrors: number;
  /** Open loop: ops the schedule asked for in the measured part (RATE × DURATION for this process); null: closed loop. */
  readonly scheduled: number | null;
  /** Open loop: scheduled ops of the measured part that were sent (a backlog left at the end is not); null: closed loop. */
  readonly sent: number | null;
  /** How late the worker started against its start time (START_AT, or the common start of the workers), in ms; the largest in a merge. */
  readonly lateStartMs: number;
  /** GETs judged: exactly the bytes written, nothing (fresh keys: a failure; KEYSPACE: a miss), other bytes (always a failure). */
  readonly verified: number;
  readonly missing: number;
  readonly mismatched: number;
  /** KEYSPACE runs: GETs that found their key, GETs that did not (each refills it with a SET, counted in sets). */
  readonly hits: number | null;
  readonly misses: number | null;
  /** Fresh keys deleted after their last read (not ops: outside the timing) and deletions that failed (they expire by TTL). */
  readonly deletes: number;
  readonly undeletedKeys: number;
  readonly errorMessages: Readonly<Record<string, number>>;
  /** Whole-run latency histograms (ns, successful ops): service time always, intended-time view in open loop. */
  readonly histograms: {
    readonly set: string; readonly get: string;
    readonly setIntended: string | null; readonly getIntended: string | null;
  };
  readonly series: readonly SecondRecord[];
  /**
   * SLICE_SECONDS when the targets took turns in slices (measured second j is in stretch ⌊j / sliceSeconds⌋, and Percent
   * pairs the stretches); null (or absent, in results written before slices): each target ran its DURATION in turn.
   */
  readonly sliceSeconds?: number | null;
  /** Per cluster primary; null when the target is not a cluster. */
  readonly nodes: readonly NodeRecord[] | null;
  readonly workers: readonly WorkerRecord[];
  /** The servers' CPU over this target's measured windows (load/server-cpu.ts); null: they do not tell; absent in older files. */
  readonly serverCpu?: ServerCpu | null;
  /** What the KEYSPACE costs the servers in memory (load/server-memory.ts); null: no KEYSPACE, or they do not tell; absent in older files. */
  readonly serverMemory?: ServerMemory | null;
  /** A WORKLOAD run's ops per command; absent otherwise. */
  readonly commands?: Readonly<Record<string, CommandRecord>>;
  /** A WORKLOAD run: replies the model could not judge (a key's state unknown after a failed op, or near its expiry); absent otherwise. */
  readonly unverified?: number;
  /** A WORKLOAD run: the size in bytes of every value its measured ops wrote, HdrHistogram-encoded; absent otherwise. */
  readonly valueSizes?: string;
  /**
   * A WORKLOAD run: commands sent outside the measurement, by name (EXPIRE for a key a write left without a TTL; DEL
   * and the preload's commands for a key the model lost track of), over the whole run (warm-up too); absent otherwise.
   */
  readonly housekeeping?: Readonly<Record<string, number>>;
  /** A TRACE run: how its ops kept their times, its refills and the ops it skipped; absent otherwise. */
  readonly trace?: TraceRecord;
}

/** A trace replay's own counts (load/trace-client.ts), over its measured part. */
export interface TraceRecord {
  /** At a factor: ns between each op's send and its intended time (late or early), HdrHistogram-encoded; null at max. */
  readonly lag: string | null;
  /** The most ms an op was sent before its intended time (timers fire up to 1 ms early; 0: none). */
  readonly earlyMs: number;
  /** SETs sent after a get that missed (cache-aside; counted among the SETs). */
  readonly refills: number;
  /** Replies that found a key the replay had written gone (evicted, or lost): unverified while the servers evicted as many. */
  readonly lost: number;
  /** Keys the servers evicted over the run (INFO stats evicted_keys, memcached evictions); null: they did not tell. */
  readonly evictions?: number | null;
  /** Keys found gone beyond those evictions: counted missing (load/case.ts). */
  readonly unexplained?: number;
  /** Ops of operations with no RESP command cachebench verifies (append, prepend), per operation. */
  readonly skipped: Readonly<Record<string, number>>;
}

/** Distinct op names one record may hold: the commands with a model (33) and a transaction or script per entry (100 at most). */
export const MAX_COMMANDS = 160;

/** The servers' memory growth over a KEYSPACE's preload, per key (every node together: a cluster's replicas too). */
export interface ServerMemory {
  readonly bytesPerKey: number;
  /** Keys the servers gained between the two reads (on primaries): every target's and shard's on those servers, less any evicted. */
  readonly keys: number;
  readonly nodes: number;
  readonly source: 'INFO memory' | 'stats';
}

/**
 * A target's servers' CPU time over its measured windows, read at each window's ends: from /proc for a local topology
 * (every process of it: a proxy and its backends too), else from INFO cpu of every node (memcached: `stats` rusage).
 */
export interface ServerCpu {
  /** CPU time of every node (or local process) together over the measured windows, in ms. */
  readonly ms: number;
  readonly nodes: number;
  /** Measured windows both ends of which were read (every node answering, none going back), of `planned`. */
  readonly windows: number;
  readonly planned: number;
  readonly source: 'INFO cpu' | '/proc' | 'stats';
}

const MAX_MESSAGES = 10;

/** The largest server CPU reading among records of one target (shards read the same servers). */
function busiestServerCpu(records: readonly LoadRecord[]): ServerCpu | null {
  return records.reduce<ServerCpu | null>((m, r) => (r.serverCpu != null && (m === null || r.serverCpu.ms > m.ms) ? r.serverCpu : m), null);
}

function addMessages(into: Map<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [m, n] of Object.entries(from)) {
    const seen = into.get(m);
    if (seen !== undefined) into.set(m, seen + n);
    else if (into.size < MAX_MESSAGES) into.set(m, n);
  }
}

/** Adds encoded histograms into one (null when none is given). */
export function mergeEncoded(encoded: readonly (string | null)[]): string | null {
  const present = encoded.filter((e): e is string => e !== null);
  if (present.length === 0) return null;
  const sum = OpHistogram.decode(present[0] as string);
  for (const e of present.slice(1)) sum.add(OpHistogram.decode(e));
  return sum.encode();
}

const sumOf = (records: readonly LoadRecord[], f: (r: LoadRecord) => number): number => records.reduce((n, r) => n + f(r), 0);
/** null when no record has the field (closed loop; or results written before the field existed). */
const sumOrNull = (records: readonly LoadRecord[], f: (r: LoadRecord) => number | null | undefined): number | null =>
  records.every((r) => f(r) == null) ? null : records.reduce((n, r) => n + (f(r) ?? 0), 0);

/**
 * Merges the records of one target from several workers or machines: counts summed, histograms added (never
 * percentiles averaged), seconds aligned by wall clock (to the nearest second) and summed, nodes by address.
 */
export function mergeRecords(records: readonly LoadRecord[]): LoadRecord {
  const first = records[0];
  if (first === undefined) throw new Error('mergeRecords: nothing to merge');
  if (records.length === 1) return first;
  const startMs = minOf(records.map((r) => r.startMs));
  const endMs = maxOf(records.map((r) => r.startMs + r.durationMs));
  const seconds = new Map<number, SecondRecord[]>();
  for (const r of records) {
    for (const s of r.series) {
      const at = Math.round(s.t / 1000);
      seconds.set(at, [...(seconds.get(at) ?? []), s]);
    }
  }
  const series = [...seconds.entries()].sort(([a], [b]) => a - b).map(([at, list]) => ({
    t: at * 1000,
    ops: list.reduce((n, s) => n + s.ops, 0),
    sets: list.reduce((n, s) => n + s.sets, 0),
    gets: list.reduce((n, s) => n + s.gets, 0),
    errors: list.reduce((n, s) => n + s.errors, 0),
    latency: mergeEncoded(list.map((s) => s.latency)) as string,
  }));
  let nodes: NodeRecord[] | null = null;
  if (records.some((r) => r.nodes !== null)) {
    const byNode = new Map<string, NodeRecord[]>();
    for (const r of records) for (const n of r.nodes ?? []) byNode.set(n.node, [...(byNode.get(n.node) ?? []), n]);
    nodes = [...byNode.entries()].map(([node, list]) => ({
      node, slots: (list[0] as NodeRecord).slots,
      ops: list.reduce((n, x) => n + x.ops, 0), errors: list.reduce((n, x) => n + x.errors, 0),
      latency: mergeEncoded(list.map((x) => x.latency)) as string,
    }));
  }
  const messages = new Map<string, number>();
  for (const r of records) addMessages(messages, r.errorMessages);
  return {
    target: first.target, startMs, durationMs: endMs - startMs, view: first.view,
    sets: sumOf(records, (r) => r.sets), gets: sumOf(records, (r) => r.gets),
    setErrors: sumOf(records, (r) => r.setErrors), getErrors: sumOf(records, (r) => r.getErrors),
    scheduled: sumOrNull(records, (r) => r.scheduled),
    sent: sumOrNull(records, (r) => r.sent),
    lateStartMs: maxOf(records.map((r) => r.lateStartMs ?? 0)),
    verified: sumOf(records, (r) => r.verified), missing: sumOf(records, (r) => r.missing), mismatched: sumOf(records, (r) => r.mismatched),
    hits: sumOrNull(records, (r) => r.hits), misses: sumOrNull(records, (r) => r.misses),
    deletes: sumOf(records, (r) => r.deletes), undeletedKeys: sumOf(records, (r) => r.undeletedKeys),
    errorMessages: Object.fromEntries(messages),
    histograms: {
      set: mergeEncoded(records.map((r) => r.histograms.set)) as string,
      get: mergeEncoded(records.map((r) => r.histograms.get)) as string,
      setIntended: mergeEncoded(records.map((r) => r.histograms.setIntended)),
      getIntended: mergeEncoded(records.map((r) => r.histograms.getIntended)),
    },
    series, nodes,
    // Shards of one run share the timeline (START_AT and the same plan); a merge of different ones is not sliced.
    sliceSeconds: records.every((r) => (r.sliceSeconds ?? null) === (first.sliceSeconds ?? null)) ? first.sliceSeconds ?? null : null,
    workers: records.flatMap((r) => r.workers),
    // Every shard read the same servers over the same windows: the busiest reading, never a sum (absent where none was read).
    ...(records.some((r) => r.serverCpu !== undefined) ? { serverCpu: busiestServerCpu(records) } : {}),
    // Every shard read the same servers' growth: the first reading (absent where none was made).
    ...(records.some((r) => r.serverMemory !== undefined) ? { serverMemory: records.find((r) => r.serverMemory != null)?.serverMemory ?? null } : {}),
    ...withCommands(records),
    ...withTrace(records),
  };
}

/** The merged trace counts, where any record has them: lags added, the earliest early send, counts summed. */
function withTrace(records: readonly LoadRecord[]): Pick<LoadRecord, 'trace'> {
  const parts = records.flatMap((r) => (r.trace === undefined ? [] : [r.trace]));
  if (parts.length === 0) return {};
  const skipped: Record<string, number> = {};
  for (const p of parts) for (const [op, n] of Object.entries(p.skipped)) skipped[op] = (skipped[op] ?? 0) + n;
  return {
    trace: {
      lag: mergeEncoded(parts.map((p) => p.lag)), earlyMs: maxOf(parts.map((p) => p.earlyMs)), refills: parts.reduce((n, p) => n + p.refills, 0),
      lost: parts.reduce((n, p) => n + p.lost, 0), skipped,
      ...(parts.some((p) => p.unexplained !== undefined) ? { unexplained: parts.reduce((n, p) => n + (p.unexplained ?? 0), 0) } : {}),
    },
  };
}

/** The merged per-command records and unverified count, where any record has them. */
function withCommands(records: readonly LoadRecord[]): Pick<LoadRecord, 'commands' | 'unverified' | 'valueSizes' | 'housekeeping'> {
  const commands = mergeCommands(records.map((r) => r.commands));
  if (commands === undefined) return {};
  const sizes = mergeEncoded(records.map((r) => r.valueSizes ?? null));
  const housekeeping: Record<string, number> = {};
  for (const r of records) for (const [name, n] of Object.entries(r.housekeeping ?? {})) housekeeping[name] = (housekeeping[name] ?? 0) + n;
  return { commands, unverified: sumOf(records, (r) => r.unverified ?? 0), ...(sizes !== null ? { valueSizes: sizes } : {}), housekeeping };
}

/** Merges the per-command records of several records (workers, shards): counts summed, histograms added. */
export function mergeCommands(list: readonly (Readonly<Record<string, CommandRecord>> | undefined)[]): Record<string, CommandRecord> | undefined {
  const present = list.filter((x): x is Readonly<Record<string, CommandRecord>> => x !== undefined);
  if (present.length === 0) return undefined;
  const names = [...new Set(present.flatMap((x) => Object.keys(x)))];
  return Object.fromEntries(names.map((name) => {
    const parts = present.flatMap((x) => (x[name] === undefined ? [] : [x[name] as CommandRecord]));
    const sum = (f: (r: CommandRecord) => number): number => parts.reduce((n, r) => n + f(r), 0);
    return [name, {
      ops: sum((r) => r.ops), errors: sum((r) => r.errors), verified: sum((r) => r.verified), missing: sum((r) => r.missing),
      mismatched: sum((r) => r.mismatched), unverified: sum((r) => r.unverified), sentBytes: sum((r) => r.sentBytes), readBytes: sum((r) => r.readBytes),
      latency: mergeEncoded(parts.map((r) => r.latency)) as string, intended: mergeEncoded(parts.map((r) => r.intended)),
    }];
  }));
}
