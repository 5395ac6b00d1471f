import { ConfigError } from '../config/errors.js';
import { FAULT_KINDS, KEY_SPECS } from '../config/keys.js';
import { InputFileError, MAX_RESULTS_FILE_BYTES, readInputFile } from '../config/input-file.js';
import { STOP_REASONS } from '../run/result.js';
import { MIX_COMMANDS, MIX_LIMITS, OP_NAME } from '../config/workload.js';
import { SIZE_LIMITS } from '../config/sizes.js';
import { TRACE_LIMITS, TRACE_OPS } from '../config/trace.js';
import { MAX_COMMANDS } from '../load/record.js';
import { MAX_MERGE_NOTES, SCHEMA_VERSION, type ResultsDocument } from './document.js';
import {
  RESULT_LIMITS, SchemaError, type Check, shown, fail, isObject, num, sampleMs, percent, percentBound, ms, confidence, count, bool, text,
  pattern, oneOf, nullable, optional, list, record, object, ordered, scalarOrList, histogram, fraction, positiveCount,
} from './schema-checks.js';

export { SCHEMA_VERSION } from './document.js';
export { RESULT_LIMITS } from './schema-checks.js';
export type { ResultEntry, ResultsDocument } from './document.js';

/**
 * The reader of results.json (`report`, `merge`, `compare`): a results file is input like a flag. Only a regular file
 * of bounded size is read; every field a renderer, the merge or the gate reads is checked for its type; arrays,
 * free text and encoded histograms are bounded, so no file can make the work unbounded; every name that becomes part
 * of a path is a safe file name. Anything else is a ConfigError (exit 2) naming the file, the field and the fix.
 */

/** A runId or another name that becomes a file or folder name: no separator, no `..`, no leading dot or dash. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Target names as config/resolve.ts accepts them (the prefix of `<NAME>_SERVERS`). */
const TARGET_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;

const names = {
  runId: pattern(SAFE_NAME, 'a run id of letters, digits, ".", "_" and "-" (at most 128, no "..")', 'use the runId cachebench wrote; it names the report folder of --out'),
  target: pattern(TARGET_NAME, 'a target name (A–Z, 0–9 and "_", as in <NAME>_SERVERS)', 'use the target names cachebench wrote'),
  // A scenario is named after its file (any basename): a file name, so no separator, control character or "..".
  scenario: pattern(/^(?![.-])[^/\\\u0000-\u001f\u007f]{1,255}$/, 'a scenario name (a file name without a folder)', 'use the scenario names cachebench wrote'),
};

const opStats = object({
  count: count, errors: count,
  meanUs: optional(num), p50Us: optional(num), p90Us: optional(num), p99Us: optional(num), p999Us: optional(num), maxUs: optional(num),
  histogram: optional(histogram),
});
const ops = object({ set: opStats, get: opStats });
const params = record(num, 100);
const phase = object({ fromMs: num, toMs: num, ops: count, p50Us: nullable(num), p99Us: nullable(num), maxUs: nullable(num) });
const nullableNums = (max: number): Check => list(nullable(num), max);
const N = RESULT_LIMITS;

/** WORKLOAD as recorded: a built-in's name or a mix, bounded as the key is. */
const workloadText: Check = (v, at, b) => {
  const t = text(v, at, b) as string;
  if (t.length > MIX_LIMITS.textChars) fail(at, `at most ${MIX_LIMITS.textChars} characters`, `${t.length} characters`);
  return t;
};
/** CPU seconds a process used per second: at most its CPUs (1,024 here). */
const cpuSeconds: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1024)) fail(at, 'CPU seconds per second from 0 to 1024', v);
  return v;
};
/** Bytes per op on the wire, or per key in the servers' memory: from 0 to 1 TB (a value is at most 512 MB). */
const bytesPerOp: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1e12)) fail(at, 'bytes from 0 to 1e12', v);
  return v;
};
const bytesPerKey = bytesPerOp;
const clientLoad = object({
  busy: fraction, cpuUsPerOp: nullable(ms), loopDelayP99Ms: ms, gcMsPerSecond: ms, seconds: positiveCount,
  cpuPerSecond: optional(cpuSeconds), cores: optional(positiveCount), wireBytesPerOp: optional(bytesPerOp),
});
const workers = list(object({ worker: text, ops: count, peakRssBytes: num, client: optional(nullable(clientLoad)), input: optional(count) }), N.items);
/** SLICE_SECONDS of a sliced throughput run (the stretches Percent pairs are cut from it). */
const sliceSeconds: Check = (v, at, b) => {
  const n = count(v, at, b) as number;
  if (n < 1 || n > 3600) fail(at, 'whole seconds from 1 to 3600', String(n));
  return n;
};
/**
 * A WORKLOAD op's name as cachebench writes it (it becomes a table cell and a CSV field): a command it has a model of,
 * or a transaction or script of them (MULTI(INCR+GET)); housekeeping also names the EVAL sent after NOSCRIPT.
 */
