import type { CaseParams, LoadPlan, RunControls } from '../config/resolve.js';
import { ServerCpuMeter } from './server-cpu.js';
import type { ServerCpu, ServerMemory } from './record.js';
import { ServerMemoryMeter } from './server-memory.js';
import { evictionsOf } from './server-evictions.js';
import { PRELOAD_KEYS_PER_S } from '../config/limits.js';
import { redactedMessage } from '../config/redact.js';
import type { SecondEvent, TargetErroredEvent } from '../measure/progress.js';
import { clusterNodesOf } from '../targets/admin.js';
import type { ConnectedTarget } from '../targets/client.js';
import { slotOwners, type SlotOwner } from './nodes.js';
import { runWorkers, type CleanupListener, type GroupOutcome, type PreloadListener, type TickListener, type WorkerGroup } from './pool.js';
import type { DeleteProgress } from '../workload/cleanup.js';
import { mergeRecords, type LoadRecord } from './record.js';
import { isSliced, targetWindows, timelineMs, type TimelineInput } from './timeline.js';
import { processKeyspace, type LoadJob, type PreloadProgress } from './job.js';

/**
 * With START_AT, the k-th throughput parameter combination of a run (counting every scenario) starts at START_AT plus
 * the spacings of the ones before: its timeline (every target's warm-up and DURATION) plus this gap and room to delete
 * the last KEYSPACE and preload the next (at PRELOAD_KEYS_PER_S), the same on every shard. A worker still not ready
 * then starts late, and says how late.
 */
export const TARGET_GAP_MS = 10_000;

/** The timeline of one parameter combination's targets. */
export function timelineOf(load: LoadPlan, targets: number): TimelineInput {
  return { targets, warmupMs: load.warmupMs, durationMs: load.durationMs, sliceMs: load.sliceMs };
}

/** The time between the starts of two throughput parameter combinations under START_AT. */
export function caseSpacingMs(load: LoadPlan, targets: number, shards: number): number {
  // Every target's keys are deleted after the combination and the next one's preloaded before it.
  const keys = processKeyspace(load, shards) * targets;
  return timelineMs(timelineOf(load, targets)) + TARGET_GAP_MS + 2 * Math.ceil(keys / PRELOAD_KEYS_PER_S) * 1000;
}

/** What a throughput run tells while it goes. */
export type LoadProgressEvent =
  /** A throughput combination starts: its targets (named together), the whole timeline's length, SLICE_SECONDS when they take turns in slices. */
  | { readonly kind: 'load-target'; readonly target: string; readonly runMs: number; readonly sliceSeconds?: number }
  /** The KEYSPACE preload: SETs sent of KEYSPACE, over the workers that reported so far. */
  | { readonly kind: 'preload'; readonly target: string; readonly written: number; readonly of: number; readonly workers: number; readonly ofWorkers: number }
  /** The clean-up: keys deleted (or tried) of the total, over the workers that reported so far. */
  | { readonly kind: 'cleanup'; readonly target: string; readonly deleted: number; readonly of: number; readonly workers: number; readonly ofWorkers: number }
  /** A capacity step ended (load/capacity-case.ts): its rate and verdict. */
  | { readonly kind: 'capacity-step'; readonly target: string; readonly step: number; readonly phase: string; readonly rate: number; readonly met: boolean;
    readonly why: string | null; readonly clientBound: boolean; }
    | SecondEvent
    | TargetErroredEvent;

/** One target's part of a throughput combination: its workers' merged record, or why it has none (credentials masked). */
export type LoadTargetOutcome =
  | { readonly name: string; readonly state: 'completed' | 'aborted'; readonly record: LoadRecord }
  | { readonly name: string; readonly state: 'errored' | 'aborted'; readonly error: string };

export interface LoadCaseOutcome {
  /** Ctrl-C ended it. */
  readonly aborted: boolean;
  readonly elapsedMs: number;
  readonly targets: readonly LoadTargetOutcome[];
}

export interface LoadCaseOptions {
  readonly keyPrefix: string;
  readonly seed: number;
  /** `--shard i/N`: this process is shard i of N (RATE and KEYSPACE are split). */
  readonly shard: { readonly index: number; readonly of: number };
  /** Under START_AT: ms after START_AT at which this parameter combination starts (the earlier combinations' spacings). */
  readonly startOffsetMs: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: LoadProgressEvent) => void;
  /** The processes of the local topology a target runs on (its servers' CPU is read from /proc); undefined: not local. */
  readonly localPids?: (target: ConnectedTarget) => (() => readonly number[]) | undefined;
}

