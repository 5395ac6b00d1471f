import type { Source } from './errors.js';
import type { CacheMode, ClientName, FaultKind, Mode, Protocol, ReadFrom, RunMode, TargetOption } from './keys.js';
import type { ServerAddress } from './servers.js';
import type { Scalar } from './values.js';
import type { WorkloadPlan } from './workload.js';
import type { TraceSummary } from './trace.js';

/**
 * The run plan: what resolveConfig (resolve.ts) builds from scenario files, env vars and flags, and what every other
 * folder reads. Types (and the two "nothing" plans) only: building and checking the plan live beside it.
 */

/** An effective value and where it came from. */
export interface Setting {
  readonly value: Scalar | readonly Scalar[];
  readonly source: Source;
}

/** Workload parameters of one combination of a sweep. */
export interface CaseParams {
  readonly READ_RATIO: number;
  readonly WRITE_COUNT: number;
  readonly PAYLOAD_BYTES: number;
}

/** Run controls: how iterations are scheduled, stopped and bounded. */
export interface RunControls {
  readonly keyTtlSeconds: number;
  readonly warmupIterations: number;
  /** Invocations of the seed loop per iteration; 0: chosen by the pilot stage. */
  readonly invocationCount: number;
  /** Iteration length the pilot stage aims for, in ms. */
  readonly iterationTimeMs: number;
  /** How targets alternate within a round: whole iterations, or key by key (ABBA). */
  readonly interleave: 'iteration' | 'key';
  readonly minIterations: number;
  readonly maxIterations: number;
  readonly maxRelativeError: number;
  /** MAX_PERCENT_ERROR: stop once every Percent interval's half-width is within this fraction of the Percent; 0 or absent: off. */
  readonly maxPercentError?: number;
  readonly maxTimeMs: number;
  readonly opTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** OVERWRITE_RATE: overwrites per second of the key being read; 0: none. */
  readonly overwriteRate: number;
  /** Set on the controls drivers connect with: the run's largest PAYLOAD_BYTES (see RunPlan.connection). */
  readonly largestPayloadBytes?: number;
  /** Set on the controls drivers connect with: some scenario is a fault run, so clients retry as an application would. */
  readonly resilient?: boolean;
  /**
   * Set on the controls drivers connect with: some fault run has a WORKLOAD, whose model judges every write once. A write
   * whose connection closed before its reply is failed, never sent again (it may have run: INCR or LPUSH twice would
   * read as a lost write).
   */
  readonly exactWrites?: boolean;
  /** FAULT and its timing; kind none: not a fault run. */
  readonly fault: FaultPlan;
  /** MODE and the throughput run's load (CLIENTS, CONNECTIONS, PIPELINE, RATE, ...); mode latency: not used. */
  readonly load: LoadPlan;
}

/** How a throughput run picks keys of its KEYSPACE. */
export type KeyDistribution =
  | { readonly kind: 'uniform' }
  | { readonly kind: 'sequential' }
  | { readonly kind: 'zipf'; readonly exponent: number };

/** A throughput run's load (MODE=throughput); see src/load. */
export interface LoadPlan {
  readonly mode: RunMode;
  /** Virtual clients per worker. */
  readonly clients: number;
  /** Connections per target and worker. */
  readonly connections: number;
  /** Most ops in flight per connection. */
  readonly pipeline: number;
  /** Open-loop ops/s per target for the whole run (all workers and shards); 0: closed loop. */
  readonly rate: number;
  readonly warmupMs: number;
  /** Measured length per target, in ms (whole seconds). */
  readonly durationMs: number;
  /** SLICE_SECONDS in ms: the targets take turns in slices this long (load/timeline.ts); 0: each in turn. */
  readonly sliceMs: number;
  readonly workers: number;
  /** 0: fresh keys (the seed loop); N: a cache-style mix over N preloaded keys. */
  readonly keyspace: number;
  readonly distribution: KeyDistribution;
  /** START_AT as Unix ms; null: start when ready. */
  readonly startAtMs: number | null;
  /** MODE=capacity: the objective and the search; null in other modes. */
  readonly capacity: CapacityPlan | null;
  /** WORKLOAD: the command mix the clients send instead of GET/SET; null: none. */
  readonly workload: WorkloadPlan | null;
  /** TRACE: a cache trace replayed at its own timing (workload then holds its commands, keyspace its keys); null: none. */
  readonly trace: TracePlan | null;
}