const commandName = OP_NAME;
const COMMAND_NAME = 'a command cachebench has a model of (GET, HSET, …), or MULTI(…)/EVAL(…) of them';
const housekeepingName = new RegExp(`^(?:${Object.keys(MIX_COMMANDS).join('|')}|EVAL|WAIT)$`);
/** Per-command records: named by command, at most MAX_COMMANDS of them. */
const byCommand = (check: Check, names = commandName, about = COMMAND_NAME): Check => (v, at, b) => {
  const out = record(check, MAX_COMMANDS)(v, at, b) as Record<string, unknown>;
  for (const k of Object.keys(out)) if (!names.test(k)) fail(`${at}.${k.slice(0, 40)}`, about, k.slice(0, 40));
  return out;
};
/** Ops per second: 0 or more, finite. */
const opsRate: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1e12)) fail(at, 'ops per second from 0 to 1e12', v);
  return v;
};
/** A command's counts: failed ops and verdicts (one per answered op) add up to at most its ops. */
interface CommandCounts {
  ops: number; errors?: number; service?: { errors: number }; verified: number; missing: number; mismatched: number; unverified: number; stale?: number;
}
const commandCounts = (check: Check): Check => (v, at, b) => {
  const c = check(v, at, b) as CommandCounts;
  const judged = c.verified + c.missing + c.mismatched + c.unverified + (c.stale ?? 0) + (c.errors ?? c.service?.errors ?? 0);
  if (judged > c.ops) fail(at, 'failed ops and verdicts adding up to at most its ops', `${judged} of ${c.ops}`);
  return c;
};
const commandRecord = commandCounts(object({
  ops: count, errors: count, verified: count, missing: count, mismatched: count, unverified: count, stale: optional(count), sentBytes: count, readBytes: count,
  latency: histogram, intended: nullable(histogram),
}));
/** A trace's operation names (keys of its counts), and its record and result (config/trace.ts, load/trace-client.ts). */
const traceOp = new RegExp(`^(?:${TRACE_OPS.join('|')})$`);
const byTraceOp: Check = (v, at, b) => {
  const out = record(count, TRACE_OPS.length)(v, at, b) as Record<string, unknown>;
  for (const k of Object.keys(out)) if (!traceOp.test(k)) fail(`${at}.${k.slice(0, 40)}`, `a trace operation (${TRACE_OPS.join(', ')})`, k.slice(0, 40));
  return out;
};
const traceSpeed: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0.001 && v <= 1000)) fail(at, 'a TRACE_SPEED from 0.001 to 1000 (null: max)', v);
  return v;
};
const traceSpan: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= TRACE_LIMITS.spanSeconds)) fail(at, `seconds from 0 to ${TRACE_LIMITS.spanSeconds}`, v);
  return v;
};
const traceRecord = object({
  lag: nullable(histogram), earlyMs: ms, refills: count, lost: count, evictions: optional(nullable(count)), unexplained: optional(count), skipped: byTraceOp,
});
const traceResult = object({
  name: pattern(/^[A-Za-z0-9._-]{1,80}$/, 'a file name of letters, digits, ".", "_" and "-"', 'use the results cachebench wrote'),
  digest: pattern(/^[0-9a-f]{64}$/, 'a sha256 in hex', 'use the results cachebench wrote'), speed: nullable(traceSpeed), refill: optional(bool), ops: count, keys: count, spanSeconds: traceSpan,
  clients: count, counts: byTraceOp, counterKeys: count, lagMs: nullable(object({ p50: ms, p99: ms, p999: ms, max: ms })), earlyMs: ms, refills: count,
  lost: count, evictions: nullable(count), unexplained: count, skipped: byTraceOp,
});
const loadRecord = object({
  target: text, startMs: num, durationMs: num, view: oneOf('intended', 'service'),
  sets: count, gets: count, setErrors: count, getErrors: count, scheduled: nullable(count), sent: nullable(count), lateStartMs: num,
  verified: count, missing: count, mismatched: count, hits: nullable(count), misses: nullable(count), deletes: count, undeletedKeys: count,
  errorMessages: record(count, N.items),
  histograms: object({ set: histogram, get: histogram, setIntended: nullable(histogram), getIntended: nullable(histogram) }),
  series: list(object({ t: num, ops: count, sets: count, gets: count, errors: count, latency: histogram }), N.seconds),
  nodes: nullable(list(object({ node: text, slots: text, ops: count, errors: count, latency: histogram }), N.items)),
  sliceSeconds: optional(nullable(sliceSeconds)),
  workers,
  serverCpu: optional(nullable(object({ ms, nodes: positiveCount, windows: positiveCount, planned: positiveCount, source: oneOf('INFO cpu', '/proc', 'stats') }))),
  serverMemory: optional(nullable(object({ bytesPerKey, keys: positiveCount, nodes: positiveCount, source: oneOf('INFO memory', 'stats') }))),
  commands: optional(byCommand(commandRecord)),
  unverified: optional(count),
  valueSizes: optional(histogram),
  housekeeping: optional(byCommand(count, housekeepingName, 'a command cachebench has a model of, or EVAL')),
  trace: optional(traceRecord),
});
const shard: Check = (v, at, b) => {
  const s = object({ index: count, of: count })(v, at, b) as { index: number; of: number };
  if (s.of < 1 || s.of > N.items || s.index >= s.of) fail(at, `a shard i/N with 0 ≤ i < N ≤ ${N.items}`, `${s.index}/${s.of}`);
  return s;
};
const throughput = ordered(object({
  n: count, mean: nullable(num), error: nullable(num), stdDev: nullable(num), median: nullable(num), min: nullable(num), max: nullable(num),
  percent: nullable(percent), percentLower: nullable(percentBound), percentUpper: nullable(percentBound), percentPairs: optional(nullable(count)), confidence,
}), [['min', 'max'], ['percentLower', 'percentUpper']]);
/** A step's verdict: a line of text, not a page. */
const shortText: Check = (v, at, b) => {
  const t = text(v, at, b) as string;
  if (t.length > 500) fail(at, 'at most 500 characters', `${t.length} characters`);
  return t;
};
const capacityStep = object({
  offered: num, achieved: num, ops: count, errors: count, latencyMs: record(nullable(num), 8), clientBound: bool,
  phase: oneOf('staircase', 'search', 'repeat'), met: bool, why: nullable(shortText), completed: optional(num), record: optional(loadRecord),
});
/** A capacity interval: [knee, lowest rate that failed], knee ≤ the other. */
const rateInterval: Check = (v, at, b) => {
  const pair = list(num, 2)(v, at, b) as number[];
  if (pair.length !== 2 || !((pair[0] as number) <= (pair[1] as number))) fail(at, 'two rates, the lower first', v);
  return pair;
};
/** A capacity key's value within the limits the key registry gives it (a crafted plan cannot make merge plan a billion steps). */
const keyLimits = (name: string): Check => {
  const spec = KEY_SPECS.find((k) => k.name === name);
  const [lo, hi] = [spec?.min ?? 0, spec?.max ?? 0];
  return (v, at) => {
    if (typeof v !== 'number' || !(v >= lo && v <= hi)) fail(at, `${name}: a number from ${lo} to ${hi}`, v);
    return v;
  };
};
const capacity = object({
  objectives: list(object({ percentile: num, maxMs: num }), 8), maxErrorShare: fraction, startRate: keyLimits('CAPACITY_START_RATE'), growth: keyLimits('CAPACITY_GROWTH'),
  precision: fraction, repeats: keyLimits('CAPACITY_REPEATS'), maxSteps: keyLimits('CAPACITY_MAX_STEPS'),
  steps: list(capacityStep, N.items), knee: nullable(num), interval: nullable(rateInterval), lowerBound: nullable(num),
  stop: oneOf('found', 'client-bound', 'max-steps', 'never-met', 'aborted'),
});
/** VALUE_SIZES as recorded (its canonical text), bounded as the key is. */
const valueSizesText: Check = (v, at, b) => {
  const t = text(v, at, b) as string;
  if (t.length > SIZE_LIMITS.textChars) fail(at, `at most ${SIZE_LIMITS.textChars} characters`, `${t.length} characters`);
  return t;
};
const ttlText = pattern(/^\d{1,8}(?:-\d{1,8})?$/, 'seconds, or a range of seconds such as 300-600', 'use the results cachebench wrote');
const values = object({ written: count, meanBytes: count, minBytes: count, p50Bytes: count, p90Bytes: count, p99Bytes: count, maxBytes: count });
/** A WORKLOAD's per-command summaries (load.commands, fault.commands). */
const commandSummaries = list(commandCounts(object({
  command: pattern(commandName, COMMAND_NAME, 'use the results cachebench wrote'), ops: count, share: fraction, opsPerSec: opsRate,
  service: opStats, intended: nullable(opStats), verified: count, missing: count, mismatched: count, unverified: count, stale: optional(count),
  sentBytesPerOp: nullable(count), readBytesPerOp: nullable(count),
})), MAX_COMMANDS);
const load = object({
  settings: object({
    clients: count, connections: count, pipeline: count, workers: count, rate: nullable(num), keyspace: count, distribution: text,
    warmupSeconds: num, durationSeconds: num, sliceSeconds: optional(nullable(sliceSeconds)), startAt: nullable(text), workload: optional(workloadText),
    valueSizes: optional(valueSizesText), ttl: optional(ttlText),
  }),
  shard: nullable(shard),
  mergedFrom: count,
  throughput,
  rate: object({ targetOpsPerSec: nullable(num), achievedOpsPerSec: num, achieved: nullable(bool) }),
  latency: object({ view: oneOf('intended', 'service'), service: ops, intended: nullable(ops) }),
  series: list(object({ t: num, ops: count, errors: count, p50Us: nullable(num), p99Us: nullable(num) }), N.seconds),
  nodes: nullable(list(object({ node: text, slots: text, ops: count, share: num, errors: count, p50Us: nullable(num), p99Us: nullable(num) }), N.items)),
  keyspace: nullable(object({ hits: count, misses: count, hitRate: nullable(num) })),
  workers,
  record: loadRecord,
  capacity: optional(capacity),
  commands: optional(commandSummaries),
  values: optional(values),
  trace: optional(traceResult),
});