/** The primaries of a cluster target and their slots (for the per-node breakdown); null for other targets or when CLUSTER NODES fails. */
async function ownersOf(target: ConnectedTarget, controls: RunControls): Promise<SlotOwner[] | null> {
  if (target.info.mode !== 'cluster') return null;
  try {
    const owners = slotOwners(await clusterNodesOf(target.config, controls));
    return owners.length > 0 ? owners : null;
  } catch (error: unknown) {
    void error; // no breakdown: the load itself does not need it
    return null;
  }
}

/** Sums the workers' clean-up progress into one event per report (each worker reports about once a second). */
function cleanupProgress(target: string, workers: number, onProgress: LoadCaseOptions['onProgress']): CleanupListener | undefined {
  if (onProgress === undefined) return undefined;
  const latest = new Map<number, DeleteProgress>();
  return (worker, progress) => {
    latest.set(worker, progress);
    let deleted = 0;
    let total = 0;
    for (const p of latest.values()) {
      deleted += p.deleted + p.failed;
      total += p.total;
    }
    onProgress({ kind: 'cleanup', target, deleted, of: total, workers: latest.size, ofWorkers: workers });
  };
}

/** Sums the workers' preload progress into one 'preload' event per report; `keyspace`: this process's share (under --shard). */
function preloadProgress(target: string, workers: number, keyspace: number, onProgress: LoadCaseOptions['onProgress']): PreloadListener | undefined {
  if (onProgress === undefined || keyspace === 0) return undefined;
  const latest = new Map<number, PreloadProgress>();
  return (worker, progress) => {
    latest.set(worker, progress);
    let written = 0;
    for (const p of latest.values()) written += p.written;
    onProgress({ kind: 'preload', target, written, of: keyspace, workers: latest.size, ofWorkers: workers });
  };
}

/**
 * Sums the workers' live seconds into one 'second' event a second (the workers' timers are not aligned: a second's
 * sum is what arrived in it). Stop it when the load ends.
 */