/** TRACE as planned: the file (read again, and checked by digest, by every load worker), what it holds, the speed. */
export interface TracePlan extends TraceSummary {
  /** The file's absolute path. */
  readonly file: string;
  /** Its name as reports show it (config/trace.ts traceName). */
  readonly name: string;
  /** TRACE_SPEED: a factor on the trace's own timing; null: max (closed loop, the trace repeated until DURATION ends). */
  readonly speed: number | null;
  /** Ops of the trace due in the measured part (a factor): the measured part replays these. */
  readonly measuredOps: number;
  /** The TTL of a write the trace gives none: longer than the replay (KEY_TTL if longer), so such keys outlive it as in the trace. */
  readonly noTtlSeconds: number;
  /** The size of a value the trace never sizes: PAYLOAD_BYTES when given, else the mean of the trace's keys' sizes. */
  readonly fallbackBytes: number;
  /** TRACE_REFILL: a get that misses is refilled with a SET (cache-aside). */
  readonly refill: boolean;
}

/** One capacity objective: the given percentile of every op's latency (from its intended send time) at most `maxMs`. */
export interface Objective {
  /** e.g. 99 or 99.9 */
  readonly percentile: number;
  readonly maxMs: number;
}

/** MODE=capacity: the objective and the search (see load/capacity.ts). */
export interface CapacityPlan {
  readonly objectives: readonly Objective[];
  /** The largest share of failed ops a step may have and still meet the objective (SLO_ERRORS; 0: none). */
  readonly maxErrorShare: number;
  readonly startRate: number;
  /** Factor between two staircase steps (> 1). */
  readonly growth: number;
  /** Bisection stops once the lowest failing rate is within this fraction above the highest rate met. */
  readonly precision: number;
  readonly repeats: number;
  /** Steps per target at most, whatever the search still wants. */
  readonly maxSteps: number;
}

/** The load of a latency run (unused). */
export const NO_LOAD: LoadPlan = {
  mode: 'latency', clients: 1, connections: 1, pipeline: 1, rate: 0, warmupMs: 0, durationMs: 0, sliceMs: 0, workers: 1, keyspace: 0,
  distribution: { kind: 'uniform' }, startAtMs: null, capacity: null, workload: null, trace: null,
};

/** The schedule of a run without a fault. */
export const NO_FAULT: FaultPlan = { kind: 'none', atMs: 0, durationMs: 0, runMs: 0, command: '' };

/** A fault run's schedule (FAULT, FAULT_AT, FAULT_DURATION, DURATION, FAULT_COMMAND). */
export interface FaultPlan {
  readonly kind: FaultKind;
  /** When the fault is injected, in ms after the measurement of a target starts. */
  readonly atMs: number;
  /** How long a pause lasts or a restarted server stays down, in ms. */
  readonly durationMs: number;
  /** Length of the timed part of a fault run per target, in ms. */
  readonly runMs: number;
  /** FAULT=command: the shell command. */
  readonly command: string;
}

export interface ScenarioPlan {
  readonly name: string;
  readonly file?: string;
  readonly description: string;
  /** Every key of KEY_SPECS with its effective value and source. */
  readonly settings: ReadonlyMap<string, Setting>;
  /** The cartesian product of the sweepable keys' values, in file order. */
  readonly cases: readonly CaseParams[];
  readonly controls: RunControls;
}

