import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { badValue, describeSource, type Source } from './errors.js';
import { KEY_BY_NAME, KEY_SPECS, SLO_PERCENTILES, type FaultKind, type RunMode } from './keys.js';
import { checkSweep, parseValue } from './values.js';
import { KEYSPACE_HEADER_BYTES, MIX_HEADER_BYTES, MIX_MAX_KEYSPACE, MIX_MODEL_ENTRIES, MIX_SERVER_BYTES, MIN_VERSIONED_PAYLOAD_BYTES, PRELOAD_KEYS_PER_S, VERSION_BYTES } from './limits.js';
import { NO_LOAD, type CapacityPlan, type CaseParams, type FaultPlan, type KeyDistribution, type LoadPlan, type RunControls, type ScenarioPlan, type Setting } from './plan.js';
import { SWEEP_KEYS, type Layer } from './layers.js';
import { explicitValueSizes, mixEntriesPerKey, mixListCap, mixMeanValue, parseWorkload, type WorkloadPlan } from './workload.js';
import { parseValueSizes, sizeBounds, sizeText } from './sizes.js';
import { tracePlanOf } from './trace-plan.js';

/** One scenario from its layers: its sweep, its controls, its fault and load plans. */

function cartesian(settings: ReadonlyMap<string, Setting>): CaseParams[] {
  const list = (key: string): number[] => {
    const v = settings.get(key)?.value;
    return (Array.isArray(v) ? v : [v]) as number[];
  };
  const cases: CaseParams[] = [];
  for (const PAYLOAD_BYTES of list('PAYLOAD_BYTES'))
    for (const WRITE_COUNT of list('WRITE_COUNT'))
      for (const READ_RATIO of list('READ_RATIO')) cases.push({ READ_RATIO, WRITE_COUNT, PAYLOAD_BYTES });
  return cases;
}

const MAX_ITERATION_BYTES = 1024 * 1024 * 1024;

/** How long a fault run's keys must outlive DURATION: healing (up to 30 s) and the final check (10 s), with room to spare. */
const FAULT_TTL_MARGIN_S = 60;

/** FAULT and its timing, checked against each other (not yet against the targets: see checkFaultTargets). */
function faultPlan(settings: ReadonlyMap<string, Setting>): FaultPlan {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const kind = get('FAULT').value as FaultKind;
  const plan: FaultPlan = {
    kind,
    atMs: Math.round((get('FAULT_AT').value as number) * 1000),
    durationMs: Math.round((get('FAULT_DURATION').value as number) * 1000),
    runMs: Math.round((get('DURATION').value as number) * 1000),
    command: String(get('FAULT_COMMAND').value),
  };
  const command = get('FAULT_COMMAND');
  if (kind === 'command' && plan.command.trim() === '') {
    throw badValue('FAULT_COMMAND', '', command.source, 'FAULT=command needs the shell command that makes the fault', 'set FAULT_COMMAND, e.g. FAULT_COMMAND="kubectl delete pod cache-0"');
  }
  if (kind !== 'command' && plan.command !== '') {
    const fault = get('FAULT');
    throw badValue('FAULT_COMMAND', plan.command, command.source, `it runs only with FAULT=command, and FAULT is ${kind} (${describeSource(fault.source)})`, 'set FAULT=command, or unset FAULT_COMMAND');
  }
  if (kind === 'none') return plan;
  const at = get('FAULT_AT');
  const duration = get('DURATION');
  if (plan.atMs >= plan.runMs) {
    throw badValue('FAULT_AT', at.value, at.source, `the fault would come after the run ends (DURATION=${String(duration.value)} s, ${describeSource(duration.source)})`, 'set FAULT_AT below DURATION, leaving time to see the recovery');
  }
  if ((kind === 'pause-primary' || kind === 'restart-primary') && plan.atMs + plan.durationMs >= plan.runMs) {
    const d = get('FAULT_DURATION');
    throw badValue('FAULT_DURATION', d.value, d.source, `FAULT_AT=${String(at.value)} s + FAULT_DURATION ends at or after DURATION=${String(duration.value)} s (${describeSource(duration.source)}), so the run would not see the server come back`, 'raise DURATION or lower FAULT_AT / FAULT_DURATION');
  }
  if (plan.atMs < 1000) {
    throw badValue('FAULT_AT', at.value, at.source, 'a fault run needs at least 1 s before the fault: the throughput recovery is measured against', 'set FAULT_AT to 1 or more (the shipped scenarios use 10)');
  }
  const actionEndMs = plan.atMs + (kind === 'pause-primary' || kind === 'restart-primary' ? plan.durationMs : 0);
  if (plan.runMs - actionEndMs < 2000) {
    throw badValue('DURATION', duration.value, duration.source, `it leaves ${((plan.runMs - actionEndMs) / 1000).toFixed(1)} s after the fault${actionEndMs > plan.atMs ? ' ends' : ''}: too little to see a window close (it needs a full second without failures) or throughput recover`, 'give DURATION at least a few seconds more than FAULT_AT (+ FAULT_DURATION)');
  }
  const ttl = get('KEY_TTL');
  const minTtl = Math.ceil(plan.runMs / 1000) + FAULT_TTL_MARGIN_S;
  if ((ttl.value as number) < minTtl) {
    throw badValue('KEY_TTL', ttl.value, ttl.source, `in a fault run a write may wait to be read back until after the run (failed SETs always do, then healing and the final check): keys must outlive DURATION=${String(duration.value)} s (${describeSource(duration.source)}) by ${FAULT_TTL_MARGIN_S} s, or the harness's own expiries would count as lost writes`, `set KEY_TTL to ${minTtl} or more, or shorten DURATION`);
  }
  const overwrite = get('OVERWRITE_RATE');
  if ((overwrite.value as number) > 0) {
    throw badValue('OVERWRITE_RATE', overwrite.value, overwrite.source, `a fault run (FAULT=${kind}) judges acknowledged writes by reading them back, which an overwriter would confuse`, 'set OVERWRITE_RATE to 0 for a fault run, or run staleness and faults as separate scenarios');
  }
  return plan;
}