/** A fault run with a WORKLOAD: its replies' verdicts and the final read of every key (faults/mix.ts). */
const faultMix = object({
  workload: workloadText, keyType: oneOf('string', 'counter', 'hash', 'list', 'zset'), keys: count, inRunMissing: count, inRunMismatched: count, inRunUnverified: count,
  keysChecked: count, keysLostMissing: count, keysLostDifferent: count, keysUnknown: count, keysUnchecked: count, lostKeys: list(text, N.items),
});
/** `<NAME>_CACHE=tracking` in a fault run: what the client's cache served across it (faults/cache-watch.ts). */
const faultCache = object({
  keys: count, readEveryMs: num, writeEveryMs: num, readsBefore: count, readsAfter: count, failedReads: count, writes: count, failedWrites: count,
  staleBefore: count, staleAfter: count, staleAgeMs: nullable(object({ p50: num, p99: num, max: num })), lastStaleAtMs: nullable(num),
  serverStale: count, missing: count, mismatched: count, unattributed: count,
  flushes: nullable(object({ count, onConnection: count, onSlotMap: count, onServer: count, atMs: list(num, N.items) })),
  lookups: nullable(count), hits: nullable(count),
  lastError: nullable(text),
});
const fault = object({
  kind: oneOf(...FAULT_KINDS), plannedAtMs: num, durationMs: num, runMs: num, injectedAtMs: nullable(num), actionEndMs: nullable(num),
  events: list(object({ atMs: num, what: text, ok: bool }), N.items),
  healed: nullable(text),
  failedOps: object({ set: count, get: count }),
  stalledOps: count,
  peakServerMemory: nullable(object({ totalBytes: num, maxBytes: num })),
  command: nullable(object({ command: text, exitCode: nullable(num), signal: nullable(text), durationMs: num, lastLines: list(text, N.items) })),
  redirections: nullable(object({ moved: count, ask: count })),
  scaling: nullable(object({ action: oneOf('add-node', 'remove-node'), node: text, migrationMs: num, slotsMoved: count, balance: list(object({ node: text, slots: count }), N.items) })),
  partition: optional(nullable(object({
    claims: oneOf('slots', 'role'),
    minority: list(text, N.items), minorityPrimaries: list(text, N.items), minorityAppliedWrites: nullable(count),
    minorityAckedWrites: nullable(count), minorityLostWrites: nullable(count), cutMs: num, minorityStoppedAfterMs: nullable(num),
    promotedAfterMs: nullable(num), dualOwnershipMs: num, dualWritableMs: num, convergedAfterHealMs: nullable(num),
  }))),
  clientRetries: text,
  timeline: object({
    bucketMs: num, ok: list(count, N.timelineBuckets), failed: list(count, N.timelineBuckets),
    p50Us: nullableNums(N.timelineBuckets), p99Us: nullableNums(N.timelineBuckets),
  }),
  windowMs: nullable(num), windowStartMs: nullable(num), windowEndMs: nullable(num), windowFailedOps: count, windowStalledOps: count,
  windowBadReads: object({ missing: count, mismatched: count }),
  recoveryMs: nullable(num), preFaultOpsPerSec: nullable(num),
  latency: object({ before: phase, during: phase, after: phase }),
  ackedWritesChecked: count, lostAckedWrites: count, lostMissing: count, lostDifferent: count, lostKeys: list(text, N.items),
  ackedWritesUnchecked: count, pendingAtFault: nullable(count), unackedWritesChecked: count, appliedUnackedWrites: count,
  peakPending: count, failedChecks: count, undeletedKeys: count,
  mix: optional(nullable(faultMix)),
  cache: optional(nullable(faultCache)),
  commands: optional(commandSummaries),
  housekeeping: optional(byCommand(count, housekeepingName, 'a command cachebench has a model of, or EVAL')),
});