export interface TargetConfig {
  readonly name: string;
  readonly servers: readonly ServerAddress[];
  /** `<NAME>_PROTOCOL`: RESP (the default) or memcached's text protocol. */
  readonly protocol: Protocol;
  /** `<NAME>_ITEM_SIZE_MAX` (memcache): the servers' item size limit in bytes (memcached -I); values must fit in it. */
  readonly itemSizeMax: number;
  readonly mode: Mode;
  readonly client: ClientName;
  /** `<NAME>_CACHE`: the client's own cache (tracking) or none. */
  readonly cache: CacheMode;
  /** `<NAME>_CACHE_ENTRIES`: entries the client's cache holds at most (GLIDE: as kilobytes, see its driver). */
  readonly cacheEntries: number;
  /** `<NAME>_READ_FROM`: where GETs go. */
  readonly readFrom: ReadFrom;
  /**
   * `<NAME>_WAIT`: replicas that must acknowledge each SET (WAIT <n> after it, on the same connection) before it
   * counts as written; 0: no WAIT (the default).
   */
  readonly waitReplicas: number;
  readonly username?: string;
  readonly password?: string;
  /** Where the password was read from (`<NAME>_PASSWORD_FILE`), shown in reports instead of it. */
  readonly passwordFile?: string;
  readonly tls: boolean;
  /** `<NAME>_TLS_CA`: a PEM file of the CA(s) that signed the servers' certificates, read during validation. */
  readonly tlsCa?: { readonly file: string; readonly pem: Buffer };
  /** `<NAME>_TLS_SERVERNAME`: the name to check the servers' certificates against (default: each server's host). */
  readonly tlsServername?: string;
  /**
   * A Redis Sentinel target (`<NAME>_SENTINELS`, mode sentinel): `servers` are the sentinels, `master` the name they
   * monitor the primary by, and the sentinels' own login (the data nodes' is USERNAME/PASSWORD).
   */
  readonly sentinel?: { readonly master: string; readonly username?: string; readonly password?: string };
  /** True for a local topology validated before its servers were started: `servers` is empty until bound. */
  readonly pendingServers?: boolean;
  /** For a target on a local topology: which one (several client set-ups may share it). */
  readonly localTopology?: string;
  /** Where each option came from (SERVERS, MODE, ...). Values of PASSWORD are never kept here. */
  readonly sources: Readonly<Partial<Record<TargetOption, Source>>>;
}

export interface RunPlan {
  readonly scenarios: readonly ScenarioPlan[];
  readonly targets: readonly TargetConfig[];
  /** Explicit --baseline, if given (validated to be one of the targets). */
  readonly baseline?: string;
  /**
   * Run-level deadlines (OP_TIMEOUT_MS, CONNECT_TIMEOUT_MS): one connection per target serves every
   * scenario, so every scenario must agree on them (checked), and these are the values in effect.
   */
  readonly connection: {
    readonly opTimeoutMs: number; readonly connectTimeoutMs: number;
    /** The largest PAYLOAD_BYTES of any scenario: what a client cache sized in bytes (GLIDE) is sized for. */
    readonly largestPayloadBytes: number;
    /** Some scenario is a fault run: clients connect with the retries an application would use (see TargetInfo.retries). */
    readonly resilient: boolean;
    /** Some fault run has a WORKLOAD: clients never send a write again after its connection closed (it may have run: see RunControls.exactWrites). */
    readonly exactWrites: boolean;
  };
  /** Things the user should know but that do not stop the run: likely misspellings, adjusted values. */
  readonly warnings: readonly string[];
}

/** A local topology that will be started after validation: a target whose servers are not known yet. */
export interface LocalTargetSpec {
  readonly name: string;
  readonly mode: Mode;
  /** The local topology whose servers it uses (default: its own name); several client set-ups can share one. */
  readonly topology?: string;
  /** Further `<NAME>_*` options cachebench sets for it (CLIENT, CACHE, READ_FROM). */
  readonly options?: Readonly<Partial<Record<TargetOption, string>>>;
}