function liveProgress(target: string, onProgress: LoadCaseOptions['onProgress']): { onTick?: TickListener; stop: () => void } {
  if (onProgress === undefined) return { stop: () => undefined };
  let sum: { ok: number; failed: number; phase: string; atMs: number; runMs: number } | undefined;
  const timer = setInterval(() => {
    if (sum !== undefined) onProgress({ kind: 'second', target, ...sum });
    sum = undefined;
  }, 1000);
  timer.unref();
  return {
    onTick: (_worker, tick) => {
      sum = { ok: (sum?.ok ?? 0) + tick.ok, failed: (sum?.failed ?? 0) + tick.failed, phase: tick.phase, atMs: Math.max(sum?.atMs ?? 0, tick.atMs),
        runMs: tick.runMs };
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * A throughput run of one parameter combination: every target's WORKERS processes (see LoadWorker) connect and preload
 * together, then load their target in its windows of one timeline (load/timeline.ts): by default the targets take turns
 * in SLICE_SECONDS slices, rotated each stretch, so each gets its share of every stretch of the run and drift hits all
 * alike; with SLICE_SECONDS 0 each runs its whole DURATION in turn. Only one target sends at a time (the others' workers
 * sleep), and with START_AT every --shard process loads the same target at the same wall-clock time.
 */
export async function runLoadCase(targets: readonly ConnectedTarget[], params: CaseParams, controls: RunControls,
  options: LoadCaseOptions): Promise<LoadCaseOutcome> {
  const started = performance.now();
  const load = controls.load;
  const aborted = (): boolean => options.signal?.aborted === true;
  const timeline = timelineOf(load, targets.length);
  const sliceSeconds = isSliced(timeline) ? load.sliceMs / 1000 : null;
  const keyspace = processKeyspace(load, options.shard.of);
  options.onProgress?.({
    kind: 'load-target', target: targets.map((t) => t.config.name).join(', '), runMs: timelineMs(timeline),
    ...(sliceSeconds !== null ? { sliceSeconds } : {}),
  });
  const live = targets.map((t) => liveProgress(t.config.name, options.onProgress));
  const groups: WorkerGroup[] = [];
  const meters: (ServerCpuMeter | null)[] = [];
  const memories: (ServerMemoryMeter | null)[] = [];
  const evictions: (number | null)[] = [];
  for (const [index, target] of targets.entries()) {
    const name = target.config.name;
    const owners = await ownersOf(target, controls);
    const windows = targetWindows(timeline, index);
    meters.push(await ServerCpuMeter.open(target, controls, windows, options.localPids?.(target)));
    memories.push(await ServerMemoryMeter.open(target, controls, load.keyspace));
    evictions.push(load.trace === null ? null : await evictionsOf(target, controls));
    // Each target its own keys (targets may share servers: two client set-ups of one cluster): one target's clean-up,
    // refills and writes never touch another's, nor invalidate another's client cache.
    const keyPrefix = targets.length > 1 ? `${options.keyPrefix}t${index}:` : options.keyPrefix;
    const jobs: LoadJob[] = Array.from({ length: load.workers }, (_, w) => ({
      target: target.config, ...(target.probe !== undefined ? { probe: target.probe } : {}), controls, params,
      keyPrefix, seed: options.seed, worker: { index: w, of: load.workers }, shard: options.shard, slotOwners: owners,
      windows, sliceSeconds, endMs: timelineMs(timeline),
    }));
    const onCleanup = cleanupProgress(name, load.workers, options.onProgress);
    const onTick = live[index]?.onTick;
    const onPreload = preloadProgress(name, load.workers, keyspace, options.onProgress);
    groups.push({ jobs, ...(onCleanup !== undefined ? { onCleanup } : {}), ...(onTick !== undefined ? { onTick } : {}),
      ...(onPreload !== undefined ? { onPreload } : {}) });
  }
  const startAtMs = load.startAtMs === null ? null : load.startAtMs + options.startOffsetMs;
  let outcomes: GroupOutcome[];
  let serverCpu: (ServerCpu | null)[] = [];
  let serverMemory: (ServerMemory | null)[] = [];
  let evicted: (number | null)[] = [];
  try {
    outcomes = await runWorkers(groups, startAtMs, options.signal, (start) => {
      meters.forEach((m) => m?.start(start));
      memories.forEach((m, i) => {
        const last = targetWindows(timeline, i).filter((w) => w.measured).at(-1);
        if (last !== undefined) m?.start(start, (last.fromMs + last.toMs) / 2);
      });
    });
  } catch (error: unknown) {
    const message = aborted() ? 'interrupted before its load started' : redactedMessage(error);
    const state = aborted() ? 'aborted' as const : 'errored' as const;
    return { aborted: aborted(), elapsedMs: performance.now() - started, targets: targets.map((t) => ({ name: t.config.name, state, error: message })) };
  } finally {
    for (const l of live) l.stop();
    // A read still to come is made now (the load ended: it is due) or, after Ctrl-C, cancelled: no timer outlives the load.
    serverCpu = await Promise.all(meters.map((m) => m?.finish(aborted()) ?? null));
    serverMemory = await Promise.all(memories.map((m) => m?.finish() ?? null));
    evicted = await Promise.all(targets.map(async (t, i) => {
      const before = evictions[i];
      const after = before == null ? null : await evictionsOf(t, controls);
      return before == null || after === null ? null : Math.max(0, after - before);
    }));
  }
  const results = targets.map((target, index): LoadTargetOutcome => {
    const name = target.config.name;
    const outcome = outcomes[index] as GroupOutcome;
    if ('error' in outcome) {
      const message = redactedMessage(outcome.error);
      options.onProgress?.({ kind: 'target-errored', target: name, error: message });
      return { name, state: 'errored', error: message };
    }
    return { name, state: aborted() ? 'aborted' : 'completed', record: withEvictions({
      ...mergeRecords(outcome.records), serverCpu: serverCpu[index] ?? null, serverMemory: serverMemory[index] ?? null,
    }, evicted[index] ?? null) };
  });
  return { aborted: aborted(), elapsedMs: performance.now() - started, targets: results };
}

/**
 * A trace replay's keys found gone are excused up to the keys the servers evicted meanwhile; the rest (a server that
 * cannot evict, or did not tell) count as missing: lost writes, not a cache's choice.
 */
function withEvictions(record: LoadRecord, evicted: number | null): LoadRecord {
  const t = record.trace;
  if (t === undefined) return record;
  const unexplained = Math.max(0, t.lost - (evicted ?? 0));
  return { ...record, missing: record.missing + unexplained, trace: { ...t, evictions: evicted, unexplained } };
}
