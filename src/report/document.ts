import { readFileSync } from 'node:fs';
import type { OpStats } from '../measure/histogram.js';
import type { LatencyTarget, StopReason } from '../run/result.js';
import type { CacheCounters, Capabilities } from '../targets/client.js';
import type { FaultResult } from '../faults/loop.js';
import type { LoadResult } from '../load/summary.js';
import type { LatencyMixResult } from '../latency/mix-turns.js';

/*
 * results.json as a type: the document `run` and `merge` write and `report`, `merge` and `compare` read (checked by
 * schema.ts). Building it is model.ts; the sentences and notes read from it are sentences.ts.
 */

/** Version of the results.json layout; bumped on any incompatible change. */
export const SCHEMA_VERSION = 1;

export const TOOL_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface EntryStats {
  /** Iterations kept after removing upper outliers. */
  readonly n: number;
  readonly outliers: number;
  readonly meanMs: number | null;
  /** Half-width of the 99.9% Student-t confidence interval of the mean. */
  readonly errorMs: number | null;
  readonly stdDevMs: number | null;
  readonly medianMs: number | null;
  readonly minMs: number | null;
  readonly maxMs: number | null;
  readonly ciLowerMs: number | null;
  readonly ciUpperMs: number | null;
  /**
   * 100 × Mean / Mean of the baseline target of the same parameter combination. With an interval,
   * the means are those of the paired rounds (both targets measured, upper outliers of either left
   * out), so Percent is the interval's point estimate; otherwise the two Means of the table.
   */
  readonly percent: number | null;
  /**
   * The 99.9% confidence interval of Percent from the paired rounds (Fieller's interval for the
   * ratio of means of the rounds where both this target and the baseline have an iteration);
   * null for the baseline itself, with fewer than 3 paired rounds, or when it is unbounded.
   */
  readonly percentLower: number | null;
  readonly percentUpper: number | null;
  /** Rounds paired for the interval (both measured, neither an outlier); null when no interval was attempted (baseline, errored). */
  readonly percentPairs: number | null;
  readonly confidence: number;
}

/** One scenario × parameter combination × target: the unit every output format shows a row for. */
export interface ResultEntry {
  readonly scenario: { readonly name: string; readonly file: string | null; readonly description: string; readonly params: Readonly<Record<string, number>> };
  readonly target: {
    readonly name: string; readonly mode: string; readonly servers: readonly string[]; readonly client: string;
    readonly cache: string; readonly readFrom: string;
    /** `<NAME>_WAIT`: replicas each SET waited for (0: none). */
    readonly wait: number;
    /** How the client retried and reconnected (TargetInfo.retries); it shapes a failure window. */
    readonly retries: string | null;
  };
  readonly state: LatencyTarget['state'];
  readonly error: string | null;
  readonly baseline: boolean;
  readonly stats: EntryStats;
  readonly samplesMs: readonly number[];
  /** Iteration time per measured round (null: failed or not run); aligned across the targets of a combination. */
  readonly roundSamplesMs: readonly (number | null)[];
  readonly ops: { readonly set: OpStats; readonly get: OpStats };
  readonly verification: LatencyTarget['verification'];
  /** `invocations`: seed loops per iteration (statistics are per invocation); `pilotMs`: the pilot stage's measure. */
  readonly iterations: LatencyTarget['iterations'] & {
    readonly rounds: number; readonly stopReason: StopReason; readonly invocations: number; readonly pilotMs: number | null;
    /** The scenario's MIN_ITERATIONS (latency runs; absent in files written before it was recorded). */
    readonly minIterations?: number;
  };
  readonly errors: Readonly<Record<string, number>>;
  readonly undeletedKeys: number;
  /**
   * Stale reads (an older version than one already acknowledged, or nothing on a replica), with their ages in µs
   * and the overwriter's counts; null when the target could not serve one (cache off, primaries, OVERWRITE_RATE 0).
   */
  readonly staleness: NonNullable<LatencyTarget['staleness']> | null;
  /** The client cache's own counters over this combination (warm-up included); null when its cache is off. */
  readonly cache: CacheCounters | null;
  /** A fault run's measurements: window, failed ops, recovery, phases, lost and applied-unacknowledged writes, timeline; null otherwise. */
  readonly fault: FaultResult | null;
  /** A throughput run's measurements: ops/s statistics over seconds, latency views, per-second series, per-node split, the mergeable record; null otherwise. */
  readonly load: LoadResult | null;
  /** A latency run's own cost over the measured iterations (event-loop busy share, CPU µs per op); null otherwise or in older files. */
  readonly harness: NonNullable<LatencyTarget['harness']> | null;
  /** A latency run with a WORKLOAD: the mix, its ops per command and their verdicts (an invocation is one op); absent otherwise. */
  readonly mix?: LatencyMixResult;
}