/** Keys that only a throughput run reads: set (by anything but the default) in a latency run, they are an error. */
const THROUGHPUT_KEYS = ['CLIENTS', 'CONNECTIONS', 'PIPELINE', 'RATE', 'WARMUP_SECONDS', 'SLICE_SECONDS', 'WORKERS', 'KEYSPACE', 'KEY_DISTRIBUTION', 'START_AT', 'WORKLOAD', 'VALUE_SIZES', 'KEY_TTL_MAX', 'TRACE', 'TRACE_SPEED', 'TRACE_REFILL'] as const;
/** Throughput keys a latency or fault run with a WORKLOAD reads too (its one client per target runs the mix on a KEYSPACE). */
const MIX_LATENCY_KEYS = ['KEYSPACE', 'KEY_DISTRIBUTION', 'WORKLOAD', 'VALUE_SIZES', 'KEY_TTL_MAX'] as const;
/** Keys that only a latency run reads: set in a throughput scenario, they are said to do nothing (a warning: flags apply to every scenario of a run). */
const LATENCY_ONLY_KEYS = ['WRITE_COUNT', 'INVOCATION_COUNT', 'ITERATION_TIME_MS', 'INTERLEAVE', 'WARMUP_ITERATIONS', 'MIN_ITERATIONS', 'MAX_ITERATIONS', 'MAX_RELATIVE_ERROR', 'MAX_PERCENT_ERROR', 'MAX_TIME'] as const;
/** Below this KEY_TTL, a WORKLOAD's keys spend much of their life within a second of their expiry (said in a warning). */
const SHORT_MIX_TTL_SECONDS = 10;
/** What a KEYSPACE may hold on the servers (preloaded values). */
const MAX_KEYSPACE_BYTES = 4 * 1024 * 1024 * 1024;
/** How far ahead START_AT may be. */
const MAX_START_AHEAD_MS = 24 * 3600 * 1000;

/** KEY_DISTRIBUTION: uniform, sequential or zipf:<exponent>. */
export function parseDistribution(raw: string, source: Source): KeyDistribution {
  const text = raw.trim().toLowerCase();
  if (text === 'uniform' || text === 'sequential') return { kind: text };
  const zipf = /^zipf:\s*(\d+(?:\.\d*)?|\.\d+)$/.exec(text);
  const exponent = zipf === null ? NaN : Number(zipf[1]);
  if (zipf !== null && exponent > 0 && exponent <= 10) return { kind: 'zipf', exponent };
  throw badValue('KEY_DISTRIBUTION', raw, source, zipf === null ? 'not uniform, sequential or zipf:<exponent>' : 'the zipf exponent must be above 0 and at most 10',
    'set KEY_DISTRIBUTION to uniform, sequential, or zipf:<exponent> such as zipf:0.99');
}