/** A latency run with a WORKLOAD (latency/mix-turns.ts). */
const latencyMix = object({
  workload: workloadText, keyType: oneOf('string', 'counter', 'hash', 'list', 'zset'), keys: count, warmupOps: count, commands: commandSummaries,
  housekeeping: byCommand(count, housekeepingName, 'a command cachebench has a model of, or EVAL'), record: byCommand(commandRecord), values: optional(values),
});

const entry = object({
  scenario: object({ name: names.scenario, file: nullable(text), description: text, params }),
  target: object({
    name: names.target, mode: text, servers: list(text, N.items), client: text, cache: text, readFrom: text, wait: count,
    retries: optional(nullable(text)),
  }),
  state: oneOf('completed', 'errored', 'aborted'),
  error: nullable(text),
  baseline: bool,
  stats: ordered(object({
    n: count, outliers: count, meanMs: nullable(ms), errorMs: nullable(ms), stdDevMs: nullable(ms), medianMs: nullable(ms),
    minMs: nullable(ms), maxMs: nullable(ms), ciLowerMs: nullable(num), ciUpperMs: nullable(num),
    percent: nullable(percent), percentLower: nullable(percentBound), percentUpper: nullable(percentBound), percentPairs: nullable(count), confidence,
  }), [['minMs', 'maxMs'], ['ciLowerMs', 'ciUpperMs'], ['percentLower', 'percentUpper']]),
  samplesMs: list(sampleMs, N.iterations),
  roundSamplesMs: list(nullable(sampleMs), N.iterations),
  ops,
  verification: object({ reads: count, verified: count, missing: count, mismatched: count }),
  iterations: object({
    warmup: count, measured: count, failed: count, rounds: count, stopReason: oneOf(...STOP_REASONS), invocations: count, pilotMs: nullable(num),
    minIterations: optional(count),
  }),
  errors: record(count, N.items),
  undeletedKeys: count,
  staleness: optional(nullable(object({
    reads: count, ages: opStats,
    overwrites: optional(object({ due: count, sent: count, acked: count, failed: count })),
    overwriteError: optional(text), of: optional(count),
  }))),
  cache: optional(nullable(object({ lookups: count, hits: count, misses: count, invalidations: nullable(count), evictions: nullable(count) }))),
  fault: optional(nullable(fault)),
  load: optional(nullable(load)),
  harness: optional(nullable(object({ busy: fraction, cpuUsPerOp: nullable(ms), gcShare: optional(fraction) }))),
  mix: optional(latencyMix),
});

