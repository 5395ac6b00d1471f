/**
 * Limits that validation names, on the ground floor: the sweep caps, the clean-up batch, the preload speed assumed for
 * KEY_TTL and START_AT, and the per-object byte figures of the memory estimate (see memory.ts). Nothing here imports
 * from above.
 */

/**
 * Most parameter combinations one scenario's sweep may make (the product of its list lengths). Each combination runs
 * its own warm-up, pilot and at least MIN_ITERATIONS rounds of every target (a throughput combination: WARMUP_SECONDS +
 * DURATION per target), and the report has a table per combination: 1,000 combinations is already hours of
 * measurement and a report nobody reads, while 10^9 (three 1,000-value lists) is never a benchmark, only a crash.
 */
export const MAX_SWEEP_CASES = 1000;

/**
 * Most results one run (or one merge) writes: parameter combinations of every scenario × targets. Each is a table row
 * and a results.json entry of a few KB to a few hundred KB; `report`, `merge` and `compare` read no more than this.
 */
export const MAX_RUN_RESULTS = 10_000;

/** Most values one sweep list may hold: a longer list alone makes more than MAX_SWEEP_CASES combinations. */
export const MAX_SWEEP_VALUES = MAX_SWEEP_CASES;

/** Keys deleted per pipelined batch by the KEYSPACE clean-up and after each latency iteration (all in flight at once). */
export const DELETE_BATCH_KEYS = 1000;

/**
 * A conservative preload (and delete) speed in keys/s per process: for the START_AT gap between targets and for the
 * warning that KEY_TTL is shorter than the preload and the run (a local Redis takes 50,000–200,000 pipelined SETs/s).
 */
export const PRELOAD_KEYS_PER_S = 10_000;

/** Keys one latency iteration holds at most when the pilot stage multiplies invocations (all targets together). */
export const PILOT_MAX_KEYS = 100_000;
/** Payload bytes one latency iteration holds at most when the pilot stage multiplies invocations (all targets together). */
export const PILOT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * JS heap per key of a latency iteration held until its deletion: the key string (`cachebench:<runId>:<uuid>`, a cons
 * string and its flat copy), the payload's Buffer object and two array slots. Measured at 630–720 bytes with Node 20
 * (1 million keys of 100 B and of 5 KB, heapUsed before and after); rounded up.
 */
export const HEAP_BYTES_PER_KEY = 800;

/** Heap per virtual client of a throughput run: its async loop, promises, closures, key and pipeline slot waiter. */
export const HEAP_BYTES_PER_CLIENT = 4096;

/** Heap per client connection of a throughput run (driver objects, parser, write queue). */
export const HEAP_BYTES_PER_CONNECTION = 64 * 1024;

/** Keys preloaded at once per connection by a throughput worker (each with a value buffer of its own). */
export const PRELOAD_IN_FLIGHT = 16;

/** Heap per measured iteration kept for the report, per target and combination: two sample arrays of boxed doubles. */
export const HEAP_BYTES_PER_SAMPLE = 48;

/** Heap per target and combination kept for the report: encoded histograms, counters, the result object. */
export const HEAP_BYTES_PER_RESULT = 64 * 1024;

/** Heap per measured second of a throughput worker: the second's counters and its encoded histogram. */
export const HEAP_BYTES_PER_SECOND = 4096;

/** The process itself: the loaded code, drivers, live histograms (three per target), report rendering. */
export const BASE_PROCESS_BYTES = 128 * 1024 * 1024;

/**
 * Share of V8's heap limit (`heap_size_limit`) the estimate may fill: the collector needs room to move objects, and a
 * heap run near its limit spends its time collecting before it dies.
 */
export const HEAP_SHARE = 0.75;

/** Share of the machine's memory (or its cgroup limit) the estimate may fill: the OS, and local servers, need the rest. */
export const MACHINE_SHARE = 0.8;

/**
 * A versioned value (OVERWRITE_RATE > 0) carries its version in its first VERSION_BYTES, then needs random bytes too:
 * with fewer, another key's value could pass as a version of this one. Validation names both (workload/overwriter.ts).
 */
export const VERSION_BYTES = 8;
export const MIN_VERSIONED_PAYLOAD_BYTES = VERSION_BYTES + 16;

/**
 * Bytes at the start of a KEYSPACE value that name its key (index, little-endian 32 bits, and a check word), so a
 * misrouted value cannot pass: the smallest PAYLOAD_BYTES with a KEYSPACE (load/keys.ts).
 */
export const KEYSPACE_HEADER_BYTES = 8;

/** Bytes at the start of a WORKLOAD value that name its key and its write (workload/mix-model.ts): the smallest value a WORKLOAD writes. */
export const MIX_HEADER_BYTES = 12;
/** The most keys a WORKLOAD run follows in its model (each has one writer, and the model keeps what was written to it). */
export const MIX_MAX_KEYSPACE = 1_000_000;
/** Hash fields, sorted-set members and list elements the WORKLOAD model may follow over the whole KEYSPACE (its memory). */
export const MIX_MODEL_ENTRIES = 5_000_000;
/** What one followed field, member or element costs the model's heap (a Map entry and its record), measured: ~120 bytes. */
export const MIX_MODEL_BYTES_PER_ENTRY = 150;
/** Elements of one list the model follows at most (fewer when MIX_MODEL_ENTRIES / KEYSPACE is smaller). */
export const MIX_LIST_MAX = 1000;
/** What a WORKLOAD's keys may hold on the servers (its preload, and lists at their cap). */
export const MIX_SERVER_BYTES = 4 * 1024 * 1024 * 1024;