/** START_AT: ISO 8601 with a time zone, or Unix seconds; as Unix ms. */
export function parseStartAt(raw: string, source: Source, nowMs: number): number | null {
  const text = raw.trim();
  if (text === '') return null;
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    throw badValue('START_AT', raw, source, 'not a time', 'set START_AT to an ISO 8601 time with its zone, e.g. 2026-11-26T10:00:00Z, or to Unix seconds (date +%s)');
  }
  if (ms <= nowMs) {
    throw badValue('START_AT', raw, source, `it is ${((nowMs - ms) / 1000).toFixed(0)} s in the past (now ${new Date(nowMs).toISOString()})`,
      'set START_AT to a time far enough ahead for every process to connect (and preload a KEYSPACE), e.g. START_AT=$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ)');
  }
  if (ms - nowMs > MAX_START_AHEAD_MS) {
    throw badValue('START_AT', raw, source, 'it is more than 24 h ahead', 'set START_AT to a time within the next 24 hours');
  }
  return ms;
}

/**
 * What a throughput scenario's keys allow but may not mean: keys that expire mid-run, a PIPELINE deeper than it can be,
 * ignored latency keys, more WORKERS than cores.
 */
function loadWarnings(settings: ReadonlyMap<string, Setting>, keyspace: number, targets: number, warnings: string[]): void {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const num = (key: string): number => get(key).value as number;
  const ttl = get('KEY_TTL');
  // Preloaded keys are written before the first warm-up: they must outlive the preload (at a conservative speed) and
  // every target's turns (the targets take turns over the whole run).
  const preloadS = Math.ceil(keyspace / PRELOAD_KEYS_PER_S);
  const n = Math.max(1, targets);
  const runS = preloadS + n * (num('WARMUP_SECONDS') + num('DURATION'));
  if (keyspace > 0 && (ttl.value as number) < runS + 60) {
    warnings.push(`KEY_TTL=${String(ttl.value)} s (${describeSource(ttl.source)}) is shorter than the preload of KEYSPACE=${keyspace} keys (up to ${preloadS} s at a conservative ${PRELOAD_KEYS_PER_S} keys/s) + ${n > 1 ? `${n} targets × ` : ''}(warm-up + DURATION) + 60 s: ` +
      `preloaded keys may expire during the preload or the run and show as misses. Fix: set KEY_TTL to ${runS + 60} or more`);
  }
  const clients = num('CLIENTS');
  const connections = num('CONNECTIONS');
  const pipeline = get('PIPELINE');
  const perConnection = Math.ceil(clients / connections);
  if ((pipeline.value as number) > perConnection) {
    warnings.push(`PIPELINE=${String(pipeline.value)} (${describeSource(pipeline.source)}) has no effect beyond ${perConnection}: each virtual client keeps one op in flight, and CLIENTS=${clients} on CONNECTIONS=${connections} puts at most ${perConnection} on a connection (raise CLIENTS or lower CONNECTIONS for deeper pipelines)`);
  }
  const ignored = LATENCY_ONLY_KEYS.filter((k) => get(k).source.kind !== 'default');
  if (ignored.length > 0) {
    warnings.push(`${ignored.map((k) => `${k}=${String(get(k).value)} (${describeSource(get(k).source)})`).join(', ')} ${ignored.length === 1 ? 'does' : 'do'} not apply to the throughput scenario: it runs for WARMUP_SECONDS + DURATION per target, and each client writes fresh keys as it goes (or uses KEYSPACE)`);
  }
  const workers = get('WORKERS');
  const cores = availableParallelism();
  if ((workers.value as number) > cores) {
    warnings.push(`WORKERS=${String(workers.value)} (${describeSource(workers.source)}) is more than the ${cores} CPU core${cores === 1 ? '' : 's'} of this machine: workers will share cores and measure the load generator, not the servers`);
  }
}

/** Keys only a capacity run reads. */
const CAPACITY_KEYS = [...Object.keys(SLO_PERCENTILES), 'SLO_ERRORS', 'CAPACITY_START_RATE', 'CAPACITY_GROWTH', 'CAPACITY_PRECISION', 'CAPACITY_REPEATS', 'CAPACITY_MAX_STEPS'];

/**
 * MODE=capacity: the objective (at least one SLO_P*_MS, each above 0) and the search; keys that a capacity run would
 * silently ignore (latency keys, RATE, SLICE_SECONDS; with START_AT, a planned staircase, the bisection's and repeats'
 * keys) are errors. Other modes: any capacity key is an error.
 */