/** The CPU layout of a run with local topologies, as recorded in results.json and the report. */
export interface PlacementRecord {
  readonly layout: string;
  /** CPU lists (taskset syntax) or null when not pinned. */
  readonly clientCpus: string | null;
  readonly serverCpus: string | null;
  readonly description: string;
}

export interface SettingRecord {
  readonly value: unknown;
  readonly source: string;
}

export interface TargetEnvironment {
  readonly name: string;
  readonly servers: readonly string[];
  readonly mode: string;
  readonly modeDetected: boolean;
  readonly serverVersion: string;
  readonly primaries: number;
  readonly replicas: number;
  readonly client: string;
  readonly clientVersion: string;
  readonly tls: boolean;
  readonly cache: string;
  readonly cacheEntries: number | null;
  readonly readFrom: string;
  /** What the server said it supports (probed at connect); null when not probed. */
  readonly capabilities: Capabilities | null;
  /** What the driver noticed while connecting (e.g. a password the server does not need). */
  readonly warnings: readonly string[];
  /** Each `<NAME>_*` option set, with its value and source. A password's value is never recorded. */
  readonly options: Readonly<Record<string, SettingRecord>>;
}

export interface ResultsDocument {
  readonly schemaVersion: typeof SCHEMA_VERSION;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly aborted: boolean;
  readonly environment: {
    readonly tool: string;
    readonly toolVersion: string;
    readonly node: string;
    readonly os: string;
    readonly cpu: string;
    readonly cpuCount: number;
    readonly memoryGiB: number;
    /** Where the client and the local servers ran (`--cpu-layout`); null when no local topology was started. */
    readonly placement: PlacementRecord | null;
    /** The local Redis servers' private network (`--network namespaces`), as a sentence; absent on loopback. */
    readonly network?: string;
    /** 1/5/15-minute load averages before the first and after the last iteration (a busy machine shows here). */
    readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
    readonly targets: readonly TargetEnvironment[];
  };
  /** Seed of the round shuffles: `cachebench run --seed <seed>` repeats the same target orders. */
  readonly seed: number;
  /** One per scenario × parameter combination: how it was scheduled, with the target order of every round. */
  readonly cases: readonly {
    readonly scenario: string;
    readonly params: Readonly<Record<string, number>>;
    readonly rounds: number;
    readonly invocations: number;
    readonly pilotMs: number | null;
    readonly stopReason: StopReason;
    readonly elapsedMs: number;
    readonly roundOrders: readonly (readonly string[])[];
  }[];
  readonly baseline: { readonly rule: 'explicit' | 'fastest'; readonly name: string | null };
  readonly scenarios: readonly {
    readonly name: string;
    readonly file: string | null;
    readonly description: string;
    readonly settings: Readonly<Record<string, SettingRecord>>;
  }[];
  readonly results: readonly ResultEntry[];
  /** `cachebench merge`: the results files this document was merged from. */
  readonly mergedFrom?: readonly { readonly file: string; readonly runId: string; readonly startedAt: string }[];
  /**
   * `cachebench merge`: what looked wrong in the inputs (shards missing, measured parts not begun together, a staircase
   * cut short); at most MAX_MERGE_NOTES of MAX_NOTE_CHARS.
   */
  readonly mergeNotes?: readonly string[];
}

/** The most merge notes a document keeps, and the longest. */
export const MAX_MERGE_NOTES = 100;
export const MAX_NOTE_CHARS = 500;