const setting = object({ value: scalarOrList, source: text });
const environment = object({
  tool: text, toolVersion: text, node: text, os: text, cpu: text, cpuCount: count, memoryGiB: num,
  placement: optional(nullable(object({ layout: text, clientCpus: nullable(text), serverCpus: nullable(text), description: text }))),
  network: optional(text),
  loadAverage: optional(object({ before: list(num, 3), after: list(num, 3) })),
  targets: list(object({
    name: names.target, servers: list(text, N.items), mode: text, modeDetected: bool, serverVersion: text, primaries: count, replicas: count,
    client: text, clientVersion: text, tls: bool, cache: text, cacheEntries: nullable(count), readFrom: text,
    capabilities: optional(nullable(object({
      resp3: nullable(bool), tracking: nullable(bool), clusterSlots: nullable(bool), wait: nullable(bool),
      serverName: nullable(text), serverVersion: nullable(text), notes: list(text, N.items),
    }))),
    warnings: optional(list(text, N.items)),
    options: record(setting, N.items),
  }), N.targets),
});

const documentCheck = object({
  schemaVersion: num,
  runId: names.runId,
  startedAt: text,
  finishedAt: text,
  aborted: bool,
  environment,
  seed: optional(num),
  cases: optional(list(object({
    scenario: names.scenario, params, rounds: count, invocations: count, pilotMs: nullable(num), stopReason: oneOf(...STOP_REASONS), elapsedMs: num,
    roundOrders: list(list(names.target, N.targets), N.iterations),
  }), N.cases)),
  baseline: object({ rule: oneOf('explicit', 'fastest'), name: nullable(names.target) }),
  scenarios: list(object({ name: names.scenario, file: nullable(text), description: text, settings: record(setting, 1_000) }), N.scenarios),
  results: list(entry, N.results),
  mergedFrom: optional(list(object({ file: text, runId: names.runId, startedAt: text }), N.items)),
  mergeNotes: optional(list(shortText, MAX_MERGE_NOTES)),
});