function capacityPlan(settings: ReadonlyMap<string, Setting>, mode: RunMode): CapacityPlan | null {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const num = (key: string): number => get(key).value as number;
  const modeSource = describeSource(get('MODE').source);
  if (mode !== 'capacity') {
    const stray = CAPACITY_KEYS.find((k) => get(k).source.kind !== 'default');
    if (stray !== undefined) throw badValue(stray, get(stray).value, get(stray).source, `it applies to capacity runs only, and MODE is ${mode} (${modeSource})`, `set MODE=capacity, or unset ${stray}`);
    return null;
  }
  for (const [key, why] of [
    ...LATENCY_ONLY_KEYS.map((k) => [k, 'it applies to latency runs only']),
    ['RATE', 'a capacity run chooses the offered rates itself (CAPACITY_START_RATE, CAPACITY_GROWTH)'],
    ['SLICE_SECONDS', 'a capacity step loads one target at a time'],
    ...(get('START_AT').source.kind === 'default' ? [] : (['CAPACITY_PRECISION', 'CAPACITY_REPEATS'] as const).map((k) => [k,
      `with START_AT (${describeSource(get('START_AT').source)}) the run follows a planned staircase, the same on every --shard process: no bisection and no repeats, so the knee's precision is CAPACITY_GROWTH`] as const)),
  ] as const) {
    const s = get(key);
    if (s.source.kind !== 'default') {
      throw badValue(key, s.value, s.source, `${why}, and MODE is capacity (${modeSource})`, key.startsWith('CAPACITY_') ? `unset ${key} (a smaller CAPACITY_GROWTH makes the steps finer), or unset START_AT` : `unset ${key}, or set MODE=throughput`);
    }
  }
  const objectives = Object.entries(SLO_PERCENTILES).flatMap(([key, percentile]) => {
    const s = get(key);
    if (s.source.kind !== 'default' && !((s.value as number) > 0)) {
      throw badValue(key, s.value, s.source, 'an objective of 0 ms can never be met', `set ${key} to the most milliseconds the p${percentile} may take, e.g. ${key}=2, or unset it`);
    }
    return (s.value as number) > 0 ? [{ percentile, maxMs: s.value as number }] : [];
  });
  if (objectives.length === 0) {
    throw badValue('SLO_P99_MS', 0, get('SLO_P99_MS').source, `a capacity run finds the highest rate that meets a latency objective, and none is set (MODE is capacity, ${modeSource})`,
      `set at least one of ${Object.keys(SLO_PERCENTILES).join(', ')} in milliseconds, e.g. SLO_P99_MS=2`);
  }
  return {
    objectives, maxErrorShare: num('SLO_ERRORS'), startRate: num('CAPACITY_START_RATE'), growth: num('CAPACITY_GROWTH'), precision: num('CAPACITY_PRECISION'),
    repeats: num('CAPACITY_REPEATS'), maxSteps: num('CAPACITY_MAX_STEPS'),
  };
}

/**
 * A latency run's load: none for the seed loop; with a WORKLOAD (a fault run's too), its mix on a KEYSPACE, one client
 * per target. Throughput keys other than the mix's are refused.
 */
function latencyLoad(settings: ReadonlyMap<string, Setting>, cases: readonly CaseParams[], warnings: string[], targets: number): LoadPlan {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const num = (key: string): number => get(key).value as number;
  // A latency run (a fault run too) may run a WORKLOAD on a KEYSPACE instead of the seed loop: one client per target.
  const mixed = String(get('WORKLOAD').value).trim() !== '';
  const stray = THROUGHPUT_KEYS.find((k) => get(k).source.kind !== 'default' && !(mixed && (MIX_LATENCY_KEYS as readonly string[]).includes(k)));
  if (stray !== undefined) {
    const s = get(stray);
    const also = MIX_LATENCY_KEYS.includes(stray as (typeof MIX_LATENCY_KEYS)[number]) ? ' (or with a WORKLOAD)' : '';
    throw badValue(stray, s.value, s.source, `it applies to throughput runs only${also}, and MODE is latency (${describeSource(get('MODE').source)})`, `set MODE=throughput, or unset ${stray}`);
  }
  if (!mixed) return NO_LOAD;
  const overwrite = get('OVERWRITE_RATE');
  if ((overwrite.value as number) > 0) {
    throw badValue('OVERWRITE_RATE', overwrite.value, overwrite.source, `the overwriter rewrites the seed loop's fresh keys, and WORKLOAD (${describeSource(get('WORKLOAD').source)}) runs a mix on preloaded keys instead`,
      'set OVERWRITE_RATE to 0 with a WORKLOAD, or unset WORKLOAD to measure stale reads with the seed loop');
  }
  const writes = get('WRITE_COUNT');
  if (writes.source.kind !== 'default') {
    warnings.push(`WRITE_COUNT=${String(writes.value)} (${describeSource(writes.source)}) does nothing with a WORKLOAD: an iteration is INVOCATION_COUNT ops of the mix`);
  }
  const dist = get('KEY_DISTRIBUTION');
  // One client per target owns every key; a latency run's targets hold their models at once, a fault run's in turn.
  const holders = get('FAULT').value !== 'none' ? 1 : targets;
  return { ...NO_LOAD, keyspace: num('KEYSPACE'), distribution: parseDistribution(String(dist.value), dist.source), workload: workloadPlan(settings, cases, warnings, 1, holders) };
}

