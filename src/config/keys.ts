/**
 * The registry of scenario keys: their types, ranges, defaults and documentation.
 * CLI flags, validation, help text and the README table are all derived from it.
 */
export interface KeySpec {
  /** Upper-case name used in scenario files, env vars and --envVars. */
  readonly name: string;
  readonly type: 'int' | 'number' | 'string';
  readonly min?: number;
  readonly max?: number;
  readonly default: number | string;
  /** A list value in a scenario file (or comma list elsewhere) makes a parameter sweep. */
  readonly sweepable: boolean;
  /** For string keys: the allowed values. */
  readonly choices?: readonly string[];
  /** Accepts a trailing % (value divided by 100). */
  readonly percent?: boolean;
  readonly description: string;
}

export const MIB = 1024 * 1024;

/** `FAULT`: what a fault run does to each target (see src/faults). */
export const FAULT_KINDS = ['none', 'kill-primary', 'pause-primary', 'restart-primary', 'kill-replica', 'failover', 'command', 'add-node', 'remove-node',
  'partition-primary', 'partition-client', 'island', 'partition-split'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/**
 * Network partitions of local servers in network namespaces (`--network namespaces`), healed after FAULT_DURATION:
 * partition-primary (a primary cut from every other node, the client still reaching it: the minority side),
 * partition-client (the client cut from one primary), island (every node cut from every other), partition-split (a
 * primary and a replica of another primary cut from the majority: the minority side of a split).
 */
export const PARTITION_FAULTS: readonly FaultKind[] = ['partition-primary', 'partition-client', 'island', 'partition-split'];
/** Partitions between cluster nodes: they need a Redis Cluster (partition-client works on any Redis topology). */
export const NODE_PARTITIONS: readonly FaultKind[] = ['partition-primary', 'island', 'partition-split'];
/** Faults that stop or signal server processes, or cut their network: only on local topologies cachebench started itself. */
export const DESTRUCTIVE_FAULTS: readonly FaultKind[] = ['kill-primary', 'pause-primary', 'restart-primary', 'kill-replica', 'add-node', 'remove-node', ...PARTITION_FAULTS];
/** Scaling events: slots migrate under load (local REDIS_CLUSTER only). */
export const SCALING_FAULTS: readonly FaultKind[] = ['add-node', 'remove-node'];

/**
 * `MODE`: latency (the seed loop in rounds), throughput (time-based load; see src/load) or capacity (open-loop steps of
 * rising rate against an objective; load/capacity.ts).
 */
export const RUN_MODES = ['latency', 'throughput', 'capacity'] as const;
/** The percentiles a capacity objective may name: `SLO_P<percentile>_MS` (P999 is 99.9). */
export const SLO_PERCENTILES: Readonly<Record<string, number>> = { SLO_P50_MS: 50, SLO_P90_MS: 90, SLO_P99_MS: 99, SLO_P999_MS: 99.9 };
export type RunMode = (typeof RUN_MODES)[number];

export const KEY_SPECS: readonly KeySpec[] = [
  { name: 'READ_RATIO', type: 'int', min: 0, max: 1_000_000, default: 100, sweepable: true,
    description: 'GETs of each key after its SET (the seed article\'s read ratio)' },
  { name: 'WRITE_COUNT', type: 'int', min: 1, max: 10_000_000, default: 10, sweepable: true,
    description: 'SETs of fresh UUID keys per iteration' },
  { name: 'PAYLOAD_BYTES', type: 'int', min: 1, max: 512 * MIB, default: 20_000, sweepable: true,
    description: 'value size in bytes (random bytes, new per key); 1 B to 512 MiB' },
  { name: 'KEY_TTL', type: 'int', min: 1, max: 30 * 24 * 3600, default: 300, sweepable: false,
    description: 'TTL in seconds on every key written (keys are also deleted by name after each iteration)' },
  { name: 'INVOCATION_COUNT', type: 'int', min: 0, max: 1_000_000, default: 0, sweepable: false,
    description: 'invocations of the seed loop per iteration; 0: a pilot stage picks it so that an iteration takes about ITERATION_TIME_MS (statistics stay per invocation)' },
  { name: 'ITERATION_TIME_MS', type: 'int', min: 1, max: 600_000, default: 100, sweepable: false,
    description: 'iteration length the pilot stage aims for, in ms (BenchmarkDotNet\'s IterationTime)' },
  { name: 'INTERLEAVE', type: 'string', default: 'iteration', sweepable: false, choices: ['iteration', 'key'],
    description: 'how targets alternate within a round: iteration (each runs its whole iteration in turn) or key (each key\'s SET and GETs in turn, ABBA; every target sees the same stretch of time)' },
  { name: 'OVERWRITE_RATE', type: 'number', min: 0, max: 100_000, default: 0, sweepable: false,
    description: 'overwrites per second, by a writer on a connection of its own, of the key the loop is reading (new versions); every read is then checked against the newest acknowledged version and stale reads are counted with their age. 0: no writer, the seed loop as is' },
  { name: 'FAULT', type: 'string', default: 'none', sweepable: false, choices: FAULT_KINDS,
    description: 'a fault run: none, or the fault injected FAULT_AT seconds into a DURATION-second run of each target in turn — kill-primary (SIGKILL), pause-primary (SIGSTOP for FAULT_DURATION), restart-primary (SIGKILL, started again after FAULT_DURATION), kill-replica (these four on local topologies only), failover (CLUSTER FAILOVER sent to a replica), command (runs FAULT_COMMAND), add-node (an empty primary joins and slots are rebalanced onto it under load) and remove-node (the primary of slot 0 is emptied by rebalancing, then removed with its replica; both local REDIS_CLUSTER only), ' +
      'and the network partitions of local servers in network namespaces, healed after FAULT_DURATION: partition-primary (the primary of slot 0 cut from every other node, still reached by the client), ' +
      'partition-client (the client cut from that primary), island (every node cut from every other) and partition-split (that primary and a replica of another cut from the rest)' },
  { name: 'FAULT_AT', type: 'number', min: 0, max: 24 * 3600, default: 5, sweepable: false,
    description: 'seconds after a fault run\'s measurement starts when the fault is injected' },
  { name: 'FAULT_DURATION', type: 'number', min: 0, max: 24 * 3600, default: 5, sweepable: false,
    description: 'seconds a pause-primary lasts, or a restart-primary stays down' },
  { name: 'DURATION', type: 'number', min: 1, max: 6 * 3600, default: 20, sweepable: false,
    description: 'length in seconds of a fault run or a throughput run per target (time-based, not round-based; at most 6 h: a fault run\'s timeline keeps 100 ms buckets; a throughput run measures whole seconds)' },
  { name: 'FAULT_COMMAND', type: 'string', default: '', sweepable: false,
    description: 'FAULT=command: the shell command that makes the fault (e.g. kubectl delete pod cache-0); its exit status and last 10 output lines are recorded, and its process group is killed when the run ends. From a scenario file it runs only with --allow-commands or CACHEBENCH_ALLOW_COMMANDS=1' },
  { name: 'MODE', type: 'string', default: 'latency', sweepable: false, choices: RUN_MODES,
    description: 'latency: the seed loop, one op at a time, in interleaved rounds (BenchmarkDotNet statistics of iteration times); throughput: CLIENTS virtual clients on CONNECTIONS connections per worker, for DURATION seconds per target, the targets taking turns in SLICE_SECONDS slices (ops/s statistics over 1-second intervals, latency histograms, per-second series); capacity: open-loop steps of rising rate per target until the SLO_* objective fails, the knee (the highest rate that met it) found to CAPACITY_PRECISION with an interval' },
  ...Object.entries(SLO_PERCENTILES).map(([name, p]): KeySpec => ({ name, type: 'number', min: 0, max: 3_600_000, default: 0, sweepable: false,
    description: `capacity run: the objective's p${p} in ms, of every op's latency from its intended send time (coordinated omission corrected); 0: not part of the objective` })),
  { name: 'SLO_ERRORS', type: 'number', min: 0, max: 1, default: 0, sweepable: false, percent: true,
    description: 'capacity run: the largest share of failed ops a step may have and still meet the objective (0.001 or 0.1%); 0: none' },
  { name: 'CAPACITY_START_RATE', type: 'number', min: 1, max: 10_000_000, default: 1000, sweepable: false,
    description: 'capacity run: the offered ops/s of the first step of the staircase (it steps down from there when the objective fails at once)' },
  { name: 'CAPACITY_GROWTH', type: 'number', min: 1.1, max: 10, default: 2, sweepable: false,
    description: 'capacity run: the factor between two steps of the staircase' },
  { name: 'CAPACITY_PRECISION', type: 'number', min: 0.01, max: 0.5, default: 0.05, sweepable: false, percent: true,
    description: 'capacity run: bisection stops once the lowest rate that failed is within this fraction above the highest rate met (0.05 or 5%)' },
  { name: 'CAPACITY_REPEATS', type: 'int', min: 1, max: 20, default: 3, sweepable: false,
    description: 'capacity run: steps repeated at the highest rate met; the knee must meet the objective in every one' },
  { name: 'CAPACITY_MAX_STEPS', type: 'int', min: 3, max: 200, default: 30, sweepable: false,
    description: 'capacity run: steps per target at most (each WARMUP_SECONDS + DURATION long)' },
  { name: 'CLIENTS', type: 'int', min: 1, max: 100_000, default: 50, sweepable: false,
    description: 'throughput run: virtual clients per worker, each running the seed loop (its own keys, every read verified) or the KEYSPACE mix, one op at a time' },
  { name: 'CONNECTIONS', type: 'int', min: 1, max: 10_000, default: 50, sweepable: false,
    description: 'throughput run: client connections per target and worker, shared by the clients (client i uses connection i mod CONNECTIONS; a cluster client counts as one connection per node)' },
  { name: 'PIPELINE', type: 'int', min: 1, max: 10_000, default: 1, sweepable: false,
    description: 'throughput run: most ops in flight on one connection at once (clients beyond that wait for a slot)' },
  { name: 'RATE', type: 'number', min: 0, max: 10_000_000, default: 0, sweepable: false,
    description: 'throughput run: open-loop ops/s per target for the whole run (split over workers and --shard processes), sent on a fixed schedule and timed from each op\'s intended send time (coordinated omission corrected) as well as from its actual send; 0: closed loop (each client sends its next op when the last one returned)' },
  { name: 'WARMUP_SECONDS', type: 'number', min: 0, max: 3600, default: 2, sweepable: false,
    description: 'throughput run: seconds of load per target before the measured DURATION, not counted' },
  { name: 'SLICE_SECONDS', type: 'int', min: 0, max: 3600, default: 2, sweepable: false,
    description: 'throughput run with several targets: they take turns in slices of this many seconds, the order rotated each stretch, so each gets its share of every stretch of the run and Percent pairs their measured seconds (as latency runs pair rounds); 0, or DURATION or more: each target runs its whole DURATION in turn' },
  { name: 'WORKERS', type: 'int', min: 1, max: 256, default: 1, sweepable: false,
    description: 'throughput run: OS processes generating load, each with its own event loop and connections; histograms are merged, never averaged' },
  { name: 'KEYSPACE', type: 'int', min: 0, max: 100_000_000, default: 0, sweepable: false,
    description: 'throughput run (and any run with a WORKLOAD): 0 = the seed\'s fresh-key pattern; N = a cache-style mix over N keys preloaded before the run (a GET per READ_RATIO, a SET otherwise; a GET that misses is counted and refills the key), keys picked by KEY_DISTRIBUTION' },
  { name: 'KEY_DISTRIBUTION', type: 'string', default: 'uniform', sweepable: false,
    description: 'throughput run with KEYSPACE (and any run with a WORKLOAD): uniform, sequential (each client walks the keys in order), or zipf:<exponent> (key rank r drawn with probability ∝ 1/r^exponent, e.g. zipf:0.99 as in YCSB)' },
  { name: 'WORKLOAD', type: 'string', default: '', sweepable: false,
    description: 'runs with a KEYSPACE (latency, throughput, capacity and fault runs): a command mix instead of the seed loop or GET/SET, every reply verified against a model of the keys: a built-in (ycsb-a, ycsb-b, ycsb-c, ycsb-d, ycsb-f, session, counters, leaderboard, queue, fanout) or entries `WEIGHT:COMMAND ARGS[; COMMAND ARGS…]` separated by commas, with placeholders {key[:pattern]}, {keys:N}, {value[:bytes]}, {field[:N]}, {member[:N]}, {int[:max]}, {ttl} (see README, Workloads); empty: none' },
  { name: 'VALUE_SIZES', type: 'string', default: '', sweepable: false,
    description: 'WORKLOAD runs: the sizes of the values written, instead of PAYLOAD_BYTES: BYTES, MIN-MAX (uniform), SIZE:WEIGHT,… (a weighted list) or lognormal:MEAN:SIGMA[:MIN-MAX]; reported as a histogram of the sizes written (see README, Workloads); empty: PAYLOAD_BYTES' },
  { name: 'KEY_TTL_MAX', type: 'int', min: 0, max: 30 * 24 * 3600, default: 0, sweepable: false,
    description: 'WORKLOAD runs: TTLs drawn uniformly from KEY_TTL to KEY_TTL_MAX seconds, per write (the preload, SET without EX, {ttl}); 0: every TTL is KEY_TTL' },
  { name: 'TRACE', type: 'string', default: '', sweepable: false,
    description: 'throughput runs: a cache trace replayed at its own timing instead of a mix, every read verified (CSV in the columns of Twitter\'s cache traces: timestamp,key,key_size,value_size,client_id,operation,ttl; see README, Trace replay); a relative path is from the scenario file\'s folder (and must stay within it) or, from env and flags, from the working directory; empty: none' },
  { name: 'TRACE_SPEED', type: 'string', default: '1', sweepable: false,
    description: 'TRACE runs: a factor on the trace\'s timing (2: twice as fast; open loop, latency from each op\'s intended time), or max (closed loop: CLIENTS replay it back to back, from the start again until DURATION ends)' },
  { name: 'TRACE_REFILL', type: 'string', default: 'on', sweepable: false,
    description: 'TRACE runs: on: a get that misses is refilled with a SET (cache-aside, as the application would); off: not (a trace recorded at the cache server, as Twitter\'s are, already holds the application\'s set after each miss)' },
  { name: 'START_AT', type: 'string', default: '', sweepable: false,
    description: 'throughput and capacity runs: wall-clock time (ISO 8601 UTC, e.g. 2026-11-26T10:00:00Z, or Unix seconds) when the first target\'s warm-up starts, shared by the --shard processes of one distributed run (a capacity run then follows a planned staircase); empty: as soon as every worker is ready' },
  { name: 'WARMUP_ITERATIONS', type: 'int', min: 0, max: 1000, default: 2, sweepable: false,
    description: 'iterations per target run first and discarded' },
  { name: 'MIN_ITERATIONS', type: 'int', min: 2, max: 100_000, default: 15, sweepable: false,
    description: 'measured iterations (rounds) before the stopping rule may stop; lowered to MAX_ITERATIONS (with a warning) when that is smaller' },
  { name: 'MAX_ITERATIONS', type: 'int', min: 2, max: 100_000, default: 100, sweepable: false,
    description: 'measured iterations (rounds) at most' },
  { name: 'MAX_RELATIVE_ERROR', type: 'number', min: 0.0001, max: 1, default: 0.02, sweepable: false, percent: true,
    description: 'stop once every target\'s Error < this fraction of its Mean (0.02 or 2%)' },
  { name: 'MAX_PERCENT_ERROR', type: 'number', min: 0, max: 1, default: 0, sweepable: false, percent: true,
    description: 'stop once every target\'s Percent is known within ± this fraction of itself (its 99.9% paired interval against the fastest target or --baseline; 0.02 or 2%), after MIN_ITERATIONS; 0: off (MAX_RELATIVE_ERROR decides)' },
  { name: 'MAX_TIME', type: 'number', min: 0.001, max: 7 * 24 * 3600, default: 300, sweepable: false,
    description: 'time budget in seconds per parameter combination (all targets, warm-up included); checked before every op, so a long iteration is cut (and not counted) at the budget' },
  { name: 'OP_TIMEOUT_MS', type: 'int', min: 1, max: 600_000, default: 2000, sweepable: false,
    description: 'deadline of every single SET/GET/DEL in ms; a late op counts as a failed op; run-level (scenarios of one run must agree)' },
  { name: 'CONNECT_TIMEOUT_MS', type: 'int', min: 1, max: 600_000, default: 3000, sweepable: false,
    description: 'deadline to connect to each listed server in ms; run-level (scenarios of one run must agree)' },
  { name: 'DESCRIPTION', type: 'string', default: '', sweepable: false,
    description: 'one-line description of the scenario, shown in the report' },
];

export const KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEY_SPECS.map((k) => [k.name, k]));