const FIX = 'give a results.json written by cachebench run or merge, unchanged';

/**
 * Checks a parsed results document; throws ConfigError naming `file`, the field (a JSON path such as
 * `results[3].samplesMs`) and the fix.
 */
export function checkResults(doc: unknown, file: string): ResultsDocument {
  if (!isObject(doc) || !('schemaVersion' in doc) || !('results' in doc)) {
    throw new ConfigError(`${file} is not a cachebench results file (no schemaVersion or results). Fix: ${FIX}`);
  }
  if (typeof doc.schemaVersion !== 'number') {
    throw new ConfigError(`${file}: schemaVersion: expected the number ${SCHEMA_VERSION}, found ${typeof doc.schemaVersion === 'string' ? `the text ${shown(doc.schemaVersion)}` : doc.schemaVersion === null ? 'null' : `a ${typeof doc.schemaVersion}`}. Fix: ${FIX}`);
  }
  if (doc.schemaVersion !== SCHEMA_VERSION) {
    throw new ConfigError(`${file} has schemaVersion ${shown(doc.schemaVersion)}, this cachebench reads ${SCHEMA_VERSION}. Fix: compare results written by the same major version`);
  }
  try {
    // What the renderers, the merge and the gate get is the checked document, rebuilt: nothing unchecked rides along.
    return documentCheck(doc, '', { histogramBytes: 0, histogramCounts: 0 }) as ResultsDocument;
  } catch (error: unknown) {
    if (!(error instanceof SchemaError)) throw error;
    throw new ConfigError(`${file}: ${error.at}: ${error.problem}. Fix: ${error.fix ?? FIX}`, { cause: error });
  }
}

/** Reads and checks a results.json: a regular file of at most MAX_RESULTS_FILE_BYTES, valid JSON, the schema above. */
export function loadResults(file: string): ResultsDocument {
  let text: string;
  try {
    text = readInputFile(file, MAX_RESULTS_FILE_BYTES).toString('utf8');
  } catch (error: unknown) {
    const reason = error instanceof InputFileError ? error.reason : String(error);
    throw new ConfigError(`${file} cannot be read (${reason}). Fix: give the path of a results.json written by cachebench run`, { cause: error });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error: unknown) {
    throw new ConfigError(`${file} is not JSON. Fix: give the path of a results.json written by cachebench run`, { cause: error });
  }
  return checkResults(doc, file);
}