/** MODE and the throughput keys, checked against each other. */
function loadPlan(settings: ReadonlyMap<string, Setting>, cases: readonly CaseParams[], warnings: string[], targets: number): LoadPlan {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const num = (key: string): number => get(key).value as number;
  const mode = get('MODE').value as RunMode;
  const capacity = capacityPlan(settings, mode);
  if (mode === 'latency') return latencyLoad(settings, cases, warnings, targets);
  const duration = get('DURATION');
  if (!Number.isInteger(duration.value)) {
    throw badValue('DURATION', duration.value, duration.source, 'a throughput run measures whole seconds (its statistics are over 1-second intervals)', 'set DURATION to a whole number of seconds');
  }
  if (num('DURATION') < 3) {
    throw badValue('DURATION', duration.value, duration.source, 'a throughput run needs at least 3 one-second intervals for its Error (a 99.9% confidence interval)', 'set DURATION to 3 or more (10 or more for a useful Error)');
  }
  const fault = get('FAULT');
  if (fault.value !== 'none') {
    throw badValue('FAULT', fault.value, fault.source, `a fault run has its own time-based loop, and MODE is ${mode}`, 'run faults and throughput as separate scenarios (MODE=latency for the fault scenario)');
  }
  const overwrite = get('OVERWRITE_RATE');
  if ((overwrite.value as number) > 0) {
    throw badValue('OVERWRITE_RATE', overwrite.value, overwrite.source, `the overwriter follows the one key a latency run is reading, and MODE is ${mode}`, 'set OVERWRITE_RATE to 0, or MODE=latency');
  }
  const keyspace = num('KEYSPACE');
  const dist = get('KEY_DISTRIBUTION');
  const distribution = parseDistribution(String(dist.value), dist.source);
  if (keyspace === 0 && dist.source.kind !== 'default') {
    throw badValue('KEY_DISTRIBUTION', dist.value, dist.source, 'it picks keys of a KEYSPACE, and KEYSPACE is 0 (fresh keys, the seed loop)', 'set KEYSPACE to the number of keys, or unset KEY_DISTRIBUTION');
  }
  for (const c of cases) {
    if (keyspace > 0 && c.PAYLOAD_BYTES < KEYSPACE_HEADER_BYTES) {
      const p = get('PAYLOAD_BYTES');
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, p.source, `a KEYSPACE value names its key in its first ${KEYSPACE_HEADER_BYTES} bytes (so a misrouted value cannot pass), so values need at least ${KEYSPACE_HEADER_BYTES} bytes`, `set PAYLOAD_BYTES to ${KEYSPACE_HEADER_BYTES} or more, or KEYSPACE to 0`);
    }
    // A WORKLOAD's preload is bounded by its own values per key and sizes (workloadPlan).
    if (keyspace * c.PAYLOAD_BYTES > MAX_KEYSPACE_BYTES && String(get('WORKLOAD').value).trim() === '') {
      const k = get('KEYSPACE');
      throw badValue('KEYSPACE', keyspace, k.source, `KEYSPACE=${keyspace} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} preloads more than 4 GiB onto the servers`, 'lower KEYSPACE or PAYLOAD_BYTES');
    }
  }
  loadWarnings(settings, keyspace, targets, warnings);
  // A trace brings its keys, commands, length and rate (config/trace-plan.ts).
  const traced = tracePlanOf(settings, Math.max(...cases.map((c) => c.PAYLOAD_BYTES)), warnings);
  const workload = traced?.workload ?? workloadPlan(settings, cases, warnings);
  const start = get('START_AT');
  return {
    mode,
    clients: num('CLIENTS'),
    connections: num('CONNECTIONS'),
    pipeline: num('PIPELINE'),
    rate: traced !== null ? traced.rate : num('RATE'),
    warmupMs: Math.round(num('WARMUP_SECONDS') * 1000),
    durationMs: traced?.durationMs ?? num('DURATION') * 1000,
    sliceMs: traced !== null ? 0 : num('SLICE_SECONDS') * 1000,
    workers: num('WORKERS'),
    keyspace: traced?.trace.keys ?? keyspace,
    distribution,
    startAtMs: parseStartAt(String(start.value), start.source, Date.now()),
    capacity,
    workload,
    trace: traced?.trace ?? null,
  };
}