/** Per-target option suffixes: `<NAME>_SERVERS`, `<NAME>_MODE`, ... */
export const TARGET_OPTIONS = ['SERVERS', 'PROTOCOL', 'MODE', 'CLIENT', 'CACHE', 'CACHE_ENTRIES', 'READ_FROM', 'WAIT', 'USERNAME', 'PASSWORD', 'PASSWORD_FILE', 'TLS', 'TLS_CA', 'TLS_SERVERNAME', 'ITEM_SIZE_MAX',
  'SENTINELS', 'SENTINEL_MASTER', 'SENTINEL_USERNAME', 'SENTINEL_PASSWORD'] as const;
export type TargetOption = (typeof TARGET_OPTIONS)[number];

/**
 * auto asks the server (INFO); proxy sends no INFO/CLUSTER/CLIENT (twemproxy and other proxies); sentinel: the target is
 * named by `<NAME>_SENTINELS` (Redis Sentinel), and the client asks the sentinels where the primary is.
 */
export const MODES = ['auto', 'cluster', 'standalone', 'proxy', 'sentinel'] as const;
/** A Sentinel deployment's master name when `<NAME>_SENTINEL_MASTER` is not set (Redis's own example name). */
export const DEFAULT_SENTINEL_MASTER = 'mymaster';
export type Mode = (typeof MODES)[number];
/** `<NAME>_PROTOCOL`: RESP (Redis, Valkey, their clusters and proxies) or memcached's text protocol. */
export const PROTOCOLS = ['resp', 'memcache'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
/** RESP drivers (resp: cachebench's own RESP client), then the memcache driver (the only one for `<NAME>_PROTOCOL=memcache`). */
export const CLIENTS = ['ioredis', 'node-redis', 'glide', 'resp', 'memcache'] as const;
export type ClientName = (typeof CLIENTS)[number];
/** The drivers of each protocol. */
export const PROTOCOL_CLIENTS: Readonly<Record<Protocol, readonly ClientName[]>> = { resp: ['ioredis', 'node-redis', 'glide', 'resp'], memcache: ['memcache'] };
/** memcached's default item size limit (`memcached -I 1m`): key, item header and value together. */
export const DEFAULT_ITEM_SIZE_MAX = 1024 * 1024;
/** Room an item needs besides its value: cachebench's keys are under 100 bytes, memcached's item header about 50. */
export const ITEM_OVERHEAD_BYTES = 1024;
/** `<NAME>_CACHE`: off, or the client's own cache kept coherent by the server (RESP3 CLIENT TRACKING). */
export const CACHE_MODES = ['off', 'tracking'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
/** `<NAME>_READ_FROM`: where GETs go; SETs and DELs always go to primaries. */
export const READ_FROM = ['primary', 'replica'] as const;
export type ReadFrom = (typeof READ_FROM)[number];
/** `<NAME>_CACHE_ENTRIES` when not set: entries the client's cache holds at most. */
export const DEFAULT_CACHE_ENTRIES = 10_000;

/** What each driver can do, by the mode the target has (`auto` resolves to cluster or standalone when probed). */
export interface ClientSupport {
  readonly modes: readonly Mode[];
  /** Modes in which `<NAME>_CACHE=tracking` works. */
  readonly cache: readonly Mode[];
  /** Modes in which `<NAME>_READ_FROM=replica` works. */
  readonly replicaReads: readonly Mode[];
}

export const CLIENT_SUPPORT: Readonly<Record<ClientName, ClientSupport>> = {
  ioredis: { modes: ['auto', 'cluster', 'standalone', 'proxy', 'sentinel'], cache: [], replicaReads: ['auto', 'cluster'] },
  'node-redis': { modes: ['auto', 'cluster', 'standalone', 'proxy', 'sentinel'], cache: ['auto', 'cluster', 'standalone', 'sentinel'], replicaReads: ['auto', 'cluster'] },
  glide: { modes: ['auto', 'cluster', 'standalone'], cache: ['auto', 'cluster', 'standalone'], replicaReads: ['auto', 'cluster'] },
  // cachebench's own RESP client: no client-side cache, GETs from primaries.
  resp: { modes: ['auto', 'cluster', 'standalone', 'proxy'], cache: [], replicaReads: [] },
  // auto: one memcached, or several sharded by the client (a pool); proxy: twemproxy and the like, which shard themselves.
  memcache: { modes: ['auto', 'standalone', 'proxy'], cache: [], replicaReads: [] },
};

/** kebab-case flag for a key: READ_RATIO -> read-ratio */
export function flagName(key: string): string {
  return key.toLowerCase().replace(/_/g, '-');
}
