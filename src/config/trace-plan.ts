/**
 * TRACE and TRACE_SPEED, checked against the other throughput keys before any traffic: the file is read and parsed
 * here (a bad line is exit 2 naming it), and the run's length, rate and keys follow from it.
 */
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { badValue, ConfigError, describeSource, type Source } from './errors.js';
import { InputFileError, readInputFile } from './input-file.js';
import { MIX_HEADER_BYTES, MIX_SERVER_BYTES } from './limits.js';
import { KEY_BY_NAME } from './keys.js';

/** DURATION's maximum: a replay longer than that is refused (a DURATION given cuts it shorter). */
const MAX_RUN_MS = (KEY_BY_NAME.get('DURATION')?.max ?? 6 * 3600) * 1000;
import type { Setting, TracePlan } from './plan.js';
import { parseTrace, TRACE_LIMITS, TRACE_OPS, TraceError, traceName, traceSummary, type Trace, type TraceOpName } from './trace.js';
import type { MixCommand, WorkloadPlan } from './workload.js';

/** What a trace replays each operation as (RESP commands the model verifies); absent: skipped (counted). */
export const TRACE_COMMANDS: Readonly<Partial<Record<TraceOpName, string>>> = {
  get: 'GET', gets: 'GET', set: 'SET', add: 'SET', replace: 'SET', cas: 'SET', delete: 'DEL', incr: 'INCR', decr: 'DECR',
};

/** The commands of a trace's replay, as a WorkloadPlan's entries (weights: the ops of each), for the checks and reports. */
function traceWorkload(plan: TracePlan, ttlSeconds: number): WorkloadPlan {
  const weights = new Map<string, number>();
  for (const [op, command] of Object.entries(TRACE_COMMANDS)) weights.set(command, (weights.get(command) ?? 0) + plan.counts[op as TraceOpName]);
  const key = { kind: 'key' } as const;
  const shapes: Readonly<Record<string, MixCommand>> = {
    GET: { name: 'GET', args: [key] }, SET: { name: 'SET', args: [key, { kind: 'value', bytes: null }, { kind: 'lit', text: 'EX' }, { kind: 'ttl' }] },
    DEL: { name: 'DEL', args: [key] }, INCR: { name: 'INCR', args: [key] }, DECR: { name: 'DECR', args: [key] },
  };
  const entries = [...weights].filter(([, w]) => w > 0)
    .map(([name, weight]) => ({ weight, text: name, pattern: null, commands: [shapes[name] as MixCommand] }));
  return {
    name: 'trace', text: traceText(plan), entries, keyType: 'string', width: 1, sizes: null, ttl: { minSeconds: ttlSeconds, maxSeconds: ttlSeconds },
    literalFields: 0, literalMembers: 0, integerFields: false, fields: 0, members: 0,
  };
}

/** How results name a replay: the file's name, its digest and the speed (merge compares these). */
export function traceText(plan: Pick<TracePlan, 'name' | 'digest' | 'speed'>): string {
  return `trace ${plan.name} sha256:${plan.digest.slice(0, 16)} speed ${plan.speed === null ? 'max' : `×${plan.speed}`}`;
}

/** TRACE_SPEED: a factor from 0.001 to 1000, or max. */
function parseSpeed(s: Setting): number | null {
  const raw = String(s.value).trim().toLowerCase();
  if (raw === 'max') return null;
  const n = /^\d+(?:\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0.001 && n <= 1000)) {
    throw badValue('TRACE_SPEED', s.value, s.source, 'it is a factor on the trace\'s timing from 0.001 to 1000, or max', 'set TRACE_SPEED=1 (the trace\'s own timing), e.g. 2 (twice as fast), or max');
  }
  return n;
}

/** The trace file's path: from a scenario file, relative to its folder and within it; from env or flags, as given. */
function tracePath(raw: string, source: Source): string {
  if (source.kind !== 'scenario') return resolve(raw);
  const folder = dirname(resolve(source.file));
  const file = resolve(folder, raw);
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return file; // not there: the read says so
  }
  const rel = relative(realpathSync(folder), real);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw badValue('TRACE', raw, source, 'a scenario file may name a trace in its own folder or below it, and this one lies outside (a scenario file must not read other files)',
      'move the trace next to the scenario file, or give TRACE as an environment variable or flag');
  }
  return real;
}

