/** What one load-generating process is asked to do (plain data: sent to child processes), and what it tells while it does. */
import type { CaseParams, LoadPlan, RunControls, TargetConfig } from '../config/resolve.js';
import type { TargetProbe } from '../targets/client.js';
import type { SlotOwner } from './nodes.js';
import type { LoadWindow } from './timeline.js';

/** Everything one load-generating process needs for one target and parameter combination (plain data: sent to child processes). */
export interface LoadJob {
  readonly target: TargetConfig;
  readonly probe?: TargetProbe;
  /** The scenario's controls merged with the run's connection settings. */
  readonly controls: RunControls;
  readonly params: CaseParams;
  /** `cachebench:<runId>:` */
  readonly keyPrefix: string;
  /** Seeds the workers' random choices and the KEYSPACE values. */
  readonly seed: number;
  readonly worker: { readonly index: number; readonly of: number };
  readonly shard: { readonly index: number; readonly of: number };
  /** The cluster's primaries and their slots when the run started; null: not a cluster. */
  readonly slotOwners: readonly SlotOwner[] | null;
  /** When this target sends, in ms from the run's start (load/timeline.ts): warm-up, then DURATION whole or in slices. */
  readonly windows: readonly LoadWindow[];
  /** SLICE_SECONDS when the targets take turns in slices; null: each target in turn. */
  readonly sliceSeconds: number | null;
  /** The end of every target's windows, in ms from the run's start: the clean-up waits for it. */
  readonly endMs: number;
}

/** The KEYSPACE one process works on: KEYSPACE / shards keys (each --shard process has its own, under its own run id). */
export function processKeyspace(load: LoadPlan, shards: number): number {
  return load.keyspace === 0 ? 0 : Math.max(1, Math.floor(load.keyspace / shards));
}

/** A worker's share of RATE (ops/s). */
export function workerRate(load: LoadPlan, job: Pick<LoadJob, 'worker' | 'shard'>): number {
  return load.rate / (job.worker.of * job.shard.of);
}

/** How far a worker's KEYSPACE preload got: SETs sent of its share. */
export interface PreloadProgress {
  readonly written: number;
  readonly total: number;
}

/** One worker's second of live progress (never part of the results: those come from the record). */
export interface LoadTick {
  readonly ok: number;
  readonly failed: number;
  readonly phase: 'warm-up' | 'measured';
  /** Since this worker's start, and the run's whole length (warm-up and DURATION). */
  readonly atMs: number;
  readonly runMs: number;
}