/** WORKLOAD, checked against the KEYSPACE it runs on and the values it writes (a throughput or capacity run). */
function workloadPlan(settings: ReadonlyMap<string, Setting>, cases: readonly CaseParams[], warnings: string[], oneClient?: number,
  holders = 1): WorkloadPlan | null {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const w = get('WORKLOAD');
  const plan = parseWorkload(String(w.value), w.source);
  if (plan === null) {
    const stray = ['VALUE_SIZES', 'KEY_TTL_MAX'].find((key) => get(key).source.kind !== 'default');
    if (stray !== undefined) {
      const s = get(stray);
      throw badValue(stray, s.value, s.source, 'it applies to WORKLOAD runs, and no WORKLOAD is set (the GET/SET loop writes PAYLOAD_BYTES with KEY_TTL)',
        `set a WORKLOAD (e.g. WORKLOAD=ycsb-a, or WORKLOAD="9:GET {key}, 1:SET {key} {value}"), or unset ${stray}`);
    }
    return null;
  }
  const k = get('KEYSPACE');
  const keyspace = k.value as number;
  const owners = oneClient ?? (get('CLIENTS').value as number) * (get('WORKERS').value as number);
  if (keyspace === 0) {
    throw badValue('KEYSPACE', 0, k.source, `WORKLOAD=${plan.name} (${describeSource(w.source)}) works on a KEYSPACE of preloaded keys, and KEYSPACE is 0`, 'set KEYSPACE, e.g. KEYSPACE=10000');
  }
  if (keyspace * holders > MIX_MAX_KEYSPACE) {
    const most = Math.floor(MIX_MAX_KEYSPACE / holders);
    throw badValue('KEYSPACE', keyspace, k.source, `a WORKLOAD keeps a model of every key it writes, so that every reply is verified: at most ${MIX_MAX_KEYSPACE.toLocaleString('en-US')} keys` +
      `${holders > 1 ? `, and a latency run's ${holders} targets each hold their own at once` : ''}`, `set KEYSPACE to ${most} or less`);
  }
  if (keyspace < owners * plan.width) {
    throw badValue('KEYSPACE', keyspace, k.source, `each key of a WORKLOAD has one writer (so every reply has one right answer): ${oneClient !== undefined ? 'a latency or fault run\'s one client' : `CLIENTS × WORKERS = ${owners} clients`}${plan.width > 1 ? ` × ${plan.width} keys per {keys:${plan.width}} group` : ''} need ${owners * plan.width} keys or more`,
      `set KEYSPACE to ${owners * plan.width} or more, or lower CLIENTS`);
  }
  const vs = get('VALUE_SIZES');
  const given = parseValueSizes(String(vs.value), vs.source);
  // A built-in's own size (YCSB's 100-byte fields) unless VALUE_SIZES is given.
  const sizes = given ?? plan.sizes;
  const p = get('PAYLOAD_BYTES');
  if (sizes !== null && p.source.kind !== 'default') {
    const by = given !== null ? `VALUE_SIZES=${sizeText(given)} (${describeSource(vs.source)})` : `WORKLOAD=${plan.name}'s own ${sizeText(sizes)}-byte values (VALUE_SIZES changes them)`;
    warnings.push(`PAYLOAD_BYTES (${describeSource(p.source)}) does nothing with ${by}: it sizes the WORKLOAD's values`);
  }
  const values = explicitValueSizes(plan);
  const drawn = sizes !== null ? [sizeBounds(sizes).min] : cases.map((c) => c.PAYLOAD_BYTES);
  const smallest = Math.min(...values, ...drawn);
  if (smallest < MIX_HEADER_BYTES) {
    const from = values.includes(smallest) ? `{value:${smallest}} in WORKLOAD (${describeSource(w.source)})`
      : sizes !== null ? `VALUE_SIZES=${sizeText(sizes)} (${describeSource(vs.source)}) draws ${smallest}-byte values` : `PAYLOAD_BYTES=${smallest} (${describeSource(p.source)})`;
    throw badValue('WORKLOAD', plan.name === 'custom' ? plan.text : plan.name, w.source, `${from}: a WORKLOAD value names its key and its write in its first ${MIX_HEADER_BYTES} bytes (so a misrouted or stale value cannot pass)`,
      `use values of ${MIX_HEADER_BYTES} bytes or more`);
  }
  const ratio = get('READ_RATIO');
  if (ratio.source.kind !== 'default') warnings.push(`READ_RATIO=${String(ratio.value)} (${describeSource(ratio.source)}) does nothing with WORKLOAD=${plan.name}: the mix's weights decide what is read and written`);
  const ttlMax = get('KEY_TTL_MAX');
  const ttl = get('KEY_TTL').value as number;
  if (ttl < SHORT_MIX_TTL_SECONDS) {
    warnings.push(`KEY_TTL=${ttl} (${describeSource(get('KEY_TTL').source)}) with WORKLOAD=${plan.name}: a reply within a second of its key's expiry cannot be judged ` +
      `(unverified) and the key is preloaded again, so with TTLs under ${SHORT_MIX_TTL_SECONDS} s many replies go unverified`);
  }
  if ((ttlMax.value as number) > 0 && (ttlMax.value as number) < ttl) {
    throw badValue('KEY_TTL_MAX', ttlMax.value, ttlMax.source, `TTLs are drawn from KEY_TTL=${ttl} (${describeSource(get('KEY_TTL').source)}) to KEY_TTL_MAX, and ${String(ttlMax.value)} is below it`,
      `set KEY_TTL_MAX to ${ttl} or more, or lower KEY_TTL`);
  }
  const resolved = { ...plan, sizes, ttl: { minSeconds: ttl, maxSeconds: Math.max(ttl, ttlMax.value as number) } };
  const payload = Math.max(...cases.map((c) => c.PAYLOAD_BYTES));
  // What the keys hold on the servers: the preload's values, or the mix's own {value:N} where larger; lists grow to the
  // model's cap before they are deleted and preloaded again.
  const mean = mixMeanValue(resolved, payload);
  const perKey = { string: 1, counter: 0, hash: plan.fields + plan.literalFields, list: mixListCap(keyspace, mean), zset: 0 }[plan.keyType];
  if (keyspace * perKey * mean > MIX_SERVER_BYTES) {
    throw badValue('KEYSPACE', keyspace, k.source, `WORKLOAD=${plan.name} keeps ${perKey} value${perKey === 1 ? '' : 's'} of ${Math.round(mean)} bytes per key: more than 4 GiB on the servers`,
      'lower KEYSPACE or the value sizes');
  }
  const entries = keyspace * mixEntriesPerKey(resolved, keyspace, payload) * holders;
  if (entries > MIX_MODEL_ENTRIES) {
    const what = `${mixEntriesPerKey(resolved, keyspace, payload)} ${plan.keyType === 'hash' ? 'fields' : 'members'}`;
    throw badValue('KEYSPACE', keyspace, k.source, `the model of WORKLOAD=${plan.name} follows ${what} of each of the ${keyspace.toLocaleString('en-US')} keys: ` +
      `${entries.toLocaleString('en-US')} entries${holders > 1 ? ` over ${holders} targets` : ''}, above the ${MIX_MODEL_ENTRIES.toLocaleString('en-US')} it may hold in memory`, `lower KEYSPACE, or name fewer ${plan.keyType === 'hash' ? '{field:N}' : '{member:N}'}`);
  }
  return resolved;
}

/** `targets`: how many targets the run has (a throughput run's KEYSPACE keys live through every target's turns). */
export function buildScenario(file: string | undefined, layers: readonly Layer[], warnings: string[], targets = 1): ScenarioPlan {
  const settings = new Map<string, Setting>();
  for (const spec of KEY_SPECS) settings.set(spec.name, { value: spec.default, source: { kind: 'default' } });
  for (const layer of layers) {
    for (const [key, { raw, source }] of layer) {
      const spec = KEY_BY_NAME.get(key);
      if (spec !== undefined) settings.set(key, { value: parseValue(spec, raw, source), source });
    }
  }
  const num = (key: string): number => settings.get(key)?.value as number;
  const min = settings.get('MIN_ITERATIONS');
  const max = settings.get('MAX_ITERATIONS');
  if (min && max && (max.value as number) < (min.value as number)) {
    // A smoke run (--max-iterations 3) should not need a second flag: the minimum follows the maximum.
    warnings.push(`MIN_ITERATIONS lowered from ${String(min.value)} (${describeSource(min.source)}) to ${String(max.value)}: ` +
      `MAX_ITERATIONS=${String(max.value)} (${describeSource(max.source)}) is below it`);
    settings.set('MIN_ITERATIONS', { value: max.value, source: max.source });
  }
  checkSweep(settings, SWEEP_KEYS);
  const cases = cartesian(settings);
  for (const c of cases) {
    const invocations = Math.max(1, num('INVOCATION_COUNT'));
    // A WORKLOAD's iteration is ops on its preloaded keys: it holds no payloads of its own.
    const mixed = String(settings.get('WORKLOAD')?.value ?? '').trim() !== '';
    if (!mixed && invocations > 1 && c.WRITE_COUNT * c.PAYLOAD_BYTES * invocations > MAX_ITERATION_BYTES) {
      const s = settings.get('INVOCATION_COUNT') as Setting;
      throw badValue('INVOCATION_COUNT', invocations, s.source,
        `INVOCATION_COUNT=${invocations} x WRITE_COUNT=${c.WRITE_COUNT} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} exceeds the 1 GiB of payloads one iteration may hold in memory`,
        'lower INVOCATION_COUNT, or set it to 0 to let the pilot stage choose');
    }
    if (num('OVERWRITE_RATE') > 0 && c.PAYLOAD_BYTES < MIN_VERSIONED_PAYLOAD_BYTES) {
      const s = settings.get('PAYLOAD_BYTES') as Setting;
      const rate = settings.get('OVERWRITE_RATE') as Setting;
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, s.source,
        `OVERWRITE_RATE=${String(rate.value)} (${describeSource(rate.source)}) versions every value in its first ${VERSION_BYTES} bytes and needs ${MIN_VERSIONED_PAYLOAD_BYTES - VERSION_BYTES} random bytes after them to tell keys apart, so values need at least ${MIN_VERSIONED_PAYLOAD_BYTES} bytes`,
        `set PAYLOAD_BYTES to ${MIN_VERSIONED_PAYLOAD_BYTES} or more, or OVERWRITE_RATE to 0`);
    }
    if (c.WRITE_COUNT * c.PAYLOAD_BYTES > MAX_ITERATION_BYTES) {
      const s = settings.get('PAYLOAD_BYTES') as Setting;
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, s.source,
        `WRITE_COUNT=${c.WRITE_COUNT} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} exceeds the 1 GiB of payloads one iteration may hold in memory`,
        'lower WRITE_COUNT or PAYLOAD_BYTES');
    }
  }
  const name = file === undefined ? 'default' : basename(file, extname(file));
  const controls: RunControls = {
    keyTtlSeconds: num('KEY_TTL'),
    warmupIterations: num('WARMUP_ITERATIONS'),
    invocationCount: num('INVOCATION_COUNT'),
    iterationTimeMs: num('ITERATION_TIME_MS'),
    interleave: settings.get('INTERLEAVE')?.value === 'key' ? 'key' : 'iteration',
    minIterations: num('MIN_ITERATIONS'),
    maxIterations: num('MAX_ITERATIONS'),
    maxRelativeError: num('MAX_RELATIVE_ERROR'),
    maxPercentError: num('MAX_PERCENT_ERROR'),
    maxTimeMs: num('MAX_TIME') * 1000,
    opTimeoutMs: num('OP_TIMEOUT_MS'),
    connectTimeoutMs: num('CONNECT_TIMEOUT_MS'),
    overwriteRate: num('OVERWRITE_RATE'),
    fault: faultPlan(settings),
    load: loadPlan(settings, cases, warnings, targets),
  };
  return {
    name,
    ...(file !== undefined ? { file } : {}),
    description: String(settings.get('DESCRIPTION')?.value ?? ''),
    settings, cases, controls,
  };
}