/** Reads and parses the trace a TRACE setting names (`headerBytes`: the smallest value written). */
export function readTraceFile(file: string, headerBytes = MIX_HEADER_BYTES): Trace {
  return parseTrace(readInputFile(file, TRACE_LIMITS.fileBytes), headerBytes);
}

export interface TraceSettings {
  readonly trace: TracePlan;
  readonly workload: WorkloadPlan;
  readonly durationMs: number;
  /** The measured part's mean rate (ops/s) at a factor; 0 at max (closed loop). */
  readonly rate: number;
}

/** Keys that cannot go with TRACE: the trace decides what they would. */
const EXCLUSIVE: readonly [string, string][] = [
  ['WORKLOAD', 'the trace decides the commands'], ['KEYSPACE', 'the trace\'s keys are the key space'], ['RATE', 'the trace\'s timestamps decide when each op is sent (TRACE_SPEED scales them)'],
  ['SLICE_SECONDS', 'a trace is replayed whole, target after target (slices would cut its timing)'], ['VALUE_SIZES', 'the trace gives each value\'s size'],
  ['KEY_TTL_MAX', 'the trace gives each TTL (where it gives none, one longer than the replay)'],
];

/**
 * The measured part of a replay at a factor: the whole seconds after WARMUP_SECONDS (a DURATION given cuts it shorter,
 * and says so), and the ops due in it; at max, DURATION. Throws where fewer than 3 seconds or more than a run remain.
 */
function replayLength(get: (key: string) => Setting, parsed: Trace, speed: number | null, warmupMs: number,
  warnings: string[]): { durationMs: number; measuredOps: number } {
  const t = get('TRACE');
  const raw = String(t.value).trim();
  const speedSetting = get('TRACE_SPEED');
  const duration = get('DURATION');
  let durationMs = (duration.value as number) * 1000;
  let measuredOps = 0;
  if (speed === null) return { durationMs, measuredOps };
  const replayMs = parsed.spanMs / speed;
  const whole = Math.floor((replayMs - warmupMs) / 1000) * 1000;
  const at = `the trace spans ${(parsed.spanMs / 1000).toFixed(1)} s, so its replay at TRACE_SPEED=${String(speedSetting.value)} (${describeSource(speedSetting.source)}) lasts ${(replayMs / 1000).toFixed(1)} s`;
  if (whole < 3000) {
    throw badValue('TRACE', raw, t.source, `${at}, and after WARMUP_SECONDS=${warmupMs / 1000} (${describeSource(get('WARMUP_SECONDS').source)}) fewer than 3 whole measured seconds remain ` +
      '(a throughput run\'s Error needs 3 or more)', 'lower TRACE_SPEED or WARMUP_SECONDS, or replay a longer trace');
  }
  if (duration.source.kind === 'default' && whole > MAX_RUN_MS) {
    throw badValue('TRACE', raw, t.source, `${at}: longer than a run's ${MAX_RUN_MS / 3_600_000} hours`, 'raise TRACE_SPEED, give a DURATION to replay its start only, or replay a part of the trace');
  }
  if (duration.source.kind !== 'default' && durationMs > whole) {
    warnings.push(`DURATION=${String(duration.value)} (${describeSource(duration.source)}) is longer than the replay: ${at}, so ${whole / 1000} s are measured after the warm-up`);
  }
  durationMs = duration.source.kind === 'default' ? whole : Math.min(durationMs, whole);
  if (replayMs > warmupMs + durationMs + 1000) warnings.push(`TRACE: ${at}; the ops due after ${(warmupMs + durationMs) / 1000} s (warm-up and whole measured seconds) are not replayed`);
  for (let i = 0; i < parsed.ops; i++) {
    const due = (parsed.atMs[i] as number) / speed;
    if (due >= warmupMs && due < warmupMs + durationMs && TRACE_COMMANDS[TRACE_OPS[parsed.op[i] as number] as TraceOpName] !== undefined) measuredOps++;
  }
  return { durationMs, measuredOps };
}

/** TRACE, checked against MODE, the keys it excludes and DURATION; null without one. Throws ConfigError. */
export function tracePlanOf(settings: ReadonlyMap<string, Setting>, payloadBytes: number, warnings: string[]): TraceSettings | null {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const t = get('TRACE');
  const speedSetting = get('TRACE_SPEED');
  const raw = String(t.value).trim();
  if (raw === '') {
    for (const key of ['TRACE_SPEED', 'TRACE_REFILL']) {
      const s = get(key);
      if (s.source.kind !== 'default') throw badValue(key, s.value, s.source, 'it applies to TRACE runs, and no TRACE is set', `set TRACE to a trace file, or unset ${key}`);
    }
    return null;
  }
  const mode = get('MODE');
  if (mode.value !== 'throughput') {
    throw badValue('TRACE', raw, t.source, `a trace is replayed by a throughput run, and MODE is ${String(mode.value)} (${describeSource(mode.source)})`, 'set MODE=throughput, or unset TRACE');
  }
  for (const [key, why] of EXCLUSIVE) {
    const s = get(key);
    if (s.source.kind !== 'default') throw badValue(key, s.value, s.source, `${why}, and TRACE is set (${describeSource(t.source)})`, `unset ${key}, or TRACE`);
  }
  const speed = parseSpeed(speedSetting);
  const r = get('TRACE_REFILL');
  const refillText = String(r.value).trim().toLowerCase();
  if (refillText !== 'on' && refillText !== 'off') {
    throw badValue('TRACE_REFILL', r.value, r.source, 'it is on (a get that misses is refilled with a SET) or off', 'set TRACE_REFILL=off for a trace recorded at the cache server (it holds the application\'s sets), else on');
  }
  for (const key of ['READ_RATIO', 'WRITE_COUNT']) {
    const s = get(key);
    if (s.source.kind !== 'default') warnings.push(`${key}=${String(s.value)} (${describeSource(s.source)}) does nothing with a TRACE: the trace decides what is read and written`);
  }
  const file = tracePath(raw, t.source);
  let parsed: Trace;
  try {
    parsed = readTraceFile(file);
  } catch (error: unknown) {
    if (error instanceof InputFileError) throw badValue('TRACE', raw, t.source, `the file ${JSON.stringify(file)} cannot be read: ${error.reason}`, 'give the path of a trace file (CSV)');
    if (error instanceof TraceError) throw new ConfigError(`TRACE=${JSON.stringify(raw)} (from ${describeSource(t.source)}): ${error.message}`);
    throw error;
  }
  const summary = traceSummary(parsed);
  const sized = summary.keys - summary.unsizedKeys;
  const p = get('PAYLOAD_BYTES');
  const fallbackBytes = p.source.kind === 'default' && sized > 0 ? Math.max(MIX_HEADER_BYTES, Math.round(summary.serverBytes / sized)) : Math.max(MIX_HEADER_BYTES, payloadBytes);
  const largest = Math.max(summary.largestValue, fallbackBytes);
  if (summary.serverBytes + summary.unsizedKeys * fallbackBytes > MIX_SERVER_BYTES) {
    throw badValue('TRACE', raw, t.source, `its keys' largest values add up to more than 4 GiB on the servers`, 'replay a part of the trace with fewer keys or smaller values');
  }
  const warmupMs = Math.round((get('WARMUP_SECONDS').value as number) * 1000);
  const { durationMs, measuredOps } = replayLength(get, parsed, speed, warmupMs, warnings);
  const keyTtl = get('KEY_TTL').value as number;
  const noTtlSeconds = Math.min(TRACE_LIMITS.ttlSeconds, Math.max(keyTtl, Math.ceil((warmupMs + durationMs) / 1000) + 60));
  const plan: TracePlan = { ...summary, largestValue: largest, file, name: traceName(file), speed, measuredOps, noTtlSeconds, fallbackBytes, refill: refillText === 'on' };
  const workload = traceWorkload(plan, noTtlSeconds);
  if (workload.entries.length === 0) {
    throw badValue('TRACE', raw, t.source, `it holds only ${Object.entries(summary.counts).filter(([, n]) => n > 0).map(([op]) => op).join(' and ')} ops, which have no RESP command cachebench verifies`,
      'replay a trace with get, set, delete, incr or decr ops');
  }
  return { trace: plan, workload, durationMs, rate: speed === null ? 0 : measuredOps / (durationMs / 1000) };
}
